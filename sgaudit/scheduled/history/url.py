"""History targets as the user gives them: a SQLite file path, or a PostgreSQL URL whose
password never appears in a message. No driver is imported here (psycopg loads when a URL opens)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")


def url_scheme(target: str | Path) -> str | None:
    """The scheme of a URL target (``postgresql``), None for a file path."""
    text = str(target)
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme or not scheme.replace("+", "").replace("-", "").isalnum():
        return None
    return scheme.lower()


def is_url(target: str | Path) -> bool:
    return url_scheme(target) is not None


def display(target: str | Path) -> str:
    """The target as messages show it: a URL loses its password (in the authority or as a
    ``password=`` parameter); a path is shown as given."""
    if not is_url(target):
        return str(target)
    parts = urlsplit(str(target))
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{hosts}" if at else hosts
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() != "password"], safe="/:,")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def first_line(exc: BaseException, secret: str | None = None) -> str:
    """A driver's message as one line (libpq's run over several), never carrying ``secret``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text.replace(secret, "***") if secret else text
