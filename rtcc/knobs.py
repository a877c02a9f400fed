"""The console's own settings (docs/rtcc.md, "Settings").

rtcc/settings.py takes them with `from rtcc.knobs import *`; so do the tests' settings, which
run the box's and the console's tests in one pytest process (tests/settings.py). Every knob
has a safe default; each is read from the environment once, when the settings load.
"""

import environ

env = environ.Env()

# A box whose last heartbeat the ingest saw longer ago than this (console's clock) is dark.
RTCC_SILENT_MINUTES = env.int("CRIMEBOX_RTCC_SILENT_MINUTES", default=10)
# A hole in a box's document numbers that stays this long after later numbers arrived is an
# integrity alert (the box's sender retries a failed batch within a few minutes).
RTCC_HOLE_GRACE_MINUTES = env.int("CRIMEBOX_RTCC_HOLE_GRACE_MINUTES", default=30)
# Seconds between ingest passes, and the most documents of one collection a pass reads for one
# box (streamed, so memory does not grow with it). A box back after a day away (~2,900
# documents) is caught up in one pass; a server that cannot use the {box, n} index (FerretDB)
# scans the whole collection for every pass, so fewer, longer passes read far less.
RTCC_POLL_SECONDS = env.float("CRIMEBOX_RTCC_POLL_SECONDS", default=2.0)
RTCC_BATCH = env.int("CRIMEBOX_RTCC_BATCH", default=10_000)
# Signatures checked in one worker process while the chunk before is written (rtcc/verifier.py);
# off: checked inline on the ingest's main thread.
RTCC_VERIFY_WORKER = env.bool("CRIMEBOX_RTCC_VERIFY_WORKER", default=True)
# Disk below this many bytes free on a box raises an alert.
RTCC_DISK_FLOOR_GB = env.float("CRIMEBOX_RTCC_DISK_FLOOR_GB", default=2.0)
# A box's outbox backlog older than this raises an alert.
RTCC_BACKLOG_ALERT_MINUTES = env.int("CRIMEBOX_RTCC_BACKLOG_ALERT_MINUTES", default=60)
# Alerts: e-mail to these addresses (Django's EMAIL_* settings), a JSON POST to this URL.
RTCC_ALERT_EMAILS = env.list("CRIMEBOX_RTCC_ALERT_EMAILS", default=[])
RTCC_WEBHOOK_URL = env.str("CRIMEBOX_RTCC_WEBHOOK_URL", default="")
RTCC_WEBHOOK_TIMEOUT_SECONDS = env.float("CRIMEBOX_RTCC_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
RTCC_WEBHOOK_ATTEMPTS = env.int("CRIMEBOX_RTCC_WEBHOOK_ATTEMPTS", default=3)
# Map tiles for the fleet map; empty: no tiles, the map draws markers on a blank ground.
RTCC_TILE_URL = env.str("CRIMEBOX_RTCC_TILE_URL", default="")
# Clips on request (docs/retrieval.md): verified packages go to the evidence store (a directory,
# files read-only; empty: DATA_DIR/evidence), packages that failed verification are kept
# aside in DATA_DIR/evidence-quarantine. The longest window a request may ask for.
RTCC_EVIDENCE_DIR = env.str("CRIMEBOX_RTCC_EVIDENCE_DIR", default="")
RTCC_CLIP_MAX_MINUTES = env.int("CRIMEBOX_RTCC_CLIP_MAX_MINUTES", default=60)
