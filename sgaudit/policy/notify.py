"""The policy's ``notify:`` key: ``{urls: [...], on: new}``, so a scheduled job needs no long
command line.

Only the shape is checked here; what a URL may be (its channel, https, ``env:NAME``) is the
deliver stage's to say, with each URL's place in the file.  A URL is a secret (Slack's and
Teams' carry the key in the path), so no message here quotes one.
"""

from __future__ import annotations

from collections.abc import Mapping

from sgaudit.model import NOTIFY_ON, NotifyConfig
from sgaudit.policy.options import Where, expect_mapping, line_of, normalize_key, show, unknown_key

NOTIFY_KEYS = ("urls", "on")


def parse_notify(value: object, where: Where, warnings: list[str]) -> NotifyConfig:
    if value is not None and not isinstance(value, Mapping):
        raise where.fail(f"expected a mapping {{urls: [...], on: new}}, got a {_kind(value)}")
    body = expect_mapping({} if value is None else value, where)
    urls: tuple[tuple[str, str], ...] = ()
    on = None
    for key, item in body.items():
        # YAML 1.1 reads a bare ``on:`` key as the boolean true
        norm = "on" if key is True else normalize_key(key)
        sub = where.child(norm if key is True else key, line_of(body, key))
        if norm == "urls":
            urls = _urls(item, sub, warnings)
        elif norm == "on":
            if not isinstance(item, str) or item not in NOTIFY_ON:
                raise sub.fail(f"expected {', '.join(NOTIFY_ON)}, got {show(item)}")
            on = item
        else:
            raise unknown_key(sub, key, NOTIFY_KEYS)
    return NotifyConfig(urls=urls, on=on)


def _urls(value: object, where: Where, warnings: list[str]) -> tuple[tuple[str, str], ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise where.fail(f"expected a list of URLs or env:NAME, got a {_kind(value)}")
    out = []
    for i, item in enumerate(items):
        at = where.item(i) if isinstance(value, list) else where
        if not isinstance(item, str):  # never show(): a mis-indented URL is still a secret
            raise at.fail(f"expected a URL or env:NAME, got a {_kind(item)}")
        if not item.strip().startswith("env:") and "://" in item and not _local(item):
            warnings.append(at.note("a webhook URL written in the policy file is a secret kept "
                                    "with it; prefer env:NAME (the URL in an environment variable)"))
        out.append((item, at.note("").rstrip(": ")))
    return tuple(out)


def _local(url: str) -> bool:
    """A relay on this machine carries no secret worth a warning."""
    rest = url.split("://", 1)[1]
    host = rest.split("/", 1)[0].rpartition("@")[2]
    return host.split(":")[0] in ("127.0.0.1", "localhost") or host.startswith("[::1]")


def _kind(value: object) -> str:
    """What a value is, never what it says."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "mapping" if isinstance(value, Mapping) else "list" if isinstance(value, list) else "value"
