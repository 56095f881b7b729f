"""Where the compute API is, as whom sgaudit calls it, its description, what its errors say.

Shared by the scan and ``--fix``: the endpoint, the credentials, the discovery document bundled
with the client, and an error answer's code and one-line message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import google.auth
import google.auth.exceptions
import google.oauth2.credentials
from googleapiclient import discovery, discovery_cache
from googleapiclient.errors import HttpError

from sgaudit.errors import CredentialsError, UsageError

# the client logs every HTTP error as a warning; sgaudit reports them itself, once, in one line
logging.getLogger("googleapiclient").setLevel(logging.ERROR)

DEFAULT_ENDPOINT = "https://compute.googleapis.com/compute/v1/"
SCOPE = "https://www.googleapis.com/auth/compute.readonly"
_DOCUMENT: dict[str, Any] = {}
_DOCUMENT_LOCK = threading.Lock()


def endpoint(option: str | None) -> str:
    """The compute API's base URL: --endpoint-url, else gcloud's own
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE, else Google's.  A bare http(s)://HOST[:PORT] gets
    the API's path (compute/v1/) appended; a URL with a path is used as the whole base."""
    url = option or os.environ.get("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE") or DEFAULT_ENDPOINT
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        name = "--endpoint-url" if option else "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"
        raise UsageError(f"{name} {url!r}: expected http(s)://HOST[:PORT][/compute/v1/]")
    base = url.strip()
    if parsed.path in ("", "/"):
        base = base.rstrip("/") + "/compute/v1/"
    return base if base.endswith("/") else base + "/"


def credentials(scope: str = SCOPE) -> Any:
    """A static token from CLOUDSDK_AUTH_ACCESS_TOKEN (as gcloud takes it), else Application
    Default Credentials (``scope``: read-only for a scan, compute for ``--fix``); none at all is
    a usage error (exit 2), not an incomplete scan."""
    token = os.environ.get("CLOUDSDK_AUTH_ACCESS_TOKEN", "").strip()
    if token:
        return google.oauth2.credentials.Credentials(token)
    try:
        with warnings.catch_warnings():  # e.g. "no quota project": not for the report's stderr
            warnings.simplefilter("ignore")
            creds, _project = google.auth.default(scopes=[scope])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CredentialsError(f"no Google Cloud credentials: {first} (run `gcloud auth "
                               "application-default login`, or set CLOUDSDK_AUTH_ACCESS_TOKEN)") from None
    return creds


def error_code(exc: HttpError) -> tuple[str, str]:
    """(code, one-line message) of an API error answer."""
    status = str(exc.resp.status)
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))["error"]
        reasons = [e.get("reason") for e in body.get("errors") or [] if isinstance(e, dict)]
        code = body.get("status") or (reasons[0] if reasons else status)
        message = str(body.get("message") or status)
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message = status, exc.content[:200].decode("utf-8", "replace")
    if reasons_say_disabled(message):
        code = "SERVICE_DISABLED"
    return str(code), " ".join(f"HTTP {status}: {message}".split())[:300]


def reasons_say_disabled(message: str) -> bool:
    return "has not been used" in message or "is disabled" in message


def _discovery_document() -> dict[str, Any]:
    """The compute v1 discovery document bundled with the client (never fetched), parsed once
    for all projects."""
    with _DOCUMENT_LOCK:
        if not _DOCUMENT:
            text = discovery_cache.get_static_doc("compute", "v1")
            if text is None:
                raise UsageError("the installed google-api-python-client has no bundled compute v1 "
                                 "API description: pip install -U 'sgaudit[gcp]'")
            _DOCUMENT.update(json.loads(text))
        return _DOCUMENT


def collections(http: Any, base_url: str, names: Sequence[str]) -> dict[str, Any]:
    """The compute API's collections ``names`` (``firewalls`` …) calling ``base_url`` over
    ``http``."""
    document = _discovery_document()
    with _DOCUMENT_LOCK:  # making the methods fills in the shared document: one at a time
        compute = discovery.build_from_document(document, http=http,
                                                client_options={"api_endpoint": base_url})
        return {name: getattr(compute, name)() for name in names}
