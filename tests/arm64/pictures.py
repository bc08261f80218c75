"""Pictures for boot_check.py (standard library only: boot.sh runs it with the host's python3,
which need not have numpy or Pillow): QMP's screendump comes as a PPM, the proof's picture is saved
as a small PNG (docs/boot_screen.png), and the emoticon on the KMS screen is found by colour and
shape, because the mirror's frame is not known pixel for pixel (the demo's face, the smoothing,
the frame the dump catches).
"""
from __future__ import annotations

import os
import struct
import zlib


# ---- pictures: PPM in, PNG out, the emoticon found by colour and shape ---------------------------
def read_ppm(path: str) -> tuple[int, int, bytes]:
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or int(fields[3]) != 255:
        raise ValueError(f"{path}: not an 8-bit P6 PPM")
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos + 1:pos + 1 + w * h * 3]


def read_png(path: str) -> tuple[int, int, bytes]:
    """Just enough PNG for this file's own output and the renderer's (8-bit RGB/RGBA)."""
    data = open(path, "rb").read()
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError(f"{path}: only 8-bit RGB/RGBA PNG")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride, out, prev = w * bpp, bytearray(), bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if bpp == 3:
            out += line
        else:
            for x in range(w):
                out += line[x * 4:x * 4 + 3]
    return w, h, bytes(out)


def write_png(path: str, w: int, h: int, rgb: bytes, scale: int = 2) -> None:
    """`rgb` shrunk by `scale` (box average), as an 8-bit RGB PNG with the Sub filter."""
    sw, sh = w // scale, h // scale
    raw = bytearray()
    for y in range(sh):
        line = bytearray(sw * 3)
        for x in range(sw):
            for c in range(3):
                s = 0
                for dy in range(scale):
                    base = ((y * scale + dy) * w + x * scale) * 3 + c
                    for dx in range(scale):
                        s += rgb[base + dx * 3]
                line[x * 3 + c] = s // (scale * scale)
        raw.append(1)
        raw += bytes([line[i] if i < 3 else (line[i] - line[i - 3]) & 255 for i in range(len(line))])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", sw, sh, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)


def find_emoticon(w: int, h: int, rgb: bytes, step: int = 4) -> tuple[bool, str]:
    """An emoticon as the renderer draws it: a large, round, light, warm (skin-toned or yellow)
    disc with dark features (eyes, mouth) inside, on the mirror's dark background. Works on a grid
    of every `step`-th pixel; returns (found, what was seen)."""
    gw, gh = w // step, h // step
    warm = bytearray(gw * gh)
    dark = 0
    for y in range(gh):
        row = y * step * w * 3
        for x in range(gw):
            i = row + x * step * 3
            r, g, b = rgb[i], rgb[i + 1], rgb[i + 2]
            if r >= 110 and g >= 60 and r >= g and r >= b + 20:
                warm[y * gw + x] = 1
            elif r + g + b < 240:
                dark += 1
    best: list[int] = []
    seen = bytearray(gw * gh)
    for start in range(gw * gh):
        if not warm[start] or seen[start]:
            continue
        comp, stack = [], [start]
        seen[start] = 1
        while stack:
            p = stack.pop()
            comp.append(p)
            x, y = p % gw, p // gw
            for q in (p - 1 if x else -1, p + 1 if x + 1 < gw else -1, p - gw, p + gw):
                if 0 <= q < gw * gh and warm[q] and not seen[q]:
                    seen[q] = 1
                    stack.append(q)
        if len(comp) > len(best):
            best = comp
    if not best:
        return False, "no light warm pixels at all"
    xs, ys = [p % gw for p in best], [p // gw for p in best]
    bw, bh = max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
    area_share = len(best) / (gw * gh)
    fill = len(best) / (bw * bh)
    aspect = bw / bh
    # dark features inside the disc: cells within the inscribed circle that are not warm
    cx, cy, rad = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2, min(bw, bh) / 2
    inside = holes = 0
    for y in range(min(ys), max(ys) + 1):
        for x in range(min(xs), max(xs) + 1):
            if (x - cx) ** 2 + (y - cy) ** 2 <= (0.8 * rad) ** 2:
                inside += 1
                i = (y * step * w + x * step) * 3
                if not warm[y * gw + x] and sum(rgb[i:i + 3]) < 3 * 110:
                    holes += 1
    holes_share = holes / max(1, inside)
    r = g = b = 0
    for p in best[:: max(1, len(best) // 500)]:
        i = ((p // gw) * step * w + (p % gw) * step) * 3
        r, g, b = r + rgb[i], g + rgb[i + 1], b + rgb[i + 2]
    k = len(best[:: max(1, len(best) // 500)])
    what = (f"largest warm blob {bw * step}x{bh * step} px at ({cx * step:.0f},{cy * step:.0f}), "
            f"{area_share:.1%} of the screen, fill {fill:.2f} (a disc: 0.79), aspect {aspect:.2f}, "
            f"dark features {holes_share:.1%} of its middle, mean colour #{r // k:02x}{g // k:02x}{b // k:02x}; "
            f"background dark {dark / (gw * gh):.0%}")
    ok = (area_share >= 0.02 and 0.75 <= aspect <= 1.33 and 0.55 <= fill <= 0.92
          and 0.01 <= holes_share <= 0.5 and dark / (gw * gh) >= 0.3)
    return ok, what
