"""Google Cloud verdicts that cannot be fooled (issue 19): what a hostile tester fed sgaudit as
gcloud files, run through the CLI as a user runs it.  Each case asserts the exact findings (or
the one-line refusal, or the incomplete scan) and failed before the change it guards.

The setup is one network (project p-one-1, network net-a) with Coiled's rule for tag coiled-x:
tcp 22, 8786 and 8787 from 0.0.0.0/0, which the default options require.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Run

API = "https://www.googleapis.com/compute/v1"
PROJECT = "p-one-1"
NET = f"{API}/projects/{PROJECT}/global/networks/net-a"
OTHER_NET = f"{API}/projects/{PROJECT}/global/networks/net-b"
TAG = "coiled-x"


def vpc_rule(name: str, protocol: str = "tcp", ports: list[str] | None = None, action: str = "allowed",
             **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"IPProtocol": protocol}
    if ports is not None:
        entry["ports"] = ports
    body = {"kind": "compute#firewall", "name": name, "network": NET, "priority": 1000,
            "direction": "INGRESS", action: [entry], "sourceRanges": ["0.0.0.0/0"],
            "targetTags": [TAG]}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


COILED = vpc_rule("coiled-x-ingress", ports=["22", "8786", "8787"])


def policy_rule(priority: int, action: str = "allow", protocol: str = "tcp",
                ports: list[str] | None = None, **match: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"ipProtocol": protocol}
    if ports is not None:
        config["ports"] = ports
    return {"priority": priority, "action": action, "direction": "INGRESS",
            "match": {"srcIpRanges": ["0.0.0.0/0"], "layer4Configs": [config], **match}}


def policy(name: str, kind: str, *rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "shortName": name, "type": kind, "rules": list(rules), **fields}


class Files:
    """gcloud's files for net-a, written to a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, name: str, data: Any) -> str:
        path = self.folder / name
        path.write_text(json.dumps(data))
        return str(path)

    def standard(self, rules: list[dict[str, Any]], policies: list[dict[str, Any]],
                 networks: list[dict[str, Any]] | None = None,
                 effective_rules: list[dict[str, Any]] | None = None) -> list[str]:
        """The firewall-rules list, subnets, networks list and get-effective-firewalls."""
        subnet = {"kind": "compute#subnetwork", "name": "s1", "network": NET, "ipCidrRange": "10.0.0.0/16",
                  "region": f"{API}/projects/{PROJECT}/regions/us-east1"}
        nets = networks if networks is not None else [
            {"kind": "compute#network", "name": "net-a", "selfLink": NET}]
        return [self.write("firewall-rules.json", rules), self.write("subnets.json", [subnet]),
                self.write("networks.json", nets),
                self.write("effective.json", {"firewalls": rules if effective_rules is None
                                              else effective_rules, "firewallPolicys": policies})]


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def check(sgaudit: Callable[..., Run], paths: list[str], *extra: str) -> tuple[int, dict[str, Any]]:
    snapshots = [a for p in paths for a in ("--snapshot", p)]
    run = sgaudit("check", *snapshots, "--format", "json", "--fail-on-drift", *extra)
    assert run.code in (0, 1, 3), run.err
    return run.code, json.loads(run.out)


def findings(report: dict[str, Any]) -> list[tuple[str, str, int, int, str, list[str], str]]:
    return sorted((f["kind"], f["protocol"], f["from_port"], f["to_port"], f["source"], f["rule_ids"],
                   f["severity"]) for f in report["findings"])


def reason(report: dict[str, Any], kind: str, port: int) -> str:
    (found,) = [f for f in report["findings"] if f["kind"] == kind and f["from_port"] == port]
    return str(found["reason"])


