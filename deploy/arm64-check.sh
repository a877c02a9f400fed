#!/usr/bin/env bash
# deploy/bootstrap.sh arm64-check: does crimebox install, record, hash, export and verify on
# 64-bit ARM Debian (the Raspberry Pi OS bookworm base), on a machine that is not a Pi?
#
# As root: qemu-user-static + binfmt_misc run arm64 binaries; debootstrap builds a bookworm
# arm64 root file system once (cached as a tarball); every run unpacks it afresh, copies a clean
# `git archive HEAD` of this checkout into /opt/crimebox and there, as a fresh Pi would, runs
# `deploy/bootstrap.sh start` on the test pattern, waits for closed segments, stops it, then
# verify_segments, export_clip across two segments, verify_evidence, install --dry-run, render +
# systemd-analyze verify. Writes a report (the commit, each step, the total time) to the
# cache's logs/arm64-report.txt and prints it; exits 1 on any failure. It always unmounts what
# it mounted, kills what it started in the root file system and leaves binfmt_misc as it found
# it before installing anything (installing qemu-user-static registers handlers by itself).
#
# Settings (environment):
#   CRIMEBOX_ARM64_CACHE   cache dir (default /var/cache/crimebox-arm64): base tarball, apt's
#                          .debs, pip's cache, the last run's root file system and logs
#   CRIMEBOX_ARM64_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   CRIMEBOX_ARM64_KEEP=1  keep the last run's root file system (it is removed otherwise)
set -euo pipefail

SUITE=bookworm
# What Raspberry Pi OS Lite has that a debootstrap minbase lacks and `start` does not install:
# python3 (start runs it before apt), systemd (systemd-analyze), procps (pgrep in stop_box).
INCLUDE=ca-certificates,python3,systemd,procps
BASE_KEY="$SUITE-arm64-minbase-v1"
# Emulation runs FFmpeg's encoder ~10x slower than native: a small picture at a low rate keeps
# the test pattern live, and short segments close several within a couple of minutes.
SEGMENT_SECONDS=20
PATTERN_SIZE=320x240
PATTERN_FPS=5
SEGMENTS_WANTED=3
START_TIMEOUT=${CRIMEBOX_ARM64_START_TIMEOUT:-3600} # apt + pip + migrate under emulation
RECORD_TIMEOUT=$((SEGMENT_SECONDS * (SEGMENTS_WANTED + 3) + 300))

usage() { echo "usage: deploy/bootstrap.sh arm64-check (as root; see deploy/arm64-check.sh)" >&2; }

# ---------------------------------------------------------------- inside the arm64 chroot
REPORT=/root/arm64-report.txt
CHECK_FAILED=0

step() { # step NAME COMMAND...: run, log, record PASS/FAIL with its time
  local name=$1 t0=$SECONDS rc=0
  shift
  echo "== $name: $*" >>/root/steps.log
  "$@" >>/root/steps.log 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name ($((SECONDS - t0)) s)" >>"$REPORT"
  else
    echo "FAIL $name (exit $rc, $((SECONDS - t0)) s; see steps.log)" >>"$REPORT"
    CHECK_FAILED=1
  fi
  return "$rc"
}

manage() { .venv/bin/python manage.py "$@"; }

closed_segments() {
  manage shell -v 0 -c "from recordings.models import Segment
print(Segment.objects.filter(status='complete', sequence__isnull=False).count())" 2>/dev/null
}

wait_started() { # until start has launched its processes, or died, or the deadline
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    grep -q "bootstrap: starting web admin" /root/start.log && return 0
    kill -0 "$pid" 2>/dev/null || { echo "start exited early"; return 1; }
    sleep 2
  done
  echo "start did not launch within $START_TIMEOUT s"
  return 1
}

wait_segments() {
  local pid=$1 deadline=$((SECONDS + RECORD_TIMEOUT)) n=0
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "start exited while recording"; return 1; }
    n=$(closed_segments || echo 0)
    echo "closed segments: $n"
    [ "${n:-0}" -ge "$SEGMENTS_WANTED" ] && return 0
    sleep 5
  done
  echo "only ${n:-0} closed segments after $RECORD_TIMEOUT s"
  return 1
}

