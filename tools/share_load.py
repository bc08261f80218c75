"""Does the frame loop keep its rate while phones download? The demo with sharing on (loopback), a
snapshot, then a wave of 200 downloads at once of the page's files every --every seconds (0: one
after the other, a flood) until the run ends; the loop's own figures, beside a run of the same
frames without downloads. The downloads run in this process, on the same cores as the mirror.

    .venv/bin/python tools/share_load.py [--frames 900] [--every 1.0] [--port 18080]

Prints one line per run: the loop's fps, its p95 frame time, and the downloads answered (200 / 503).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(frames: int, port: int, load: bool, every: float) -> str:
    folder = Path(tempfile.mkdtemp(prefix="share-load-"))
    cfg = folder / "share.toml"
    cfg.write_text(f'[snapshot]\ndir = "{folder / "cards"}"\ncountdown_s = 1\n'
                   f'[share]\nenabled = true\naddress = "127.0.0.1"\nport = {port}\n')
    cmd = [sys.executable, "-m", "edge", "--config", str(cfg), "run", "--source", "demo", "--display", "headless",
           "--frames", str(frames), "--snapshot-at", "30"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"SDL_VIDEODRIVER": "dummy", "PATH": "/usr/bin:/bin"})
    answered: dict[str, int] = {}
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    if load:
        url = None
        while url is None and proc.poll() is None:
            time.sleep(0.2)
            ready = [ln for ln in lines if "ready in" in ln]
            shared = [m.group(1) for ln in lines if (m := re.search(r"shared at (\S+)", ln))]
            url = shared[0] if ready and shared else None
        if url:
            page = urllib.request.urlopen(url, timeout=10).read().decode()
            files = [url.rsplit("/s/", 1)[0] + p for p in re.findall(r'src="(/s/[^"]+)"', page)]
            with ThreadPoolExecutor(200) as pool:
                while proc.poll() is None:  # waves of 200 at once, each bounded by its timeout
                    t0 = time.monotonic()
                    for status in pool.map(lambda i: fetch(files[i % len(files)]), range(200)):
                        answered[status] = answered.get(status, 0) + 1
                    time.sleep(max(0.0, every - (time.monotonic() - t0)))
    out, _ = proc.communicate(timeout=600)
    summary = json.loads(out.strip().splitlines()[-1])
    return (f"{'with' if load else 'without'} downloads: {summary['fps']} fps over {summary['frames']} frames, "
            f"render {summary['stage_ms']['render']} ms, answered {answered or '-'}")


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
            return str(r.status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except OSError as e:
        return type(e).__name__


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=900)
    ap.add_argument("--every", type=float, default=1.0, help="seconds from one wave to the next")
    ap.add_argument("--port", type=int, default=18080)
    args = ap.parse_args()
    for load in (False, True):
        print(run(args.frames, args.port, load, args.every), flush=True)
