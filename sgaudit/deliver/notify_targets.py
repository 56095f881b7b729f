"""Where a notice goes: ``slack+https://…``, ``teams+https://…``, ``webhook+https://…``, or
``env:NAME`` naming an environment variable that holds one.

A webhook URL is a secret (Slack and Teams carry the key in the path), so it is never printed
whole: messages show the channel, the host and "…" (``redact``), or the variable's name.
Plain http is only for this machine (127.0.0.1, ::1, localhost: tests and local relays).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sgaudit.errors import UsageError

CHANNELS = ("slack", "teams", "webhook")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: what a URL may hold: printable ASCII without spaces (an IDN host or path must be encoded)
_URL_CHARS = re.compile(r"[!-~]+")
_PREFIX = re.compile(r"[a-z]{1,10}(\+[a-z]{1,10})?")


@dataclass(frozen=True, slots=True)
class Target:
    channel: str
    #: the http(s) URL to post to; a secret, kept out of repr
    url: str = field(repr=False)
    #: how messages name it
    shown: str


def parse_target(text: str, given_as: str) -> Target:
    """``text`` as given (a URL or env:NAME); ``given_as`` says where ("--notify", or the
    policy file's place) for the one-line error (exit 2)."""
    spec = text.strip()
    if spec.startswith("env:"):
        name = spec[4:]
        if not _ENV_NAME.fullmatch(name):
            raise UsageError(f"{given_as} env:NAME: {name[:40]!r} is not an environment variable name")
        value = os.environ.get(name, "").strip()
        if not value:
            raise UsageError(f"{given_as} env:{name}: the environment variable {name} is not set "
                             "or empty")
        return _parse_url(value, f"{given_as} env:{name}", f"env:{name}")
    return _parse_url(spec, given_as, "")


def _parse_url(url: str, given_as: str, via: str) -> Target:
    shown = redact(url)
    where = f"{given_as} {via or shown}"
    channel, _, rest = url.partition("+")
    if channel not in CHANNELS or not rest:
        raise UsageError(f"{where}: say where it goes: slack+https://…, teams+https://… or "
                         "webhook+https://… (or env:NAME holding one)")
    if not _URL_CHARS.fullmatch(rest) or "\\" in rest:  # a backslash: parsers disagree on the host
        raise UsageError(f"{where}: the URL holds spaces, backslashes, control or non-ASCII "
                         "characters (percent-encode them)")
    try:
        parts = urlsplit(rest)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError:
        raise UsageError(f"{where}: not a URL with a valid host and port") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"{where}: expected {channel}+https://HOST/…")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise UsageError(f"{where}: plain http would send the notice (and the URL's key) in clear "
                         f"text; use {channel}+https:// (http is only for 127.0.0.1 and localhost)")
    return Target(channel, rest, f"{via} ({shown})" if via else shown)


def redact(url: str) -> str:
    """"slack+https://hooks.slack.com/…": the channel, scheme and host; never a user, password,
    path, query or fragment (the secret parts)."""
    try:
        parts = urlsplit(url.partition("+")[2] if "+" in url.split("://")[0] else url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        host, port = "", ""
    prefix = url.split("://", 1)[0] if "://" in url else ""
    if not (host and _PREFIX.fullmatch(prefix) and _URL_CHARS.fullmatch(host)):
        return f"a URL of {len(url)} characters"
    if ":" in host:
        host = f"[{host}]"
    return f"{prefix}://{host}{port}/…"
