"""The HTML report for security reviewers: one self-contained, offline file.

Safety: jinja autoescaping is on, cloud text is cleaned (``view.clean``) and only ever placed
in element text or quoted attributes; the page's script reads ``data-*`` attributes and
``textContent``, never parses embedded data or writes HTML. A Content-Security-Policy that
allows only this page's own style and script (by hash) and no network at all backs that up: an
injected ``<script>`` or ``onerror=`` would not run even if escaping ever failed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from sgaudit import __version__
from sgaudit.explain import grant_dict
from sgaudit.model import DesiredState, Finding, Grant, GroupResult, Report, Rule, ScanError
from sgaudit.report import format_ports, format_protocol, view
from sgaudit.report.templating import read_asset, render_template

#: with at most this many active findings, drifted groups start expanded
OPEN_BY_DEFAULT = 60
STATUS_RANK = {"unresolved": 0, "drift": 1, "accepted": 2, "ok": 3}
#: the trend chart shows at most this many past scans
TREND_POINTS = 90
_NO_SEVERITY = len(view.SEVERITY_RANK)


def render(report: Report) -> str:
    css, js = read_asset("report.css"), read_asset("report.js")
    summary = view.summarize(report)
    states = _States()
    groups = [_group(i, r, states) for i, r in enumerate(sorted(report.results, key=_order))]
    expand = summary.active <= OPEN_BY_DEFAULT
    return render_template(
        "report.html.j2", report=report, s=summary, groups=groups, expand=expand,
        states=states.tables, locations=sorted({g["loc"] for g in groups}), version=__version__,
        csp=_csp(css, js), css=Markup(css), js=Markup(js),
        open_since=any(g["open_since"] for g in groups),
        errors=[_error_text(e) for e in report.errors],
        warnings=[view.clean(w) for w in report.warnings],
        scanned=[view.clean(s) for s in report.scanned],
        expiring=view.waiver_rows(report, "waivers_expiring"),
        expired=view.waiver_rows(report, "waivers_expired"),
        stale=view.waiver_rows(report, "waivers_stale"),
        expiring_days=view.EXPIRING_DAYS, trend=trend_chart(view.trend_points(report)[-TREND_POINTS:]),
        severities=list(view.SEVERITY_RANK), kinds=view.KINDS)


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


def _order(r: GroupResult) -> tuple[int, int, int, str, str, str]:
    """Worst first: unresolved, then by worst active severity and number of findings."""
    act = view.active(r)
    sev = view.worst(act)
    rank = -1 if r.status == "unresolved" else view.SEVERITY_RANK[sev] if sev else _NO_SEVERITY
    return (rank, -len(act), STATUS_RANK[r.status], r.group.account, r.group.region, r.group.group_id)


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


def _grant_row(kind: str, g: Grant) -> dict[str, str]:
    """A desired rule as ``sgaudit explain`` shows it, with the group named generically."""
    row = grant_dict(kind, g, "this group")
    return {
        "kind": kind, "key": rule_key(g.protocol, g.from_port, g.to_port, g.source),
        "protocol": format_protocol(row["protocol"]), "ports": row["ports"],
        "source": view.clean(row["source"]), "reason": view.clean(row["reason"]),
        "origins": view.clean("; ".join(row["origins"])),
    }


def _group(index: int, r: GroupResult, states: _States) -> dict[str, Any]:
    g = r.group
    act = sorted(view.active(r), key=lambda f: (view.SEVERITY_RANK[f.severity], f.key))
    acc = sorted(view.accepted(r), key=lambda f: (view.SEVERITY_RANK[f.severity], f.key))
    sev = view.worst(act)
    first = min((f.first_seen for f in act if f.first_seen), default="")
    return {
        "i": index, "id": view.clean(g.group_id), "name": view.clean(g.group_name),
        "account": view.clean(g.account), "region": view.clean(g.region),
        "vpc": view.clean(g.vpc_id or ""), "loc": view.clean(f"{g.account}/{g.region}"),
        "status": r.status, "worst": sev or "",
        "sk": " ".join(sorted({f"{f.severity}:{f.kind}" for f in act})),
        "n_active": len(act), "n_accepted": len(acc),
        "counts": " ".join(f"{n}{s[0].upper()}" for s in view.SEVERITY_RANK
                           if (n := sum(1 for f in act if f.severity == s))),
        "open_since": first[:10],
        "description": view.clean(g.description),
        "tags": [f"{view.clean(k)}={view.clean(v)}" for k, v in g.tags],
        "unresolved": view.clean(r.desired.unresolved or ""),
        "warnings": [view.clean(w) for w in r.desired.warnings],
        "ingress": _ingress(g.rules, act, acc),
        "accepted": [_finding(f) for f in acc],
        "state": None if r.desired.unresolved else states.index(r.desired),
        "missing": " ".join(rule_key(f.protocol, f.from_port, f.to_port, f.source)
                            for f in act if f.kind == "missing"),
    }


def _finding(f: Finding) -> dict[str, str]:
    return {
        "sev": f.severity, "kind": f.kind, "protocol": format_protocol(f.protocol),
        "ports": format_ports(f.protocol, f.from_port, f.to_port), "source": view.clean(f.source),
        "reason": view.clean(f.reason), "rule_id": view.clean(", ".join(f.rule_ids)),
        "description": view.clean(f.description or ""), "first_seen": view.clean((f.first_seen or "")[:10]),
        "why": view.acceptance(f),
    }


def _ingress(rules: Sequence[Rule], active: Sequence[Finding],
             accepted: Sequence[Finding]) -> list[dict[str, str]]:
    """The group's ingress as one table: active findings first (missing rules included), then
    the actual rules that are allowed, then the extra ones that are accepted."""
    extra = {rule_key(f.protocol, f.from_port, f.to_port, f.source) for f in (*active, *accepted)
             if f.kind == "extra"}
    accepted_keys = {rule_key(f.protocol, f.from_port, f.to_port, f.source) for f in accepted}
    rows = [dict(_finding(f), verdict=f.severity) for f in active]
    later = []
    for x in rules:
        key = rule_key(x.protocol, x.from_port, x.to_port, x.source)
        if key in extra and key not in accepted_keys:
            continue  # shown above as a finding
        row = {"verdict": "accepted" if key in accepted_keys else "allowed", "kind": "",
               "protocol": format_protocol(x.protocol),
               "ports": format_ports(x.protocol, x.from_port, x.to_port),
               "source": view.clean(x.source), "reason": "", "rule_id": view.clean(x.rule_id or ""),
               "description": view.clean(x.description or ""), "first_seen": ""}
        (later if key in accepted_keys else rows).append(row)
    return rows + later


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
