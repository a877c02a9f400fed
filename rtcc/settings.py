"""The RTCC console's settings: `DJANGO_SETTINGS_MODULE=rtcc.settings` (docs/rtcc.md).

The console runs from the same checkout as a box without sharing anything that means something
else to the other: its own data directory (./data-rtcc), port (8100), SQL database and env
file (.env.rtcc, or CRIMEBOX_RTCC_ENV_FILE). It reads the box's variable names where the
meaning is the same: CRIMEBOX_DATA_DIR (its own data), CRIMEBOX_BIND, CRIMEBOX_RTCC_URI /
CRIMEBOX_RTCC_URI_FILE / CRIMEBOX_RTCC_DB (the datacenter's MongoDB; the console's own login).
It never installs the box's recorder, live, recordings or sync apps.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from crimebox.hosts import BoxHosts

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = Path(os.environ.get("CRIMEBOX_RTCC_ENV_FILE", BASE_DIR / ".env.rtcc"))
if _env_file.is_file():
    if not os.access(_env_file, os.R_OK):
        raise ImproperlyConfigured(
            f"{_env_file} holds the console's settings but this user cannot read it: run "
            "manage.py as the user that runs the console."
        )
    env.read_env(str(_env_file), overwrite=False)

from crimebox.secretkey import secret_key  # noqa: E402
from rtcc.knobs import *  # noqa: E402,F403

DATA_DIR = Path(env.str("CRIMEBOX_DATA_DIR", default=str(BASE_DIR / "data-rtcc"))).resolve()
KEYS_DIR = Path(env.str("CRIMEBOX_KEYS_DIR", default=str(DATA_DIR / "keys"))).resolve()
os.umask(0o027)
for _d in (DATA_DIR, KEYS_DIR):
    try:
        _d.mkdir(mode=0o700 if _d == KEYS_DIR else 0o750, parents=True, exist_ok=True)
    except OSError:
        pass  # reported by the system check crimebox.E003 with a hint

SECRET_KEY = secret_key(env, KEYS_DIR)
DEBUG = env.bool("CRIMEBOX_DEBUG", default=False)
BIND = env.str("CRIMEBOX_BIND", default="0.0.0.0:8100")
ALLOWED_HOSTS = env.list("CRIMEBOX_ALLOWED_HOSTS", default=[]) or BoxHosts()
CSRF_TRUSTED_ORIGINS = env.list("CRIMEBOX_CSRF_TRUSTED_ORIGINS", default=[])
WEB_WORKERS = env.int("CRIMEBOX_WEB_WORKERS", default=2)

# The datacenter's MongoDB, where the boxes insert their documents. The console only reads it
# (rtcc/ledger.py); the URI (credentials included) is read where it is used, never logged.
RTCC_URI = env.str("CRIMEBOX_RTCC_URI", default="")
RTCC_URI_FILE = env.str("CRIMEBOX_RTCC_URI_FILE", default="")
# `bootstrap.sh rtcc` with no URI runs a local ledger and keeps its URI in this file, not in
# .env.rtcc (a URI there would stop the next run from starting it): without this, every console
# manage.py in a second terminal (rtcc_verify, rtcc_request_clip) said "no ledger".
_local_ledger = DATA_DIR / "ledger-uri"
if not RTCC_URI and not RTCC_URI_FILE and _local_ledger.is_file():
    RTCC_URI_FILE = str(_local_ledger)
RTCC_DB = env.str("CRIMEBOX_RTCC_DB", default="rtcc")
RTCC_TLS_CA_FILE = env.str("CRIMEBOX_RTCC_TLS_CA_FILE", default="")
RTCC_TLS_CERT_FILE = env.str("CRIMEBOX_RTCC_TLS_CERT_FILE", default="")
RTCC_TIMEOUT_SECONDS = env.float("CRIMEBOX_RTCC_TIMEOUT_SECONDS", default=20.0)
LOGIN_MAX_FAILURES = env.int("CRIMEBOX_LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("CRIMEBOX_LOGIN_LOCKOUT_SECONDS", default=300)

INSTALLED_APPS = [
    # No autodiscover: the box's apps' admin modules (ONVIF, discovery) are never loaded here;
    # rtcc/admin.py registers what the console's admin shows.
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # The audit trail's AuditEvent keeps a reference to the box's cameras.Camera (a model
    # only: no admin, no checks, no services are loaded); the console writes none.
    "cameras",
    # The box's hash-chained audit trail, without the box's roles (rtcc/apps.py).
    "rtcc.apps.ConsoleAuditConfig",
    "rtcc",
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

ROOT_URLCONF = "rtcc.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The console's own admin/base_site.html (its navigation) before the admin's.
        "DIRS": [BASE_DIR / "rtcc" / "templates"],
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

WSGI_APPLICATION = "rtcc.wsgi.application"

# SQLite by default (the web server and the ingest write together: WAL + IMMEDIATE, as on the
# box); a datacenter with many operators sets CRIMEBOX_DATABASE_URL (postgres://...).
_sqlite = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": str(DATA_DIR / "rtcc.sqlite3"),
    "OPTIONS": {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    },
}
DATABASES = {
    "default": env.db_url("CRIMEBOX_DATABASE_URL")
    if env.str("CRIMEBOX_DATABASE_URL", "")
    else _sqlite
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
FORMAT_MODULE_PATH = ["crimebox.formats"]
TIME_ZONE = env.str("CRIMEBOX_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("CRIMEBOX_STATIC_ROOT", default=str(DATA_DIR / "static")))
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
# Browsers keep cookies per host, not per port: with the box's names (Django's defaults), a
# console beside a box on one machine (8100 and 8000) overwrote the box's session and CSRF
# cookies, and signing in to one signed the browser out of the other.
SESSION_COOKIE_NAME = "rtcc_sessionid"
CSRF_COOKIE_NAME = "rtcc_csrftoken"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = env.str(
    "CRIMEBOX_CSP",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)

HTTPS = env.bool("CRIMEBOX_HTTPS", default=False)
# The TLS proxy's address(es) as gunicorn sees them: X-Forwarded-Proto from anyone else is
# dropped (crimebox.security.TrustedProxyMiddleware), or any client could claim HTTPS.
TRUSTED_PROXY = env.list("CRIMEBOX_TRUSTED_PROXY", default=["127.0.0.1"])
if HTTPS:
    SECURE_SSL_REDIRECT = env.bool("CRIMEBOX_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("CRIMEBOX_HSTS_SECONDS", default=365 * 86400)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Alerts by e-mail: Django's own mail settings.
EMAIL_HOST = env.str("CRIMEBOX_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("CRIMEBOX_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("CRIMEBOX_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("CRIMEBOX_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("CRIMEBOX_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("CRIMEBOX_EMAIL_FROM", default="rtcc@localhost")

LOG_LEVEL = env.str("CRIMEBOX_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"pymongo": {"level": "WARNING"}},
}
