"""What a failed or malformed AWS answer becomes: one ScanError line per account, region and call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)
from botocore.parsers import ResponseParserError

from sgaudit.model import ScanError
from sgaudit.sources.awsjson import (
    aws_error,
)
from sgaudit.sources.deadlines import DeadlineExceeded

if TYPE_CHECKING:
    pass
from sgaudit.sources.aws.clients import take_timeout


class MalformedAnswer(Exception):
    """An answer that is not AWS's: botocore parses an HTML page with status 200 (a captive
    portal, a proxy's error page) into an empty success, which would read as "no groups"."""


#: what an AWS call can fail with; a non-XML answer with an error status is a
#: ResponseParserError, which is not a BotoCoreError
AWS_FAILURES = (ClientError, BotoCoreError, ResponseParserError, MalformedAnswer, DeadlineExceeded)


def answer_items(answer: Mapping[str, Any], key: str) -> list[Any]:
    """The list an AWS answer must carry (empty when there is nothing), or MalformedAnswer."""
    items = answer.get(key)
    if not isinstance(items, list):
        content_type = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("content-type")
        raise MalformedAnswer(f"the answer has no {key} (content-type {content_type or 'unknown'}): "
                              "not an AWS answer; a proxy in the way?")
    return items


def error_of(exc: Exception, account: str, region: str, operation: str) -> ScanError:
    """A botocore failure -> ScanError with AWS's error code (or the exception's name)."""
    limit = take_timeout()
    if limit is not None or isinstance(exc, DeadlineExceeded):
        why = str(exc) if isinstance(exc, DeadlineExceeded) else f"no complete answer within {limit}"
        return ScanError(account, region, operation, f"timed out: {why}", "Timeout")
    if isinstance(exc, ClientError):
        code, message = aws_error(exc) or ("", "")
        code, message = code or "ClientError", message or str(exc)
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
        if attempts:
            message += f" (after {attempts + 1} attempts)"
        return ScanError(account, region, operation, message, code)
    return ScanError(account, region, operation, one_line(str(exc)) or type(exc).__name__,
                     type(exc).__name__)


def one_line(text: str, limit: int = 300) -> str:
    """Error texts may carry a whole HTML page; reports and terminals get one short line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"

