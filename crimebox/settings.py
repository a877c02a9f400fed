"""crimebox settings: one file, configured from the environment and an optional `.env`.

Every knob has a safe default so a box starts with no configuration at all.
The README's configuration table lists every `CRIMEBOX_*` variable read here.
"""

import os
import socket
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from crimebox.hosts import BoxHosts
from crimebox.secretkey import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env beside manage.py (or named by CRIMEBOX_ENV_FILE) fills what the
# environment leaves unset; the real environment always wins.
_env_file = Path(os.environ.get("CRIMEBOX_ENV_FILE", BASE_DIR / ".env"))
if _env_file.is_file():
    if not os.access(_env_file, os.R_OK):
        # Guessing the settings instead would open another data directory (a stray ./data).
        raise ImproperlyConfigured(
            f"{_env_file} holds this box's settings but this user cannot read it: run "
            "manage.py as the user that ran `bootstrap.sh start` (or as root / crimebox)."
        )
    env.read_env(str(_env_file), overwrite=False)

DATA_DIR = Path(env.str("CRIMEBOX_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
RECORDINGS_DIR = Path(
    env.str("CRIMEBOX_RECORDINGS_DIR", default=str(DATA_DIR / "recordings"))
).resolve()
EXPORTS_DIR = Path(env.str("CRIMEBOX_EXPORTS_DIR", default=str(DATA_DIR / "exports"))).resolve()
KEYS_DIR = Path(env.str("CRIMEBOX_KEYS_DIR", default=str(DATA_DIR / "keys"))).resolve()
# Where the data disk is mounted on a deployed box (bootstrap.sh install sets it): while nothing
# is mounted there, nothing is created and the system check crimebox.E010 refuses to run, so
# footage never goes to the SD card.
DATA_MOUNT = env.str("CRIMEBOX_DATA_MOUNT", default="")

# Everything the box's processes (and their FFmpeg children) create is 0640 / 0750: footage,
# the database and its WAL hold evidence and camera passwords.
os.umask(0o027)
if not DATA_MOUNT or os.path.ismount(DATA_MOUNT):
    for _d in (DATA_DIR, RECORDINGS_DIR, EXPORTS_DIR, KEYS_DIR):
        try:
            _d.mkdir(mode=0o700 if _d == KEYS_DIR else 0o750, parents=True, exist_ok=True)
        except OSError:
            pass  # reported by the system check crimebox.E003 with a hint


SECRET_KEY = secret_key(env, KEYS_DIR)
DEBUG = env.bool("CRIMEBOX_DEBUG", default=False)

BOX_ID = env.str("CRIMEBOX_BOX_ID", default="") or socket.gethostname()
BIND = env.str("CRIMEBOX_BIND", default="0.0.0.0:8000")
# Unset: the box's own names and current addresses (crimebox/hosts.py), so it answers on any
# LAN or ZeroTier address out of the box but not to forged names. Set a list in production.
ALLOWED_HOSTS = env.list("CRIMEBOX_ALLOWED_HOSTS", default=[]) or BoxHosts()
CSRF_TRUSTED_ORIGINS = env.list("CRIMEBOX_CSRF_TRUSTED_ORIGINS", default=[])

SEGMENT_SECONDS = env.int("CRIMEBOX_SEGMENT_SECONDS", default=900)
# The built-in test-pattern camera's picture (smaller and slower where the CPU is scarce).
TEST_PATTERN_SIZE = env.str("CRIMEBOX_TEST_PATTERN_SIZE", default="640x360")
TEST_PATTERN_FPS = env.int("CRIMEBOX_TEST_PATTERN_FPS", default=10)
MIN_FREE_GB = env.float("CRIMEBOX_MIN_FREE_GB", default=2.0)
MIN_FREE_PERCENT = env.float("CRIMEBOX_MIN_FREE_PERCENT", default=5.0)
RETENTION_DAYS = env.int("CRIMEBOX_RETENTION_DAYS", default=30)
EXPORT_KEEP_DAYS = env.int("CRIMEBOX_EXPORT_KEEP_DAYS", default=30)
STALL_SECONDS = env.int("CRIMEBOX_STALL_SECONDS", default=20)
RTSP_TIMEOUT_SECONDS = env.int("CRIMEBOX_RTSP_TIMEOUT_SECONDS", default=10)
PROBE_TIMEOUT_SECONDS = env.float("CRIMEBOX_PROBE_TIMEOUT_SECONDS", default=10.0)
# A camera whose clock is off by more than this is a health warning (and, with the camera's
# "keep the clock in sync" setting, is set to the box's time).
CAMERA_CLOCK_WARN_SECONDS = env.float("CRIMEBOX_CAMERA_CLOCK_WARN_SECONDS", default=2.0)
FFMPEG = env.str("CRIMEBOX_FFMPEG", default="ffmpeg")
FFPROBE = env.str("CRIMEBOX_FFPROBE", default="ffprobe")
# Live view (docs/live.md). LIVE_DIR empty: /run/crimebox/live, or /dev/shm/crimebox-live
# where /run is not writable, resolved when used (live.paths.live_dir), always RAM.
LIVE_DIR = env.str("CRIMEBOX_LIVE_DIR", default="")
LIVE_IDLE_SECONDS = env.int("CRIMEBOX_LIVE_IDLE_SECONDS", default=60)
# Two cameras at once: two substreams of ~0.5-1 Mbit/s per viewer fit a cellular uplink of a
# few Mbit/s beside sync; most cameras allow only 2-4 RTSP sessions and the recorder holds one.
LIVE_MAX_CAMERAS = env.int("CRIMEBOX_LIVE_MAX_CAMERAS", default=2)
# Replication to the RTCC's MongoDB (docs/sync.md). No URI: replication is off and the outbox
# keeps filling. The URI (credentials included) is read where it is used, never logged.
RTCC_URI = env.str("CRIMEBOX_RTCC_URI", default="")
RTCC_URI_FILE = env.str("CRIMEBOX_RTCC_URI_FILE", default="")
RTCC_DB = env.str("CRIMEBOX_RTCC_DB", default="rtcc")
RTCC_TLS_CA_FILE = env.str("CRIMEBOX_RTCC_TLS_CA_FILE", default="")
RTCC_TLS_CERT_FILE = env.str("CRIMEBOX_RTCC_TLS_CERT_FILE", default="")
RTCC_TIMEOUT_SECONDS = env.float("CRIMEBOX_RTCC_TIMEOUT_SECONDS", default=20.0)
OUTBOX_MAX_MB = env.int("CRIMEBOX_OUTBOX_MAX_MB", default=512)
OUTBOX_SENT_KEEP_DAYS = env.int("CRIMEBOX_OUTBOX_SENT_KEEP_DAYS", default=7)
HEARTBEAT_KEEP_DAYS = env.int("CRIMEBOX_HEARTBEAT_KEEP_DAYS", default=7)
# Clips on request from the RTCC (docs/sync.md, "Clips on request"): the console's public key
# (PEM file) the box trusts requests from; no file: requests are never acted on. Uploads share
# the link with replication and live view: a cap in kbit/s (0: none), a chunk size that fits a
# cellular link, and the longest window a request may ask for.
RTCC_CONSOLE_KEY_FILE = env.str("CRIMEBOX_RTCC_CONSOLE_KEY_FILE", default="")
RTCC_UPLOAD_KBPS = env.int("CRIMEBOX_RTCC_UPLOAD_KBPS", default=2000)
RTCC_CHUNK_KB = env.int("CRIMEBOX_RTCC_CHUNK_KB", default=1024)
RTCC_CLIP_MAX_MINUTES = env.int("CRIMEBOX_RTCC_CLIP_MAX_MINUTES", default=60)
LOGIN_MAX_FAILURES = env.int("CRIMEBOX_LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("CRIMEBOX_LOGIN_LOCKOUT_SECONDS", default=300)
# Web server (crimebox/gunicorn_conf.py): files streamed at once across all web processes
# (media, downloads, packages; past it a 503 with Retry-After), and gunicorn processes. Each
# process has MAX_DOWNLOADS + 8 threads, so the admin and /health always find a free one.
MAX_DOWNLOADS = env.int("CRIMEBOX_MAX_DOWNLOADS", default=8)
# One person's share of those (past it a 429): stalled downloads of one user never leave
# everyone else with 503s. Default: half, rounded up.
MAX_DOWNLOADS_PER_USER = env.int(
    "CRIMEBOX_MAX_DOWNLOADS_PER_USER", default=max(1, (MAX_DOWNLOADS + 1) // 2)
)
WEB_WORKERS = env.int("CRIMEBOX_WEB_WORKERS", default=2)
# A line per request (static files included) buries what matters on a terminal and fills a Pi's
# small journal; who did what is in the audit trail. Turn it on to debug a proxy.
WEB_ACCESS_LOG = env.bool("CRIMEBOX_WEB_ACCESS_LOG", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "crimebox",  # no models: registers the box-wide system checks (crimebox/apps.py)
    "cameras",
    "recordings",
    "live",  # before audit: its post_migrate gives the roles live's permissions
    "audit",
    "sync",
    "console",
]

MIDDLEWARE = [
    "crimebox.security.TrustedProxyMiddleware",  # before anything asks request.is_secure()
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crimebox.first_admin.FirstPasswordMiddleware",
    "crimebox.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "crimebox.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "crimebox.wsgi.application"

# SQLite shared by the web server, the Django-Q cluster and the recorder. Measured: Django's
# default deferred transactions fail at once with "database is locked" under that load;
# WAL + IMMEDIATE + a 20 s timeout gave zero errors. No busy_timeout pragma: it overrides timeout.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env.str("CRIMEBOX_DATABASE", default=str(DATA_DIR / "crimebox.sqlite3")),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "crimebox.security.UserNameValidator"},
    {"NAME": "crimebox.security.NewPasswordValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["crimebox.formats"]  # times shown as 2026-11-24 14:05:09 CST
# Stored and named in UTC; shown in the box's local zone (with UTC beside it where it matters).
TIME_ZONE = env.str("CRIMEBOX_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("CRIMEBOX_STATIC_ROOT", default=str(DATA_DIR / "static")))
# Django's storage would chmod what it writes (collected static files) to 0644 otherwise.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"
SESSION_COOKIE_AGE = env.int("CRIMEBOX_SESSION_SECONDS", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"  # nothing of the box is ever shown in a frame

# Scripts only from the box's own static files (no inline script); styles may be inline (the
# admin's and the timeline's style attributes); hls.js plays live view from blob: URLs.
CONTENT_SECURITY_POLICY = env.str(
    "CRIMEBOX_CSP",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

# Behind HTTPS (a TLS proxy such as Caddy or nginx in front of gunicorn on loopback):
# CRIMEBOX_HTTPS=true makes `manage.py check --deploy` clean. Plain HTTP over ZeroTier (the
# default) is already encrypted end to end by ZeroTier.
HTTPS = env.bool("CRIMEBOX_HTTPS", default=False)
# The TLS proxy's address(es) as gunicorn sees them: X-Forwarded-Proto from anyone else is
# dropped (crimebox.security.TrustedProxyMiddleware), or any client could claim HTTPS.
TRUSTED_PROXY = env.list("CRIMEBOX_TRUSTED_PROXY", default=["127.0.0.1"])
if HTTPS:
    SECURE_SSL_REDIRECT = env.bool("CRIMEBOX_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("CRIMEBOX_HSTS_SECONDS", default=365 * 86400)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # The proxy says the client used HTTPS: believed only from TRUSTED_PROXY (below).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Preloading is for public domain names submitted to the browsers' list, never a box.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Django-Q2 on the ORM broker, tuned for a Pi: one broker poll a second, a task may run
# 10 minutes (an export of a long window) and is retried only after that (timeout < retry).
Q_CLUSTER = {
    "name": "crimebox",
    "orm": "default",
    "workers": env.int("CRIMEBOX_Q_WORKERS", default=2),
    "recycle": 50,
    "timeout": 600,
    "retry": 720,
    "max_attempts": 2,
    "poll": 1,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "label": "Django Q",
}

# onvif-zeep-async calls logging.basicConfig(level=INFO) at import; a root handler here means
# that call finds one and changes nothing.
LOG_LEVEL = env.str("CRIMEBOX_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # One line per record: control characters in names and answers are escaped.
        "plain": {
            "()": "crimebox.logfilters.OneLineFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    },
    "filters": {"quiet_task_runs": {"()": "crimebox.logfilters.QuietTaskRuns"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "zeep": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "onvif": {"level": "WARNING"},
        # Django-Q's lines about every task run are dropped (crimebox/logfilters.py).
        "django-q": {"filters": ["quiet_task_runs"]},
    },
}
