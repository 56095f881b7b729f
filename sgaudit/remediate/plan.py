"""The fix plan and the rollback plan: pure functions of the findings, the desired states and
the ingress rules (with their ids) that were read. Applying is ``aws_apply``'s job.

Safety rules, each a lesson from remediations that went wrong:
- extra ingress is revoked by ``SecurityGroupRuleIds``, one source at a time, never as a whole
  ``IpPermission`` (a private CIDR that shares a permission with 0.0.0.0/0 stays);
- a required rule that the group keeps only through a rule about to be revoked is authorized
  first, and that revoke waits for it (a failed authorize cancels the revoke);
- each group is re-read just before it is changed; if it moved since the plan, it is skipped;
- ``InvalidPermission.NotFound`` / ``.Duplicate`` mean someone already did the work;
- a failure in one group never stops the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sgaudit.engine.diff import Differ, finding_key
from sgaudit.engine.resolve import SELF
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK
from sgaudit.model import Finding, Grant, Group, GroupResult, Rule
from sgaudit.net import addresses, intervals, ports

Action = Literal["authorize", "revoke"]
#: (account, region, group id): one security group, wherever it lives
Ref = tuple[str, str, str]
#: (account, region) -> an EC2 client for them
ClientFor = Callable[[str, str], Any]

RESTORED_DESCRIPTION = "restored by sgaudit (required ingress)"
APPLIED = "applied"
ALREADY_DONE = "already done"
SKIPPED = "skipped"
FAILED = "failed"



# -- the plan ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Change:
    """One API call: authorize one rule, or revoke one rule by its id."""

    seq: int
    action: Action
    account: str
    region: str
    group_id: str
    group_name: str
    #: revoke: the actual rule, with its id; authorize: the rule to add, with its description
    rule: Rule
    reason: str
    #: changes (by seq) that must have succeeded first, or this one is not attempted
    depends_on: tuple[int, ...] = ()

    @property
    def ref(self) -> Ref:
        return (self.account, self.region, self.group_id)


@dataclass(frozen=True, slots=True)
class GroupPlan:
    account: str
    region: str
    group_id: str
    group_name: str
    #: the group's ingress as read when planning: the re-read before applying must match it
    seen: tuple[Rule, ...]
    changes: tuple[Change, ...] = ()
    #: why the group is left alone (changed since the scan, unreadable), or None
    skipped: str | None = None

    @property
    def ref(self) -> Ref:
        return (self.account, self.region, self.group_id)


@dataclass(frozen=True, slots=True)
class Plan:
    groups: tuple[GroupPlan, ...]

    @property
    def changes(self) -> list[Change]:
        return [c for g in self.groups for c in g.changes]

    @property
    def skipped(self) -> list[GroupPlan]:
        return [g for g in self.groups if g.skipped]


@dataclass(frozen=True, slots=True)
class Outcome:
    change: Change
    result: str  # APPLIED, ALREADY_DONE, SKIPPED or FAILED
    detail: str = ""
    #: the ids AWS gave the rules an authorize created (rollback revokes exactly these)
    new_rule_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result in (APPLIED, ALREADY_DONE)

    @property
    def text(self) -> str:
        return f"{self.result}: {self.detail}" if self.detail else self.result


@dataclass(frozen=True, slots=True)
class Verification:
    """A changed group re-read after the fix: what is still drifted, or why it could not be read."""

    ref: Ref
    group_name: str
    remaining: tuple[Finding, ...] = ()
    error: str | None = None
    #: rollback: how the group now differs from the backup ("missing …", "unexpected …")
    differences: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and not self.remaining and not self.differences


def candidates(results: Iterable[GroupResult]) -> list[GroupResult]:
    """The groups a fix would touch: resolved, with at least one active finding."""
    return [r for r in results if not r.desired.unresolved and any(f.active for f in r.findings)]


def plan_fix(results: Sequence[GroupResult], ingress: Mapping[Ref, Sequence[Rule] | str],
             prefix_lists: Mapping[tuple[str, str], tuple[str, ...]] | None = None) -> Plan:
    """The changes that bring every candidate group to its desired state.

    ``ingress`` maps each candidate group to its rules as ``DescribeSecurityGroupRules``
    returned them (with ids), or to the error that kept them from being read.
    """
    differ = Differ(prefix_lists)
    groups: list[GroupPlan] = []
    seq = 0
    for result in candidates(results):
        group = result.group
        ref = (group.account, group.region, group.group_id)
        base = GroupPlan(group.account, group.region, group.group_id, group.group_name, ())
        rules = ingress.get(ref)
        if rules is None or isinstance(rules, str):
            why = rules or "its rules were not read"
            groups.append(replace(base, skipped=f"cannot read its rules: {why}"))
            continue
        rules = tuple(rules)
        moved = describe_difference(group.rules, rules, with_ids=False)
        if moved:
            groups.append(replace(base, seen=rules, skipped=f"stale: changed since the scan ({moved})"))
            continue
        changes = _group_changes(result, rules, differ, seq)
        seq += len(changes)
        groups.append(replace(base, seen=rules, changes=tuple(changes)))
    return Plan(tuple(groups))


def _group_changes(result: GroupResult, rules: tuple[Rule, ...], differ: Differ,
                   seq: int) -> list[Change]:
    """Authorize what is required and missing (or about to be lost), then what the envelope
    permits of each rule to revoke, then revoke; each revoke waits for what protects access."""
    group = result.group
    revokes = _revokes(result, rules, differ)
    revoked_ids = {r.rule_id for r, _ in revokes}
    remaining = [r for r in rules if r.rule_id not in revoked_ids]
    changes: list[Change] = []
    added_for: dict[str, list[int]] = {}
    added: list[Rule] = []

    def add(rule: Rule, reason: str, protects: Iterable[Rule]) -> None:
        changes.append(_change(seq + len(changes) + 1, "authorize", group, rule, reason))
        added.append(rule)
        for provider in protects:
            added_for.setdefault(provider.rule_id or "", []).append(seq + len(changes))

    for grant, reason, providers in _authorizes(result, rules, remaining, revokes, differ):
        source = group.group_id if grant.source == SELF else grant.source
        add(Rule(grant.protocol, grant.from_port, grant.to_port, source, None, RESTORED_DESCRIPTION),
            reason, providers)
    for revoked, _ in revokes:
        for rule, reason in kept_parts(revoked, result, [*remaining, *added], differ):
            add(rule, reason, [revoked])
    for rule, finding in revokes:
        depends = tuple(added_for.get(rule.rule_id or "", ()))
        changes.append(_change(seq + len(changes) + 1, "revoke", group, rule,
                               f"extra: {finding.reason}", depends))
    return changes


def _revokes(result: GroupResult, rules: tuple[Rule, ...], differ: Differ) -> list[tuple[Rule, Finding]]:
    """The rules behind the active extra findings, each with its finding; a rule from an unread
    prefix list is held back."""
    extra = [f for f in result.findings if f.active and f.kind == "extra"]
    return [(rule, f) for f in extra for rule in rules
            if signature(rule) == (f.protocol, f.from_port, f.to_port, f.source)
            and not _unread_prefix_list(rule, result.group, differ)]


def _authorizes(result: GroupResult, rules: tuple[Rule, ...], remaining: list[Rule],
                revokes: list[tuple[Rule, Finding]],
                differ: Differ) -> list[tuple[Grant, str, list[Rule]]]:
    """Required grants to authorize, why, and the rules about to be revoked that must wait."""
    group = result.group
    active = {f.key: f for f in result.findings if f.active}
    out: list[tuple[Grant, str, list[Rule]]] = []
    for grant in result.desired.required:
        left = gaps(grant, remaining, group, differ)
        if not left:
            continue
        providers = _providers(grant, result, [r for r, _ in revokes], differ)
        if left != gaps(grant, rules, group, differ) and providers:
            ids = ", ".join(r.rule_id or "?" for r in providers)
            reason = (f"required ({grant.reason}); now allowed only through {ids}, revoked below: "
                      "added first so access is never lost")
        else:
            missing = active.get(_missing_key(group, grant))
            if missing is None:
                continue  # missing, but waived or baselined: leave it
            reason = f"missing: {missing.reason}" + (
                "; added before the revokes below, so the machines keep talking"
                if grant.source == SELF and providers else "")
        out.append((grant, reason, providers))
    return out


def _providers(grant: Grant, result: GroupResult, revoked: list[Rule],
               differ: Differ) -> list[Rule]:
    """The rules about to be revoked that allow part of a required grant today: its authorize
    goes first and they wait for it. A cluster-wide group's own traffic may flow through any of
    them (its machines' addresses are not known here), so there every revoke waits for it."""
    if grant.source == SELF and result.role == "cluster":
        return revoked
    return [r for r in revoked if covers_part(r, grant, result.group, differ)]


def _unread_prefix_list(rule: Rule, group: Group, differ: Differ) -> bool:
    """A rule from a prefix list whose entries could not be read cannot be judged: never
    revoke it (the scan is incomplete and says so)."""
    return rule.source.startswith("pl-") and differ.source_of(rule.source, group).token is not None


KEPT_DESCRIPTION = "kept by sgaudit: the permitted part of {rule_id}"


def kept_parts(revoked: Rule, result: GroupResult, kept: Sequence[Rule],
               differ: Differ) -> list[tuple[Rule, str]]:
    """What the envelope permits of a rule about to be revoked, as rules to authorize first, so
    that the revoke takes away only what is outside it: a ``-1`` from the VPC leaves the ports the
    options permit from the VPC, a bastion's ``tcp 20-25`` leaves its 22. When the rule let the
    cluster's own machines reach each other (a private source) and no rule from the group itself
    does (workers and scheduler talk on any port), that rule is added too. Parts that ``kept``
    rules already allow are left out."""
    group = result.group
    parts = _permitted_parts(revoked, result, differ)
    if _carried_own_traffic(revoked, group, kept, differ):
        parts.setdefault((ports.ALL, -1, -1, group.group_id), _OWN_TRAFFIC)
    name = f"{revoked.rule_id or 'the revoked rule'} ({describe_rule(revoked)})"
    out = []
    for (protocol, from_port, to_port, cidr), kind in parts.items():
        if not gaps(Grant(protocol, from_port, to_port, cidr, kind), kept, group, differ):
            continue  # already allowed by a rule that stays
        rule = Rule(protocol, from_port, to_port, cidr, None,
                    KEPT_DESCRIPTION.format(rule_id=revoked.rule_id or "a revoked rule"))
        why = (f"the part of {name} that the options permit; added first so that access stays"
               if kind == _PERMITTED_PART else
               f"{name} also let the cluster's machines reach each other; this keeps that, from "
               "the group itself (always permitted)")
        out.append((rule, why))
    return out


_PERMITTED_PART = "permitted part"
_OWN_TRAFFIC = "own traffic"


def _permitted_parts(revoked: Rule, result: GroupResult,
                     differ: Differ) -> dict[tuple[str, int, int, str], str]:
    """(protocol, from, to, source) of what the envelope permits of a rule, in envelope order."""
    group = result.group
    env = differ.envelope(result.desired, group)
    source = differ.source_of(revoked.source, group)
    rule_axis = (ports.axis_interval(revoked.protocol, revoked.from_port, revoked.to_port),)
    parts: dict[tuple[str, int, int, str], str] = {}
    for env_protocol, rects in env.items():
        if revoked.protocol != ports.ALL and env_protocol not in (revoked.protocol, ports.ALL):
            continue
        protocol = revoked.protocol if revoked.protocol != ports.ALL else env_protocol
        for rect in rects:
            axis = intervals.intersect(rule_axis, rect.axis)
            if not axis or rect.source.token == SELF:
                continue
            if source.token is not None:
                sources = [source.token] if rect.source.token == source.token else []
            else:
                sources = list(addresses.to_cidrs(intervals.intersect(source.addrs, rect.source.addrs)))
            for cidr in sources:
                for from_port, to_port in _port_ranges(protocol, axis):
                    parts.setdefault((protocol, from_port, to_port, cidr), _PERMITTED_PART)
    return parts


def _carried_own_traffic(revoked: Rule, group: Group, kept: Sequence[Rule], differ: Differ) -> bool:
    """Whether the rule was all traffic from private addresses (so it let the cluster's machines
    talk) and no rule that stays allows all traffic from the group itself."""
    source = differ.source_of(revoked.source, group)
    rule_axis = (ports.axis_interval(revoked.protocol, revoked.from_port, revoked.to_port),)
    all_traffic = revoked.protocol == ports.ALL or (
        revoked.protocol == "tcp" and ports.every_port(revoked.protocol, rule_axis))
    return (all_traffic and source.token is None
            and bool(intervals.intersect(source.addrs, addresses.private_space()))
            and not any(r.source == group.group_id and r.protocol == ports.ALL for r in kept))


def _port_ranges(protocol: str, axis: intervals.IntervalSet) -> list[tuple[int, int]]:
    """Axis intervals back to AWS's FromPort/ToPort (icmp: type and code)."""
    if protocol == ports.ALL or axis == ((ports.PORT_MIN, ports.PORT_MAX),):
        return [(-1, -1)] if protocol not in ports.PORTED else [(0, 65535)]
    if protocol in ports.ICMP:
        out = []
        for lo, hi in axis:
            for icmp_type in range(lo // 256, hi // 256 + 1):
                first, last = max(lo, icmp_type * 256), min(hi, icmp_type * 256 + 255)
                if first == icmp_type * 256 and last == icmp_type * 256 + 255:
                    out.append((icmp_type, -1))
                else:
                    out.extend((icmp_type, code % 256) for code in range(first, last + 1))
        return out
    return list(axis)


def _change(seq: int, action: Action, group: Group, rule: Rule, reason: str,
            depends_on: tuple[int, ...] = ()) -> Change:
    return Change(seq, action, group.account, group.region, group.group_id, group.group_name,
                  rule, reason, depends_on)


def _missing_key(group: Group, grant: Grant) -> str:
    source = group.group_id if grant.source == SELF else grant.source
    return finding_key("missing", group.account, group.region, group.group_id, grant.protocol,
                       grant.from_port, grant.to_port, source)


def gaps(grant: Grant, rules: Iterable[Rule], group: Group, differ: Differ) -> tuple[object, ...]:
    """The part of a required grant that ``rules`` do not allow (empty: fully covered)."""
    return differ.gaps(grant, differ.rule_rects(rules, group), group)


def covers_part(rule: Rule, grant: Grant, group: Group, differ: Differ) -> bool:
    return gaps(grant, [rule], group, differ) != gaps(grant, [], group, differ)


def signature(rule: Rule) -> tuple[str, int, int, str]:
    """What a rule allows, as a finding names it (no id, no description)."""
    return (rule.protocol, rule.from_port, rule.to_port, rule.source)


def describe_difference(before: Iterable[Rule], after: Iterable[Rule], *, with_ids: bool,
                        with_descriptions: bool = False) -> str:
    """"+1 rule: tcp 22 from 0.0.0.0/0" — empty when both hold the same rules."""
    def key(r: Rule) -> tuple[object, ...]:
        k: tuple[object, ...] = signature(r)
        if with_ids:
            k += (r.rule_id,)
        if with_descriptions:
            k += (r.description or None,)
        return k

    a = Counter(key(r) for r in before)
    b = Counter(key(r) for r in after)
    added = [r for r in after if (b - a)[key(r)]]
    gone = [r for r in before if (a - b)[key(r)]]
    parts = []
    if added:
        parts.append(f"+{len(added)} rule(s): " + "; ".join(describe_rule(r) for r in added[:3]))
    if gone:
        parts.append(f"-{len(gone)} rule(s): " + "; ".join(describe_rule(r) for r in gone[:3]))
    return ", ".join(parts)



def fix_exit_code(plan: Plan, outcomes: Sequence[Outcome], checks: Sequence[Verification],
                  complete: bool, allow_partial: bool = False) -> int:
    """0 only when every planned change was applied (or already done) and verified."""
    if not complete and not allow_partial:
        return EXIT_INCOMPLETE
    everything = (not plan.skipped and len(outcomes) == len(plan.changes)
                  and all(o.ok for o in outcomes) and all(c.ok for c in checks))
    return EXIT_OK if everything else EXIT_DRIFT


# -- rollback ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Recorded:
    """A change as the backup file recorded it, with what became of it."""

    change: Change
    result: str  # "planned", "pending" (the call may or may not have reached AWS), or an Outcome's
    new_rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """What ``--fix`` saved before its first change."""

    path: str
    #: every affected group's ingress before the fix, with ids
    before: dict[Ref, tuple[Rule, ...]]
    names: dict[Ref, str]
    changes: tuple[Recorded, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def plan_rollback(record: BackupRecord, current: Mapping[Ref, Sequence[Rule] | str]) -> Plan:
    """Undo exactly what the fix did: re-authorize what it revoked, revoke (by id) what it added.

    A change whose call may have reached AWS before a crash ("pending") is undone too: a revoked
    rule is re-authorized (a duplicate is harmless); an added rule is found by what it allows
    among the rules that were not there before.
    """
    by_group: dict[Ref, list[Recorded]] = {}
    for rec in record.changes:
        by_group.setdefault(rec.change.ref, []).append(rec)
    groups: list[GroupPlan] = []
    seq = 0
    for ref, recs in by_group.items():
        undo = [r for r in recs if r.result in (APPLIED, "pending")]
        if not undo:
            continue
        account, region, gid = ref
        base = GroupPlan(account, region, gid, record.names.get(ref, ""), ())
        rules = current.get(ref)
        if rules is None or isinstance(rules, str):
            groups.append(replace(base, skipped=f"cannot read its rules: {rules or 'not read'}"))
            continue
        moved = _moved_ids(undo, tuple(rules))
        if moved:
            groups.append(replace(base, seen=tuple(rules), skipped=moved))
            continue
        changes = _undo_changes(record, ref, undo, tuple(rules), seq)
        seq += len(changes)
        groups.append(replace(base, seen=tuple(rules), changes=tuple(changes)))
    return Plan(tuple(groups))


def _moved_ids(undo: list[Recorded], rules: tuple[Rule, ...]) -> str | None:
    """Why a group is left alone: a rule id the backup says sgaudit added now allows something
    else, so revoking it would take away a rule the fix never made."""
    now = {r.rule_id: r for r in rules if r.rule_id}
    for rec in undo:
        if rec.change.action != "authorize":
            continue
        for rule_id in rec.new_rule_ids:
            current = now.get(rule_id)
            if current is not None and signature(current) != signature(rec.change.rule):
                return (f"its rule {rule_id} allows {describe_rule(current)}, not "
                        f"{describe_rule(rec.change.rule)} as the backup says sgaudit added; left alone")
    return None


def _undo_changes(record: BackupRecord, ref: Ref, undo: list[Recorded], rules: tuple[Rule, ...],
                  seq: int) -> list[Change]:
    """Re-authorizations first (access comes back before anything is taken away), then revokes."""
    account, region, gid = ref
    group = Group(gid, record.names.get(ref, ""), None, region, account)
    before_ids = {r.rule_id for r in record.before.get(ref, ())}
    changes: list[Change] = []
    for rec in undo:
        if rec.change.action == "revoke":
            changes.append(_change(seq + len(changes) + 1, "authorize", group,
                                   replace(rec.change.rule, rule_id=None),
                                   f"rollback #{rec.change.seq}: put back {rec.change.rule.rule_id}"))
    for rec in undo:
        if rec.change.action != "authorize":
            continue
        ids = list(rec.new_rule_ids)
        if not ids:  # a crash before the ids were recorded: find the rule by what it allows
            ids = [r.rule_id for r in rules if signature(r) == signature(rec.change.rule)
                   and r.rule_id not in before_ids and r.rule_id]
        for rule_id in ids:
            changes.append(_change(seq + len(changes) + 1, "revoke", group,
                                   replace(rec.change.rule, rule_id=rule_id),
                                   f"rollback #{rec.change.seq}: remove the rule sgaudit added"))
    return changes


def _rule_of(key: tuple[Any, ...]) -> Rule:
    return Rule(key[0], key[1], key[2], key[3], None, key[4])



def describe_rule(rule: Rule, with_id: bool = False) -> str:
    """"tcp 22 from 0.0.0.0/0", "all traffic from 0.0.0.0/0", "icmp type 8 from 10.0.0.0/8"."""
    if rule.protocol == ports.ALL:
        what = "all traffic"
    elif rule.protocol in ports.PORTED or rule.protocol in ports.ICMP:
        axis = ports.axis_interval(rule.protocol, rule.from_port, rule.to_port)
        what = f"{rule.protocol} {ports.format_axis(rule.protocol, [axis])}"
    else:
        what = f"protocol {rule.protocol}"
    text = f"{what} from {rule.source}"
    if with_id and rule.rule_id:
        text = f"{rule.rule_id} ({text})"
    return text


