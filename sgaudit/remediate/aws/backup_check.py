"""Does an AWS backup agree with itself?  Checked before a rollback changes anything.

A rollback re-authorizes what a fix revoked and revokes what it added, so a backup whose changes
contradict its recorded groups would make it open what was never open (``0.0.0.0/0`` "put
back"), remove what was there before the fix ("added"), or touch a group the fix never
touched.  The rules, each a contradiction that ``check --fix`` never writes:

- every change names a group the backup lists, and every group is listed once;
- every rule (recorded or changed) is valid: a canonical protocol, ports that fit it, a
  canonical CIDR or an ``sg-``/``pl-`` id;
- a revoke names a rule of that group's recorded ingress, exactly (id and what it allows);
- an authorize's new rule ids were not in any recorded group before the fix, and an applied
  authorize does not add what the group already had (AWS would have said Duplicate);
- change numbers are unique, depend only on earlier changes, and results are known words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sgaudit.model import Rule
from sgaudit.net import addresses, ports
from sgaudit.remediate.aws.changes import ALREADY_DONE, APPLIED, FAILED, SKIPPED, Ref
from sgaudit.remediate.aws.rollback import BackupRecord, Recorded
from sgaudit.remediate.aws.rules import describe_rule, signature
from sgaudit.remediate.signing import BackupError

#: the results a backup's change can carry (``planned`` and ``pending``: the journal's states)
RESULTS = frozenset({"planned", "pending", APPLIED, ALREADY_DONE, SKIPPED, FAILED})
#: what a rollback undoes
UNDONE = frozenset({APPLIED, "pending"})
_AWS_ID = re.compile(r"(sg|pl)-[0-9a-f]{1,17}\Z")


def check_consistency(record: BackupRecord) -> None:
    """Raise BackupError (one line: file, key, what contradicts what) for the first
    contradiction; return quietly for a backup that ``check --fix`` could have written."""
    path = record.path
    for i, rules in enumerate(record.before.values()):
        for j, rule in enumerate(rules):
            _check_rule(rule, f"{path}: groups[{i}].ingress[{j}]")
    before_ids = {r.rule_id: ref for ref, rules in record.before.items() for r in rules if r.rule_id}
    seen: set[int] = set()
    for i, rec in enumerate(record.changes):
        where = f"{path}: changes[{i}]"
        _check_frame(rec, record, seen, where)
        _check_rule(rec.change.rule, f"{where}.rule")
        if rec.change.action == "revoke":
            _check_revoke(rec, record.before[rec.change.ref], where)
        else:
            _check_authorize(rec, record, before_ids, where)
        seen.add(rec.change.seq)


def _check_frame(rec: Recorded, record: BackupRecord, seen: set[int], where: str) -> None:
    """The change's number, group, dependencies and result."""
    change = rec.change
    if change.seq in seen:
        raise BackupError(f"{where}.seq: change #{change.seq} is listed twice")
    if change.ref not in record.before:
        raise BackupError(f"{where}: group {change.group_id} ({change.account}/{change.region}) is "
                          "not among the backup's groups; nothing was changed")
    late = [d for d in change.depends_on if d not in seen]
    if late:
        raise BackupError(f"{where}.depends_on: #{late[0]} is not an earlier change of this backup")
    if rec.result not in RESULTS:
        raise BackupError(f"{where}.result: expected one of {', '.join(sorted(RESULTS))}, "
                          f"got {rec.result!r}")


def _check_revoke(rec: Recorded, recorded: tuple[Rule, ...], where: str) -> None:
    """A revoked rule is one the group held before the fix, exactly: a rollback puts it back."""
    rule = rec.change.rule
    held = [r for r in recorded if r.rule_id == rule.rule_id] if rule.rule_id else []
    if not held or held[0] != rule:
        raise BackupError(f"{where}.rule: revokes {describe_rule(rule, with_id=True)}, which is not "
                          f"in the recorded ingress of {rec.change.group_id}; a rollback would put "
                          "back what was never there, so nothing was changed")


def _check_authorize(rec: Recorded, record: BackupRecord, before_ids: dict[str, Ref],
                     where: str) -> None:
    """An added rule was not there before the fix: a rollback revokes it."""
    change = rec.change
    for rule_id in rec.new_rule_ids:
        if rule_id in before_ids:
            raise BackupError(f"{where}.new_rule_ids: {rule_id} is listed as added, but it is in the "
                              f"recorded ingress of {before_ids[rule_id][2]} from before the fix; a "
                              "rollback would revoke it, so nothing was changed")
    if rec.result in UNDONE and signature(change.rule) in _staying(record, change.ref):
        raise BackupError(f"{where}.rule: authorizes {describe_rule(change.rule)}, which "
                          f"{change.group_id} already had before the fix and kept; nothing was changed")


def _staying(record: BackupRecord, ref: Ref) -> set[tuple[str, int, int, str]]:
    """What the group allowed before the fix through rules the backup does not revoke."""
    revoked = {r.change.rule.rule_id for r in record.changes
               if r.change.ref == ref and r.change.action == "revoke"}
    return {signature(r) for r in record.before[ref] if r.rule_id not in revoked}


def _check_rule(rule: Rule, where: str) -> None:
    problem = rule_problem(rule)
    if problem:
        raise BackupError(f"{where}: {problem}; nothing was changed")


def rule_problem(rule: Rule) -> str | None:
    """Why a rule cannot be one AWS holds (None: it can)."""
    if ports.normalize_protocol(rule.protocol) != rule.protocol:
        return f"protocol {rule.protocol!r} is not tcp, udp, icmp, icmpv6, -1 or a protocol number"
    if not _ports_fit(rule.protocol, rule.from_port, rule.to_port):
        return f"ports {rule.from_port}-{rule.to_port} do not fit protocol {rule.protocol}"
    return _source_problem(rule.source)


def _ports_fit(protocol: str, lo: int, hi: int) -> bool:
    if protocol in ports.PORTED:
        return (lo, hi) == (-1, -1) or 0 <= lo <= hi <= ports.PORT_MAX
    if protocol in ports.ICMP:
        return -1 <= lo <= 255 and -1 <= hi <= 255 and not (lo == -1 and hi != -1)
    if protocol == ports.ALL:
        return (lo, hi) == (-1, -1)
    return _within(-1, ports.PORT_MAX, (lo, hi))


def _within(low: int, high: int, values: Iterable[int]) -> bool:
    return all(low <= v <= high for v in values)


def _source_problem(source: str) -> str | None:
    if source.startswith(("sg-", "pl-")):
        return None if _AWS_ID.match(source) else f"source {source!r} is not a group or prefix list id"
    try:
        canonical = addresses.canonical_cidr(source)
    except addresses.CidrError:
        return f"source {source!r} is not a CIDR, group or prefix list id"
    return None if canonical == source else f"source {source!r} is not canonical (AWS says {canonical})"
