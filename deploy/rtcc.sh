# shellcheck shell=bash
# `bootstrap.sh rtcc`, sourced by deploy/bootstrap.sh (ROOT, VENV, PY, ORIG_PWD set): the RTCC
# console (web, ingest, clip jobs) on its embedded defaults, beside a box from the same checkout.
#
# The console keeps its own settings file (.env.rtcc), data directory (./data-rtcc) and port
# (8100); the box keeps .env, ./data and 8000. With no CRIMEBOX_RTCC_URI it starts a local
# MongoDB-protocol server, the FerretDB tests/peers/install.sh builds (Go needed once), on
# CRIMEBOX_RTCC_LEDGER_ADDR (127.0.0.1:27117), data in the console's data directory, and prints
# the line that starts a box replicating into it. Ctrl-C stops everything within ~15 s.

RTCC_STOP_SECONDS=15

# A console setting: the environment, else .env.rtcc, else the default (read without Django).
rtcc_setting() {
  local name=$1 default=$2 value
  value=${!name:-}
  if [ -z "$value" ] && [ -f "$RTCC_ENV_FILE" ]; then
    value=$(sed -n "s/^$name=//p" "$RTCC_ENV_FILE" | tail -n1)
  fi
  echo "${value:-$default}"
}

# The FerretDB binary: the one the test peers cached, else built now into a cache this user owns.
ledger_binary() {
  local cache=${CRIMEBOX_PEERS_CACHE:-/var/cache/crimebox-peers}
  if [ ! -x "$cache/ferretdb" ] && [ ! -w "$(dirname "$cache")" ] && [ "$(id -u)" -ne 0 ]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/crimebox-peers
  fi
  if [ ! -x "$cache/ferretdb" ]; then
    echo "bootstrap: building the local ledger server (FerretDB) into $cache, once" >&2
    CRIMEBOX_PEERS_CACHE=$cache "$ROOT/tests/peers/install.sh" ferretdb >&2
  fi
  echo "$cache/ferretdb"
}

# Stop what we started: SIGTERM, then SIGKILL whatever is left after RTCC_STOP_SECONDS.
rtcc_stop() {
  local deadline=$((SECONDS + RTCC_STOP_SECONDS)) pid
  kill -TERM "$@" 2>/dev/null || true
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  done
  kill -KILL "$@" 2>/dev/null || true
  wait 2>/dev/null || true
  # The local ledger is gone: console commands should no longer be pointed at it.
  [ -z "${uri:-}" ] || rm -f "$data/ledger-uri"
}

rtcc_console() {
  apt_install "${RUNTIME_APT[@]}"
  export CRIMEBOX_RTCC_ENV_FILE=${CRIMEBOX_RTCC_ENV_FILE:-$ROOT/.env.rtcc}
  RTCC_ENV_FILE=$CRIMEBOX_RTCC_ENV_FILE
  export DJANGO_SETTINGS_MODULE=rtcc.settings
  # What `rtcc` is given (CRIMEBOX_DATA_DIR, _BIND...) is what every later console manage.py
  # here uses; never the box's .env. The local ledger's URI is this run's: not in .env.rtcc but in
  # $data/ledger-uri (the console's settings read it), removed when the run stops.
  env -u CRIMEBOX_RTCC_ENV_FILE python3 -m crimebox.envfile "$RTCC_ENV_FILE" "$ORIG_PWD"
  venv_install requirements.txt
  local data addr uri pids=()
  data=$(rtcc_setting CRIMEBOX_DATA_DIR "$ROOT/data-rtcc")
  case "$data" in /*) ;; *) data=$ORIG_PWD/$data ;; esac
  mkdir -p "$data"
  if [ -z "$(rtcc_setting CRIMEBOX_RTCC_URI "")$(rtcc_setting CRIMEBOX_RTCC_URI_FILE "")" ]; then
    addr=$(rtcc_setting CRIMEBOX_RTCC_LEDGER_ADDR 127.0.0.1:27117)
    mkdir -p "$data/ledger"
    "$(ledger_binary)" --handler=sqlite --sqlite-url="file:$data/ledger/" --listen-addr="$addr" \
      --state-dir="$data/ledger" --telemetry=disable --debug-addr=- --log-level=warn &
    pids+=($!)
    uri="mongodb://$addr/"
    export CRIMEBOX_RTCC_URI=$uri
    echo "$uri" >"$data/ledger-uri"
  fi
  trap 'rtcc_stop "${pids[@]}"; exit 130' INT TERM
  "$PY" manage.py migrate --noinput -v 0
  "$PY" manage.py collectstatic --noinput -v 0
  "$PY" manage.py rtcc_init
  "$PY" manage.py check
  local bind
  bind=$("$PY" -c 'import django; django.setup(); from django.conf import settings; print(settings.BIND)')
  echo "bootstrap: starting the RTCC console on http://$bind/ (web, ingest, clip jobs; Ctrl-C stops)"
  if [ -n "${uri:-}" ]; then
    echo "bootstrap: local ledger (FerretDB) at $uri, data in $data/ledger. A box from this checkout replicates into it with:"
    echo "    CRIMEBOX_RTCC_URI=$uri deploy/bootstrap.sh start"
    echo "bootstrap: (start keeps it in the box's .env; or give the box CRIMEBOX_RTCC_URI_FILE=$data/ledger-uri)"
  fi
  "$VENV/bin/gunicorn" -c python:rtcc.gunicorn_conf rtcc.wsgi & pids+=($!)
  "$PY" manage.py rtcc_ingest & pids+=($!)
  "$PY" manage.py rtcc_retrieve & pids+=($!)
  # One process dying takes the rest down: systemd (deploy/crimebox-rtcc-*) restarts them instead.
  wait -n "${pids[@]}" || true
  rtcc_stop "${pids[@]}"
}