# -- 1. system firewall policies --------------------------------------------------------------
def test_a_regional_system_allow_of_everything_is_exposure(sgaudit: Callable[..., Run],
                                                           files: Files) -> None:
    """A gcloud file does not name the region of its system policy: it possibly applies, and
    an allow that possibly applies is exposure (before: "1 of 1 match", exit 0)."""
    system = policy("gke-system", "SYSTEM_REGIONAL", policy_rule(10, protocol="all"))
    code, report = check(sgaudit, files.standard([COILED], [system]))
    assert code == 1
    assert findings(report) == [("extra", "-1", -1, -1, "0.0.0.0/0", ["gke-system/10"], "critical")]
    assert "possibly applies" in reason(report, "extra", -1)
    assert "(regional system policy gke-system (region unknown))" in reason(report, "extra", -1)


def test_a_regional_system_deny_takes_required_ingress_away(sgaudit: Callable[..., Run],
                                                            files: Files) -> None:
    system = policy("gke-system", "SYSTEM_REGIONAL", policy_rule(10, "deny", ports=["8786"]))
    code, report = check(sgaudit, files.standard([COILED], [system]))
    assert code == 1
    assert findings(report) == [("missing", "tcp", 8786, 8786, "0.0.0.0/0", [], "medium")]
    assert "taken away by gke-system/10 (deny, priority 10 of regional system policy gke-system " \
           "(region unknown), possibly applies)" in reason(report, "missing", 8786)


def test_a_global_system_policy_possibly_applies_and_leaves_the_network_incomplete(
        sgaudit: Callable[..., Run], files: Files) -> None:
    """Google does not document where a global system policy is evaluated: its allow is
    exposure, and the scan is incomplete (exit 3) rather than guessed."""
    system = policy("sys-global", "SYSTEM_GLOBAL", policy_rule(10, protocol="all"),
                    policy_rule(2147483645, "goto_next", protocol="all"))
    code, report = check(sgaudit, files.standard([COILED], [system]))
    assert code == 3 and report["complete"] is False
    assert [(e["account"], e["code"]) for e in report["errors"]] == [(PROJECT, "SystemPolicyOrderUnknown")]
    assert findings(report) == [("extra", "-1", -1, -1, "0.0.0.0/0", ["sys-global/10"], "critical")]
    assert "global system policy, whose place in the evaluation order Google does not document" in \
        reason(report, "extra", -1)


def test_a_global_system_policy_of_only_goto_next_changes_nothing(sgaudit: Callable[..., Run],
                                                                  files: Files) -> None:
    system = policy("sys-global", "SYSTEM", policy_rule(2147483645, "goto_next", protocol="all"))
    code, report = check(sgaudit, files.standard([COILED], [system]))
    assert (code, findings(report), report["errors"]) == (0, [], [])


# -- 2. narrowing match fields AND -------------------------------------------------------------
def test_an_org_deny_narrowed_to_vpc_networks_does_not_hide_a_world_open_rdp_rule(
        sgaudit: Callable[..., Run], files: Files) -> None:
    org = policy("org", "HIERARCHY", policy_rule(5, "deny", ports=["3389"], srcNetworkType="VPC_NETWORKS"))
    rdp = vpc_rule("rdp-world", ports=["3389"])
    code, report = check(sgaudit, files.standard([COILED, rdp], [org]))
    assert code == 1
    assert findings(report) == [("extra", "tcp", 3389, 3389, "0.0.0.0/0", ["rdp-world"], "critical")]


def test_an_allow_narrowed_by_network_type_never_satisfies_a_required_rule(
        sgaudit: Callable[..., Run], files: Files) -> None:
    org = policy("org", "HIERARCHY", policy_rule(5, ports=["8786"], srcNetworkContext="INTERNET"))
    partial = vpc_rule("coiled-x-ingress", ports=["22", "8787"])
    code, report = check(sgaudit, files.standard([partial], [org]))
    assert code == 1
    assert findings(report) == [("missing", "tcp", 8786, 8786, "0.0.0.0/0", [], "medium")]
    assert "not counted (only possibly applies): org/5" in reason(report, "missing", 8786)


