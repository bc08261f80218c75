# Sourced (not run) by prove.sh and boot.sh: what both need to make and use a Debian arm64 root
# on this x86 host under qemu's user emulation. Built once by debootstrap and cached; the host's
# certificate authorities, apt and pip settings carried in; the mounts a chroot needs, always
# undone (also on failure or Ctrl-C); a command run inside as root; the checkout copied in; the
# wall time of each phase.
#
# The caller sets, before sourcing: NAME (its log prefix), ROOT, RESULTS, SUITE, MIRROR, INCLUDE,
# QEMU_CPU and PASS_LINE (what its PASS means); it may define cleanup() (run at exit) and set
# IN_ROOT_DIR (where in_root's commands start; default /).

NICE=(nice -n 19)                              # everything heavy yields to other work on this machine
HOST_PY=/usr/bin/python3; [ -x "$HOST_PY" ] || HOST_PY=python3
pip_env=()

say() { echo "$NAME: $*"; }
die() { echo "$NAME: FAILED: $*" >&2; exit 1; }

refuse_system_folder() {  # refuse_system_folder PATH VARIABLE: rm -rf must never get near these
  case "$1" in ""|/|/bin|/boot|/dev|/etc|/home|/lib|/opt|/proc|/root|/run|/sys|/tmp|/usr|/var|/var/cache)
    echo "$NAME: refusing $2=$1" >&2; exit 2 ;; esac
}

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
  if [ "$status" = 0 ]; then say "RESULT: PASS ($PASS_LINE)"; else say "RESULT: FAIL (exit $status)"; fi
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
      || echo "$NAME: WARNING: could not unmount ${mounted[$i]}" >&2
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
  if declare -F cleanup >/dev/null; then cleanup || true; fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command inside the root as root, with a clean environment (plus the PIP_* settings that
# make sense there), from IN_ROOT_DIR.
in_root() {
  "${NICE[@]}" chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb QEMU_CPU="$QEMU_CPU" \
    DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${pip_env[@]}" /bin/bash -c "cd ${IN_ROOT_DIR:-/} && $1"
}

# ---- host tools ---------------------------------------------------------------------------------
host_tools() {  # host_tools [COMMAND:PACKAGE...]: debootstrap and qemu-user, plus these; then binfmt
  local need=() pair
  command -v debootstrap >/dev/null || need+=(debootstrap)
  [ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}"); done
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    "${NICE[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  update-binfmts --enable qemu-aarch64 2>/dev/null || update-binfmts --import qemu-aarch64
  grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || die "qemu-aarch64 binfmt handler is not enabled (see /proc/sys/fs/binfmt_misc/)"
  grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || die "qemu-aarch64 binfmt handler lacks the F flag, so it cannot work inside a chroot"
  say "qemu-aarch64 binfmt enabled ($(/usr/bin/qemu-aarch64-static --version | head -n1))"
}

# ---- the root (cached) --------------------------------------------------------------------------
debootstrap_root() {  # debootstrap_root STAMP REBUILD(0/1): the root, made again only when asked or incomplete
  local stamp=$1 rebuild=$2
  if [ "$rebuild" = 1 ] || [ ! -e "$stamp" ]; then
    if [ -e "$ROOT" ]; then
      nothing_mounted_under "$ROOT" || die "something is still mounted under $ROOT; unmount it first"
      say "removing the old or incomplete root"
      "${NICE[@]}" rm -rf --one-file-system "$ROOT"
    fi
    mkdir -p "$(dirname "$ROOT")"
    say "debootstrap $SUITE arm64 from $MIRROR (7-15 min on a 2-core VM)"
    if ! "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase --include="$INCLUDE" \
        "$SUITE" "$ROOT" "$MIRROR" > "$RESULTS/debootstrap.log" 2>&1; then
      tail -n 30 "$RESULTS/debootstrap.log" >&2
      [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
      die "debootstrap (log: $RESULTS/debootstrap.log)"
    fi
    printf '%s %s arm64 minbase include=%s mirror=%s\n' "$(date -u +%FT%TZ)" "$SUITE" "$INCLUDE" "$MIRROR" > "$stamp"
  else
    say "reusing $ROOT (debootstrapped $(cut -d' ' -f1 "$stamp"); --rebuild to start over)"
  fi
}

# The same certificate authorities as the host (which may sit behind a TLS-inspecting proxy): the
# bundle for apt/pip/python now, the single certificates so a later update-ca-certificates keeps
# them; the host's name servers and the apt settings that make its Debian mirror usable (e.g. a
# snapshot's old Release dates); pip's settings, filtered.
carry_host_settings() {
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp -L /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  fi
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  local f user_conf
  for f in /etc/apt/apt.conf.d/99*; do [ -f "$f" ] && cp -L "$f" "$ROOT/etc/apt/apt.conf.d/"; done
  rm -f "$ROOT/etc/pip.conf" "$ROOT/root/.config/pip/pip.conf" "$ROOT/root/.pip/pip.conf"
  [ -f /etc/pip.conf ] && filter_pip_conf /etc/pip.conf "$ROOT/etc/pip.conf"
  for user_conf in "${HOME:-/root}/.config/pip/pip.conf" "${HOME:-/root}/.pip/pip.conf"; do
    if [ -f "$user_conf" ]; then
      mkdir -p "$ROOT/root/.config/pip"
      filter_pip_conf "$user_conf" "$ROOT/root/.config/pip/pip.conf"
      break
    fi
  done
  local name value
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
}

# pip configuration: keep what works inside the root (cert, timeouts, http(s) indexes); drop what
# points at this host's disk (find-links, file:// or path indexes), which does not exist in there.
filter_pip_conf() {  # filter_pip_conf SRC DEST
  "$HOST_PY" - "$1" "$2" "$NAME" <<'PY'
import configparser, sys
src, dest, name = sys.argv[1:]
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
print(f"{name}: pip config {src} copied into the root" + (f" without {', '.join(dropped)}" if dropped else ""))
PY
}

# /proc, /sys and /dev for the chroot, and an arm64 /proc/cpuinfo written to CPUINFO. qemu-user
# (7.2) shows arm64 programs the host's x86 /proc/cpuinfo; LiteRT's CPU detection (the cpuinfo
# library under XNNPACK and ruy) cannot parse it and the first invoke() segfaults, with or without
# XNNPACK (seen as "pygame_parachute: Segmentation Fault" in the mirror). A real Pi, and the booted
# guest, have an arm64 one: this one matches the emulated CPU, one entry per host CPU.
mount_chroot_fs() {  # mount_chroot_fs CPUINFO
  local cpuinfo=$1 midr feats variant part revision cpu
  mount_into /proc -t proc proc
  mount_into /sys -t sysfs sysfs
  mount_into /dev --rbind /dev
  mount --make-rslave "$ROOT/dev"
  case "$QEMU_CPU" in
    cortex-a76) midr="0x4 0xd0b 1" feats="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
    cortex-a53) midr="0x0 0xd03 4" feats="fp asimd evtstrm crc32 cpuid" ;;
    *)          midr="0x0 0xd08 3" feats="fp asimd evtstrm crc32 cpuid" ;;  # cortex-a72 (Pi 4)
  esac
  read -r variant part revision <<< "$midr"
  for ((cpu = 0; cpu < $(nproc --all); cpu++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
      "$cpu" "$feats" "$variant" "$part" "$revision"
  done > "$cpuinfo"
  mount --bind "$cpuinfo" "$ROOT/proc/cpuinfo"
  mounted+=("$ROOT/proc/cpuinfo")
  say "emulated CPU: QEMU_CPU=$QEMU_CPU; the root's /proc/cpuinfo says CPU part $part ($(nproc --all) CPUs)"
}

# ---- the checkout -------------------------------------------------------------------------------
# A fresh copy at every run: tracked files and new, not yet committed ones (git ls-files honours
# .gitignore), plus models_tflite/; files deleted in the working tree are skipped. KEEP_VENV=1 keeps
# DEST's .venv (setup.sh is idempotent, and a new venv under emulation takes minutes).
copy_checkout() {  # copy_checkout SRC DEST KEEP_VENV
  local src=$1 dest=$2 keep=$3 kept
  kept="$(dirname "$ROOT$dest")/.emoticon-mirror-venv-keep"
  if [ -d "$ROOT$dest" ]; then
    nothing_mounted_under "$ROOT$dest" || die "something is mounted under $ROOT$dest"
    if [ "$keep" = 1 ] && [ -d "$ROOT$dest/.venv" ]; then
      rm -rf "$kept"
      mv "$ROOT$dest/.venv" "$kept"
    fi
    rm -rf "$ROOT$dest"
  fi
  mkdir -p "$ROOT$dest"
  (
    cd "$src"
    { git ls-files -z --cached --others --exclude-standard; find models_tflite -type f -print0 2>/dev/null; } \
      | "$HOST_PY" -c 'import os, sys
seen = set()
for p in sys.stdin.buffer.read().split(b"\0"):
    if p and p not in seen and os.path.isfile(p):
        seen.add(p); sys.stdout.buffer.write(p + b"\0")' \
      | tar --null -T - -cf -
  ) | tar -C "$ROOT$dest" -xf -
  if [ "$keep" = 1 ] && [ -d "$kept" ]; then mv "$kept" "$ROOT$dest/.venv"; fi
  say "copied $(find "$ROOT$dest" -path "$ROOT$dest/.venv" -prune -o -type f -print | wc -l) files to $dest"
}
