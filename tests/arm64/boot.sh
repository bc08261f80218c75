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
NICE=(nice -n 19)
HOST_PY=/usr/bin/python3; [ -x "$HOST_PY" ] || HOST_PY=python3

case "$BOOT_DIR" in ""|/|/bin|/boot|/dev|/etc|/home|/lib|/opt|/proc|/root|/run|/sys|/tmp|/usr|/var|/var/cache)
  echo "boot.sh: refusing BOOT_DIR=$BOOT_DIR" >&2; exit 2 ;; esac

say() { echo "boot: $*"; }
die() { echo "boot: FAILED: $*" >&2; exit 1; }

# ---- phase timing -------------------------------------------------------------------------------
T0=$EPOCHREALTIME
phase_names=() phase_secs=() phase_name="" phase_t0=""
phase() {
  phase_end
  phase_name=$1 phase_t0=$EPOCHREALTIME
  echo
  say "=== phase: $1 ==="
}
phase_end() {
  if [ -n "$phase_name" ]; then
    phase_names+=("$phase_name")
    phase_secs+=("$(awk -v a="$phase_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')")
    phase_name=""
  fi
}
print_times() {
  local i status=$1
  echo
  say "wall time per phase:"
  for i in "${!phase_names[@]}"; do
    printf '  %-34s %8ss\n' "${phase_names[$i]}" "${phase_secs[$i]}"
  done
  [ -n "$phase_name" ] && printf '  %-34s %8s\n' "$phase_name" "(failed)"
  printf '  %-34s %8ss\n' "total" "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
  if [ "$status" = 0 ]; then say "RESULT: PASS (the mirror boots and runs as a kiosk on arm64)";
  else say "RESULT: FAIL (exit $status)"; fi
}

# ---- mounts, always undone ----------------------------------------------------------------------
mounted=()
mount_into() {  # mount_into TARGET-IN-ROOT mount-args...
  local target=$ROOT$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -R -l "${mounted[$i]}" 2>/dev/null \
      || echo "boot: WARNING: could not unmount ${mounted[$i]}" >&2
  done
  mounted=()
}
nothing_mounted_under() {
  ! awk -v p="$1/" 'index($2, p) == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}
on_exit() {
  local status=$?
  trap - EXIT INT TERM
  unmount_all
  print_times "$status"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_root() {  # a command inside the system as root (qemu user emulation), clean environment
  "${NICE[@]}" chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb QEMU_CPU="$QEMU_CPU" \
    DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${pip_env[@]}" /bin/bash -c "$1"
}

mkdir -p "$RESULTS"
say "checkout: $SRC"
say "system: $ROOT  disk: $DISK  results: $RESULTS"

# ---- 1. host tools ------------------------------------------------------------------------------
phase "host tools"
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  "${NICE[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
update-binfmts --enable qemu-aarch64 2>/dev/null || update-binfmts --import qemu-aarch64
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || die "qemu-aarch64 binfmt handler missing or without the F flag (see /proc/sys/fs/binfmt_misc/)"
say "$(qemu-system-aarch64 --version | head -n1)"

# ---- 2. the system (cached) ---------------------------------------------------------------------
phase "debootstrap bookworm arm64"
if [ "$rebuild" = 1 ] || [ ! -e "$ROOT_STAMP" ]; then
  rm -f "$SYSTEM_STAMP"
  if [ -e "$ROOT" ]; then
    nothing_mounted_under "$ROOT" || die "something is still mounted under $ROOT; unmount it first"
    say "removing the old or incomplete system"
    "${NICE[@]}" rm -rf --one-file-system "$ROOT"
  fi
  say "debootstrap $SUITE arm64 from $MIRROR (10-15 min on a 2-core VM)"
  if ! "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase --include="$INCLUDE" \
      "$SUITE" "$ROOT" "$MIRROR" > "$RESULTS/debootstrap.log" 2>&1; then
    tail -n 30 "$RESULTS/debootstrap.log" >&2
    die "debootstrap (log: $RESULTS/debootstrap.log)"
  fi
  printf '%s %s arm64 minbase include=%s mirror=%s\n' "$(date -u +%FT%TZ)" "$SUITE" "$INCLUDE" "$MIRROR" > "$ROOT_STAMP"
else
  say "reusing $ROOT (debootstrapped $(cut -d' ' -f1 "$ROOT_STAMP"); --rebuild to start over)"
fi

# ---- 3. network trust and pip settings (for setup.sh's apt and pip, run in a chroot) -----------
phase "configure chroot (CA, apt, pip, mounts)"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp -L /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
fi
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# this host's apt settings that make its Debian mirror usable (e.g. a snapshot's old Release dates)
for f in /etc/apt/apt.conf.d/99*; do [ -f "$f" ] && cp -L "$f" "$ROOT/etc/apt/apt.conf.d/"; done
filter_pip_conf() {  # as prove.sh: keep http(s) indexes, cert, timeouts; drop host-only paths
  "$HOST_PY" - "$1" "$2" <<'PY'
import configparser, sys
src, dest = sys.argv[1:]
cp = configparser.RawConfigParser()
cp.read(src)
out = configparser.RawConfigParser()
for section in cp.sections():
    out.add_section(section)
    for key, value in cp.items(section):
        k = key.replace("_", "-")
        if k in ("find-links", "no-index"):
            continue
        if k in ("index-url", "extra-index-url"):
            urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
            if not urls:
                continue
            value = " ".join(urls)
        out.set(section, key, value)
with open(dest, "w") as f:
    out.write(f)
PY
}
rm -f "$ROOT/etc/pip.conf"
[ -f /etc/pip.conf ] && filter_pip_conf /etc/pip.conf "$ROOT/etc/pip.conf"
pip_env=()
while IFS='=' read -r name value; do
  case "$name" in
    PIP_FIND_LINKS|PIP_CONFIG_FILE|PIP_NO_INDEX|PIP_TARGET|PIP_PREFIX|PIP_SRC|PIP_CACHE_DIR) continue ;;
    PIP_INDEX_URL|PIP_EXTRA_INDEX_URL)
      case "$value" in http://*|https://*) ;; *) continue ;; esac ;;
    PIP_CERT|PIP_CLIENT_CERT)
      [ -f "$value" ] || continue
      if [ ! -e "$ROOT$value" ]; then mkdir -p "$ROOT$(dirname "$value")"; cp -L "$value" "$ROOT$value"; fi ;;
  esac
  pip_env+=("$name=$value")
