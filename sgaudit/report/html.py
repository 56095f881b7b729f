"""The HTML report for security reviewers: one self-contained, offline file.

Safety: jinja autoescaping is on, cloud text is cleaned (``view.clean``) and only ever placed
in element text or quoted attributes; the page's script reads ``data-*`` attributes and text
(``textContent``), never parses embedded data as code or markup and never writes HTML: every
element it makes gets its text through ``textContent``. A Content-Security-Policy that allows
only this page's own style and script (by hash) and no network at all backs that up: an
injected ``<script>`` or ``onerror=`` would not run even if escaping ever failed.

Scale (issue 4: 10,000 findings, under 5 MB, under 2 s to open): the groups table holds one
short row per group, and a group's details (ingress rules, findings, accepted findings,
desired rules) are built by the page's script when the group is opened or printed, from its
``data-d`` attribute. The table lists ``PAGE`` groups at first; the others wait in the page,
never laid out, until a filter or "Show more" lists them (without the script all are listed).

``data-d`` is one record per line; a record is a type letter followed by tab-separated fields:

    D description            T key, value, key, value, ...      U why the desired state is unknown
    N the description when it contains the group's name: the text before it, the text after it
    W a resolver warning     A code, protocol, ports, source, reason, why it is accepted
    R code, protocol, ports, source, reason, rule ids, rule description, first seen
      (code: severity and kind letters, "ce" critical extra ... "mm" medium missing, for an active
      finding; "a" for an allowed rule; "n" for a rule that could not be checked (the group's
      desired state is unresolved); "x" for an extra rule whose finding is accepted)
    S desired state number, then the rows of its table that are missing
    F (Google Cloud targets) priority, action, level, rule name, whether it applies, what it
      matches, the findings it decides: one per rule that applies, in evaluation order

Fields after the code are text: written as they are, or ``~`` and a base-36 index into the
string table (``<template id="strings">``, one string per line) for text that recurs, or ``=``
for the group's own id. Trailing empty fields are left out. Cloud text cannot contain a tab or
a newline (``view.clean``), so it cannot break out of a field or a record.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from sgaudit import __version__
from sgaudit.engine.summary import summarize
from sgaudit.model import SEVERITIES, DesiredState, Finding, Grant, GroupResult, Report, Rule, ScanError
from sgaudit.report import format_ports, format_protocol, view
from sgaudit.report.explain import grant_dict
from sgaudit.report.templating import read_asset, render_template

#: with at most this many active findings, drifted groups start expanded
OPEN_BY_DEFAULT = 60
#: the table lists this many groups at first (and this many more on each "Show more"): laying
#: out 10,000 rows is what made large reports slow to open; the rest wait, unlaid, in the page
PAGE = 200
STATUS_RANK = {"unresolved": 0, "drift": 1, "accepted": 2, "ok": 3}
#: a group's classes in the table are one letter each (report.css): its status, as here, and
#: its worst active severity's first letter (c, h, m, l)
STATUS_CLASS = {"unresolved": "u", "drift": "d", "accepted": "a", "ok": "o"}
#: the trend chart shows at most this many past scans
TREND_POINTS = 90
_NO_SEVERITY = len(SEVERITIES)


def render(report: Report) -> str:
    css, js = read_asset("report.css"), read_asset("report.js")
    summary = summarize(report)
    states = _States()
    results = sorted(report.results, key=_order)
    expand = summary.active <= OPEN_BY_DEFAULT
    details = _Details()
    groups = [_group(i, r, states, details, expand) for i, r in enumerate(results)]
    details.encode(groups)
    return render_template(
        "report.html.j2", report=report, s=summary, groups=groups, page=PAGE,
        strings="\n".join(details.table), states=states.tables,
        locations=sorted({f"{g['account']}/{g['region']}" for g in groups}), version=__version__,
        csp=_csp(css, js), css=Markup(css), js=Markup(js),
        open_since=any(g["open_since"] for g in groups), accepted_col=summary.accepted > 0,
        errors=[_error_text(e) for e in report.errors],
        warnings=[view.clean(w) for w in report.warnings],
        scanned=[view.clean(s) for s in report.scanned],
        **view.waiver_sections(report),
        expiring_days=view.EXPIRING_DAYS, trend=trend_chart(view.trend_points(report)[-TREND_POINTS:]),
        severities=list(SEVERITIES), kinds=view.KINDS)


def _csp(css: str, js: str) -> str:
    """Only this page's own style and script run; nothing is fetched from anywhere."""
    return ("default-src 'none'; "
            f"style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
            "img-src 'none'; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _error_text(e: ScanError) -> str:
    code = f"{e.code}: " if e.code else ""
    return view.clean(f"{e.account}/{e.region} {e.operation}: {code}{e.message}")


def _order(r: GroupResult) -> tuple[bool, int, int, int, str, str, str]:
    """Worst first: unresolved, then by worst active severity and number of findings."""
    act = view.active(r)
    sev = view.worst(act)
    rank = sev.rank if sev else _NO_SEVERITY
    return (r.status != "unresolved", rank, -len(act), STATUS_RANK[r.status], r.group.account,
            r.group.region, r.group.group_id)


def rule_key(protocol: str, from_port: int, to_port: int, source: str) -> str:
    return f"{protocol}|{from_port}|{to_port}|{source}"


class _States:
    """Distinct desired-state tables: groups with the same options and VPC share one, so a fleet
    of thousands of groups carries each table once (the page copies it into a group on demand)."""

    def __init__(self) -> None:
        self.tables: list[dict[str, Any]] = []
        self._index: dict[tuple[tuple[str, ...], ...], int] = {}

    def index(self, desired: DesiredState) -> int:
        rows = [_grant_row(kind, g) for kind, grants in (("required", desired.required),
                                                          ("permitted", desired.permitted))
                for g in grants]
        key = tuple(tuple(row.values()) for row in rows)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.tables)
            self.tables.append({"n": found, "rows": rows, "groups": 0})
        self.tables[found]["groups"] += 1
        return found

    def row(self, state: int, key: str) -> int | None:
        """The row of a state's table that is this rule, if one is exactly it."""
        return next((i for i, row in enumerate(self.tables[state]["rows"]) if row["key"] == key), None)


