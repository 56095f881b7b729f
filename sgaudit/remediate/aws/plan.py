"""The AWS fix plan: a pure function of the findings, the desired states and the ingress
rules (with their ids) that were read. Applying is ``aws.apply``'s job; undoing, ``aws.rollback``'s.

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from sgaudit.engine.diff import Differ, finding_key
from sgaudit.engine.resolve import SELF
from sgaudit.model import Finding, Grant, Group, GroupResult, Rule
from sgaudit.remediate.aws.changes import RESTORED_DESCRIPTION, Change, GroupPlan, Plan, Ref, new_change
from sgaudit.remediate.aws.kept import kept_parts
from sgaudit.remediate.aws.rules import covers_part, describe_difference, gaps, signature


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
        changes.append(new_change(seq + len(changes) + 1, "authorize", group, rule, reason))
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
        changes.append(new_change(seq + len(changes) + 1, "revoke", group, rule,
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


def _missing_key(group: Group, grant: Grant) -> str:
    source = group.group_id if grant.source == SELF else grant.source
    return finding_key("missing", group.account, group.region, group.group_id, grant.protocol,
                       grant.from_port, grant.to_port, source)
