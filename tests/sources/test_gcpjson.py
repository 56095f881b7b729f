"""gcloud JSON files as snapshot input: detection by content, strict parsing (one line naming the
file, rule and value, exit 2), the GcpState they give, and mixes with AWS files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Run

from sgaudit.errors import SnapshotError
from sgaudit.model import FirewallMatch, FirewallPolicy, FirewallRule, Matcher
from sgaudit.sources import gcpjson
from sgaudit.sources.snapshot import SnapshotSource

GCP = FIXTURES / "gcp"
FILES = [GCP / n for n in ("firewall-rules.json", "subnets.json", "networks.json",
                           "effective-firewalls-coiled-net.json", "instances.json")]
API = "https://www.googleapis.com/compute/v1"
NET = f"{API}/projects/p-one-1/global/networks/net-a"


def write(tmp_path: Path, data: Any, name: str = "gcp.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def rule(**fields: Any) -> dict[str, Any]:
    base = {"kind": "compute#firewall", "name": "r1", "network": NET, "priority": 1000,
            "direction": "INGRESS", "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}],
            "sourceRanges": ["0.0.0.0/0"], "targetTags": ["coiled-x"]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def read(*paths: str | Path) -> Any:
    return SnapshotSource([str(p) for p in paths]).read(Matcher())


# -- the fixture set --------------------------------------------------------------------------
def test_fixture_files_give_the_whole_state() -> None:
    snap = read(*FILES)
    state = snap.gcp
    assert snap.groups == () and snap.errors == ()
    assert snap.read == () and state.read == (("coiled-demo", "coiled-net"),)
    [(key, network)] = state.networks.items()
    assert key == ("coiled-demo", "coiled-net")
    assert network.enforcement_order == "AFTER_CLASSIC_FIREWALL"
    assert network.subnet_ranges == ("10.128.0.0/20", "fd20:a1b:c2d::/64", "10.4.0.0/14")
    [policy] = network.policies
    assert (policy.name, policy.kind, policy.order) == ("org-baseline", "hierarchical", 0)
    assert [(r.name, r.action, r.direction) for r in policy.rules] == [
        ("org-baseline/1000", "deny", "INGRESS"), ("org-baseline/2147483644", "goto_next", "EGRESS"),
        ("org-baseline/2147483645", "goto_next", "INGRESS"),
        ("org-baseline/2147483646", "goto_next", "EGRESS"),
        ("org-baseline/2147483647", "goto_next", "INGRESS")]
    assert policy.rules[0] == FirewallRule(
        name="org-baseline/1000", project="coiled-demo", network="coiled-net", priority=1000,
        action="deny", matches=(FirewallMatch("tcp", ((8786, 8786),)),), source_ranges=("0.0.0.0/0",),
        target_service_accounts=("batch-runner@coiled-demo.iam.gserviceaccount.com",),
        description="no public schedulers for batch jobs")
    assert len(state.firewalls) == 14
    by_name = {r.name: r for r in state.firewalls}
    assert by_name["coiled-ml-jobs-deny"] == FirewallRule(
        name="coiled-ml-jobs-deny", project="coiled-demo", network="coiled-net", priority=900,
        action="deny", matches=(FirewallMatch("tcp", ((9000, 9100),)),), source_ranges=("0.0.0.0/0",),
        target_tags=("coiled-ml",), description="blocks coiled-ml-jobs-world")
    assert by_name["coiled-ml-rdp-world"].disabled is True
    assert by_name["coiled-gpu-dask-v6"].source_ranges == ("::/0",)
    assert by_name["coiled-etl-dask"].matches == (FirewallMatch("tcp", ((8786, 8787),)),)
    assert by_name["coiled-egress-all"].direction == "EGRESS"
    assert by_name["coiled-egress-all"].source_ranges == ()
    assert by_name["coiled-egress-all"].matches == (FirewallMatch("-1", ()),)
    assert by_name["notebook-sa-world"].target_service_accounts == (
        "gpu-runner@coiled-demo.iam.gserviceaccount.com",)
    instances = state.instances[("coiled-demo", "coiled-net")]
    assert [(i.name, i.tags, i.service_accounts) for i in instances][2] == (
        "coiled-batch-scheduler", ("coiled-batch",), ("batch-runner@coiled-demo.iam.gserviceaccount.com",))


def test_order_of_files_does_not_matter() -> None:
    assert read(*FILES).gcp == read(*reversed(FILES)).gcp


def test_what_was_not_read_stays_unknown(tmp_path: Path) -> None:
    """Without subnets, policies or instances those fields say "not read", not "none"."""
    snap = read(GCP / "firewall-rules.json")
    network = snap.gcp.networks[("coiled-demo", "coiled-net")]
    assert network.subnet_ranges is None and network.policies is None
    assert snap.gcp.instances == {}
    assert snap.gcp.read == ()  # not complete: no subnets, no effective firewalls


def test_gcp_only_run_is_not_refused_and_aws_only_vpcs_still_is(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", "--snapshot", GCP / "firewall-rules.json", "--snapshot", GCP / "subnets.json",
                  "--snapshot", GCP / "networks.json",
                  "--snapshot", GCP / "effective-firewalls-coiled-net.json", "-f", "json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["complete"] is True
    # without get-effective-firewalls the network's policies are unknown: incomplete, never clean
    run = sgaudit("check", "--snapshot", GCP / "firewall-rules.json", "-f", "json")
    assert run.code == 3, run.err
    assert [e["code"] for e in json.loads(run.out)["errors"]] == ["PoliciesNotRead"]
    run = sgaudit("check", "--snapshot", FIXTURES / "vpcs.json")
    assert run.code == 2
    assert "no gcloud firewall rules in any --snapshot file: there is nothing to audit" in run.err


def test_subnets_alone_are_nothing_to_audit(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", "--snapshot", GCP / "subnets.json", "--snapshot", GCP / "networks.json")
    assert run.code == 2 and "there is nothing to audit" in run.err


def test_aws_and_gcp_files_in_one_run() -> None:
    snap = read(FIXTURES / "security-groups.json", FIXTURES / "vpcs.json", *FILES)
    aws_only = read(FIXTURES / "security-groups.json", FIXTURES / "vpcs.json")
    assert snap.groups == aws_only.groups and snap.vpcs == aws_only.vpcs
    assert aws_only.gcp is None
    assert snap.gcp == read(*FILES).gcp


def test_empty_gcloud_list_adds_nothing(tmp_path: Path) -> None:
    empty = write(tmp_path, [], "instances.json")
    assert read(GCP / "firewall-rules.json", empty).gcp == read(GCP / "firewall-rules.json").gcp


def test_networks_describe_output_is_one_network(tmp_path: Path) -> None:
    [network] = json.loads((GCP / "networks.json").read_text())
    network["networkFirewallPolicyEnforcementOrder"] = "BEFORE_CLASSIC_FIREWALL"
    path = write(tmp_path, network, "describe.json")
    state = read(GCP / "firewall-rules.json", path).gcp
    assert state.networks[("coiled-demo", "coiled-net")].enforcement_order == "BEFORE_CLASSIC_FIREWALL"


# -- rule semantics the parser fixes ------------------------------------------------------------
def test_ingress_rule_without_sources_is_from_anywhere(tmp_path: Path) -> None:
    """GCP gives an ingress rule that names no source 0.0.0.0/0."""
    path = write(tmp_path, [rule(sourceRanges=None)])
    [parsed] = read(path).gcp.firewalls
    assert parsed.source_ranges == ("0.0.0.0/0",)
    path = write(tmp_path, [rule(sourceRanges=None, sourceTags=["coiled-x"])])
    [parsed] = read(path).gcp.firewalls
    assert (parsed.source_ranges, parsed.source_tags) == ((), ("coiled-x",))


@pytest.mark.parametrize(("entry", "match"), [
    ({"IPProtocol": "all"}, FirewallMatch("-1", ())),
    ({"IPProtocol": "tcp"}, FirewallMatch("tcp", ())),
    ({"IPProtocol": "udp", "ports": ["53", "1000-2000", "1500-2500"]},
     FirewallMatch("udp", ((53, 53), (1000, 2500)))),
    ({"IPProtocol": "6", "ports": ["0-65535"]}, FirewallMatch("tcp", ((0, 65535),))),
    ({"IPProtocol": "icmp"}, FirewallMatch("icmp", ())),
    ({"IPProtocol": "58"}, FirewallMatch("icmpv6", ())),
    ({"IPProtocol": "esp"}, FirewallMatch("50", ())),
    ({"IPProtocol": "ah"}, FirewallMatch("51", ())),
    ({"IPProtocol": "ipip"}, FirewallMatch("4", ())),
    ({"IPProtocol": "sctp", "ports": ["9000"]}, FirewallMatch("132", ((9000, 9000),))),
    ({"IPProtocol": "47"}, FirewallMatch("47", ())),
])
def test_protocols_and_ports(tmp_path: Path, entry: dict[str, Any], match: FirewallMatch) -> None:
    [parsed] = read(write(tmp_path, [rule(allowed=[entry])])).gcp.firewalls
    assert parsed.matches == (match,)


def test_priority_defaults_to_1000_and_disabled_to_false(tmp_path: Path) -> None:
    [parsed] = read(write(tmp_path, [rule(priority=None, disabled=None)])).gcp.firewalls
    assert (parsed.priority, parsed.disabled, parsed.action) == (1000, False, "allow")


def test_non_canonical_cidr_is_normalised(tmp_path: Path) -> None:
    [parsed] = read(write(tmp_path, [rule(sourceRanges=["10.1.0.2/16", "2001:DB8::/32"])])).gcp.firewalls
    assert parsed.source_ranges == ("10.1.0.0/16", "2001:db8::/32")


def _effective(policies: list[dict[str, Any]],
               firewalls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"firewalls": firewalls if firewalls is not None else [rule()], "firewallPolicys": policies}


def _policy_rule(priority: int, action: str = "allow", **extra: Any) -> dict[str, Any]:
    body = {"priority": priority, "action": action, "direction": "INGRESS",
            "match": {"srcIpRanges": ["0.0.0.0/0"],
                      "layer4Configs": [{"ipProtocol": "tcp", "ports": ["22"]}]}}
    body.update(extra)
    return body


def test_policies_in_evaluation_order(tmp_path: Path) -> None:
    """Hierarchical policies first, as listed (organization, then folders), then network
    policies by association priority; rules that target other networks or load balancers drop."""
    policies = [
        {"name": "222", "shortName": "net-b", "type": "NETWORK", "priority": 20, "rules": [_policy_rule(5)]},
        {"name": "111", "displayName": "org", "type": "HIERARCHY", "rules": [
            _policy_rule(10, "deny"),
            _policy_rule(11, targetResources=[f"{API}/projects/p-one-1/global/networks/other"]),
            _policy_rule(12, targetResources=[NET]),
            _policy_rule(13, targetType="INTERNAL_MANAGED_LB"),
            _policy_rule(14, "apply_security_profile_group"),
        ]},
        {"name": "333", "type": "HIERARCHY", "rules": [_policy_rule(1, "goto_next")]},
        {"name": "444", "shortName": "net-a", "type": "NETWORK", "priority": 10, "rules": [
            _policy_rule(7, match={"srcSecureTags": [{"name": "tagValues/123", "state": "EFFECTIVE"}],
                                   "srcFqdns": ["example.com"], "srcNetworkType": "INTERNET",
                                   "layer4Configs": [{"ipProtocol": "all"}]},
                         targetSecureTags=[{"name": "tagValues/9"}])]},
    ]
    state = read(write(tmp_path, _effective(policies))).gcp
    got = state.networks[("p-one-1", "net-a")].policies
    assert [(p.name, p.kind, p.order) for p in got] == [
        ("org", "hierarchical", 0), ("333", "hierarchical", 1), ("net-a", "network", 0),
        ("net-b", "network", 0)]
    assert [(r.name, r.action) for r in got[0].rules] == [
        ("org/10", "deny"), ("org/12", "allow"), ("org/14", "allow")]
    assert got[2].rules[0] == FirewallRule(
        name="net-a/7", project="p-one-1", network="net-a", priority=7, action="allow",
        matches=(FirewallMatch("-1", ()),),
        source_other=("srcSecureTags:tagValues/123", "srcFqdns:example.com"),
        target_secure_tags=("tagValues/9",), conditions=("srcNetworkType:INTERNET",))
    # network policies without the networks list: their place in the order is unknown
    assert [(e.account, e.code) for e in read(write(tmp_path, _effective(policies))).errors] == [
        ("p-one-1", "EnforcementOrderUnknown")]


def test_effective_firewalls_without_vpc_rules_take_the_one_network_named_elsewhere(
        tmp_path: Path) -> None:
    eff = write(tmp_path, _effective([{"name": "1", "type": "HIERARCHY", "rules": [_policy_rule(3)]}], []))
    rules = write(tmp_path, [rule(disabled=True)], "rules.json")  # an enabled one must be in both
    state = read(rules, eff).gcp
    assert [p.name for p in state.networks[("p-one-1", "net-a")].policies] == ["1"]


def test_effective_firewalls_of_unknown_network_is_refused(sgaudit: Callable[..., Run],
                                                           tmp_path: Path) -> None:
    eff = write(tmp_path, _effective([], []))
    run = sgaudit("check", "--snapshot", eff)
    assert run.code == 2
    assert run.err_lines == [
        f"sgaudit: error: {eff}: $: cannot tell which network this get-effective-firewalls output is "
        "for (its 'firewalls' list is empty and the other files name 0 networks); pass it with the "
        "firewall-rules list of that network only"]


def test_same_rule_differing_in_two_files_is_refused(tmp_path: Path) -> None:
    one = write(tmp_path, [rule()], "one.json")
    two = write(tmp_path, [rule(sourceRanges=["10.0.0.0/8"])], "two.json")
    with pytest.raises(SnapshotError, match="firewall rule 'r1' of project p-one-1 is also in"):
        read(one, two)
    assert len(read(one, one).gcp.firewalls) == 1


# -- bad input: one line naming file, rule and value --------------------------------------------
R = "$[0] (firewall rule 'r1')"
BAD: list[tuple[str, Any, str]] = [
    ("unknown protocol", [rule(allowed=[{"IPProtocol": "tcpp"}])],
     f"{R}.allowed[0].IPProtocol: unknown protocol 'tcpp'"),
    ("protocol number too big", [rule(allowed=[{"IPProtocol": "256"}])],
     f"{R}.allowed[0].IPProtocol: unknown protocol '256'"),
    ("protocol missing", [rule(allowed=[{"ports": ["22"]}])], f"{R}.allowed[0]: missing key 'IPProtocol'"),
    ("port too big", [rule(allowed=[{"IPProtocol": "tcp", "ports": ["22", "70000"]}])],
     f"{R}.allowed[0].ports[1]: port '70000' outside 0-65535"),
    ("range end too big", [rule(allowed=[{"IPProtocol": "tcp", "ports": ["8000-65536"]}])],
     f"{R}.allowed[0].ports[0]: port '8000-65536' outside 0-65535"),
    ("backwards range", [rule(allowed=[{"IPProtocol": "tcp", "ports": ["9000-8000"]}])],
     f"{R}.allowed[0].ports[0]: port range '9000-8000' runs backwards"),
    ("malformed range", [rule(allowed=[{"IPProtocol": "tcp", "ports": ["80-"]}])],
     f"{R}.allowed[0].ports[0]: malformed port or range '80-' (expected \"22\" or \"8000-8100\")"),
    ("negative port", [rule(allowed=[{"IPProtocol": "tcp", "ports": ["-1"]}])],
     f"{R}.allowed[0].ports[0]: malformed port or range '-1' (expected \"22\" or \"8000-8100\")"),
    ("ports on icmp", [rule(allowed=[{"IPProtocol": "icmp", "ports": ["8"]}])],
     f"{R}.allowed[0].ports: ports are only allowed with tcp, udp and sctp, not 'icmp'"),
    ("bad cidr", [rule(sourceRanges=["10.0.0.300/8"])],
     f"{R}.sourceRanges[0]: malformed CIDR '10.0.0.300/8'"),
    ("priority too big", [rule(priority=65536)], f"{R}.priority: bad priority 65536 (expected 0-65535)"),
    ("negative priority", [rule(priority=-1)], f"{R}.priority: bad priority -1 (expected 0-65535)"),
    ("priority as float", [rule(priority=10.5)], f"{R}.priority: bad priority 10.5 (expected 0-65535)"),
    ("both allowed and denied", [rule(denied=[{"IPProtocol": "tcp"}])],
     f"{R}: expected exactly one of 'allowed' and 'denied'"),
    ("bad direction", [rule(direction="IN")], f"{R}.direction: expected INGRESS or EGRESS, got 'IN'"),
    ("disabled as text", [rule(disabled="false")], f"{R}.disabled: expected true or false, got 'false'"),
    ("network not a URL", [rule(network="net-a")],
     f"{R}.network: not a network URL (…/projects/P/global/networks/N): 'net-a'"),
    ("tags not strings", [rule(targetTags="coiled-x")],
     f"{R}.targetTags: expected a list of strings, got 'coiled-x'"),
    ("mixed list", [rule(), {"kind": "compute#subnetwork", "ipCidrRange": "10.0.0.0/8"}],
     "$[1]: a subnets item in a list of firewall-rules"),
    ("unknown item", [{"name": "x"}],
     "$[0]: not a gcloud compute firewall rule, subnet, network or instance (keys ['name'])"),
    ("bad subnet range", [{"kind": "compute#subnetwork", "name": "s", "network": NET,
                           "ipCidrRange": "10.0.0.0/33"}],
     "$[0] (subnet 's') ranges[0]: malformed CIDR '10.0.0.0/33'"),
    ("bad enforcement order", [{"kind": "compute#network", "name": "net-a", "selfLink": NET,
                                "networkFirewallPolicyEnforcementOrder": "FIRST"}],
     "$[0].networkFirewallPolicyEnforcementOrder: unknown order 'FIRST'"),
    ("policy rule priority",
     _effective([{"name": "9", "type": "HIERARCHY", "rules": [_policy_rule(2147483648)]}]),
     "$.firewallPolicys[0].rules[0].priority: bad priority 2147483648 (expected 0-2147483647)"),
    ("policy rule action",
     _effective([{"name": "9", "type": "HIERARCHY", "rules": [_policy_rule(5, "permit")]}]),
     "$.firewallPolicys[0].rules[0] (policy rule 9/5).action: unknown action 'permit'"),
    ("policy rule port", _effective([{"name": "9", "type": "HIERARCHY", "rules": [_policy_rule(
        5, match={"layer4Configs": [{"ipProtocol": "tcp", "ports": ["99999"]}]})]}]),
     "$.firewallPolicys[0].rules[0] (policy rule 9/5).match.layer4Configs[0].ports[0]: port '99999' "
     "outside 0-65535"),
    ("policy rule cidr", _effective([{"name": "9", "type": "HIERARCHY", "rules": [_policy_rule(
        5, match={"srcIpRanges": ["::/129"], "layer4Configs": [{"ipProtocol": "all"}]})]}]),
     "$.firewallPolicys[0].rules[0] (policy rule 9/5).match.srcIpRanges[0]: malformed CIDR '::/129'"),
    ("policy type", _effective([{"name": "9", "type": "FOLDER", "rules": []}]),
     "$.firewallPolicys[0].type: unknown firewall policy type 'FOLDER'"),
]


@pytest.mark.parametrize(("data", "error"), [pytest.param(d, e, id=i) for i, d, e in BAD])
def test_bad_gcp_file_is_one_line_naming_file_rule_and_value(sgaudit: Callable[..., Run], tmp_path: Path,
                                                             data: Any, error: str) -> None:
    path = write(tmp_path, data)
    run = sgaudit("check", "--snapshot", path)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f"sgaudit: error: {path}: {error}"]


def test_duplicate_json_key_is_refused(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """A second "sourceRanges" would silently replace the first: 0.0.0.0/0 would vanish."""
    text = json.dumps([rule()])
    text = text.replace('"sourceRanges": ["0.0.0.0/0"]', '"sourceRanges": ["0.0.0.0/0"], "sourceRanges": []')
    path = write(tmp_path, text)
    run = sgaudit("check", "--snapshot", path)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f'sgaudit: error: {path}: duplicate key "sourceRanges" in the object with '
                             'name "r1": which copy is meant cannot be told (neither AWS nor gcloud '
                             'writes a key twice)']


def test_detect() -> None:
    rules = json.loads((GCP / "firewall-rules.json").read_text())
    assert gcpjson.detect(rules) == gcpjson.FIREWALLS
    stripped = [{k: v for k, v in r.items() if k != "kind"} for r in rules]
    assert gcpjson.detect(stripped) == gcpjson.FIREWALLS
    assert gcpjson.detect(json.loads((GCP / "subnets.json").read_text())) == gcpjson.SUBNETS
    assert gcpjson.detect(json.loads((GCP / "instances.json").read_text())) == gcpjson.INSTANCES
    assert gcpjson.detect(json.loads((GCP / "networks.json").read_text())) == gcpjson.NETWORKS
    assert gcpjson.detect({"firewalls": [], "firewallPolicys": []}) == gcpjson.EFFECTIVE
    assert gcpjson.detect(json.loads((FIXTURES / "security-groups.json").read_text())) is None
    assert gcpjson.detect(json.loads((FIXTURES / "vpcs.json").read_text())) is None


def test_policy_kinds_are_records() -> None:
    """FirewallPolicy stays a plain record the engine can compare."""
    policy = FirewallPolicy("p", "hierarchical", ())
    assert copy.deepcopy(policy) == policy


def test_system_policies_come_right_after_hierarchical_ones(tmp_path: Path) -> None:
    """Google-managed regional system policies are evaluated right after the hierarchical
    ones, before VPC rules and network policies, whatever the enforcement order."""
    policies = [{"name": "n", "type": "NETWORK", "rules": [_policy_rule(1)]},
                {"name": "s", "type": "SYSTEM_REGIONAL", "rules": [_policy_rule(2)]},
                {"name": "h", "type": "HIERARCHY", "rules": [_policy_rule(3)]}]
    networks = write(tmp_path, [{"kind": "compute#network", "name": "net-a", "selfLink": NET}], "n.json")
    state = read(networks, write(tmp_path, _effective(policies))).gcp
    assert [(p.name, p.kind) for p in state.networks[("p-one-1", "net-a")].policies] == [
        ("h", "hierarchical"), ("s", "system"), ("n", "network")]


def test_two_different_effective_answers_for_one_network_are_refused(sgaudit: Callable[..., Run],
                                                                     tmp_path: Path) -> None:
    """The last file must not silently win: a second answer (a regional one repeats the
    network's hierarchical and global policies) must agree with the first on them."""
    one = write(tmp_path, _effective([{"name": "h", "type": "HIERARCHY", "rules": [_policy_rule(3)]}]),
                "a.json")
    two = write(tmp_path, _effective([{"name": "r", "type": "NETWORK_REGIONAL", "rules": []}]), "b.json")
    run = sgaudit("check", "--snapshot", one, "--snapshot", two)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {two}: $: a second get-effective-firewalls answer for "
                             "network net-a of project p-one-1 whose hierarchical or global network "
                             "policies differ from the first's; pass answers taken at the same time"]
    assert len(read(one, one).gcp.networks[("p-one-1", "net-a")].policies) == 1


def test_a_gcloud_regional_answer_adds_its_regional_policies_of_an_unknown_region(tmp_path: Path) -> None:
    """A regional get-effective-firewalls answer holds the network's policies and R's regional
    ones, without naming R: they are kept, of an unknown region (they possibly apply)."""
    hierarchy = {"name": "h", "type": "HIERARCHY", "rules": [_policy_rule(3)]}
    regional = {"name": "r", "type": "NETWORK_REGIONAL", "rules": [_policy_rule(7, "deny")]}
    networks = write(tmp_path, [{"kind": "compute#network", "name": "net-a", "selfLink": NET}], "n.json")
    one = write(tmp_path, _effective([hierarchy]), "a.json")
    two = write(tmp_path, _effective([hierarchy, regional]), "b.json")
    policies = read(networks, one, two).gcp.networks[("p-one-1", "net-a")].policies
    assert [(p.name, p.kind, p.region) for p in policies] == [("h", "hierarchical", None),
                                                               ("r", "regional", "unknown")]
    assert [(r.name, r.region) for r in policies[1].rules] == [("r/7", "unknown")]
    assert policies[0].rules[0].region is None
