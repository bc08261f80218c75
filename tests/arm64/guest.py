"""Talking to qemu from the host (standard library only): QMP, qemu's control socket (screendump,
keys, quit), and the qemu guest agent in the booted system (guest-exec as root), both JSON over a
unix socket. The agent is the host's only way into the guest: nobody logs in and there is no
network, so every check in boot_check.py runs its guest commands through `Agent.sh`.
"""
from __future__ import annotations

import base64
import json
import socket
import time


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
