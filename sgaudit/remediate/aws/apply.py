"""Applying a plan to EC2: reading rules with their ids, one call per change, AWS errors as
outcomes. Talks to an injected, duck-typed EC2 client (boto3's, in production); an AWS error
is recognised by ``exc.response["Error"]["Code"]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from sgaudit.model import Rule
from sgaudit.net import ports
from sgaudit.remediate.aws.changes import (
    ALREADY_DONE,
    APPLIED,
    FAILED,
    SKIPPED,
    Change,
    ClientFor,
    GroupPlan,
    Outcome,
    Plan,
    Ref,
)
from sgaudit.remediate.aws.rules import describe_difference
from sgaudit.sources.awsjson import error_code, error_text, read_ingress

#: what AWS answers when the work is already done
ALREADY_CODES = {
    "authorize": frozenset({"InvalidPermission.Duplicate"}),
    "revoke": frozenset({"InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound"}),
}


# -- reading rules ----------------------------------------------------------------------------
def read_groups(refs: Iterable[Ref], client_for: ClientFor) -> dict[Ref, tuple[Rule, ...] | str]:
    """Ingress of many groups, one batch per account and region; an unreadable batch maps
    each of its groups to the error text."""
    by_place: dict[tuple[str, str], list[str]] = {}
    for account, region, gid in refs:
        by_place.setdefault((account, region), []).append(gid)
    out: dict[Ref, tuple[Rule, ...] | str] = {}
    for (account, region), gids in by_place.items():
        try:
            found = read_ingress(client_for(account, region), gids)
        except Exception as exc:
            for gid in gids:
                out[(account, region, gid)] = error_text(exc)
            continue
        for gid in gids:
            out[(account, region, gid)] = found[gid]
    return out


# -- applying ---------------------------------------------------------------------------------
class Journal(Protocol):
    """Told about each change before and after its call (the backup file records both)."""

    def started(self, change: Change) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


class _NoJournal:
    def started(self, change: Change) -> None:
        pass

    def finished(self, outcome: Outcome) -> None:
        pass


def apply_plan(plan: Plan, client_for: ClientFor, journal: Journal | None = None,
               on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Apply group by group; every change gets exactly one outcome."""
    journal = journal or _NoJournal()
    outcomes: list[Outcome] = []
    for gp in plan.groups:
        if gp.skipped or not gp.changes:
            continue
        for outcome in _apply_group(gp, client_for, journal):
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    return outcomes


def _apply_group(gp: GroupPlan, client_for: ClientFor, journal: Journal) -> Iterator[Outcome]:
    """One group's changes, in order, after checking that the group is still as planned."""
    try:
        client = client_for(gp.account, gp.region)
        now = read_ingress(client, [gp.group_id])[gp.group_id]
    except Exception as exc:
        for change in gp.changes:
            yield Outcome(change, FAILED, f"cannot re-read the group: {error_text(exc)}")
        return
    moved = describe_difference(gp.seen, now, with_ids=True)
    if moved:
        for change in gp.changes:
            yield Outcome(change, SKIPPED, f"stale: the group changed since the plan ({moved})")
        return
    done: dict[int, Outcome] = {}
    for change in gp.changes:
        unmet = [s for s in change.depends_on if not (s in done and done[s].ok)]
        if unmet:
            outcome = Outcome(change, SKIPPED, "not attempted: needs change "
                              + ", ".join(f"#{s}" for s in unmet) + " to succeed first")
        else:
            journal.started(change)
            outcome = execute(client, change)
            journal.finished(outcome)
        done[change.seq] = outcome
        yield outcome


def execute(client: Any, change: Change) -> Outcome:
    """One API call; AWS errors become outcomes, never exceptions."""
    try:
        if change.action == "authorize":
            response = client.authorize_security_group_ingress(
                GroupId=change.group_id, IpPermissions=[ip_permission(change.rule)])
            new_ids = tuple(r["SecurityGroupRuleId"] for r in (response or {}).get("SecurityGroupRules", [])
                            if r.get("SecurityGroupRuleId"))
        else:
            if not change.rule.rule_id:
                return Outcome(change, FAILED, "no rule id to revoke")
            response = client.revoke_security_group_ingress(
                GroupId=change.group_id, SecurityGroupRuleIds=[change.rule.rule_id])
            new_ids = ()
    except Exception as exc:
        if error_code(exc) in ALREADY_CODES[change.action]:
            return Outcome(change, ALREADY_DONE, error_code(exc))
        return Outcome(change, FAILED, error_text(exc))
    if not isinstance(response, Mapping) or response.get("Return") is not True:
        # an HTML page with status 200 parses into an empty "success": not a change AWS made
        return Outcome(change, FAILED, "AWS did not confirm the change (no Return=true in its "
                                       "answer; a proxy in the way?)")
    return Outcome(change, APPLIED, new_rule_ids=new_ids)


def ip_permission(rule: Rule) -> dict[str, Any]:
    """The ``IpPermission`` that holds exactly this one rule (one source)."""
    perm: dict[str, Any] = {"IpProtocol": rule.protocol}
    has_ports = rule.protocol in ports.PORTED or rule.protocol in ports.ICMP
    if has_ports or (rule.protocol != ports.ALL and (rule.from_port, rule.to_port) != (-1, -1)):
        perm["FromPort"], perm["ToPort"] = rule.from_port, rule.to_port
    entry: dict[str, Any] = {"Description": rule.description} if rule.description else {}
    source = rule.source
    if source.startswith("sg-"):
        # without UserId AWS takes the caller's account: a cross-account reference would change
        pair = {"GroupId": source, "UserId": rule.peer_account,
                "VpcPeeringConnectionId": rule.peering_id}
        perm["UserIdGroupPairs"] = [{**{k: v for k, v in pair.items() if v}, **entry}]
    elif source.startswith("pl-"):
        perm["PrefixListIds"] = [{"PrefixListId": source, **entry}]
    elif ":" in source:
        perm["Ipv6Ranges"] = [{"CidrIpv6": source, **entry}]
    else:
        perm["IpRanges"] = [{"CidrIp": source, **entry}]
    return perm