@pytest.mark.parametrize("narrowing", [{"srcNetworkType": "INTERNET"}, {"srcNetworks": [OTHER_NET]},
                                       {"destIpRanges": ["10.0.0.5/32"]}, {"destNetworkScope": "INTERNET"}])
def test_every_narrowing_field_makes_a_deny_only_possible(sgaudit: Callable[..., Run], files: Files,
                                                          narrowing: dict[str, Any]) -> None:
    org = policy("org", "HIERARCHY", policy_rule(5, "deny", ports=["22"], **narrowing))
    code, report = check(sgaudit, files.standard([COILED], [org]))
    assert code == 1
    assert findings(report) == [("missing", "tcp", 22, 22, "0.0.0.0/0", [], "medium")]
    assert reason(report, "missing", 22).startswith(
        "not effectively allowed; taken away by org/5 (deny, priority 5 of hierarchical policy org, "
        "possibly applies)")


# -- 3. the enforcement order, per network ----------------------------------------------------
def test_a_networks_file_of_another_network_leaves_the_order_unknown(sgaudit: Callable[..., Run],
                                                                      files: Files) -> None:
    net_policy = policy("net-pol", "NETWORK", policy_rule(5, ports=["9000"]))
    other = [{"kind": "compute#network", "name": "net-b", "selfLink": OTHER_NET,
              "networkFirewallPolicyEnforcementOrder": "BEFORE_CLASSIC_FIREWALL"}]
    paths = files.standard([COILED], [net_policy], networks=[])
    paths[2] = files.write("networks.json", other[0])  # `gcloud compute networks describe net-b`
    code, report = check(sgaudit, paths)
    assert code == 3
    assert [(e["account"], e["code"], e["message"]) for e in report["errors"]] == [
        (PROJECT, "EnforcementOrderUnknown", "network net-a has network firewall policies but its "
         "enforcement order is unknown (add `gcloud compute networks list --format=json`, or `gcloud "
         "compute networks describe net-a --format=json`)")]


# -- 4. two inputs that disagree about a network's rules --------------------------------------
def test_a_rule_only_in_the_effective_answer_is_a_contradiction(sgaudit: Callable[..., Run],
                                                                files: Files) -> None:
    open_all = vpc_rule("open-all", protocol="all", targetTags=None)
    paths = files.standard([COILED], [], effective_rules=[COILED, open_all])  # a --filter'ed list
    run = sgaudit("check", *[a for p in paths for a in ("--snapshot", p)])
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [
        f"sgaudit: error: {paths[3]}: firewall rule 'open-all' of network net-a (project {PROJECT}) is in "
        f"this get-effective-firewalls answer but not in the firewall-rules list {paths[0]}; pass inputs "
        "taken at the same time (an unfiltered `gcloud compute firewall-rules list`)"]


def test_an_enabled_rule_only_in_the_list_is_a_contradiction(sgaudit: Callable[..., Run],
                                                             files: Files) -> None:
    deny = vpc_rule("deny-ssh", ports=["22"], action="denied", priority=10)
    paths = files.standard([COILED, deny], [], effective_rules=[COILED])
    run = sgaudit("check", *[a for p in paths for a in ("--snapshot", p)])
    assert run.code == 2
    assert run.err_lines == [
        f"sgaudit: error: {paths[0]}: firewall rule 'deny-ssh' of network net-a (project {PROJECT}) is not "
        f"in the get-effective-firewalls answer {paths[3]} of that network; pass inputs taken at the "
        "same time"]


def test_a_rule_differing_between_list_and_answer_names_both_files(sgaudit: Callable[..., Run],
                                                                   files: Files) -> None:
    wider = dict(COILED, sourceRanges=["0.0.0.0/0", "::/0"])
    paths = files.standard([COILED], [], effective_rules=[wider])
    run = sgaudit("check", *[a for p in paths for a in ("--snapshot", p)])
    assert run.code == 2
    assert run.err_lines == [
        f"sgaudit: error: {paths[3]}: firewall rule 'coiled-x-ingress' of project {PROJECT} is also in "
        f"{paths[0]} with different contents; pass one copy (which one is current cannot be told)"]