def _grant_row(kind: str, g: Grant) -> dict[str, str]:
    """A desired rule as ``sgaudit explain`` shows it, with the group named generically."""
    row = grant_dict(kind, g, "this group")
    return {
        "kind": kind, "key": rule_key(g.protocol, g.from_port, g.to_port, g.source),
        "protocol": format_protocol(row["protocol"]), "ports": row["ports"],
        "source": view.clean(row["source"]), "reason": view.clean(row["reason"]),
        "origins": view.clean("; ".join(row["origins"])),
    }


#: a record of a group's details: its type letter, fields kept as they are (codes, numbers),
#: and text fields (which the encoding may replace with a reference)
_Record = tuple[str, tuple[str, ...], tuple[str, ...]]


def _group(index: int, r: GroupResult, states: _States, details: _Details,
           expand: bool) -> dict[str, Any]:
    """A group's row (what the table shows) and its details (records, encoded later)."""
    g = r.group
    act = sorted(view.active(r), key=view.severity_order)
    acc = sorted(view.accepted(r), key=view.severity_order)
    sev = view.worst(act)
    first = min((f.first_seen for f in act if f.first_seen), default="")
    per_severity = [(s, n) for s in SEVERITIES if (n := sum(1 for f in act if f.severity == s))]
    classes = [STATUS_CLASS[r.status], *([sev[0]] if sev else []),
               *(["open"] if expand and r.status in ("drift", "unresolved") else []),
               *(["p"] if index >= PAGE else [])]
    records: list[_Record] = []
    description, name = view.clean(g.description), view.clean(g.group_name)
    if name and name in description:   # "Coiled security group for <name>": the rest is shared
        records.append(("N", (), tuple(description.split(name, 1))))
    elif description:
        records.append(("D", (), (description,)))
    if g.tags:
        records.append(("T", (), tuple(view.clean(x) for kv in g.tags for x in kv)))
    if r.desired.unresolved:
        records.append(("U", (), (view.clean(r.desired.unresolved),)))
    records.extend(("W", (), (view.clean(w),)) for w in r.desired.warnings)
    records.extend(_ingress(g.rules, act, acc, checked=not r.desired.unresolved,
                            group_id=g.group_id))
    records.extend(_applied(r))
    records.extend(("A", (_code(f),), (*_rule(f.protocol, f.from_port, f.to_port, f.source),
                                      view.clean(f.reason), view.acceptance(f)))
                   for f in acc)
    if not r.desired.unresolved:
        state = states.index(r.desired)
        missing = (states.row(state, rule_key(f.protocol, f.from_port, f.to_port, f.source))
                   for f in act if f.kind == "missing")
        records.append(("S", (str(state), *(str(m) for m in missing if m is not None)), ()))
    details.add(view.clean(g.group_id), records)
    return {
        "id": view.clean(g.group_id), "name": name, "role": view.role_label(r.role)[2:],
        "account": view.clean(g.account), "region": view.clean(g.region),
        "vpc": view.clean(g.vpc_id or ""), "status": r.status, "worst": sev or "",
        "classes": " ".join(classes), "n_active": len(act), "n_accepted": len(acc),
        # the breakdown only when it says more than the Worst column does
        "counts": " ".join(f"{n}{s[0].upper()}" for s, n in per_severity) if len(per_severity) > 1 else "",
        # the same spelled out, for the hover text and screen readers ("1 critical, 1 medium")
        "counts_text": ", ".join(f"{n} {s}" for s, n in per_severity) if len(per_severity) > 1 else "",
        "open_since": first[:10], "details": "",
    }


