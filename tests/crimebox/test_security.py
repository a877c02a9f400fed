"""Deploy settings: check --deploy behind HTTPS, CSP, ALLOWED_HOSTS, passwords."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http.request import validate_host
from django.urls import reverse

from crimebox import hosts

ROOT = Path(__file__).resolve().parents[2]


def manage(args, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="crimebox.settings", CRIMEBOX_ENV_FILE=os.devnull)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_behind_https(tmp_path):
    result = manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        CRIMEBOX_DATA_DIR=str(tmp_path),
        CRIMEBOX_HTTPS="true",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_https_only_the_https_warnings_remain(tmp_path):
    result = manage(["check", "--deploy"], CRIMEBOX_DATA_DIR=str(tmp_path))
    found = set(re.findall(r"security\.W\d+", result.stderr + result.stdout))
    assert found == {"security.W004", "security.W008", "security.W012", "security.W016"}


def test_default_allowed_hosts_are_the_box_own_names_and_addresses(tmp_path):
    code = (
        "from django.conf import settings; from django.http.request import validate_host;"
        "from crimebox.hosts import interface_addresses; hs = list(settings.ALLOWED_HOSTS);"
        "print('*' in hs, validate_host('evil.example', hs), validate_host('localhost', hs),"
        "all(validate_host(a, hs) for a in interface_addresses()))"
    )
    result = manage(["shell", "-v0", "-c", code], CRIMEBOX_DATA_DIR=str(tmp_path))
    assert result.stdout.split() == ["False", "False", "True", "True"], result.stderr


def test_an_address_that_arrives_later_is_answered(monkeypatch):
    addresses = ["192.168.1.20"]
    monkeypatch.setattr(hosts, "interface_addresses", lambda: list(addresses))
    monkeypatch.setattr(hosts, "REFRESH_SECONDS", 0)
    box = hosts.BoxHosts()
    assert validate_host("192.168.1.20", box) and not validate_host("10.147.17.5", box)
    addresses.append("10.147.17.5")  # ZeroTier came up after the web server started
    assert validate_host("10.147.17.5", box)
    assert not validate_host("attacker.example", box)


def test_unknown_host_is_refused_by_the_server(client, settings):
    settings.ALLOWED_HOSTS = hosts.BoxHosts()
    assert client.get(reverse("admin:login"), HTTP_HOST="attacker.example").status_code == 400
    assert client.get(reverse("admin:login"), HTTP_HOST="localhost").status_code == 200


def test_pages_carry_a_content_security_policy_and_deny_framing(client):
    response = client.get(reverse("admin:login"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert response["X-Frame-Options"] == "DENY"


def test_no_template_has_an_inline_script():
    """The CSP would block it: scripts belong in static files."""
    offenders = []
    for path in ROOT.rglob("templates/**/*.html"):
        if ".venv" in path.parts:
            continue
        for tag in re.findall(r"<script\b[^>]*>", path.read_text()):
            if "src=" not in tag:
                offenders.append(f"{path.relative_to(ROOT)}: {tag}")
    assert offenders == []


@pytest.mark.parametrize(
    "username, password",
    [("staff", "staffstaff"), ("tech", "Tech-2026-field"), ("alice", "abcabcabcabc")],
)
def test_weak_passwords_are_refused(username, password):
    with pytest.raises(ValidationError):
        validate_password(password, User(username=username))


def test_a_good_passphrase_passes():
    validate_password("correct horse battery staple 17", User(username="staff"))


@pytest.fixture
def behind_https(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["box.example.org"]


@pytest.mark.django_db
def test_forwarded_proto_is_believed_only_from_the_proxy(client, behind_https):
    """With CRIMEBOX_HTTPS, X-Forwarded-Proto: https from any client but the proxy is ignored:
    plain HTTP is still redirected (and never given secure cookies)."""
    header = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "box.example.org"}
    forged = client.get("/health", REMOTE_ADDR="10.147.17.9", **header)
    assert forged.status_code == 301 and forged["Location"].startswith("https://")
    proxied = client.get("/health", REMOTE_ADDR="127.0.0.1", **header)
    assert proxied.status_code in (200, 503)  # served: the proxy said HTTPS


@pytest.mark.django_db
def test_trusted_proxy_is_a_setting(client, behind_https, settings):
    settings.TRUSTED_PROXY = ["10.147.17.2"]
    header = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "box.example.org"}
    assert client.get("/health", REMOTE_ADDR="10.147.17.2", **header).status_code in (200, 503)
    assert client.get("/health", REMOTE_ADDR="127.0.0.1", **header).status_code == 301
