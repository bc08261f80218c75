#!/usr/bin/env bash
# Boot proof on arm64: builds (once, cached) a Debian bookworm arm64 system disk with a kernel and
# systemd, installs Emoticon Mirror on it the way the README tells a Pi owner (./setup.sh, then
# ./setup.sh --install-service), boots it under full-system emulation (qemu-system-aarch64 -M virt
# -cpu cortex-a72, 4 cores, 2 GB, a virtio GPU as the KMS screen, the vivid V4L2 test camera, no
# login) and checks the kiosk from the host (boot_check.py). Slow, so not part of the default CI.
#
#   sudo tests/arm64/boot.sh              # cached system, fresh copy of this checkout
#   sudo tests/arm64/boot.sh --rebuild    # debootstrap the system again from scratch
#   sudo tests/arm64/boot.sh --build-only # build the disk, do not boot it
#
# Environment: BOOT_DIR (default /var/cache/emoticon-mirror/arm64-boot), DEBIAN_MIRROR,
# BOOT_TIMEOUT (seconds for the guest to boot, default 900), QEMU_CPU (cortex-a72), BOOT_PNG
# (default docs/boot_screen.png of the checkout; empty = do not write one).
# Exit status: 0 every check passed; 1 a phase or a check failed; 2 usage.
set -euo pipefail

usage() { sed -n '2,15p' "$0"; }
rebuild=0 build_only=0
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    --build-only) build_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "boot.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" != 0 ]; then
  echo "boot.sh: needs root (debootstrap, chroot, mounts): sudo $0 $*" >&2
  exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(git -C "$HERE" rev-parse --show-toplevel)
BOOT_DIR=${BOOT_DIR:-/var/cache/emoticon-mirror/arm64-boot}
BOOT_DIR=${BOOT_DIR%/}
ROOT=$BOOT_DIR/root                            # the system, as a directory (cached)
RESULTS=$BOOT_DIR/results
DISK=$BOOT_DIR/disk.img                        # made from $ROOT at every run
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
QEMU_CPU=${QEMU_CPU:-cortex-a72}
BOOT_PNG=${BOOT_PNG-$SRC/docs/boot_screen.png}
CHECKOUT=/home/pi/emoticon-mirror              # where the "Pi owner" cloned the project
# What a Raspberry Pi OS Lite image has before the owner installs anything: systemd, udev, a
# kernel, python3, sudo. The qemu guest agent is the host's way in (there is no login).
INCLUDE=systemd,systemd-sysv,udev,dbus,kmod,linux-image-arm64,initramfs-tools,qemu-guest-agent,ca-certificates,sudo,procps,python3
ROOT_STAMP=$ROOT/.emoticon-mirror-debootstrap.stamp   # a complete debootstrap
SYSTEM_STAMP=$BOOT_DIR/system.stamp                   # a complete, configured system (kernel, initrd)
NAME=boot
PASS_LINE="the mirror boots and runs as a kiosk on arm64"
# shellcheck source=root.sh
. "$HERE/root.sh"   # the cached root, its settings and mounts, in_root, phase timing (with prove.sh)
refuse_system_folder "$BOOT_DIR" BOOT_DIR

mkdir -p "$RESULTS"
say "checkout: $SRC"
say "system: $ROOT  disk: $DISK  results: $RESULTS"

# ---- 1. host tools ------------------------------------------------------------------------------
phase "host tools"
host_tools qemu-system-aarch64:qemu-system-arm mkfs.ext4:e2fsprogs
say "$(qemu-system-aarch64 --version | head -n1)"

# ---- 2. the system (cached) ---------------------------------------------------------------------
phase "debootstrap bookworm arm64"
if [ "$rebuild" = 1 ] || [ ! -e "$ROOT_STAMP" ]; then rm -f "$SYSTEM_STAMP"; fi  # a new root needs its kernel set up again
debootstrap_root "$ROOT_STAMP" "$rebuild"

