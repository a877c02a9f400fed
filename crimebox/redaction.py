"""Credentials out of text: the one place URLs and messages are redacted.

Used by every layer (the ONVIF and ffprobe wrappers, the camera forms, the recorder's
stderr, the audit trail), so it sits at the bottom, next to the settings.
"""

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL with any user:password@ removed, safe for logs, pages and the database."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def redact_text(text: str, marker: str = "") -> str:
    """Any URL credentials (scheme://user:pass@) in free text removed (or replaced by
    `marker`, e.g. "***@" where a reader should see that the URL had credentials)."""
    return _USERINFO.sub(lambda m: m["scheme"] + marker, text or "")


def redact(text: str, *secrets: str, min_length: int = 1, marker: str = "") -> str:
    """`text` with URL credentials removed and each secret, as typed and URL-quoted, as ***.

    `min_length`: a secret shorter than this is left alone (a password of a few characters
    cannot be told apart from ordinary words in a library's message).
    """
    if not text:
        return text
    text = redact_text(text, marker)
    for secret in secrets:
        if secret and len(secret) >= min_length:
            for form in (secret, quote(secret, safe="")):
                text = text.replace(form, "***")
    return text


def redact_with_uri(text: object, uri: str) -> str:
    """A message about a connection to `uri` (the datacenter's MongoDB) with the URI's user
    name and password out, as written in the URI and decoded, and any URL credentials
    shown as ***@."""
    parts = urlsplit(uri or "")
    secrets = [s for s in (parts.password, parts.username) if s]
    return redact(str(text), *secrets, *map(unquote, secrets), marker="***@")


def with_credentials(url: str, username: str, password: str) -> str:
    """The URL with credentials put back, for FFmpeg's argv only. Never store or log it."""
    if not url or not username:
        return url
    parts = urlsplit(redact_url(url))
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", *parts[2:]))
