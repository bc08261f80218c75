"""Animated GIF files from RGB frames, with numpy and the standard library only.

Every phone shows a looping GIF; the mirror's runtime has no imaging library that writes one
(OpenCV reads GIFs, and Pillow is not among the runtime's dependencies), and a GIF writer is small:
one palette for the whole animation (median cut on a 32-level colour cube), each frame after the
first cut to the rectangle that changed, its unchanged pixels transparent, and LZW.
"""
from __future__ import annotations

import struct

import numpy as np

COLOURS = 255  # index 255 is "unchanged since the last frame" (transparent)
CLEAR, EOI, MAX_CODE = 256, 257, 4096


def encode_gif(frames: list[np.ndarray], delay_cs: int, loop: bool = True) -> bytes:
    """frames: H x W x 3 uint8 RGB, all the same size; delay_cs: hundredths of a second per frame."""
    if not frames:
        raise ValueError("no frames")
    h, w = frames[0].shape[:2]
    if any(f.shape != frames[0].shape for f in frames):
        raise ValueError("frames differ in size")
    cubes = [cube_index(f) for f in frames]
    counts = sum(np.bincount(c[::2, ::2].ravel(), minlength=32 ** 3) for c in cubes)
    palette = median_cut(counts, COLOURS)
    used = sum(np.bincount(c.ravel(), minlength=32 ** 3) > 0 for c in cubes)
    lut = nearest_lut(palette, np.nonzero(used)[0])
    table = np.zeros((256, 3), np.uint8)
    table[:len(palette)] = palette
    out = [b"GIF89a", struct.pack("<HHBBB", w, h, 0xF7, 0, 0), table.tobytes()]
    if loop:
        out.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop for ever
    previous = None
    for cube in cubes:
        idx = lut[cube]
        x, y, rect = 0, 0, idx
        if previous is not None:
            changed = idx != previous
            if not changed.any():  # an unchanged frame: one transparent pixel keeps the timing
                changed[0, 0] = True
            ys, xs = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
            y, x = int(ys[0]), int(xs[0])
            rect = np.where(changed, idx, COLOURS)[y:ys[-1] + 1, x:xs[-1] + 1]
        flags = (1 << 2) | (previous is not None)  # keep each frame under the next; transparency
        previous = idx
        out.append(struct.pack("<BBBBHBB", 0x21, 0xF9, 4, flags, delay_cs, COLOURS, 0))
        out.append(struct.pack("<BHHHHB", 0x2C, x, y, rect.shape[1], rect.shape[0], 0))
        out.append(b"\x08" + sub_blocks(lzw(np.ascontiguousarray(rect, np.uint8).tobytes())) + b"\x00")
    out.append(b"\x3b")
    return b"".join(out)


def cube_index(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's cell in the 32 x 32 x 32 colour cube."""
    q = (rgb >> 3).astype(np.uint16)
    return (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]


def median_cut(histogram: np.ndarray, n: int) -> np.ndarray:
    """At most n colours for a histogram over the colour cube's cells: the occupied cells split, box
    by box, at the weighted median of the box's widest channel; each colour is its box's mean."""
    cells = np.nonzero(histogram)[0]
    counts = histogram[cells]
    cols = cell_colours(cells)

    def score(box: np.ndarray) -> float:
        return float(np.ptp(cols[box], axis=0).max() * np.sqrt(counts[box].sum())) if len(box) > 1 else -1.0

    boxes = [np.arange(len(cells))]
    scores = [score(boxes[0])]
    while len(boxes) < n:
        i = int(np.argmax(scores))
        if scores[i] <= 0:
            break
        box = boxes.pop(i)
        scores.pop(i)
        axis = int(np.argmax(np.ptp(cols[box], axis=0)))
        box = box[np.argsort(cols[box, axis], kind="stable")]
        cum = np.cumsum(counts[box])
        cut = int(np.clip(np.searchsorted(cum, cum[-1] / 2), 0, len(box) - 2)) + 1
        for part in (box[:cut], box[cut:]):
            boxes.append(part)
            scores.append(score(part))
    return np.array([np.average(cols[b], axis=0, weights=counts[b]) for b in boxes]).round().astype(np.uint8)


def cell_colours(cells: np.ndarray) -> np.ndarray:
    """The colour at the centre of each colour-cube cell."""
    return np.stack([(cells >> 10) & 31, (cells >> 5) & 31, cells & 31], 1) * 8 + 4


def nearest_lut(palette: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """A table from colour-cube cell to the index of the nearest palette colour, filled for `cells`."""
    cols = cell_colours(cells).astype(np.float32)
    pal = palette.astype(np.float32)
    lut = np.zeros(32 ** 3, np.uint8)
    for s in range(0, len(cells), 4096):
        d = ((cols[s:s + 4096, None, :] - pal[None]) ** 2).sum(-1)
        lut[cells[s:s + 4096]] = d.argmin(1)
    return lut


def lzw(data: bytes) -> bytes:
    """GIF's LZW for 8-bit codes: variable-width codes from 9 to 12 bits, packed low bit first."""
    codes = [CLEAR]
    append = codes.append
    widths = [(0, 9)]  # (first code written at this width, width)
    table: dict[int, int] = {}
    get = table.get
    width, nxt, limit = 9, EOI + 1, 512
    it = iter(data)
    prefix = next(it, -1)
    for byte in it:
        key = (prefix << 8) | byte
        code = get(key)
        if code is not None:
            prefix = code
            continue
        append(prefix)
        if nxt == MAX_CODE:  # the table is full: start a new one
            append(CLEAR)
            table.clear()
            width, nxt, limit = 9, EOI + 1, 512
            widths.append((len(codes), 9))
        else:
            table[key] = nxt
            if nxt == limit and width < 12:
                width, limit = width + 1, limit << 1
                widths.append((len(codes), width))
            nxt += 1
        prefix = byte
    if prefix >= 0:
        append(prefix)
    append(EOI)
    c = np.array(codes, np.uint32)
    starts = [s for s, _ in widths] + [len(codes)]
    wd = np.repeat([w for _, w in widths], np.diff(starts))
    bits = (c[:, None] >> np.arange(12, dtype=np.uint32)) & 1
    return np.packbits(bits[np.arange(12) < wd[:, None]].astype(np.uint8), bitorder="little").tobytes()


def sub_blocks(data: bytes) -> bytes:
    return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255))
