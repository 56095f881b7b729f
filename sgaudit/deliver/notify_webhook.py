"""A notice as generic JSON (schema ``sgaudit.notice/v1``), signed when SGAUDIT_WEBHOOK_SECRET
is set: ``X-Sgaudit-Signature: sha256=<hex HMAC-SHA256 of the exact body>``.

Each finding has key, severity, kind, cloud, group (for GCP the network tag), group_name,
network, account (for GCP the project), region, protocol, ports, source, rule, reason and
status; ``new`` and ``resolved`` hold the first 20 (new first), ``more`` counts the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

from sgaudit.deliver.notify_digest import Digest

SCHEMA = "sgaudit.notice/v1"
SECRET_ENV = "SGAUDIT_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Sgaudit-Signature"


def render(d: Digest) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "scanned_at": d.scanned_at, "policy": d.policy, "complete": d.complete,
        "errors": d.errors, "what_if": d.what_if, "compared_with": d.compared_with,
        "summary": d.headline, "warning": d.warning,
        "counts": {**d.counts, "by_severity": d.by_severity, "new": d.new_total,
                   "resolved": d.resolved_total},
        "new": [asdict(i) for i in d.new],
        "resolved": [asdict(i) for i in d.resolved],
        "more": {"new": d.more_new, "resolved": d.more_resolved},
    }


def signature(body: bytes, secret: str) -> str:
    """The header's value: ``sha256=`` and the hex HMAC-SHA256 of exactly these bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
