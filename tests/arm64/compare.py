#!/usr/bin/env python3
"""Compares two `emoticon-mirror analyze --json` outputs (arm64 root vs this host). Stdlib only.

    python3 tests/arm64/compare.py ARM64.jsonl HOST.jsonl [--score-tol 0.05] [--px-tol 2]

Per image: same size, no error, same number of faces. Per face (paired by nearest box): box and
keypoints within --px-tol pixels, detection score within --score-tol, and for every head in the JSON
(expression, mask, eyewear, glasses_shape, skin_tone, ... whatever is there) the same label, the
same head present on both sides, and every class score within --score-tol; the live-motion signals
(`motion`) present on both sides, openness/mouth/brow values within --motion-tol and angles within
--deg-tol degrees.
Prints a PASS/FAIL table; exit 0 when everything passes, 1 on any FAIL, 2 on unreadable input.
"""
from __future__ import annotations

import argparse
import json
import sys


def load(path: str) -> dict[str, dict]:
    """image path -> result; lines that are not JSON objects (log noise) are skipped."""
    results: dict[str, dict] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"compare: {path}:{n}: not JSON ({e})") from None
            if "image" in obj:
                results[obj["image"]] = obj
    return results


def pair_faces(a: list[dict], b: list[dict]) -> list[tuple[dict, dict]]:
    """Greedy pairing by box-centre distance (order can differ when two faces are about as large)."""
    def centre(face: dict) -> tuple[float, float]:
        x, y, w, h = face["box"]
        return x + w / 2, y + h / 2

    pairs, free = [], list(range(len(b)))
    for fa in a:
        ca = centre(fa)
        j = min(free, key=lambda k: (centre(b[k])[0] - ca[0]) ** 2 + (centre(b[k])[1] - ca[1]) ** 2)
        free.remove(j)
        pairs.append((fa, b[j]))
    return pairs


def heads_of(face: dict) -> dict[str, dict]:
    return {k: v for k, v in face.items() if isinstance(v, dict) and "label" in v}


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arm64")
    ap.add_argument("host")
    ap.add_argument("--score-tol", type=float, default=0.05)
    ap.add_argument("--px-tol", type=float, default=2)
    ap.add_argument("--motion-tol", type=float, default=0.05)
    ap.add_argument("--deg-tol", type=float, default=1.0)
    args = ap.parse_args(argv)
    try:
        arm, host = load(args.arm64), load(args.host)
    except OSError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2

    rows: list[tuple[str, str, str, str, str, bool]] = []  # image, check, arm64, host, diff, ok

    def check(image: str, what: str, a, h, ok: bool, diff="") -> None:
        rows.append((image, what, fmt(a), fmt(h), fmt(diff), ok))

    def close_px(a: list, h: list) -> tuple[bool, float]:
        d = max((abs(x - y) for x, y in zip(a, h)), default=0.0)
        return len(a) == len(h) and d <= args.px_tol, d

    for image in sorted(set(arm) | set(host)):
        name = image.rsplit("/", 1)[-1]
        ra, rh = arm.get(image), host.get(image)
        if ra is None or rh is None:
            check(name, "image analysed", ra is not None, rh is not None, False)
            continue
        if "error" in ra or "error" in rh:
            check(name, "error", ra.get("error", "-"), rh.get("error", "-"), False)
            continue
        check(name, "size", [ra["width"], ra["height"]], [rh["width"], rh["height"]],
              (ra["width"], ra["height"]) == (rh["width"], rh["height"]))
        fa, fh = ra.get("faces", []), rh.get("faces", [])
        check(name, "faces", len(fa), len(fh), len(fa) == len(fh))
        if len(fa) != len(fh):
            continue
        for i, (a, h) in enumerate(pair_faces(fa, fh)):
            tag = f"face{i}"
            ok, d = close_px(a["box"], h["box"])
            check(name, f"{tag} box", a["box"], h["box"], ok, d)
            if "keypoints" in a or "keypoints" in h:
                ka = [v for p in a.get("keypoints", []) for v in p]
                kh = [v for p in h.get("keypoints", []) for v in p]
                ok, d = close_px(ka, kh)
                check(name, f"{tag} keypoints", f"{len(ka) // 2} pts", f"{len(kh) // 2} pts", ok, d)
            d = abs(a["score"] - h["score"])
            check(name, f"{tag} score", a["score"], h["score"], d <= args.score_tol, round(d, 4))
            ha, hh = heads_of(a), heads_of(h)
            for head in sorted(set(ha) | set(hh)):
                if head not in ha or head not in hh:
                    check(name, f"{tag} {head}", ha.get(head, {}).get("label", "(absent)"),
                          hh.get(head, {}).get("label", "(absent)"), False)
                    continue
                la, lh = ha[head]["label"], hh[head]["label"]
                sa, sh = ha[head].get("scores", {}), hh[head].get("scores", {})
                classes = sorted(set(sa) | set(sh))
                missing = [c for c in classes if c not in sa or c not in sh]
                d = max((abs(sa[c] - sh[c]) for c in classes if c in sa and c in sh), default=0.0)
                check(name, f"{tag} {head} label", la, lh, la == lh)
                check(name, f"{tag} {head} scores", f"{len(sa)} classes", f"{len(sh)} classes",
                      not missing and d <= args.score_tol, round(d, 4))
            ma, mh = a.get("motion"), h.get("motion")
            if ma is not None or mh is not None:
                if not ma or not mh or set(ma) != set(mh):
                    check(name, f"{tag} motion", "present" if ma else "absent", "present" if mh else "absent", False)
                    continue
                for kind, keys, tol in (("signals", [k for k in ma if not k.endswith("_deg")], args.motion_tol),
                                        ("angles", [k for k in ma if k.endswith("_deg")], args.deg_tol)):
                    d = max((abs(ma[k] - mh[k]) for k in keys), default=0.0)
                    check(name, f"{tag} motion {kind}", f"{len(keys)} values", f"{len(keys)} values",
                          d <= tol, round(d, 4))

    if not rows:
        print("compare: FAIL: no image in either file", file=sys.stderr)
        return 1
    headers = ("image", "check", "arm64", "host", "max diff", "result")
    table = [(i, w, a, h, d, "PASS" if ok else "FAIL") for i, w, a, h, d, ok in rows]
    widths = [min(40, max(len(str(r[c])) for r in table + [headers])) for c in range(6)]
    clip = lambda s, w: s if len(s) <= w else s[: w - 1] + "~"  # noqa: E731
    print(f"arm64 vs host (score tolerance {args.score_tol}, pixel tolerance {args.px_tol:g})")
    for r in [headers] + table:
        print("  ".join(clip(str(v), w).ljust(w) for v, w in zip(r, widths)).rstrip())
    failed = sum(1 for r in rows if not r[-1])
    print(f"{'FAIL' if failed else 'PASS'}: {len(rows) - failed}/{len(rows)} checks passed "
          f"on {len(set(arm) | set(host))} images")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
