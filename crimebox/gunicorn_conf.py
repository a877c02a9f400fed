"""gunicorn settings for the web admin: `gunicorn -c python:crimebox.gunicorn_conf crimebox.wsgi`.

Read from the box's settings (environment and `.env`), so `bootstrap.sh start` and the systemd
unit run the same server. Threads, not sync workers: a download to a client on a 150 KB/s link
holds one thread for minutes or hours, never a whole process. Each process has room for every
allowed stream (MAX_DOWNLOADS, enforced across processes by recordings.media) plus 8 threads
for pages and /health. gthread's `timeout` is the worker's own heartbeat, not a limit on a
request: a download of any length completes.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crimebox.settings")

from django.conf import settings  # noqa: E402

bind = settings.BIND
worker_class = "gthread"
workers = settings.WEB_WORKERS
threads = settings.MAX_DOWNLOADS + 8
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = "-" if settings.WEB_ACCESS_LOG else None
# Default is a socket in $HOME/.gunicorn shared by every gunicorn of the user: nothing here uses it.
control_socket_disable = True
