"""gunicorn settings for the console: `gunicorn -c python:rtcc.gunicorn_conf rtcc.wsgi`.

Read from the console's settings (environment and .env.rtcc), so `bootstrap.sh rtcc` and the
systemd unit run the same server. Pages are short reads of the console's own tables: a few
threads per process are enough. The one long response, a verified clip package for an
investigator, streams from a thread (gthread's timeout is the worker's heartbeat, not the
request's), so it holds one thread, never the process.
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "rtcc.settings"

from django.conf import settings  # noqa: E402

bind = settings.BIND
worker_class = "gthread"
workers = settings.WEB_WORKERS
threads = 8
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-"
control_socket_disable = True