def _applied(r: GroupResult) -> list[_Record]:
    """A GCP target's rules in evaluation order: priority and action, then level, name, whether
    it applies, what it matches and the findings it decides."""
    by_key = {f.key: f for f in r.findings}
    out: list[_Record] = []
    for a in r.applied:
        decided = [by_key[k] for k in a.decides if k in by_key]
        decides = "; ".join(f"{f.kind} {view.rule_text(f.protocol, f.from_port, f.to_port, f.source)}"
                            for f in decided)
        out.append(("F", (str(a.priority), view.clean(a.action)),
                    (view.clean(a.level), view.clean(a.name), view.clean(a.applies),
                     view.clean(a.matches), view.clean(decides))))
    return out


def _rule(protocol: str, from_port: int, to_port: int, source: str) -> tuple[str, str, str]:
    """Protocol, ports and source as the tables show them."""
    ports = format_ports(protocol, from_port, to_port)
    return view.clean(format_protocol(protocol)), ports, view.clean(source)


def _code(f: Finding) -> str:
    """A finding's severity and kind as two letters: "ce" is critical extra, "mm" medium missing."""
    return f.severity[0] + f.kind[0]


def _ingress(rules: Sequence[Rule], active: Sequence[Finding], accepted: Sequence[Finding],
             checked: bool = True, group_id: str = "") -> list[_Record]:
    """The group's ingress as one table: active findings first (missing rules included), then
    the actual rules that are allowed ("a", or "n" when the desired state is unknown and a rule
    without a finding is not known to be allowed), then the extra ones that are accepted ("x")."""
    extra = {rule_key(f.protocol, f.from_port, f.to_port, f.source) for f in (*active, *accepted)
             if f.kind == "extra"}
    accepted_keys = {rule_key(f.protocol, f.from_port, f.to_port, f.source) for f in accepted}
    rows: list[_Record] = [
        ("R", (_code(f),), (*_rule(f.protocol, f.from_port, f.to_port, f.source), view.clean(f.reason),
                            view.clean(", ".join(f.rule_ids)), view.clean(f.description or ""),
                            view.clean((f.first_seen or "")[:10])))
        for f in active]
    later: list[_Record] = []
    for x in rules:
        key = rule_key(x.protocol, x.from_port, x.to_port, x.source)
        if key in extra and key not in accepted_keys:
            continue  # shown above as a finding
        code = "x" if key in accepted_keys else "a" if checked or x.source == group_id else "n"
        row = ("R", (code,), (*_rule(x.protocol, x.from_port, x.to_port, x.source), "",
                              view.clean(x.rule_id or ""), view.clean(x.description or "")))
        (later if code == "x" else rows).append(row)
    return rows + later


