"""A notice as a Slack incoming-webhook message: Block Kit ``blocks`` and a plain ``text``
fallback (what notifications and screen readers show).

Nothing from the cloud can format the message: every text is ``plain_text`` (no bold, links
or emoji codes), the fallback is sent with ``mrkdwn: false``, and ``&``, ``<`` and ``>`` are
escaped everywhere, so a group named ``<!channel>`` is shown, never a mention or a link.
"""

from __future__ import annotations

from typing import Any

from sgaudit.deliver.notify_digest import Digest, Item, counts_line

#: Slack's limits: a header's text, a section's text (after escaping), blocks per message
HEADER_CHARS = 150
SECTION_CHARS = 3000
#: the fallback text: what a notification shows is far shorter
FALLBACK_CHARS = 4000


def escape(text: str) -> str:
    """Slack's three control characters as the entities Slack shows literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """``text`` escaped, cut so the escaped form stays within ``limit`` (never inside an
    entity)."""
    out, used = [], 0
    for ch in text:
        piece = escape(ch)
        if used + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        used += len(piece)
    return "".join(out)


def _plain(text: str, limit: int = SECTION_CHARS) -> dict[str, Any]:
    return {"type": "plain_text", "text": fit(text, limit), "emoji": False}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _plain(text)}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_plain(text)]}


def _items(title: str, items: tuple[Item, ...], total: int, more: int) -> list[dict[str, Any]]:
    if not total:
        return []
    blocks = [_section(f"{title} ({total}):")]
    blocks.extend(_section(f"{i.line}\n{i.reason}") for i in items)
    if more:
        blocks.append(_context(f"and {more} more {title.lower()}"))
    return blocks


def render(d: Digest) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(d.headline, HEADER_CHARS)}]
    if d.warning:
        blocks.append(_section(d.warning))
    blocks.append(_context(d.context))
    blocks.extend(_items("New", d.new, d.new_total, d.more_new))
    blocks.extend(_items("Resolved", d.resolved, d.resolved_total, d.more_resolved))
    blocks.append(_context(counts_line(d)))
    return {"text": fit(fallback(d), FALLBACK_CHARS), "mrkdwn": False, "unfurl_links": False,
            "unfurl_media": False, "blocks": blocks}


def fallback(d: Digest) -> str:
    """The plain text of the notice: headline, warning, the listed findings."""
    lines = [d.headline, *([d.warning] if d.warning else [])]
    lines += [f"new: {i.line}" for i in d.new]
    lines += [f"resolved: {i.line}" for i in d.resolved]
    more = d.more_new + d.more_resolved
    if more:
        lines.append(f"and {more} more")
    return "\n".join(lines)
