"""doctor with sharing on: the hotspot's interface and address, and the port (here on loopback)."""
from __future__ import annotations

import socket

from edge.booth.share import ShareServer
from edge.booth.shelf import Shelf
from edge.commands import doctor
from edge.config import Config


def sharing(interface: str = "lo", address: str = "127.0.0.1", port: int = 0) -> Config:
    cfg = Config()
    cfg.snapshot.dir = "/tmp"
    cfg.share.enabled, cfg.share.interface, cfg.share.address = True, interface, address
    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    cfg.share.port = port
    return cfg


def test_sharing_off_adds_no_check():
    assert doctor._share(Config()) == []


def test_a_hotspot_with_its_address_and_a_free_port_is_ok():
    checks = doctor._share(sharing())
    assert [c.status for c in checks] == ["ok", "ok"]
    assert "lo has 127.0.0.1" in checks[0].what and "is free" in checks[1].what


def test_a_missing_interface_fails_naming_it():
    check = doctor._share(sharing(interface="hotspot9"))[0]
    assert check.status == "FAIL" and "no network interface hotspot9" in check.what and "nmcli" in check.fix


def test_an_interface_without_the_address_fails():
    check = doctor._share(sharing(address="10.42.0.1"))[0]
    assert check.status == "FAIL" and "lo has 127.0.0.1, not 10.42.0.1" in check.what


def test_a_port_taken_by_another_program_fails_and_the_mirrors_own_is_ok(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        check = doctor._share(sharing(port=other.getsockname()[1]))[1]
        assert check.status == "FAIL" and "Address already in use" in check.what
    server = ShareServer(Shelf(tmp_path / "share", 60.0), "127.0.0.1", 0)
    try:
        check = doctor._share(sharing(port=server.port))[1]
        assert check.status == "ok" and "the mirror is serving it" in check.what
    finally:
        server.close()


def test_without_segno_sharing_fails_the_doctor(monkeypatch):
    import importlib.util

    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "segno" else find(name, *a))
    check = doctor._share(sharing())[0]
    assert check.status == "FAIL" and "segno" in check.what and "python3-segno" in check.fix