# ---- 3. network trust and pip settings (for setup.sh's apt and pip, run in a chroot) -----------
phase "configure chroot (CA, apt, pip, mounts)"
carry_host_settings
mount_chroot_fs "$BOOT_DIR/cpuinfo"   # outside the root: not copied onto the disk (the guest has its own)

# ---- 4. the system's own settings (once) --------------------------------------------------------
phase "configure system"
if [ ! -e "$SYSTEM_STAMP" ]; then
  echo pi-mirror > "$ROOT/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tpi-mirror\n' > "$ROOT/etc/hosts"
  printf '/dev/vda\t/\text4\tdefaults,noatime\t0\t1\n' > "$ROOT/etc/fstab"
  # the vivid test driver stands in for a USB webcam: one capture node (/dev/video0), no
  # framebuffer of its own; not loaded at boot (the checks load it late: the camera appears late)
  printf 'options vivid n_devs=1 node_types=0x1\n' > "$ROOT/etc/modprobe.d/vivid.conf"
  # the initrd only has to find the root disk on virtio (MODULES=most would copy every driver of
  # the arm64 kernel, minutes under emulation); the rest is loaded by udev from the disk
  sed -i 's/^MODULES=.*/MODULES=list/' "$ROOT/etc/initramfs-tools/initramfs.conf"
  printf 'virtio_pci\nvirtio_blk\next4\n' >> "$ROOT/etc/initramfs-tools/modules"
  # a Pi OS-like first user that owns the checkout (no password: nobody logs in)
  in_root 'id pi >/dev/null 2>&1 || useradd -m -s /bin/bash pi; passwd -l root >/dev/null; passwd -l pi >/dev/null'
  kver=$(ls "$ROOT/lib/modules" | sort -V | tail -n1)
  find "$ROOT/lib/modules/$kver" -name 'vivid.ko*' | grep -q . || die "the kernel $kver has no vivid module"
  find "$ROOT/lib/modules/$kver" -name 'virtio-gpu.ko*' -o -name 'virtio_gpu.ko*' | grep -q . \
    || die "the kernel $kver has no virtio_gpu module"
  say "kernel $kver (vivid and virtio_gpu modules present); making the initrd (a few minutes)"
  in_root "update-initramfs -c -k $kver >/dev/null 2>&1 || update-initramfs -u -k $kver" \
    > "$RESULTS/initramfs.log" 2>&1 || { tail -n 20 "$RESULTS/initramfs.log" >&2; die "update-initramfs"; }
  date -u +%FT%TZ > "$SYSTEM_STAMP"
else
  say "reusing the configured system ($(cat "$SYSTEM_STAMP"))"
fi

# ---- 5. the project, installed as the README tells a Pi owner ------------------------------------
phase "copy project"
copy_checkout "$SRC" "$CHECKOUT" 1   # the checkout's .venv is kept (setup.sh is idempotent)

phase "setup.sh (apt path)"
in_root "cd $CHECKOUT && ./setup.sh" > "$RESULTS/setup.log" 2>&1 \
  || { tail -n 30 "$RESULTS/setup.log" >&2; die "./setup.sh (log: $RESULTS/setup.log)"; }
grep -q 'runtime from apt' "$RESULTS/setup.log" || die "setup.sh did not take the apt path"
tail -n 3 "$RESULTS/setup.log"

phase "setup.sh --install-service"
# The booth's configuration, written before the install as an exhibitor would (the README: set
# snapshot.dir, then (re-)run --install-service, which makes the unit's drop-in for it).
mkdir -p "$ROOT/etc/emoticon-mirror"
cat > "$ROOT/etc/emoticon-mirror/config.toml" <<'TOML'
# the boot proof's booth: the demo on the screen, cards to /srv/booth/cards, visitor counts on
[source]
input = "demo"

[snapshot]
dir = "/srv/booth/cards"
title = "Boot proof"
# under emulation the loop shows a frame every ~5 s; a countdown's frames would be further apart
# than the booth's GAP_S (2 s), which cancels it as "the camera was lost meanwhile"
countdown_s = 0