done < <(env | grep -E '^(PIP_[A-Z_]+|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY)=' || true)
mount_into /proc -t proc proc
mount_into /sys -t sysfs sysfs
mount_into /dev --rbind /dev
mount --make-rslave "$ROOT/dev"
# qemu-user shows arm64 programs the host's x86 /proc/cpuinfo, which LiteRT cannot parse (see
# README: prove.sh); the booted guest has its own, real one.
for ((cpu = 0; cpu < $(nproc --all); cpu++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$cpu"
done > "$BOOT_DIR/cpuinfo"
mount --bind "$BOOT_DIR/cpuinfo" "$ROOT/proc/cpuinfo"
mounted+=("$ROOT/proc/cpuinfo")

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
# a fresh copy of this checkout at every run; the checkout's .venv is kept (setup.sh is idempotent)
if [ -d "$ROOT$CHECKOUT" ]; then
  nothing_mounted_under "$ROOT$CHECKOUT" || die "something is mounted under $ROOT$CHECKOUT"
  [ -d "$ROOT$CHECKOUT/.venv" ] && { rm -rf "$ROOT/home/pi/.venv-keep"; mv "$ROOT$CHECKOUT/.venv" "$ROOT/home/pi/.venv-keep"; }
  rm -rf "$ROOT$CHECKOUT"
fi
mkdir -p "$ROOT$CHECKOUT"
(
  cd "$SRC"
  git ls-files -z --cached --others --exclude-standard \
    | "$HOST_PY" -c 'import os, sys
for p in sys.stdin.buffer.read().split(b"\0"):
    if p and os.path.isfile(p):
        sys.stdout.buffer.write(p + b"\0")' \
    | tar --null -T - -cf -
) | tar -C "$ROOT$CHECKOUT" -xf -
[ -d "$ROOT/home/pi/.venv-keep" ] && mv "$ROOT/home/pi/.venv-keep" "$ROOT$CHECKOUT/.venv"
say "copied $(find "$ROOT$CHECKOUT" -path "$ROOT$CHECKOUT/.venv" -prune -o -type f -print | wc -l) files to $CHECKOUT"

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
# The one change to the unit for emulation: the mirror needs ~75 s from start to its first frame
# (READY=1) under qemu's software emulation of 4 cores on this host, more while the system is still
# booting; the unit allows 90 s (a Pi 4 needs a fraction of that). Everything else is as installed.
mkdir -p "$ROOT/etc/systemd/system/emoticon-mirror.service.d"
printf '# boot.sh: qemu software emulation is 10-30x slower than a Pi 4\n[Service]\nTimeoutStartSec=600\n' \
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
