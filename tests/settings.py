"""Settings for the test suite: the real settings on a throw-away data directory."""

import os
import tempfile

_data = os.environ.get("CRIMEBOX_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="crimebox-test-")
os.environ["CRIMEBOX_DATA_DIR"] = _data
os.environ.setdefault("CRIMEBOX_BOX_ID", "test-box")
os.environ["CRIMEBOX_ENV_FILE"] = os.devnull  # a developer's .env must not leak into tests

from crimebox.settings import *  # noqa: E402,F403
from crimebox.settings import DATA_DIR, DATABASES  # noqa: E402

# A file, not SQLite's shared memory: tests start the recorder and the cluster as real
# processes that must open the same database.
DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns otherwise)

# The console's tests run in this same pytest process (tests/rtcc/conftest.py): its app and its
# own knobs beside the box's. The console's own settings module is checked by a subprocess
# (`manage.py check` with rtcc.settings, tests/rtcc/test_settings.py).
INSTALLED_APPS = [*INSTALLED_APPS, "rtcc"]  # noqa: F405
from rtcc.knobs import *  # noqa: E402,F403