class _Details:
    """Every group's details as one compact ``data-d`` text, for the page's script to build the
    group's tables when it is opened (or printed); see the module docstring for the format.

    Text that recurs across groups (reasons, sources, ports, dates, tag keys, descriptions) is
    written once, in a string table, and referred to as ``~`` and its index in base 36; the
    group's own id is ``=``. That keeps a fleet of 10,000 drifted groups a few megabytes."""

    def __init__(self) -> None:
        self._groups: list[tuple[str, list[_Record]]] = []
        self.table: list[str] = []

    def add(self, group_id: str, records: list[_Record]) -> None:
        self._groups.append((group_id, records))

    def encode(self, groups: Sequence[dict[str, Any]]) -> None:
        counts: Counter[str] = Counter(t for group_id, records in self._groups for _, _, text in records
                                       for t in text if not _is_self(t, group_id))
        # a reference costs ~3 characters where the text was, and the text once more in the table;
        # text that would read as a reference ("~…", "=") always goes through the table
        shared = [t for t, n in counts.items()
                  if t.startswith("~") or t == "=" or (n > 1 and len(t) * (n - 1) > 3 * n + 1)]
        shared.sort(key=lambda t: -counts[t])   # stable: ties keep first-seen order
        self.table = [_field(t) for t in shared]
        refs = {t: "~" + _base36(i) for i, t in enumerate(shared)}
        for row, (group_id, records) in zip(groups, self._groups, strict=True):
            lines = []
            for kind, raw, text in records:
                fields = [*raw, *("=" if _is_self(t, group_id) else refs.get(t) or _field(t) for t in text)]
                while fields and not fields[-1]:
                    fields.pop()
                lines.append(kind + "\t".join(fields))
            row["details"] = "\n".join(lines)


def _is_self(text: str, group_id: str) -> bool:
    return bool(text) and text == group_id


_SEPARATORS = re.compile(r"[\t\n\r]")


def _field(text: str) -> str:
    """Text as one field: ``view.clean`` already made tabs and newlines spaces; this makes sure."""
    return _SEPARATORS.sub(" ", text)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, d = divmod(n, 36)
        out = digits[d] + out
        if not n:
            return out


def decode_details(text: str, table: Sequence[str], group_id: str) -> list[list[str]]:
    """The records of a ``data-d`` text with references resolved: ``[type, field, ...]`` per
    record. What report.js does, written out for the tests and for anyone reading a report."""
    out = []
    for line in text.split("\n"):
        if not line:
            continue
        kind, fields = line[0], line[1:].split("\t")
        raw = {"R": 1, "A": 1, "F": 2, "S": len(fields)}.get(kind, 0)
        out.append([kind, *fields[:raw], *(group_id if f == "=" else table[int(f[1:], 36)]
                                           if f.startswith("~") else f for f in fields[raw:])])
    return out


def trend_chart(points: Sequence[tuple[str, int]], width: int = 640,
                height: int = 120) -> dict[str, Any] | None:
    """Coordinates for a small inline SVG line chart of open findings over past scans."""
    if len(points) < 2:
        return None
    pad_l, pad_r, pad_t, pad_b = 36, 12, 10, 22
    top = max(max(n for _, n in points), 1)
    span_x = width - pad_l - pad_r
    span_y = height - pad_t - pad_b
    step = span_x / (len(points) - 1)
    dots = []
    for i, (at, n) in enumerate(points):
        x = pad_l + i * step
        y = pad_t + span_y * (1 - n / top)
        dots.append({"x": f"{x:.1f}", "y": f"{y:.1f}", "at": at, "n": n})
    line = " ".join(f"{d['x']},{d['y']}" for d in dots)
    base = f"{pad_t + span_y:.1f}"
    area = f"{dots[0]['x']},{base} {line} {dots[-1]['x']},{base}"
    return {"width": width, "height": height, "line": line, "area": area, "dots": dots,
            "top": top, "base": base, "pad_l": pad_l, "pad_t": pad_t, "right": width - pad_r,
            "first": points[0][0][:10], "last": points[-1][0][:10], "last_n": points[-1][1],
            "label_y": height - 6}
