# shellcheck shell=bash
# `bootstrap.sh install|update|render`, sourced by deploy/bootstrap.sh (ROOT, VENV, PY set).
# A real deployment (docs/deploy.md): the service user, the data directory on the data disk, the
# settings file, the systemd units, /proc hidepid, a small volatile journal. Safe to run again:
# each step looks before it acts. `--dry-run` prints every command and file, changes nothing.
#
# Knobs (environment; all optional):
#   INSTALL_DATA_DISK   the data disk as fstab names it (UUID=..., LABEL=..., /dev/sda1)
#   INSTALL_DATA_FSTYPE its filesystem (ext4)
#   INSTALL_USER        the service user (crimebox)
#   INSTALL_ENV_FILE    the settings file (/etc/crimebox.env)
#   CRIMEBOX_*          settings written into /etc/crimebox.env (e.g. CRIMEBOX_BIND, _BOX_ID)

SVC_USER=${INSTALL_USER:-crimebox}
ENV_FILE=${INSTALL_ENV_FILE:-/etc/crimebox.env}
# Given, else what the settings file already says (an update keeps it), else the default.
DATA_DIR=${CRIMEBOX_DATA_DIR:-$( (sed -n 's/^CRIMEBOX_DATA_DIR=//p' "$ENV_FILE" 2>/dev/null || true) | tail -n1)}
DATA_DIR=${DATA_DIR:-/var/lib/crimebox}
UNIT_DIR=/etc/systemd/system
JOURNAL_CONF=/etc/systemd/journald.conf.d/crimebox.conf
FSTAB=/etc/fstab
UNITS=(crimebox-web crimebox-cluster crimebox-recorder crimebox-live)
DRY=0

say() { echo "bootstrap: $*"; }

# Run a command, or in a dry run print it.
run() {
  if [ "$DRY" -eq 1 ]; then echo "would run: $*"; else "$@"; fi
}

# put PATH MODE OWNER:GROUP < content — write a file whole, only when it changed.
put() {
  local path=$1 mode=$2 owner=$3 content
  content=$(cat)
  if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ] &&
    [ "$(stat -c '%a %U:%G' "$path")" = "${mode#0} $owner" ]; then
    return 0
  fi
  if [ "$DRY" -eq 1 ]; then
    echo "would write: $path (mode $mode, $owner)"
    sed 's/^/    | /' <<<"$content"
    return 0
  fi
  install -D -m "$mode" -o "${owner%:*}" -g "${owner#*:}" /dev/null "$path.new"
  printf '%s\n' "$content" >"$path.new"
  mv -f "$path.new" "$path"
  CHANGED+=("$path")
}