stop_start() { # SIGTERM: start's own trap stops its processes (SIGINT is ignored in background)
  local pid=$1 deadline=$((SECONDS + 120))
  kill -TERM "$pid" 2>/dev/null || return 0 # already gone: the failure is reported above
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "start still running after 120 s"; return 1; }
    sleep 1
  done
}

export_window() { # a window of 6 s around the cut between the 2nd and 3rd closed segments
  local window pkg
  window=$(manage shell -v 0 -c "import datetime as d
from recordings.models import Segment
s = Segment.objects.filter(status='complete', sequence__isnull=False).order_by('start')[2]
print((s.start - d.timedelta(seconds=3)).isoformat(), (s.start + d.timedelta(seconds=3)).isoformat())")
  echo "window: $window"
  set -- $window
  pkg=$(manage export_clip --camera "Test pattern" --start "$1" --end "$2" --case ARM64-1 \
    --reason "arm64 check" --out /root/exports --include-originals)
  echo "package: $pkg"
  echo "$pkg" >/root/package.path
}

render_and_verify() {
  deploy/bootstrap.sh render /root/rendered
  systemd-analyze verify /root/rendered/crimebox-*.service
}

built_from_source() { # every installed distribution whose wheel was built here, not downloaded
  echo "Python packages built from source (wheel built here, not from the index):"
  local found=0 w tag
  for w in .venv/lib/python3*/site-packages/*.dist-info/WHEEL; do
    tag=$(grep -m1 '^Tag:' "$w" | cut -d' ' -f2)
    case "$tag" in *manylinux* | *musllinux* | *-none-any) continue ;; esac
    echo "  $(basename "$(dirname "$w")" .dist-info) ($tag)"
    found=1
  done
  # A pure-Python sdist also becomes a py3-none-any wheel: pip's own log names every build.
  local built
  built=$(grep -o "Building wheel for [^ ]*" /root/pip.log 2>/dev/null | sort -u || true)
  [ -z "$built" ] || { echo "$built" | sed 's/^/  pip: /'; found=1; }
  [ "$found" -eq 1 ] || echo "  none: every package came from a wheel on the index"
}

inside() {
  cd /opt/crimebox
  : >"$REPORT"
  : >/root/steps.log
  export CRIMEBOX_SEGMENT_SECONDS=$SEGMENT_SECONDS CRIMEBOX_TEST_PATTERN_SIZE=$PATTERN_SIZE
  export CRIMEBOX_TEST_PATTERN_FPS=$PATTERN_FPS CRIMEBOX_STOP_SECONDS=60 PYTHONUNBUFFERED=1
  export PIP_LOG=/root/pip.log # pip's verbose log, kept for built_from_source
  # The chroot shares the host's network: a free port, not the default 8000.
  CRIMEBOX_BIND=127.0.0.1:$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export CRIMEBOX_BIND
  mkdir -p /root/exports
  local pid t0=$SECONDS
  # Each line of start's output stamped with the time: where the minutes go (apt, pip, ...).
  deploy/bootstrap.sh start > >(while IFS= read -r line; do
    printf '%(%T)T %s\n' -1 "$line"
  done >/root/start.log) 2>&1 &
  pid=$!
  if step "start: apt, pip, migrate, launch" wait_started "$pid" &&
    step "record $SEGMENTS_WANTED closed segments of ${SEGMENT_SECONDS} s" wait_segments "$pid"; then
    :
  fi
  step "stop" stop_start "$pid" || true
  echo "start took $((SECONDS - t0)) s to here" >>/root/steps.log
  if [ "$CHECK_FAILED" -eq 0 ]; then
    step "verify_segments" manage verify_segments &&
      step "export_clip across two segments" export_window &&
      step "verify_evidence" manage verify_evidence "$(cat /root/package.path)" || true
  fi
  step "install --dry-run" deploy/bootstrap.sh install --dry-run || true
  step "render + systemd-analyze verify" render_and_verify || true
  {
    echo "Machine: $(uname -m); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "Python: $(python3 --version 2>&1); venv $(.venv/bin/python --version 2>&1)"
    echo "FFmpeg: $(ffmpeg -version 2>/dev/null | head -1)"
    built_from_source
  } >>"$REPORT"
  return "$CHECK_FAILED"
}

# ---------------------------------------------------------------- on the host
CACHE=${CRIMEBOX_ARM64_CACHE:-/var/cache/crimebox-arm64}
MIRROR=${CRIMEBOX_ARM64_MIRROR:-http://deb.debian.org/debian}
ROOTFS=$CACHE/run/rootfs
BINFMT_DIR=/proc/sys/fs/binfmt_misc
MOUNTED=()
BINFMT_MOUNTED=0  # binfmt_misc was not mounted before the run: this run mounted it
HANDLERS_BEFORE="" # " qemu-x qemu-y ": those registered before the run; "" until looked at

say() { echo "arm64-check: $*"; }

cleanup() {
  local p
  # Everything started inside has the root file system as its root: kill those, by PID.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOTFS" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  for ((p = ${#MOUNTED[@]} - 1; p >= 0; p--)); do
    umount -R "${MOUNTED[$p]}" 2>/dev/null || umount -lR "${MOUNTED[$p]}" || true
  done
  MOUNTED=()
  restore_binfmt
  if [ "${CRIMEBOX_ARM64_KEEP:-0}" != 1 ] && [ -d "$ROOTFS" ] &&
    ! findmnt -rn -o TARGET | grep -q "^$ROOTFS"; then
    rm -rf "$ROOTFS"
  fi
}

host_packages() {
  local missing=() p
  for p in qemu-user-static binfmt-support debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
}

qemu_handlers() { # the registered qemu-* handlers, one per line
  local h
  for h in "$BINFMT_DIR"/qemu-*; do [ -e "$h" ] && echo "${h##*/}"; done
  return 0
}

