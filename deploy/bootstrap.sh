#!/usr/bin/env bash
# The README's two commands:
#   deploy/bootstrap.sh start   install what the box needs and start it on the embedded defaults
#   deploy/bootstrap.sh test    install the test dependencies and run the whole test suite
#   deploy/bootstrap.sh rtcc    the RTCC console (web + ingest, a local ledger when none is given)
# and a real deployment (docs/deploy.md, deploy/install.sh):
#   deploy/bootstrap.sh install [--dry-run]   service user, data disk, settings, systemd units
#   deploy/bootstrap.sh update [--dry-run]    pull, pip, migrate, collectstatic, restart
#   deploy/bootstrap.sh render DIR            the files install writes, into DIR
# and a proof that all of it works on a Raspberry Pi's arm64 Debian, under emulation:
#   deploy/bootstrap.sh arm64-check           (deploy/arm64-check.sh, docs/deploy.md)
# Safe to run again: it installs only what is missing. Runs as root or through sudo.
set -euo pipefail
ORIG_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${CRIMEBOX_VENV:-$ROOT/.venv}
PY=$VENV/bin/python

RUNTIME_APT=(ffmpeg fonts-dejavu-core python3-venv python3-pip)
TEST_APT=(
  ffmpeg fonts-dejavu-core python3-venv python3-pip openssl iproute2 util-linux procps mount
  # libfaketime: steps the clock of the FFmpeg under test (clock-step tests, bench/faults.py).
  faketime
  # A real RTSP camera: Debian's GStreamer RTSP server, run with the system python3 (gi).
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-x
  # A real browser for the pages whose behaviour lives in the browser.
  chromium chromium-driver
  # systemd-analyze verifies the units install writes.
  systemd
  # VERIFY.txt's stock-tool steps are run as written (its step 0 lists the zip with unzip).
  unzip
  # The console on PostgreSQL: a throwaway cluster per test session (tests/peers/postgresql.py).
  postgresql
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bootstrap: apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

venv_install() {
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check -r "$1"
}

start() {
  apt_install "${RUNTIME_APT[@]}"
  # What start is given (CRIMEBOX_DATA_DIR...) is what every later manage.py here uses.
  python3 -m crimebox.envfile "$ROOT/.env" "$ORIG_PWD"
  venv_install requirements.txt
  "$PY" manage.py migrate --noinput -v 0
  "$PY" manage.py collectstatic --noinput -v 0
  "$PY" manage.py init_box
  "$PY" manage.py check
  local bind
  bind=$(DJANGO_SETTINGS_MODULE=crimebox.settings "$PY" -c \
    'from django.conf import settings; print(settings.BIND)')
  echo "bootstrap: starting web admin on http://$bind/ , Django-Q cluster, recorder and live view (Ctrl-C stops)"
  BOX_PIDS=() BOX_NAMES=()
  # Each process in its own process group: Ctrl-C reaches this script only, which stops them
  # (the cluster's master alone gets SIGTERM, as systemd's KillMode=mixed does) and can then
  # kill a whole group, FFmpegs and Django-Q workers included, if it outstays its time.
  set -m
  "$VENV/bin/gunicorn" -c python:crimebox.gunicorn_conf crimebox.wsgi & BOX_PIDS+=($!) BOX_NAMES+=(web)
  "$PY" manage.py qcluster & BOX_PIDS+=($!) BOX_NAMES+=(cluster)
  "$PY" manage.py record & BOX_PIDS+=($!) BOX_NAMES+=(recorder)
  "$PY" manage.py live & BOX_PIDS+=($!) BOX_NAMES+=(live)
  set +m
  trap 'stop_box; exit 130' INT TERM HUP
  # One process dying takes the rest down: systemd (deploy/) restarts them one by one instead.
  wait -n "${BOX_PIDS[@]}" || true
  stop_box
}

# How long `start` waits for its processes after Ctrl-C before it kills what is left. Django-Q
# stops only once every worker has finished its task (a task may run 10 minutes), and its
# master waits for that inside its signal handler, deaf to a second SIGTERM: without a bound,
# Ctrl-C hung for minutes. The recorder needs ~10-20 s to close and index its open segments.
STOP_SECONDS=${CRIMEBOX_STOP_SECONDS:-30}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_box() {
  trap 'echo "bootstrap: killing what is left now"; STOP_SECONDS=0' INT TERM HUP
  echo "bootstrap: stopping (at most ${STOP_SECONDS} s; Ctrl-C again kills at once)" >&2
  kill -TERM "${BOX_PIDS[@]}" 2>/dev/null || true
  local waited=0 i left
  while [ "$waited" -lt $((STOP_SECONDS * 5)) ]; do
    left=0
    for i in "${BOX_PIDS[@]}"; do group_alive "$i" && left=1; done
    [ "$left" -eq 0 ] && break
    sleep 0.2; waited=$((waited + 1))
  done
  for i in "${!BOX_PIDS[@]}"; do
    if group_alive "${BOX_PIDS[$i]}"; then
      echo "bootstrap: ${BOX_NAMES[$i]} did not stop within ${STOP_SECONDS} s: killed (SIGKILL)" \
        "its process group ${BOX_PIDS[$i]}: $(pgrep -a -g "${BOX_PIDS[$i]}" | \
        cut -c1-80 | paste -sd ';' -)" >&2
      kill -KILL -- "-${BOX_PIDS[$i]}" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  trap - INT TERM HUP
  echo "bootstrap: stopped" >&2
}

test_suite() {
  apt_install "${TEST_APT[@]}"
  venv_install requirements-test.txt
  if [ -x tests/peers/install.sh ]; then tests/peers/install.sh; fi
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  "$VENV/bin/mypy"  # the fully typed modules listed in pyproject.toml
  exec "$PY" -m pytest "$@"
}

# shellcheck source=deploy/install.sh
. "$ROOT/deploy/install.sh"
# shellcheck source=deploy/rtcc.sh
. "$ROOT/deploy/rtcc.sh"

case "${1:-}" in
  start) shift; start "$@" ;;
  test) shift; test_suite "$@" ;;
  rtcc) shift; rtcc_console "$@" ;;
  install) shift; install_box "$@" ;;
  update) shift; update_box "$@" ;;
  render) shift; render_files "$@" ;;
  arm64-check) shift; [ $# -eq 0 ] || { echo "usage: $0 arm64-check" >&2; exit 2; }
    exec "$ROOT/deploy/arm64-check.sh" ;;
  *) echo "usage: $0 start|test [pytest args]|rtcc | install|update [--dry-run] | render DIR | arm64-check" >&2; exit 2 ;;
esac
