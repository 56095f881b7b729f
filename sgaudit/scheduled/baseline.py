"""Baselines: the findings a team has already accepted, so that CI fails only on new drift.

A baseline is a versioned JSON document of finding keys (stable across runs) with the scope of
the scans that wrote it.  Marking findings baselined is set membership; updating a baseline
replaces the keys of the places this scan read completely (AWS account/regions, GCP
project/networks: see ``scope``) and keeps every other key, so a scan of one region or network
neither hides nor forgets the findings of the ones it did not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sgaudit.errors import PolicyError
from sgaudit.fileio.files import atomic_write, parse_problem, read_input
from sgaudit.fileio.versioned import DocumentFormat, VersionError
from sgaudit.model import Finding, Report
from sgaudit.scheduled.scope import Scope, complete_scope, network_in_key, placed_findings

FORMAT = DocumentFormat("sgaudit_baseline", 1, "baseline")


@dataclass(frozen=True, slots=True)
class Entry:
    """One accepted finding. ``since`` is when it first entered the baseline."""

    key: str
    account: str
    region: str
    group_id: str
    kind: str
    severity: str
    since: str
    #: the group's role when it is not a scheduler's (the default), as the writing scan saw it
    role: str = "scheduler"
    #: the GCP network of the target ("" on AWS)
    network: str = ""

    @property
    def place(self) -> Scope:
        return self.account, self.region, self.network


@dataclass(frozen=True, slots=True)
class Baseline:
    written_at: str
    policy: str | None
    policy_sha256: str
    #: the places (account/regions, GCP project/networks) the writing scan read completely
    scope: tuple[Scope, ...]
    entries: dict[str, Entry] = field(default_factory=dict)
    #: what the writing scan read (snapshot files or account/regions), for the reader
    sources: tuple[str, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.entries)


# -- pure ----------------------------------------------------------------------------------
def mark_baselined(report: Report, baseline: Baseline) -> Report:
    """Findings whose key is in the baseline are known: reported apart, not active."""
    keys = baseline.keys
    results = tuple(
        replace(r, findings=tuple(f._replace(baselined=True) if f.key in keys else f
                                  for f in r.findings))
        for r in report.results)
    return replace(report, results=results)


def updated_baseline(report: Report, previous: Baseline | None, *, written_at: str,
                     policy_sha256: str) -> Baseline:
    """The baseline after this scan: its unwaived findings in the scope it read completely,
    and the previous entries of every place (account/region, GCP project/network) it did not.

    Waived findings are left out (their waiver decides; when it expires they must show up as
    new drift).  Baselined findings stay: they are still there.
    """
    scope = complete_scope(report)
    old = previous.entries if previous else {}
    entries: dict[str, Entry] = {k: e for k, e in old.items() if e.place not in scope}
    for f, place, role in placed_findings(report):
        if f.waived:
            continue
        since = old[f.key].since if f.key in old else written_at
        entries[f.key] = replace(entry_of(f, since), role=role, network=place[2])
    return Baseline(written_at=written_at, policy=report.policy_path, policy_sha256=policy_sha256,
                    scope=tuple(sorted(scope)), entries=dict(sorted(entries.items())),
                    sources=tuple(report.scanned))


def entry_of(finding: Finding, since: str) -> Entry:
    return Entry(key=finding.key, account=finding.account, region=finding.region,
                 group_id=finding.group_id, kind=finding.kind, severity=finding.severity,
                 since=since)


def gone(report: Report, baseline: Baseline) -> list[Entry]:
    """Baseline entries of completely read places that this scan no longer found: fixed drift,
    which --update-baseline would drop so that it cannot come back unnoticed."""
    scope = complete_scope(report)
    present = {f.key for f in report.findings}
    return [e for e in baseline.entries.values() if e.place in scope and e.key not in present]


# -- the file ------------------------------------------------------------------------------
def to_document(baseline: Baseline) -> dict[str, Any]:
    return {
        **FORMAT.stamp(),
        "written_at": baseline.written_at,
        "policy": baseline.policy,
        "policy_sha256": baseline.policy_sha256,
        "scope": [{"account": a, "region": r, **({"network": n} if n else {})}
                  for a, r, n in baseline.scope],
        "sources": list(baseline.sources),
        "findings": [
            {"key": e.key, "account": e.account, "region": e.region,
             **({"network": e.network} if e.network else {}), "group_id": e.group_id,
             "kind": e.kind, "severity": e.severity, "since": e.since,
             **({"role": e.role} if e.role != "scheduler" else {})}
            for e in baseline.entries.values()
        ],
    }


def write_baseline(path: str | Path, baseline: Baseline) -> None:
    atomic_write(path, json.dumps(to_document(baseline), indent=2) + "\n", label="baseline")


def read_baseline(path: str | Path) -> Baseline:
    """Read a baseline; anything unreadable, corrupt or from a newer sgaudit is one line, exit 2."""
    try:
        raw = read_input(path, label="baseline", error=PolicyError)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read baseline: {exc.strerror or exc} "
                          "(create one with --update-baseline)") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: baseline is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}: baseline is not valid JSON (corrupt or truncated?): {exc.msg} "
                          f"at line {exc.lineno} column {exc.colno}") from None
    except (RecursionError, ValueError) as exc:
        raise PolicyError(f"{path}: baseline is not valid JSON: {parse_problem(exc) or exc}") from None
    try:
        return from_document(data)
    except _ShapeError as exc:
        raise PolicyError(f"{path}: {exc}") from None


class _ShapeError(ValueError):
    pass


def from_document(data: Any) -> Baseline:
    try:
        data = FORMAT.current(data)
    except VersionError as exc:
        raise _ShapeError(str(exc)) from None
    written_at = _text(data, "written_at", "$")
    sha = _text(data, "policy_sha256", "$", default="")
    policy = data.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise _ShapeError(f"$.policy: expected a string or null, got {policy!r}")
    scope: list[Scope] = []
    for i, item in enumerate(_list(data, "scope")):
        where = f"$.scope[{i}]"
        _object(item, where)
        scope.append(_place(item, where, ""))
    sources = tuple(str(s) for s in _list(data, "sources"))
    entries: dict[str, Entry] = {}
    for i, item in enumerate(_list(data, "findings")):
        where = f"$.findings[{i}]"
        _object(item, where)
        key = _text(item, "key", where)
        account, region, network = _place(item, where, key)
        entries[key] = Entry(key=key, account=account, region=region, network=network,
                             group_id=_text(item, "group_id", where),
                             kind=_text(item, "kind", where, default=""),
                             severity=_text(item, "severity", where, default=""),
                             since=_text(item, "since", where, default=written_at),
                             role=_text(item, "role", where, default="scheduler"))
    return Baseline(written_at=written_at, policy=policy, policy_sha256=sha, scope=tuple(scope),
                    entries=entries, sources=sources)


def _place(item: Mapping[str, Any], where: str, key: str) -> Scope:
    """account, region and network of a scope item or an entry; an entry written before places
    had a network takes its GCP network from its key."""
    account, region = _text(item, "account", where), _text(item, "region", where)
    if "network" in item:
        return account, region, _text(item, "network", where)
    return account, region, network_in_key(key, account, region)


def _object(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise _ShapeError(f"{where}: expected an object, got {_short(value)}")


def _list(data: Mapping[str, Any], key: str) -> Iterable[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _ShapeError(f"$.{key}: expected a list, got {_short(value)}")
    return value


_MISSING = object()


def _text(data: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> str:
    value = data.get(key, default)
    if value is _MISSING:
        raise _ShapeError(f"{where}.{key}: missing")
    if not isinstance(value, str):
        raise _ShapeError(f"{where}.{key}: expected a string, got {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