binfmt_before() { # what the host had before anything is installed: cleanup goes back to it
  if ! mountpoint -q "$BINFMT_DIR"; then
    mount -t binfmt_misc binfmt_misc "$BINFMT_DIR"
    BINFMT_MOUNTED=1
  fi
  HANDLERS_BEFORE=" $(qemu_handlers | tr '\n' ' ')"
  local mounted=mounted aarch64="not registered"
  [ "$BINFMT_MOUNTED" -eq 0 ] || mounted="not mounted"
  case "$HANDLERS_BEFORE" in *" qemu-aarch64 "*) aarch64=registered ;; esac
  BINFMT_STATE="binfmt_misc $mounted, qemu-aarch64 $aarch64 before the run"
}

restore_binfmt() { # remove the qemu handlers this run (or the packages it installed) added
  local h
  [ -z "$HANDLERS_BEFORE" ] || for h in $(qemu_handlers); do
    case "$HANDLERS_BEFORE" in *" $h "*) ;; *) echo -1 >"$BINFMT_DIR/$h" || true ;; esac
  done
  if [ "$BINFMT_MOUNTED" -eq 1 ]; then umount "$BINFMT_DIR" || true; fi
}

binfmt() {
  if [ ! -e "$BINFMT_DIR/qemu-aarch64" ]; then
    # Debian's entry has fix_binary: the kernel opens the interpreter now, so it runs inside
    # the chroot without a copy of qemu there.
    update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
    update-binfmts --enable qemu-aarch64
  fi
}

base_tarball() {
  local tar=$CACHE/$BASE_KEY.tar tmp=$CACHE/debootstrap.tmp
  if [ -s "$tar" ]; then
    say "reusing $tar"
    return 0
  fi
  say "debootstrap --arch=arm64 $SUITE (once; minutes under emulation)"
  rm -rf "$tmp"
  mkdir -p "$CACHE/apt-archives"
  debootstrap --arch=arm64 --variant=minbase --include="$INCLUDE" \
    --cache-dir="$CACHE/apt-archives" "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -20 "$CACHE/debootstrap.log"
    say "debootstrap failed (log: $CACHE/debootstrap.log)"
    return 1
  }
  tar -C "$tmp" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$tmp"
}

