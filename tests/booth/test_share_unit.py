"""What setup.sh gives the service for sharing: nothing while it is off; IPv4, the hotspot's subnet
and one port while it is on; and the unit's exposure score with it (systemd-analyze, where present)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

DROPIN = "etc/systemd/system/emoticon-mirror.service.d/share.conf"


def share_dropin(tmp_path, config: str) -> subprocess.CompletedProcess:
    """setup.sh's own share_dropin function, run against a config with the paths moved under tmp_path."""
    text = (REPO / "setup.sh").read_text()
    function = re.search(r"^share_dropin\(\) \{\n.*?^\}\n", text, re.M | re.S).group(0)
    (tmp_path / "prefix" / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    python = tmp_path / "prefix" / ".venv" / "bin" / "python"
    if not python.exists():
        python.symlink_to(sys.executable)
    (tmp_path / "config.toml").write_text(config)
    script = (f'say() {{ echo "setup: $*"; }}\nPREFIX="{tmp_path / "prefix"}"\nCONFIG="{tmp_path / "config.toml"}"\n'
              f'UNIT="{tmp_path / "etc/systemd/system/emoticon-mirror.service"}"\n{function}share_dropin\n')
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))


ON = '[snapshot]\ndir = "/media/booth"\n[share]\nenabled = true\naddress = "10.42.0.1"\nport = 8080\n'


def test_sharing_on_gives_ipv4_the_hotspots_subnet_and_one_port(tmp_path):
    r = share_dropin(tmp_path, ON)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / DROPIN).read_text() == ("[Service]\nRestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET\n"
                                               "IPAddressAllow=10.42.0.0/24\nSocketBindAllow=tcp:8080\n"
                                               "SocketBindDeny=any\n")
    r = share_dropin(tmp_path, '[snapshot]\ndir = "/media/booth"\n')  # turned off again: the drop-in goes
    assert r.returncode == 0 and not (tmp_path / DROPIN).exists() and "sharing off" in r.stdout


def test_the_unit_stays_at_most_2_0_exposed_with_sharing_on(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here")
    assert share_dropin(tmp_path, ON).returncode == 0
    unit = tmp_path / "etc/systemd/system/emoticon-mirror.service"
    unit.write_text((REPO / "systemd" / "emoticon-mirror.service").read_text().replace("@PREFIX@", "/opt/emoticon-mirror"))
    r = subprocess.run([analyze, "security", "--offline=yes", f"--root={tmp_path}", "emoticon-mirror.service"],
                       capture_output=True, text=True, timeout=120)
    score = re.search(r"Overall exposure level for emoticon-mirror.service: ([0-9.]+)", r.stdout)
    if score is None:
        pytest.skip(f"systemd-analyze security --offline is not usable here: {r.stderr.strip()[-200:]}")
    assert "IPAddressAllow" not in r.stderr and float(score.group(1)) <= 2.0, r.stdout[-3000:]
    assert re.search(r"✗ RestrictAddressFamilies=~AF_\(INET\|INET6\)", r.stdout)  # the drop-in was read