# The units of deploy/, with this checkout and data directory in place of the defaults.
unit_text() {
  local home=yes
  # A checkout under /home or /root (not the documented /opt/crimebox) must stay visible.
  case "$ROOT/" in /home/* | /root/*) home=no ;; esac
  # The venv first: it may live outside the checkout (CRIMEBOX_VENV).
  sed -e "s#/opt/crimebox/\.venv/#$VENV/#g" -e "s#/opt/crimebox#$ROOT#g" \
    -e "s#/var/lib/crimebox#$DATA_DIR#g" \
    -e "s#^User=crimebox#User=$SVC_USER#" -e "s#^Group=crimebox#Group=$SVC_USER#" \
    -e "s#^ProtectHome=yes#ProtectHome=$home#" "$ROOT/deploy/$1.service"
}

journal_text() {
  cat <<'EOF'
# crimebox: keep the journal in RAM and small, to spare the SD card. For logs that survive a
# reboot use Storage=persistent with SystemMaxUse= (docs/deploy.md).
[Journal]
Storage=volatile
RuntimeMaxUse=64M
MaxRetentionSec=14day
EOF
}

data_disk_line() {
  echo "${INSTALL_DATA_DISK} $DATA_DIR ${INSTALL_DATA_FSTYPE:-ext4} defaults,noatime,nofail,x-systemd.device-timeout=10s 0 2"
}

# Every later step runs as the service user with the settings file.
as_service() {
  run runuser -u "$SVC_USER" -- env CRIMEBOX_ENV_FILE="$ENV_FILE" "$@"
}

# pip runs as whoever owns the venv, never as root into a venv someone else owns.
venv_as_owner() {
  local owner
  owner=$(stat -L -c %U "$VENV" 2>/dev/null || echo root)
  if [ ! -x "$PY" ]; then run python3 -m venv "$VENV"; fi
  run runuser -u "$owner" -- "$PY" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
}

ensure_user() {
  id -u "$SVC_USER" >/dev/null 2>&1 && return 0
  run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
    --shell /usr/sbin/nologin "$SVC_USER"
}

# The data disk is mounted first and only then its root is given to the service user: chowning
# the empty mount point would leave the disk's own root to root.
ensure_data_dir() {
  if [ -n "${INSTALL_DATA_DISK:-}" ]; then
    [ -d "$DATA_DIR" ] || run install -d -m 0755 -o root -g root "$DATA_DIR"
    if ! grep -qsE "^[^#]\S*\s+$DATA_DIR\s" "$FSTAB"; then
      if [ "$DRY" -eq 1 ]; then echo "would append to $FSTAB: $(data_disk_line)"; else
        data_disk_line >>"$FSTAB"
        run systemctl daemon-reload
      fi
    fi
    if ! mountpoint -q "$DATA_DIR"; then
      run mount "$DATA_DIR" || {
        say "the data disk ${INSTALL_DATA_DISK} is absent or unreadable: nothing installed on $DATA_DIR"
        exit 1
      }
    fi
  else
    say "no INSTALL_DATA_DISK: footage goes to $DATA_DIR on the root filesystem"
    [ -d "$DATA_DIR" ] || run install -d -m 0750 "$DATA_DIR"
  fi
  run chown "$SVC_USER:$SVC_USER" "$DATA_DIR"
  run chmod 0750 "$DATA_DIR"
  # Files an older version left readable by everyone (database and footage were once created 0644).
  run chmod -R g-w,o-rwx "$DATA_DIR"
}

# Other users see only their own processes: FFmpeg's command line holds RTSP credentials.
ensure_hidepid() {
  if ! grep -qsE '^proc\s+/proc\s+proc\s+\S*hidepid=' "$FSTAB"; then
    if [ "$DRY" -eq 1 ]; then
      echo "would append to $FSTAB: proc /proc proc defaults,hidepid=invisible 0 0"
    else
      echo "proc /proc proc defaults,hidepid=invisible 0 0" >>"$FSTAB"
    fi
  fi
  findmnt -no OPTIONS /proc 2>/dev/null | grep -q hidepid || run mount -o remount,hidepid=invisible /proc
}

ensure_env_file() {
  local extra=()
  [ -n "${INSTALL_DATA_DISK:-}" ] && extra+=(CRIMEBOX_DATA_MOUNT="$DATA_DIR")
  local text
  # Refuses (and nothing is written) when the file holds an inline comment.
  text=$(env CRIMEBOX_DATA_DIR="$DATA_DIR" "${extra[@]}" PYTHONPATH="$ROOT" \
    python3 -m crimebox.envfile --print "$ENV_FILE" "$ORIG_PWD") || exit 1
  # The file is root's, readable by the service group: it may hold the secret key.
  put "$ENV_FILE" 0640 "root:$SVC_USER" <<<"$text"
}

ensure_units() {
  local u
  for u in "${UNITS[@]}"; do unit_text "$u" | put "$UNIT_DIR/$u.service" 0644 root:root; done
  journal_text | put "$JOURNAL_CONF" 0644 root:root
  run systemctl daemon-reload
}

prepare_box() {
  as_service "$PY" manage.py migrate --noinput -v 0
  as_service "$PY" manage.py collectstatic --noinput -v 0
  as_service "$PY" manage.py init_box --no-test-pattern
  as_service "$PY" manage.py check
}

parse_dry() {
  for a in "$@"; do
    case "$a" in
      --dry-run) DRY=1 ;;
      *) echo "unknown option $a" >&2; exit 2 ;;
    esac
  done
  if [ "$DRY" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: run as root (sudo), or with --dry-run" >&2
    exit 1
  fi
  CHANGED=()
}

install_box() {
  parse_dry "$@"
  if [ "$DRY" -eq 1 ]; then echo "would apt-get install: ${RUNTIME_APT[*]}"; else
    apt_install "${RUNTIME_APT[@]}"
  fi
  ensure_user
  ensure_data_dir
  ensure_hidepid
  ensure_env_file
  venv_as_owner
  prepare_box
  ensure_units
  run systemctl restart systemd-journald
  run systemctl enable --now "${UNITS[@]}"
  if [ "$DRY" -eq 1 ]; then
    say "dry run: nothing was changed; the above is what install would do"
  else
    say "installed: ${UNITS[*]} (systemctl status 'crimebox-*'); settings in $ENV_FILE"
  fi
}

update_box() {
  parse_dry "$@"
  local owner
  owner=$(stat -c %U "$ROOT")
  run runuser -u "$owner" -- git -C "$ROOT" pull --ff-only
  venv_as_owner
  ensure_env_file
  ensure_hidepid
  # Files an older version left readable by everyone.
  run chmod -R g-w,o-rwx "$DATA_DIR"
  prepare_box
  ensure_units
  run systemctl restart "${UNITS[@]}"
  if [ "$DRY" -eq 1 ]; then
    say "dry run: nothing was changed; the above is what update would do"
  else
    say "updated to $(git -C "$ROOT" log -1 --format='%h %s')"
  fi
}

# render DIR: the files install would write, into DIR (for review and the tests).
render_files() {
  local dir=${1:?usage: bootstrap.sh render DIR} u
  mkdir -p "$dir"
  for u in "${UNITS[@]}"; do unit_text "$u" >"$dir/$u.service"; done
  journal_text >"$dir/journald-crimebox.conf"
  if [ -n "${INSTALL_DATA_DISK:-}" ]; then data_disk_line >"$dir/fstab"; else : >"$dir/fstab"; fi
  echo "proc /proc proc defaults,hidepid=invisible 0 0" >>"$dir/fstab"
}