bind() { mkdir -p "$2" && mount --bind "$1" "$2" && MOUNTED+=("$2"); }

prepare_rootfs() {
  rm -rf "$CACHE/run"
  mkdir -p "$ROOTFS" "$CACHE/apt-archives/partial" "$CACHE/pip"
  tar -C "$ROOTFS" -xf "$CACHE/$BASE_KEY.tar"
  git -C "$HOST_ROOT" archive --prefix=crimebox/ HEAD | tar -C "$ROOTFS/opt" -xf -
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  # This host reaches the package registries through a proxy with its own CA: trust it inside
  # too (a Pi behind a city's TLS proxy needs the same). Nothing is copied where there is none.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
    chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1
  fi
  mount -t proc proc "$ROOTFS/proc" && MOUNTED+=("$ROOTFS/proc")
  bind /sys "$ROOTFS/sys"
  mount --rbind /dev "$ROOTFS/dev" && mount --make-rslave "$ROOTFS/dev" && MOUNTED+=("$ROOTFS/dev")
  mount -t tmpfs tmpfs "$ROOTFS/run" && MOUNTED+=("$ROOTFS/run")
  # Downloads survive the run (a rerun installs the same packages without fetching them).
  bind "$CACHE/apt-archives" "$ROOTFS/var/cache/apt/archives"
  bind "$CACHE/pip" "$ROOTFS/root/.cache/pip"
}

write_report() { # write_report INNER OUT COMMIT SECONDS: the chroot's steps, framed by the run
  {
    echo "Commit: $3"
    echo "Host: ${BINFMT_STATE:-binfmt_misc state unknown} (the cleanup returns to it)"
    cat "$1" 2>/dev/null || echo "no report: the chroot did not run"
    echo "Total: $4 s"
  } >"$2"
}

outside() {
  [ "$(id -u)" -eq 0 ] || { echo "arm64-check: run as root (it mounts and chroots)" >&2; exit 1; }
  local t0=$SECONDS t rc=0
  HOST_ROOT=$(cd "$(dirname "$0")/.." && pwd)
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"
  flock -n 9 || { echo "arm64-check: another run holds $CACHE/lock" >&2; exit 1; }
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP
  binfmt_before
  host_packages
  binfmt
  t=$SECONDS
  base_tarball
  say "base root file system ready in $((SECONDS - t)) s"
  t=$SECONDS
  prepare_rootfs
  say "fresh root file system with the checkout in $((SECONDS - t)) s; running the checks"
  # In the background and waited for: a SIGTERM to this script then runs its trap (and the
  # cleanup) at once instead of after the chroot's own end.
  chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    /bin/bash /opt/crimebox/deploy/arm64-check.sh inside &
  wait $! || rc=$?
  rm -rf "$CACHE/logs" # never the report of an earlier run
  mkdir -p "$CACHE/logs"
  cp "$ROOTFS"/root/{start.log,steps.log,pip.log} "$CACHE/logs/" 2>/dev/null || true
  write_report "$ROOTFS/root/arm64-report.txt" "$CACHE/logs/arm64-report.txt" \
    "$(git -C "$HOST_ROOT" rev-parse --short HEAD)" "$((SECONDS - t0))"
  echo "==== arm64-check report"
  cat "$CACHE/logs/arm64-report.txt"
  echo "Logs in $CACHE/logs"
  if [ "$rc" -ne 0 ]; then
    echo "FAILED (exit $rc); last lines of steps.log:"
    tail -25 "$CACHE/logs/steps.log" 2>/dev/null || true
    return 1
  fi
  echo "PASSED"
}

# Sourced (tests/deploy/test_arm64_check.py): the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  inside)
    # Only ever in the emulated root file system: on the host it would start the box here.
    [ "$(uname -m)" = aarch64 ] || { usage; exit 2; }
    inside
    ;;
  "") outside ;;
  *) usage; exit 2 ;;
esac