def test_the_effective_answer_alone_still_gives_its_rules(sgaudit: Callable[..., Run], files: Files) -> None:
    open_all = vpc_rule("open-all", protocol="all", targetTags=None)
    paths = files.standard([COILED, open_all], [])
    code, report = check(sgaudit, paths[1:])  # no firewall-rules list
    assert code == 1
    assert findings(report) == [("extra", "-1", -1, -1, "0.0.0.0/0", ["open-all"], "critical")]


# -- 12. Google-sourced matches are public ----------------------------------------------------
@pytest.mark.parametrize(("source", "protocol", "ports", "severity"), [
    ({"srcRegionCodes": ["CN"]}, "tcp", ["22"], "critical"),
    ({"srcThreatIntelligences": ["iplist-tor-exit-nodes"]}, "tcp", ["8080"], "high"),
    ({"srcFqdns": ["example.com"]}, "all", None, "critical"),
    ({"srcAddressGroups": ["projects/p/locations/global/addressGroups/g"]}, "udp", ["53"], "high"),
    ({"srcSecureTags": [{"name": "tagValues/1"}]}, "tcp", ["8080"], "medium"),
])
def test_public_policy_sources_rate_as_public(sgaudit: Callable[..., Run], files: Files,
                                              source: dict[str, Any], protocol: str,
                                              ports: list[str] | None, severity: str) -> None:
    rule = policy_rule(5, protocol=protocol, ports=ports, **source)
    del rule["match"]["srcIpRanges"]
    code, report = check(sgaudit, files.standard([COILED], [policy("org", "HIERARCHY", rule)]))
    assert code == 1
    [(kind, _, _, _, _, rule_ids, rated)] = findings(report)
    assert (kind, rule_ids, rated) == ("extra", ["org/5"], severity)


# -- 13. policy rules GCP would refuse --------------------------------------------------------
POLICY_AT = "$.firewallPolicys[0].rules"


@pytest.mark.parametrize(("rules", "error"), [
    ([{"priority": 5, "action": "allow", "direction": "INGRESS", "match": {"srcIpRanges": ["0.0.0.0/0"]}}],
     f"{POLICY_AT}[0] (policy rule org/5).match.layer4Configs: missing or empty (GCP requires at least "
     "one protocol in a firewall policy rule)"),
    ([dict(policy_rule(5), targetType="VPN_GATEWAYS")],
     f"{POLICY_AT}[0] (policy rule org/5).targetType: unknown target type 'VPN_GATEWAYS' (expected "
     "INSTANCES or INTERNAL_MANAGED_LB); whom the rule reaches cannot be told"),
    ([policy_rule(5, "deny", ports=["22"]), policy_rule(5, ports=["22"])],
     f"{POLICY_AT}[1].priority: priority 5 is also rules[0]'s in policy 'org' (GCP keeps a policy's "
     "priorities unique; which rule comes first cannot be told)"),
    ([policy_rule(5, srcNetworkFlavour="X")],
     f"{POLICY_AT}[0] (policy rule org/5).match.srcNetworkFlavour: a match field sgaudit does not know "
     "(whether it widens or narrows the rule cannot be told)"),
])
def test_policy_rules_gcp_would_refuse_are_refused(sgaudit: Callable[..., Run], files: Files,
                                                   rules: list[dict[str, Any]], error: str) -> None:
    paths = files.standard([COILED], [policy("org", "HIERARCHY", *rules)])
    run = sgaudit("check", *[a for p in paths for a in ("--snapshot", p)])
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f"sgaudit: error: {paths[3]}: {error}"]


def test_organization_firewalls_are_not_silently_ignored(sgaudit: Callable[..., Run], files: Files) -> None:
    path = files.write("effective.json", {"firewalls": [COILED], "organizationFirewalls": [
        {"id": "123", "rules": [{"priority": 1, "action": "allow", "direction": "INGRESS"}]}]})
    run = sgaudit("check", "--snapshot", path)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [
        f"sgaudit: error: {path}: $.organizationFirewalls: the deprecated form of hierarchical policies, "
        "which sgaudit does not read; pass an answer that lists them under 'firewallPolicys' (a current "
        "gcloud)"]


