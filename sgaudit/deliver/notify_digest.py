"""One notice per scan: what it found new and resolved, worst first, the first 20 findings then
"and N more", with counts.  Every channel renders this same digest.

Text from the cloud (names, tags, descriptions, reasons) passes ``clean`` (no control or bidi
characters) and is cut at FIELD_CHARS, so no name can stretch a notice past what a channel
takes; each renderer then makes it inert in its own markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sgaudit.engine.summary import summarize
from sgaudit.model import SEVERITIES, Finding, Group, Report
from sgaudit.report import format_ports, format_protocol
from sgaudit.scheduled.changes import ResolvedChange, ScanChanges
from sgaudit.text import clean

#: findings listed in one notice (new first, then resolved); the rest are counted
MAX_ITEMS = 20
#: any one text field of a notice at most this long; a finding's line, and its key (which
#: receivers match on, and which is longer only when built from hostile snapshot text)
FIELD_CHARS = 300
LINE_CHARS = 600
KEY_CHARS = 1000
_RANK = {s.value: i for i, s in enumerate(SEVERITIES)}
#: a port in a key: ASCII digits, short (int() would take other scripts' digits, and any length)
_PORT = re.compile(r"-?[0-9]{1,6}")


@dataclass(frozen=True, slots=True)
class Item:
    """A finding as a notice shows it (for GCP, ``group`` is the network tag, ``account`` the
    project and ``network`` the VPC network)."""

    key: str
    severity: str
    kind: str
    cloud: str
    group: str
    group_name: str
    network: str
    account: str
    region: str
    protocol: str
    ports: str
    source: str
    rule: str
    reason: str
    #: active for a new finding; what a resolved one was (active, waived, baselined)
    status: str

    @property
    def line(self) -> str:
        """"critical extra: tcp 22 from 0.0.0.0/0 on sg-1 (prod-2), 111122223333 us-east-1"."""
        what = f"all traffic from {self.source}" if self.protocol in ("all", "-1") \
            else f"{self.protocol} {self.ports} from {self.source}"
        name = f" ({self.group_name})" if self.group_name and self.group_name != self.group else ""
        where = f"{self.account} {self.network}" if self.cloud == "gcp" else \
            f"{self.account} {self.region}"
        return _cut(f"{self.severity} {self.kind}: {what} on {self.group}{name}, {where}", LINE_CHARS)


@dataclass(frozen=True, slots=True)
class Digest:
    scanned_at: str
    policy: str | None
    complete: bool
    errors: int
    what_if: bool
    #: "history", "baseline", or None when nothing was compared (an unrecorded what-if scan)
    compared_with: str | None
    #: groups, active, waived, baselined
    counts: dict[str, int]
    #: active findings by severity, worst first
    by_severity: dict[str, int]
    new: tuple[Item, ...]
    resolved: tuple[Item, ...]
    new_total: int
    resolved_total: int

    @property
    def more_new(self) -> int:
        return self.new_total - len(self.new)

    @property
    def more_resolved(self) -> int:
        return self.resolved_total - len(self.resolved)

    @property
    def headline(self) -> str:
        """The first line of every channel: what changed, in a few words (an incomplete scan
        says so first)."""
        start = "sgaudit: " if self.complete else "sgaudit (INCOMPLETE scan): "
        if self.compared_with is None:
            worst = severities(self.by_severity)
            return f"{start}{self.counts['active']} active finding(s)" + (f" ({worst})" if worst else "")
        worst = _listed_severities(self.new, self.new_total)
        return (f"{start}{self.new_total} new finding(s)" + (f" ({worst})" if worst else "")
                + f", {self.resolved_total} resolved; {self.counts['active']} active in all")

    @property
    def warning(self) -> str | None:
        """What a reader must see before anything else: an incomplete scan."""
        if self.complete:
            return None
        return (f"INCOMPLETE SCAN: {self.errors} error(s); what could not be read is neither "
                "new nor resolved")

    @property
    def context(self) -> str:
        """When, with which policy, compared with what."""
        parts = [f"scan {self.scanned_at}" + (" (what-if)" if self.what_if else ""),
                 f"policy {self.policy or '(defaults)'}"]
        if self.compared_with:
            parts.append(f"compared with the {self.compared_with}")
        else:
            parts.append("new and resolved not computed ("
                         + ("a what-if scan is not recorded" if self.what_if
                            else "no --history or --baseline") + ")")
        return "; ".join(parts)


def digest(report: Report, changes: ScanChanges | None, *, what_if: bool = False) -> Digest:
    counts = summarize(report)
    new = sorted(changes.new if changes else (), key=_order)
    resolved = sorted(changes.resolved if changes else (), key=_order)
    shown_new = new[:MAX_ITEMS]  # only what is listed becomes text: a first night may open 100,000
    shown_resolved = resolved[:MAX_ITEMS - len(shown_new)]
    groups = {f.key: r.group for r in report.results for f in r.findings}
    return Digest(
        scanned_at=clean(report.generated_at),
        policy=None if report.policy_path is None else _cut(report.policy_path),
        complete=report.complete,
        errors=len(report.errors), what_if=what_if,
        compared_with=changes.compared_with if changes else None,
        counts={"groups": counts.groups, "active": counts.active, "waived": counts.waived,
                "baselined": counts.baselined},
        by_severity=dict(counts.by_severity),
        new=tuple(_of_finding(f, groups.get(f.key)) for f in shown_new),
        resolved=tuple(_of_resolved(r) for r in shown_resolved),
        new_total=len(new), resolved_total=len(resolved))


def _order(item: Finding | ResolvedChange) -> tuple[int, str]:
    """Worst first, then by key: the order every report lists findings in."""
    return (_RANK.get(item.severity, len(_RANK)), item.key)


def severities(counted: Mapping[str, int]) -> str:
    """"1 critical, 2 high": the severities present, worst first."""
    return ", ".join(f"{n} {s}" for s, n in counted.items() if n)


def _listed_severities(shown: Sequence[Item], total: int) -> str:
    """The severities of the listed items, when none was cut."""
    if not total or len(shown) < total:
        return ""
    return severities({s.value: sum(1 for i in shown if i.severity == s.value) for s in SEVERITIES})


def _cut(value: object, limit: int = FIELD_CHARS) -> str:
    text = clean(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _of_finding(f: Finding, group: Group | None) -> Item:
    gcp = group is not None and group.cloud == "gcp"
    tag = f.group_id.rpartition("/")[2] if gcp else f.group_id
    return Item(key=_cut(f.key, KEY_CHARS), severity=_cut(f.severity), kind=_cut(f.kind),
                cloud=group.cloud if group is not None else "aws", group=_cut(tag),
                group_name=_cut(f.group_name), network=_cut(group.vpc_id or "") if group else "",
                account=_cut(f.account), region=_cut(f.region),
                protocol=_cut(format_protocol(f.protocol)),
                ports=_cut(format_ports(f.protocol, f.from_port, f.to_port)), source=_cut(f.source),
                rule=_cut(", ".join(f.rule_ids)), reason=_cut(f.reason), status="active")


def _of_resolved(r: ResolvedChange) -> Item:
    """What the key says of a finding no longer found (kind|account|region|group|protocol|
    from|to|source, and for GCP the group is network/tag and a rule may follow)."""
    parts = r.key.split("|")
    if len(parts) not in (8, 9) or not all(_PORT.fullmatch(p) for p in parts[5:7]):
        return Item(key=_cut(r.key, KEY_CHARS), severity=_cut(r.severity), kind="", cloud="", group="",
                    group_name="", network="", account="", region="", protocol="", ports="",
                    source="", rule="", reason="no longer found", status=_cut(r.status))
    kind, account, region, group, protocol, low, high, source = parts[:8]
    gcp = len(parts) == 9 or (region == "global" and "/" in group)
    network, _, tag = group.rpartition("/") if gcp else ("", "", group)
    return Item(key=_cut(r.key, KEY_CHARS), severity=_cut(r.severity), kind=_cut(kind),
                cloud="gcp" if gcp else "aws", group=_cut(tag), group_name="",
                network=_cut(network), account=_cut(account), region=_cut(region),
                protocol=_cut(format_protocol(protocol)),
                ports=_cut(format_ports(protocol, int(low), int(high))), source=_cut(source),
                rule=_cut(parts[8]) if len(parts) == 9 else "", reason="no longer found",
                status=_cut(r.status))


def counts_line(d: Digest) -> str:
    """"5 active (1 critical, 4 high); 2 waived; 3 baselined; 12 groups audited"."""
    worst = severities(d.by_severity)
    return (f"{d.counts['active']} active" + (f" ({worst})" if worst else "")
            + f"; {d.counts['waived']} waived; {d.counts['baselined']} baselined; "
            f"{d.counts['groups']} group(s) audited")