[stats]
enabled = true
TOML
in_root "cd $CHECKOUT && ./setup.sh --install-service" > "$RESULTS/install-service.log" 2>&1 \
  || { tail -n 30 "$RESULTS/install-service.log" >&2; die "./setup.sh --install-service (log: $RESULTS/install-service.log)"; }
tail -n 4 "$RESULTS/install-service.log"
# systemd does not run in a chroot: --install-service leaves the unit installed, not enabled; on
# the Pi it runs `systemctl enable --now`. Enabling offline is the same symlink.
in_root 'systemctl enable emoticon-mirror.service' >> "$RESULTS/install-service.log" 2>&1 \
  || die "systemctl enable emoticon-mirror.service"
# The unit's three times, stretched for emulation (qemu's software emulation of 4 cores runs the
# mirror ~25x slower than this host, and a Pi 4 a few times faster than that). Everything else is
# as installed.
# - TimeoutStartSec: the mirror needs ~75 s from start to its first frame (READY=1) here, more while
#   the system is still booting; the unit allows 90 s (a Pi 4 needs a fraction of that).
# - WatchdogSec: the frame loop pings once a frame; a frame takes 5-10 s here and composing a card
#   adds ~5 s more (~0.2 s on a Pi), so on a loaded host the gap after a snapshot passed the unit's
#   15 s and systemd killed a healthy mirror; the next checks then met a mirror still starting.
#   60 s keeps the proof about a hung mirror (kill -STOP is still restarted, 60 s later).
# - TimeoutStopSec: the unit gives a stop 5 s before SIGKILL; here the frame in flight alone takes
#   5-10 s, so on a loaded host systemd killed a mirror that was stopping normally (Result=timeout).
#   The check times the whole stop and judges it at native speed (the 2 s), by the measured factor.
mkdir -p "$ROOT/etc/systemd/system/emoticon-mirror.service.d"
printf '# boot.sh: qemu software emulation is 10-30x slower than a Pi 4\n[Service]\nTimeoutStartSec=600\nWatchdogSec=60\nTimeoutStopSec=120\n' \
  > "$ROOT/etc/systemd/system/emoticon-mirror.service.d/emulation.conf"
# the stick's mount point, writable by the service user (a vfat stick would be mounted so)
in_root 'install -d -o emoticon -g emoticon -m 0755 /srv/booth/cards && rm -f /srv/booth/cards/* /var/lib/emoticon-mirror/visitors.json*'
[ -f "$ROOT/etc/systemd/system/emoticon-mirror.service.d/snapshot.conf" ] \
  || die "--install-service did not write the snapshot drop-in"
unmount_all

# ---- 6. the disk ---------------------------------------------------------------------------------
phase "make disk image"
kver=$(ls "$ROOT/lib/modules" | sort -V | tail -n1)
cp -L "$ROOT/boot/vmlinuz-$kver" "$BOOT_DIR/vmlinuz"
cp -L "$ROOT/boot/initrd.img-$kver" "$BOOT_DIR/initrd.img"
rm -f "$DISK"
"${NICE[@]}" mkfs.ext4 -q -F -L root -E root_owner=0:0 -d "$ROOT" "$DISK" 8G \
  || die "mkfs.ext4 -d $ROOT $DISK"
say "disk $(du -h --apparent-size "$DISK" | cut -f1) (sparse, $(du -h "$DISK" | cut -f1) used); kernel $kver"

if [ "$build_only" = 1 ]; then phase_end; exit 0; fi

# ---- 7. boot and check ---------------------------------------------------------------------------
phase "boot and check"
"$HOST_PY" "$HERE/boot_check.py" --dir "$BOOT_DIR" --results "$RESULTS" --cpu "$QEMU_CPU" \
  --timeout "${BOOT_TIMEOUT:-900}" ${BOOT_PNG:+--png "$BOOT_PNG"} \
  || die "a check failed (lines above; serial console: $RESULTS/serial.log)"
phase_end