# -- 15. the GCP parts ------------------------------------------------------------------------
def test_two_hierarchical_policies_with_one_name_give_two_keys(sgaudit: Callable[..., Run],
                                                               files: Files) -> None:
    org = {"name": "111", "shortName": "baseline", "type": "HIERARCHY",
           "rules": [policy_rule(5, ports=["80"])]}
    folder = {"name": "222", "shortName": "baseline", "type": "HIERARCHY",
              "rules": [policy_rule(5, ports=["81"])]}
    code, report = check(sgaudit, files.standard([COILED], [org, folder]))
    assert code == 1
    assert findings(report) == [("extra", "tcp", 80, 80, "0.0.0.0/0", ["baseline[111]/5"], "high"),
                                ("extra", "tcp", 81, 81, "0.0.0.0/0", ["baseline[222]/5"], "high")]
    assert len({f["key"] for f in report["findings"]}) == 2


def test_a_single_firewall_rule_describe_is_read(sgaudit: Callable[..., Run], files: Files) -> None:
    """`gcloud compute firewall-rules describe` prints one object: a GCP file, not an AWS one."""
    path = files.write("rule.json", vpc_rule("ssh-world", ports=["22"]))
    code, report = check(sgaudit, [path])
    assert code == 3  # the network's policies and subnets were not read
    assert findings(report) == [("missing", "tcp", 8786, 8786, "0.0.0.0/0", [], "medium"),
                                ("missing", "tcp", 8787, 8787, "0.0.0.0/0", [], "medium")]
    assert [e["code"] for e in report["errors"]] == ["PoliciesNotRead"]


def test_a_label_on_a_gcloud_file_is_refused(sgaudit: Callable[..., Run], files: Files) -> None:
    path = files.write("rules.json", [COILED])
    run = sgaudit("check", "--snapshot", f"us-east-1:{path}")
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f"sgaudit: error: {path}: the label 'us-east-1' applies to AWS CLI output "
                             "only; a gcloud file names its project in its resources' URLs (pass the "
                             "file without the label)"]


def test_an_unresolved_gcp_target_speaks_of_subnets_not_describe_vpcs(sgaudit: Callable[..., Run],
                                                                      files: Files) -> None:
    paths = files.standard([COILED], [])
    paths[1] = files.write("subnets.json", [{"kind": "compute#subnetwork", "name": "s6", "network": NET,
                                             "internalIpv6Prefix": "fd20::/64"}])
    policy_file = files.folder / "policy.yaml"
    policy_file.write_text("backend_options: {disable_public_ingress: true}\n")
    code, report = check(sgaudit, paths, "--policy", policy_file)
    assert code == 3
    [error] = report["errors"]
    assert error["code"] == "Unresolved" and "describe-vpcs" not in error["message"]
    assert error["message"] == (
        "net-a/coiled-x: the network's first IPv4 subnet range is needed (the source of ingress "
        "\"from the network\") but the network has no IPv4 subnet range in `gcloud compute networks "
        "subnets list`")


def test_a_network_type_alone_matches_ipv4_and_ipv6(sgaudit: Callable[..., Run], files: Files) -> None:
    """An allow whose only source is a network type reaches every address of that type: both
    families are exposure (it possibly applies)."""
    rule = policy_rule(5, ports=["8080"], srcNetworkType="INTERNET")
    del rule["match"]["srcIpRanges"]
    code, report = check(sgaudit, files.standard([COILED], [policy("org", "HIERARCHY", rule)]))
    assert code == 1
    assert findings(report) == [("extra", "tcp", 8080, 8080, "0.0.0.0/0", ["org/5"], "high"),
                                ("extra", "tcp", 8080, 8080, "::/0", ["org/5"], "high")]
