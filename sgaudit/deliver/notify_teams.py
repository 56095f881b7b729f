"""A notice as a Microsoft Teams Workflows webhook message: one Adaptive Card (Workflows take
Adaptive Cards only; the Office 365 connectors' MessageCard is retired).

Text is text: everything is a ``TextRun`` of a ``RichTextBlock``, which Adaptive Cards never
read as Markdown, so a name like ``[x](https://evil)`` shows as written; ``{{`` is broken so no
name becomes a DATE()/TIME() function.
"""

from __future__ import annotations

from typing import Any

from sgaudit.deliver.notify_digest import Digest, Item, counts_line

CARD_VERSION = "1.4"


def _inert(text: str) -> str:
    return text.replace("{{", "{\u200b{")


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": _inert(text), **style}


def _block(*runs: dict[str, Any], **style: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs), **style}


def _items(title: str, items: tuple[Item, ...], total: int, more: int) -> list[dict[str, Any]]:
    if not total:
        return []
    body = [_block(_run(f"{title} ({total}):", weight="Bolder"), separator=True)]
    for i in items:
        body.append(_block(_run(i.line + "\n"), _run(i.reason, isSubtle=True)))
    if more:
        body.append(_block(_run(f"and {more} more {title.lower()}", isSubtle=True)))
    return body


def render(d: Digest) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_block(_run(d.headline, weight="Bolder", size="Medium"))]
    if d.warning:
        body.append(_block(_run(d.warning, weight="Bolder", color="Attention")))
    body.append(_block(_run(d.context, isSubtle=True)))
    body.extend(_items("New", d.new, d.new_total, d.more_new))
    body.extend(_items("Resolved", d.resolved, d.resolved_total, d.more_resolved))
    body.append(_block(_run(counts_line(d), isSubtle=True), separator=True))
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": CARD_VERSION, "body": body}
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                             "contentUrl": None, "content": card}]}
