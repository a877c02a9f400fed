"""gunicorn's settings follow the box's: no access log unless asked for."""

import importlib

import crimebox.gunicorn_conf as conf


def test_no_access_log_by_default(settings):
    settings.WEB_ACCESS_LOG = False
    assert importlib.reload(conf).accesslog is None


def test_access_log_when_asked_for(settings):
    settings.WEB_ACCESS_LOG = True
    assert importlib.reload(conf).accesslog == "-"
