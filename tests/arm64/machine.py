"""The booted guest as boot_check.py's checks see it (standard library only): `Machine` starts and
stops qemu-system-aarch64, asks systemd in the guest about the unit (its state, the journal, the
cgroup's memory peak), measures the emulation factor, and records the PASS/FAIL lines and the
times since qemu started. `boot_check.Checks` adds the checks themselves; this is kept apart so
that the checks read as what they prove, not how they reach the guest.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from guest import Agent, Qmp

UNIT = "emoticon-mirror.service"
CONFIG = "/etc/emoticon-mirror/config.toml"
CARDS = "/srv/booth/cards"
STATS = "/var/lib/emoticon-mirror/visitors.json"
CGROUP = "/sys/fs/cgroup/system.slice/emoticon-mirror.service"


# ---- the guest machine: qemu, the unit, the record of PASS/FAIL lines and times -----------------
class Machine:
    """One boot of the system disk under qemu, seen from the host; the base of boot_check.Checks."""

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
