#!/usr/bin/env python3
"""The host side of boot.sh (standard library only): boots the arm64 system disk under
qemu-system-aarch64 and checks the kiosk from outside, one PASS/FAIL line per check.

The host reaches the guest only through qemu: QMP (screendump, keys) and the qemu guest agent
(guest-exec, as root; nobody logs in). The guest's serial console goes to serial.log.

    python3 tests/arm64/boot_check.py --dir /var/cache/emoticon-mirror/arm64-boot \\
        --results DIR [--png docs/boot_screen.png] [--cpu cortex-a72] [--timeout 900]

Also `boot_check.py --emoticon FILE.ppm|FILE.png` checks one picture and says what it found.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import zlib

UNIT = "emoticon-mirror.service"
CONFIG = "/etc/emoticon-mirror/config.toml"
CARDS = "/srv/booth/cards"
STATS = "/var/lib/emoticon-mirror/visitors.json"
CGROUP = "/sys/fs/cgroup/system.slice/emoticon-mirror.service"


# ---- QMP and the guest agent: JSON over a unix socket ----------------------------------------------
class JsonSocket:
    def __init__(self, path: str, timeout: float = 5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, obj: dict) -> None:
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        dec = json.JSONDecoder()
        while True:
            text = self.buf.replace(b"\xff", b"").lstrip()
            if text:
                try:
                    obj, end = dec.raw_decode(text.decode("utf-8", "replace"))
                    self.buf = text.decode("utf-8", "replace")[end:].encode()
                    return obj
                except ValueError:
                    pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk


class Qmp:
    def __init__(self, path: str):
        self.s = JsonSocket(path)
        self.s.recv(10)  # greeting
        self.execute("qmp_capabilities")

    def execute(self, cmd: str, timeout: float = 30, **args) -> object:
        self.s.send({"execute": cmd, **({"arguments": args} if args else {})})
        while True:
            r = self.s.recv(timeout)
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError(f"QMP {cmd}: {r['error']}")
            return r.get("return")


class Agent:
    """The qemu guest agent: runs commands in the guest as root."""

    def __init__(self, path: str):
        self.path = path
        self.s: JsonSocket | None = None
        self.n = int(time.time()) % 100000

    def _sync(self) -> None:
        if self.s is not None:
            self.s.close()
        self.s = JsonSocket(self.path)
        self.n += 1
        self.s.send({"execute": "guest-sync-delimited", "arguments": {"id": self.n}})
        deadline = time.monotonic() + 6
        while True:
            r = self.s.recv(max(0.1, deadline - time.monotonic()))
            if r.get("return") == self.n:
                return

    def wait_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._sync()
                self.call("guest-ping")
                return True
            except (OSError, TimeoutError, ConnectionError, ValueError):
                if self.s is not None:
                    self.s.close()
                    self.s = None
                time.sleep(3)
        return False

    def call(self, cmd: str, timeout: float = 30, **args) -> object:
        if self.s is None:
            self._sync()
        self.s.send({"execute": cmd, **({"arguments": args} if args else {})})
        r = self.s.recv(timeout)
        if "error" in r:
            raise RuntimeError(f"guest agent {cmd}: {r['error']}")
        return r.get("return")

    def sh(self, script: str, timeout: float = 120) -> tuple[int, str]:
        """Runs `script` with /bin/sh in the guest; returns (exit code, stdout + stderr)."""
        for attempt in range(3):
            try:
                pid = self.call("guest-exec", path="/bin/sh", arg=["-c", "{ " + script + "\n} 2>&1"],
                                **{"capture-output": True})["pid"]
                break
            except (OSError, TimeoutError, ConnectionError):
                if attempt == 2:
                    raise
                self.s = None
                time.sleep(2)
        deadline = time.monotonic() + timeout
        while True:
            st = self.call("guest-exec-status", pid=pid)
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode("utf-8", "replace")
                return st.get("exitcode", -st.get("signal", 1)), out
            if time.monotonic() > deadline:
                return 124, f"(still running after {timeout} s)"
            time.sleep(0.5)


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


# ---- the checks ---------------------------------------------------------------------------------
class Checks:
    def __init__(self, args):
        self.args = args
        self.results: list[tuple[bool, str]] = []
        self.times: list[tuple[str, float]] = []
        self.t0 = time.monotonic()
        self.qemu: subprocess.Popen | None = None
        self.qmp: Qmp | None = None
        self.ga: Agent | None = None
        self.mem_peaks: list[tuple[int, int]] = []

    def log(self, msg: str) -> None:
        print(f"boot-check [{time.monotonic() - self.t0:6.0f}s] {msg}", flush=True)

    def result(self, ok: bool, msg: str) -> bool:
        self.results.append((ok, msg))
        print(f"{'PASS' if ok else 'FAIL'}: {msg}", flush=True)
        return ok

    def mark(self, name: str) -> None:
        self.times.append((name, time.monotonic() - self.t0))

    # -- qemu
    def start_qemu(self) -> None:
        d, res = self.args.dir, self.args.results
        for name in ("qmp.sock", "qga.sock", "mon.sock"):
            try:
                os.unlink(os.path.join(res, name))
            except FileNotFoundError:
                pass
        cmd = ["nice", "-n", "19", "qemu-system-aarch64",
               "-M", "virt", "-cpu", self.args.cpu, "-smp", "4", "-m", "2048", "-accel", "tcg",
               "-nodefaults", "-display", "none",
               "-kernel", os.path.join(d, "vmlinuz"), "-initrd", os.path.join(d, "initrd.img"),
               "-append", "root=/dev/vda rw console=ttyAMA0 consoleblank=0 systemd.show_status=1",
               "-drive", f"file={os.path.join(d, 'disk.img')},format=raw,if=none,id=hd0,cache=unsafe",
               "-device", "virtio-blk-pci,drive=hd0",
               "-device", "virtio-gpu-pci,xres=1280,yres=720",
               "-device", "virtio-keyboard-pci",
               "-device", "virtio-rng-pci",
               "-serial", f"file:{os.path.join(res, 'serial.log')}",
               # a spare human monitor, to look in while the checks run (socat - UNIX:mon.sock)
               "-monitor", f"unix:{os.path.join(res, 'mon.sock')},server=on,wait=off",
               "-qmp", f"unix:{os.path.join(res, 'qmp.sock')},server=on,wait=off",
               "-chardev", f"socket,path={os.path.join(res, 'qga.sock')},server=on,wait=off,id=qga0",
               "-device", "virtio-serial-pci",
               "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
               "-nic", "none"]
        self.log("starting: " + " ".join(cmd[3:]))
        self.qemu = subprocess.Popen(cmd, stdout=open(os.path.join(res, "qemu.log"), "w"), stderr=subprocess.STDOUT)
        for _ in range(100):
            if os.path.exists(os.path.join(res, "qmp.sock")):
                break
            time.sleep(0.1)
        self.qmp = Qmp(os.path.join(res, "qmp.sock"))
        self.ga = Agent(os.path.join(res, "qga.sock"))

    def stop_qemu(self) -> None:
        if self.qemu is None:
            return
        if self.qemu.poll() is None and self.ga is not None:
            try:
                self.ga.call("guest-shutdown", mode="powerdown", timeout=5)
            except Exception:
                pass
            try:
                self.qemu.wait(90)
            except subprocess.TimeoutExpired:
                pass
        if self.qemu.poll() is None:
            try:
                self.qmp.execute("quit")
            except Exception:
                pass
            try:
                self.qemu.wait(10)
            except subprocess.TimeoutExpired:
                self.qemu.kill()
                self.qemu.wait()

    # -- guest helpers
    def sh(self, script: str, timeout: float = 120) -> tuple[int, str]:
        return self.ga.sh(script, timeout)

    def show(self) -> dict[str, str]:
        _, out = self.sh(f"systemctl show -p ActiveState,SubState,Result,StatusText,MainPID,NRestarts,"
                         f"ExecMainStatus,ExecMainCode,MemoryMax {UNIT}")
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_active(self, timeout: float, other_than_pid: str | None = None) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        st: dict[str, str] = {}
        said = ""
        while time.monotonic() < deadline:
            st = self.show()
            now = " ".join(f"{k}={st.get(k)}" for k in ("ActiveState", "SubState", "NRestarts", "MainPID", "StatusText"))
            if now != said:
                self.log("unit: " + now)
                said = now
            if st.get("ActiveState") == "active" and st.get("MainPID", "0") not in ("0", other_than_pid):
                return st
            time.sleep(2)
        return st

    def cursor(self) -> str:
        _, out = self.sh("journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'")
        return out.strip()

    def journal(self, cursor: str = "", unit: bool = True) -> str:
        """The unit's journal lines (unit=False: the kernel's) since `cursor`, or since boot."""
        _, out = self.sh(f"journalctl --no-pager -o cat {'-u ' + UNIT if unit else '-k'} "
                         f"{'--after-cursor=' + repr(cursor) if cursor else '-b'}", timeout=120)
        return out

    def read_peak(self) -> None:
        rc, out = self.sh(f"cat {CGROUP}/memory.peak {CGROUP}/memory.max; "
                          f"grep -E '^(anon|file) ' {CGROUP}/memory.stat")
        parts = out.split()
        if rc == 0 and len(parts) >= 2 and parts[0].isdigit():
            self.mem_peaks.append((int(parts[0]), int(parts[1]) if parts[1].isdigit() else 0))
            now = dict(zip(parts[2::2], parts[3::2]))
            self.log(f"cgroup memory.peak {int(parts[0]) / 2**20:.0f} MiB (memory.max {parts[1]}); now: "
                     + ", ".join(f"{k} {int(v) / 2**20:.0f} MiB" for k, v in now.items() if v.isdigit()))

    def slowdown(self) -> float:
        """How many times slower Python runs in the guest than on this host (the same pure-Python
        loop, best of 3 on each side): the emulation factor used to judge the stop times."""
        loop = ("import time; t=time.perf_counter(); s=0\nfor i in range(300000): s+=i*i%7\n"
                "print((time.perf_counter()-t)*1000)")
        host = min(float(subprocess.run([sys.executable, "-c", loop], capture_output=True, text=True).stdout)
                   for _ in range(3))
        guest = []
        for _ in range(3):
            rc, out = self.sh(f"python3 -c '{loop}'")
            try:
                guest.append(float(out.split()[-1]))
            except (ValueError, IndexError):
                pass
        factor = min(guest) / host if guest and host > 0 else 1.0
        self.log(f"emulation factor: pure Python {min(guest, default=0):.0f} ms in the guest, {host:.0f} ms here: x{factor:.1f}")
        return max(1.0, factor)

    def set_input(self, value: str) -> None:
        self.sh(f"sed -i 's#^input = .*#input = \"{value}\"#' {CONFIG}")

    # -- the run
    def run(self) -> bool:
        a = self.args
        self.start_qemu()
        self.mark("qemu started")
        if not self.ga.wait_up(a.timeout):
            self.result(False, f"the guest agent did not answer within {a.timeout} s (serial: {a.results}/serial.log)")
            return False
        self.mark("guest up (agent answers)")
        _, out = self.sh("cat /proc/uptime; uname -r; nproc; systemd-analyze 2>/dev/null | head -n1")
        self.log("guest: " + " | ".join(out.split("\n")))

        # 1. the unit, after boot, with nobody logged in
        st = self.wait_active(a.timeout)
        self.mark("unit active (READY)")
        _, who = self.sh("who | wc -l; loginctl list-sessions --no-legend 2>/dev/null | wc -l")
        nobody = [n.strip() for n in who.split()] == ["0", "0"]
        self.result(st.get("ActiveState") == "active" and nobody and st.get("NRestarts") == "0",
                    f"the unit is active after boot with nobody logged in, READY=1 at the first start "
                    f"(ActiveState={st.get('ActiveState')}, SubState={st.get('SubState')}, NRestarts={st.get('NRestarts')}, "
                    f"sessions/who={who.split()}, status: {st.get('StatusText', '')!r})")
        pid = st.get("MainPID", "0")
        _, proc = self.sh(f"ps -o user=,group= -p {pid}; grep -E '^(Uid|NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/{pid}/status; "
                          f"awk '$5 == \"/\" {{print \"root mount:\", $6}}' /proc/{pid}/mountinfo; "
                          f"systemctl show -p DevicePolicy,ProtectSystem,MemoryMax {UNIT}")
        fields = {}
        for line in proc.splitlines():
            if ":" in line and not line.startswith("root mount"):
                k, v = line.split(":", 1)
                fields[k.strip()] = v.split()
        user_ok = proc.split()[:1] == ["emoticon"]
        sandbox_ok = (fields.get("NoNewPrivs") == ["1"] and fields.get("Seccomp", ["0"])[0] == "2"
                      and fields.get("CapEff") == ["0000000000000000"] and "root mount: ro" in proc.replace("ro,", "ro ")
                      and "DevicePolicy=closed" in proc and "ProtectSystem=strict" in proc)
        self.result(user_ok and sandbox_ok,
                    "the mirror runs as its service user inside the unit's sandbox: "
                    + "; ".join(l.strip() for l in proc.splitlines() if l.strip()))

        # 2. the KMS screen holds an emoticon (the demo)
        png = None
        deadline = time.monotonic() + a.screen_timeout
        seen = "no screendump"
        ppm = os.path.join(a.results, "screen.ppm")
        while time.monotonic() < deadline:
            try:
                self.qmp.execute("screendump", filename=ppm)
                w, h, rgb = read_ppm(ppm)
                ok, seen = find_emoticon(w, h, rgb)
            except Exception as e:  # noqa: BLE001 - a failed dump is retried, then reported
                ok, seen = False, f"screendump: {e}"
            if ok:
                png = a.png or os.path.join(a.results, "boot_screen.png")
                write_png(png, w, h, rgb)
                break
            time.sleep(5)
        self.mark("emoticon on the screen")
        self.result(png is not None, f"QMP screendump of the virtio GPU (KMS) screen holds an emoticon: {seen}"
                    + (f"; saved {png} ({os.path.getsize(png) // 1024} KB)" if png else f"; last dump {ppm}"))

        # 3. a snapshot: the key, through the virtio keyboard (evdev -> SDL), into snapshot.dir
        self.sh(f"ls {CARDS}")
        self.qmp.execute("send-key", keys=[{"type": "qcode", "data": "s"}], **{"hold-time": 200})
        card = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            rc, out = self.sh(f"ls -ln {CARDS}/card-*.png 2>/dev/null; cat /etc/systemd/system/{UNIT}.d/snapshot.conf")
            if "card-" in out:
                card = out
                break
            time.sleep(3)
        uid = self.sh("id -u emoticon")[1].strip()
        card_ok = bool(card) and f" {uid} " in card.split("\n")[0]
        self.result(card_ok, f"a snapshot (the 's' key on the guest's keyboard) saved a card into snapshot.dir "
                    f"{CARDS} through the unit's drop-in: " + (" | ".join(card.split("\n")[:4]) if card else "no card within 90 s"))
        self.mark("snapshot")

        # 4. the journal so far: no traceback, no denial
        text = self.journal()
        kern = self.journal(unit=False)
        bad = [l for l in text.splitlines() if any(w in l.lower() for w in ("traceback", "denied", "not permitted"))
               or l.lower().startswith("error")]
        bad += [l for l in kern.splitlines() if any(w in l.lower() for w in ("audit", "seccomp", "segfault"))
                and "emoticon" in l.lower()]
        self.result(not bad, "no traceback and no denial in the journal since boot"
                    + (": " + " | ".join(bad[:6]) if bad else f" ({len(text.splitlines())} lines of the unit)"))
        (open(os.path.join(a.results, "journal-boot1.txt"), "w")).write(text)

        # 5. a hung mirror (SIGSTOP) is restarted by the watchdog (the boot's own mirror)
        self.read_peak()
        pid = self.show().get("MainPID", "0")
        cur = self.cursor()
        self.sh(f"kill -STOP {pid}")
        t = time.monotonic()
        st = self.wait_active(300, other_than_pid=pid)
        took = time.monotonic() - t
        j = self.journal(cur)
        self.result(st.get("ActiveState") == "active" and st.get("MainPID") != pid and "watchdog" in j.lower(),
                    f"a hung mirror (kill -STOP {pid}) is restarted by the watchdog: new pid {st.get('MainPID')} "
                    f"active after {took:.0f} s; journal: "
                    + " | ".join(l for l in j.splitlines() if "atchdog" in l or "Scheduled restart" in l)[:300])
        self.mark("watchdog restart")

        # 6. stop within 2 s (the mirror the watchdog started)
        self.read_peak()
        cur = self.cursor()
        rc, out = self.sh(f"a=$(date +%s%N); systemctl stop {UNIT}; b=$(date +%s%N); echo $(( (b - a) / 1000000 )); "
                          f"systemctl show -p Result,ExecMainCode,ExecMainStatus {UNIT}")
        _, how = self.sh(f"journalctl --no-pager -o short-monotonic -u {UNIT} --after-cursor={cur!r}")
        self.log("the stop, in the journal:\n" + how.rstrip())
        lines = out.split()
        ms = int(lines[0]) if lines and lines[0].isdigit() else 99999
        # Under emulation everything the stop does (the frame in flight: 5-10 s here, ~0.1 s on a Pi;
        # closing the perceiver, the counts, the screen; the interpreter's exit) runs many times
        # slower, so the 2 s are judged at this host's native speed: the guest's time divided by the
        # measured emulation factor (an estimate: a Pi 4 runs Python a few times slower than this host).
        self.factor = self.slowdown()
        frame_ms = 0.0
        for line in how.splitlines():
            if '"latency_ms"' in line:
                try:
                    frame_ms = float(json.loads(line[line.index("{"):])["latency_ms"])
                except (ValueError, KeyError):
                    pass
        self.result(ms / self.factor <= 2000 and "Result=success" in out,
                    f"systemctl stop ends the showing mirror within 2 s at native speed (estimated): {ms} ms "
                    f"under emulation / x{self.factor:.1f} = {ms / self.factor:.0f} ms; a frame took {frame_ms:.0f} ms "
                    f"here ({' '.join(lines[1:])}, no SIGKILL)")
        self.mark("stop")

        # 7. a config error: exit 2, said once, no restart loop against the start limit
        cur = self.cursor()
        self.sh(f"cp {CONFIG} /root/config.good && printf '\\n[display]\\nmode = \"sideways\"\\n' >> {CONFIG}; "
                f"systemctl reset-failed {UNIT}; systemctl restart --no-block {UNIT}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.show().get("ExecMainStatus") != "2":
            time.sleep(2)
        time.sleep(12)  # RestartSec=3: a loop would have started again by now
        st = self.show()
        j = self.journal(cur)
        said = [l for l in j.splitlines() if "display.mode" in l]
        restarts = [l for l in j.splitlines() if "Scheduled restart" in l]
        self.result(st.get("ExecMainStatus") == "2" and not restarts and len(said) == 1
                    and st.get("ActiveState") in ("failed", "inactive"),
                    f"a config error exits 2 and is not restarted against the start limit; the journal says why once: "
                    f"ActiveState={st.get('ActiveState')}, ExecMainStatus={st.get('ExecMainStatus')}, "
                    f"{len(restarts)} restarts, {len(said)} line(s): {said[:1]}")
        self.sh(f"cp /root/config.good {CONFIG}; systemctl reset-failed {UNIT}")
        self.mark("config error")

        # 8. the camera appears late: the unit waits, then starts with it (V4L2 under DeviceAllow)
        self.set_input("/dev/video0")
        cur = self.cursor()
        self.sh(f"rmmod vivid 2>/dev/null; systemctl reset-failed {UNIT}; systemctl restart --no-block {UNIT}")
        st = self.wait_active(300)
        waiting = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st = self.show()
            waiting = st.get("StatusText", "")
            if "camera" in waiting.lower():
                break
            time.sleep(3)
        self.mark("waiting for the camera")
        pid = st.get("MainPID")
        self.sh("modprobe vivid")
        t = time.monotonic()
        there = []
        deadline = time.monotonic() + 240
        j = ""
        while time.monotonic() < deadline:
            j = self.journal(cur)
            there = [l for l in j.splitlines() if "/dev/video0 is there" in l]
            if there:
                break
            time.sleep(3)
        took = time.monotonic() - t
        time.sleep(6)
        st = self.show()
        _, fds = self.sh(f"ls -l /proc/{st.get('MainPID')}/fd 2>/dev/null | grep -c /dev/video0; ls -l /dev/video0; "
                         f"systemctl show -p DevicePolicy -p DeviceAllow {UNIT}")
        self.result("camera" in waiting.lower() and bool(there) and st.get("MainPID") == pid
                    and st.get("ActiveState") == "active",
                    f"the camera appears late (vivid loaded after boot): the mirror waited ({waiting!r}), "
                    f"then started with it {took:.0f} s after the device appeared, same pid {pid}: {there[:1]}")
        vopen = fds.split("\n")[0].strip() not in ("", "0")
        self.result(vopen and "crw" in fds and "char-video4linux rw" in fds,
                    f"the V4L2 source opens under the unit's DeviceAllow: status {st.get('StatusText')!r}; "
                    + " | ".join(fds.splitlines()))
        self.mark("camera")
        self.read_peak()

        # 9. visitor counts survive a reboot
        self.sh(f"systemctl stop {UNIT}")
        _, before = self.sh(f"cat {STATS}")
        _, boot_id = self.sh("cat /proc/sys/kernel/random/boot_id")
        self.log(f"visitors.json before the reboot: {before.strip()}")
        try:
            self.ga.call("guest-shutdown", mode="reboot", timeout=5)
        except Exception:
            pass
        time.sleep(20)
        t = time.monotonic()
        up = False
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline and not up:
            if self.ga.wait_up(60):
                _, bid = self.sh("cat /proc/sys/kernel/random/boot_id")
                up = bid.strip() != boot_id.strip()
            if not up:
                time.sleep(5)
        st = self.wait_active(a.timeout) if up else {}
        self.mark("rebooted, unit active")
        _, after = self.sh(f"cat {STATS}")
        _, out = self.sh(f"a=$(date +%s%N); systemctl stop {UNIT}; b=$(date +%s%N); echo $(( (b - a) / 1000000 )); "
                         f"systemctl show -p Result {UNIT}")
        lines = out.split()
        ms = int(lines[0]) if lines and lines[0].isdigit() else 99999
        factor = getattr(self, "factor", 1.0)
        self.result(ms / factor <= 2000 and "Result=success" in out and st.get("StatusText", "").startswith("Waiting"),
                    f"systemctl stop ends the mirror waiting for its camera within 2 s at native speed (estimated): "
                    f"{ms} ms under emulation / x{factor:.1f} = {ms / factor:.0f} ms "
                    f"({' '.join(lines[1:])}; status was {st.get('StatusText')!r})")
        _, after_run = self.sh(f"cat {STATS}")
        self.result(up and st.get("ActiveState") == "active" and self.counts_kept(before, after)
                    and self.counts_kept(before, after_run),
                    f"visitor counts survive a reboot (the unit active again {time.monotonic() - t:.0f} s after it): "
                    f"before {self.totals(before)}, after the reboot {self.totals(after)}, after the mirror ran "
                    f"and stopped again {self.totals(after_run)}")
        self.sh(f"systemctl start --no-block {UNIT}")

        # 10. memory under MemoryMax
        peak = max(self.mem_peaks, default=(0, 0))
        self.result(bool(self.mem_peaks) and all(p < m for p, m in self.mem_peaks if m),
                    f"the unit's cgroup memory peak stays under MemoryMax: highest memory.peak "
                    f"{peak[0] / 2**20:.0f} MiB of {peak[1] / 2**20:.0f} MiB "
                    f"({len(self.mem_peaks)} readings, one per cgroup lifetime)")
        (open(os.path.join(a.results, "journal-all.txt"), "w")).write(self.journal())
        return all(ok for ok, _ in self.results)

    @staticmethod
    def totals(text: str) -> str:
        try:
            hours = json.loads(text)["hours"]
        except (ValueError, KeyError, TypeError):
            return f"unreadable ({text.strip()[:80]!r})"
        return (f"{len(hours)} hour(s), {sum(h['people'] for h in hours.values())} people, "
                f"{sum(h['snapshots'] for h in hours.values())} snapshots, "
                f"{sum(sum(h['expressions'].values()) for h in hours.values()):.1f} s of expressions")

    @staticmethod
    def counts_kept(before: str, after: str) -> bool:
        try:
            b, a = json.loads(before)["hours"], json.loads(after)["hours"]
        except (ValueError, KeyError, TypeError):
            return False
        if not any(h["snapshots"] or h["people"] or h["expressions"] for h in b.values()):
            return False  # nothing counted: nothing proven
        return all(k in a and a[k]["people"] >= h["people"] and a[k]["snapshots"] >= h["snapshots"]
                   and sum(a[k]["expressions"].values()) >= sum(h["expressions"].values()) - 0.01
                   for k, h in b.items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="folder with disk.img, vmlinuz, initrd.img")
    ap.add_argument("--results", help="folder for logs, sockets and the screendump")
    ap.add_argument("--png", help="where to save the screen with the emoticon (a small PNG)")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--timeout", type=float, default=900, help="seconds for a boot (default 900)")
    ap.add_argument("--screen-timeout", type=float, default=300)
    ap.add_argument("--emoticon", help="only check this PPM or PNG file for an emoticon")
    a = ap.parse_args()
    if a.emoticon:
        w, h, rgb = read_ppm(a.emoticon) if a.emoticon.endswith(".ppm") else read_png(a.emoticon)
        ok, what = find_emoticon(w, h, rgb)
        print(("PASS: " if ok else "FAIL: ") + what)
        return 0 if ok else 1
    if not (a.dir and a.results):
        ap.error("--dir and --results are needed")
    c = Checks(a)
    ok = False
    try:
        ok = c.run()
    except Exception as e:  # noqa: BLE001 - any failure is a FAIL line, then the guest is stopped
        c.result(False, f"the checks stopped: {type(e).__name__}: {e}")
    finally:
        c.stop_qemu()
        c.mark("guest powered off")
    print("boot-check: times since qemu started:")
    for name, t in c.times:
        print(f"  {name:34s} {t:8.0f} s")
    n_ok = sum(1 for ok_, _ in c.results if ok_)
    print(f"boot-check: {n_ok} passed, {len(c.results) - n_ok} failed")
    return 0 if ok and c.results and n_ok == len(c.results) else 1


if __name__ == "__main__":
    sys.exit(main())
