"""After an AWS fix or rollback: re-read the changed groups and say what still differs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sgaudit.engine.diff import Differ
from sgaudit.model import GroupResult, Rule
from sgaudit.remediate.aws.apply import read_groups
from sgaudit.remediate.aws.changes import ClientFor, Plan, Verification
from sgaudit.remediate.aws.rollback import BackupRecord
from sgaudit.remediate.aws.rules import describe_rule, signature


# -- verifying --------------------------------------------------------------------------------
def verify_fix(plan: Plan, results: Sequence[GroupResult], client_for: ClientFor,
               prefix_lists: Mapping[tuple[str, str], tuple[str, ...]] | None = None) -> list[Verification]:
    """Re-read every group the plan changes and diff it again: what is still drifted.

    Findings that were waived or baselined before the fix stay accepted.
    """
    by_ref = {(r.group.account, r.group.region, r.group.group_id): r for r in results}
    refs = [g.ref for g in plan.groups if g.changes and g.ref in by_ref]
    now = read_groups(refs, client_for)
    differ = Differ(prefix_lists)
    out = []
    for ref in refs:
        result = by_ref[ref]
        rules = now[ref]
        if isinstance(rules, str):
            out.append(Verification(ref, result.group.group_name, error=f"cannot re-read: {rules}"))
            continue
        accepted = {f.key for f in result.findings if not f.active}
        findings = differ.diff(replace(result.group, rules=rules), result.desired)
        out.append(Verification(ref, result.group.group_name,
                                tuple(f for f in findings if f.key not in accepted)))
    return out



def verify_rollback(record: BackupRecord, plan: Plan, client_for: ClientFor) -> list[Verification]:
    """Re-read the rolled-back groups; each must hold exactly the rules of the backup (what each
    rule allows and its description; rule ids of re-authorized rules are new)."""
    refs = [g.ref for g in plan.groups if g.changes and not g.skipped]
    now = read_groups(refs, client_for)
    out = []
    for ref in refs:
        name = record.names.get(ref, "")
        rules = now[ref]
        if isinstance(rules, str):
            out.append(Verification(ref, name, error=f"cannot re-read: {rules}"))
            continue
        before = record.before.get(ref, ())
        # the owner of a referenced group counts: the same sg id of another account is another
        # rule (backups written before owners were kept compare without them)
        owners = any(r.peer_account or r.peering_id for r in before)
        a = Counter(_identity(r, owners) for r in before)
        b = Counter(_identity(r, owners) for r in rules)
        diffs = [f"missing {_describe(k)}" for k in (a - b).elements()]
        diffs += [f"unexpected {_describe(k)}" for k in (b - a).elements()]
        out.append(Verification(ref, name, differences=tuple(diffs)))
    return out


def _identity(rule: Rule, owners: bool) -> tuple[object, ...]:
    """What a rule allows, its description and (for group references) whose group it is."""
    peer = (rule.peer_account, rule.peering_id) if owners and rule.source.startswith("sg-") else (None, None)
    return (*signature(rule), rule.description or None, *peer)


def _describe(key: tuple[object, ...]) -> str:
    text = describe_rule(_rule_of(key[:5]))
    account, peering = key[5], key[6]
    if account:
        text += f" (account {account}" + (f", via {peering})" if peering else ")")
    return text


def _rule_of(key: tuple[Any, ...]) -> Rule:
    return Rule(key[0], key[1], key[2], key[3], None, key[4])
