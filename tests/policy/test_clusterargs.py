"""Cluster arguments -> the ingress list ``coiled.Cluster`` sends, and the desired state.

The expected lists are written from the client's rules (issue 7), not from what the code prints:
source = allow_ingress_from (default everyone = 0.0.0.0/0); ports from it: the scheduler port
(default 443), 22 when allow_ssh is true and no different allow_ssh_from is given, 15003 when
allow_spark is true or unset with use_dashboard_https true (its default), 443, then
open_extra_ports, duplicates dropped; a different allow_ssh_from adds 22 from that source.
"""

from __future__ import annotations

from typing import Any

import pytest

from sgaudit.engine.resolve import SELF, effective_options, resolve
from sgaudit.errors import PolicyError
from sgaudit.model import Group, Origin, Vpc
from sgaudit.policy import clusterargs
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.options import Where
from sgaudit.policy.yamlsource import load_yaml

PUBLIC = "0.0.0.0/0"
ME = "198.51.100.7"
VPC = Vpc("vpc-1", "eu-west-1", "111122223333", "10.0.0.0/16", ("10.0.0.0/16",))


def args(client_ip: str | None = None, **values: Any) -> dict[str, Origin]:
    got = clusterargs.collect_args(values, Where("policy.yaml"))
    if client_ip is not None:
        got.options[clusterargs.CLIENT_IP] = clusterargs.parse_client_ip(client_ip, Where("policy.yaml"))
    return got.options


def sent(options: dict[str, Origin]) -> list[tuple[list[int], str]]:
    """What the client sends: [(ports, cidr), ...]."""
    return [(list(e.port_numbers), e.cidr) for e in clusterargs.ingress_list(options)]


TABLE: list[tuple[str, dict[str, Any], list[tuple[list[int], str]]]] = [
    ("defaults", {}, [([443, 15003], PUBLIC)]),
    ("everyone spelled out", {"allow_ingress_from": "everyone"}, [([443, 15003], PUBLIC)]),
    ("a CIDR", {"allow_ingress_from": "10.2.0.0/16"}, [([443, 15003], "10.2.0.0/16")]),
    ("a bare address is one host", {"allow_ingress_from": "192.0.2.10"},
     [([443, 15003], "192.0.2.10/32")]),
    ("IPv6 source", {"allow_ingress_from": "2001:db8::/32"}, [([443, 15003], "2001:db8::/32")]),
    ("allow_ssh", {"allow_ssh": True}, [([443, 22, 15003], PUBLIC)]),
    ("allow_ssh false", {"allow_ssh": False}, [([443, 15003], PUBLIC)]),
    ("allow_ssh with a different allow_ssh_from", {"allow_ssh": True, "allow_ssh_from": "10.9.0.0/16"},
     [([443, 15003], PUBLIC), ([22], "10.9.0.0/16")]),
    ("allow_ssh_from alone still opens 22 from it", {"allow_ssh_from": "10.9.0.0/16"},
     [([443, 15003], PUBLIC), ([22], "10.9.0.0/16")]),
    # the client does not consult allow_ssh for a separate allow_ssh_from rule
    ("allow_ssh false with a different allow_ssh_from", {"allow_ssh": False, "allow_ssh_from": "10.9.0.0/16"},
     [([443, 15003], PUBLIC), ([22], "10.9.0.0/16")]),
    ("allow_ssh with the same allow_ssh_from",
     {"allow_ingress_from": "10.2.0.0/16", "allow_ssh": True, "allow_ssh_from": "10.2.0.0/16"},
     [([443, 22, 15003], "10.2.0.0/16")]),
    # the same source named differently (everyone = 0.0.0.0/0) is the same source: no second rule
    ("allow_ssh_from everyone with the default source", {"allow_ssh_from": "0.0.0.0/0"},
     [([443, 22, 15003], PUBLIC)]),
    ("allow_spark false", {"allow_spark": False}, [([443], PUBLIC)]),
    ("allow_spark true without https", {"allow_spark": True, "use_dashboard_https": False},
     [([443, 15003], PUBLIC)]),
    ("no https and spark unset", {"use_dashboard_https": False}, [([443], PUBLIC)]),
    ("scheduler port", {"scheduler_port": 8786}, [([8786, 15003, 443], PUBLIC)]),
    ("extra ports, deduplicated", {"scheduler_port": 8786, "open_extra_ports": [8787, 443, 9000, 8787]},
     [([8786, 15003, 443, 8787, 9000], PUBLIC)]),
    ("extra port already open", {"allow_ssh": True, "open_extra_ports": [22, 15003]},
     [([443, 22, 15003], PUBLIC)]),
    ("everything", {"allow_ingress_from": "10.2.0.0/16", "allow_ssh_from": "10.9.0.0/16",
                    "allow_ssh": True, "allow_spark": True, "scheduler_port": 8786,
                    "open_extra_ports": [8787], "use_dashboard_https": False},
     [([8786, 15003, 443, 8787], "10.2.0.0/16"), ([22], "10.9.0.0/16")]),
    ("kebab-case keys", {"allow-ingress-from": "10.2.0.0/16", "open-extra-ports": [8888],
                         "allow-spark": False},
     [([443, 8888], "10.2.0.0/16")]),
    ("null means not given", {"allow_ingress_from": None, "allow_spark": None}, [([443, 15003], PUBLIC)]),
]


@pytest.mark.parametrize(("name", "values", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_what_the_client_sends(name: str, values: dict[str, Any],
                               expected: list[tuple[list[int], str]]) -> None:
    assert sent(args(**values)) == expected


@pytest.mark.parametrize(("name", "values", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_the_desired_state_is_exactly_that_list(name: str, values: dict[str, Any],
                                                expected: list[tuple[list[int], str]]) -> None:
    options = {clusterargs.GIVEN: Origin(clusterargs.GIVEN, clusterargs.ingress_list(args(**values)),
                                         "policy.yaml:1")}
    state = resolve(options, VPC)
    assert {(g.protocol, g.from_port, g.to_port, g.source) for g in state.required} == {
        ("tcp", p, p, cidr) for ports, cidr in expected for p in ports}
    # nothing beyond what the list requires, except the group itself
    assert [(g.protocol, g.source) for g in state.permitted] == [("-1", SELF)]
    assert state.warnings == ()


@pytest.mark.parametrize(("values", "expected"), [
    ({"allow_ingress_from": "me"}, [([443, 15003], f"{ME}/32")]),
    ({"allow_ssh_from": "me"}, [([443, 15003], PUBLIC), ([22], f"{ME}/32")]),
    ({"allow_ingress_from": "me", "allow_ssh_from": "me"}, [([443, 22, 15003], f"{ME}/32")]),
    ({"allow_ingress_from": "me", "allow_ssh": True, "allow_ssh_from": "10.9.0.0/16"},
     [([443, 15003], f"{ME}/32"), ([22], "10.9.0.0/16")]),
])
def test_me_is_the_policys_client_ip(values: dict[str, Any], expected: list[tuple[list[int], str]]) -> None:
    assert sent(args(client_ip=ME, **values)) == expected


def test_me_with_an_ipv6_client_ip() -> None:
    assert sent(args(client_ip="2001:db8::7", allow_ingress_from="me")) == [
        ([443, 15003], "2001:db8::7/128")]


def test_client_ip_may_be_written_as_a_host_cidr() -> None:
    assert clusterargs.parse_client_ip("198.51.100.7/32", Where("p.yaml")).value == f"{ME}/32"


def test_non_canonical_cidr_is_normalised_with_a_warning() -> None:
    got = clusterargs.collect_args({"allow_ingress_from": "10.2.3.4/16"}, Where("p.yaml", "cluster_args"))
    assert got.options["allow_ingress_from"].value == "10.2.0.0/16"
    assert got.warnings == [
        "p.yaml: cluster_args.allow_ingress_from: '10.2.3.4/16' is not canonical; using 10.2.0.0/16"]


def test_origins_name_every_argument_that_produced_a_port() -> None:
    options = args(client_ip=ME, allow_ingress_from="me", scheduler_port=8786)
    entries = clusterargs.ingress_list(options)
    why = {p.port: [str(o) for o in p.origins] for p in entries[0].ports}
    assert why == {
        8786: ["scheduler_port=8786 (policy.yaml)", "allow_ingress_from=me (policy.yaml)",
               f"client_ip={ME}/32 (policy.yaml)"],
        15003: ["allow_spark=unset (default)", "use_dashboard_https=true (default)",
                "allow_ingress_from=me (policy.yaml)", f"client_ip={ME}/32 (policy.yaml)"],
        443: ["allow_ingress_from=me (policy.yaml)", f"client_ip={ME}/32 (policy.yaml)"],
    }


# -- refusals ----------------------------------------------------------------------------------
def policy(text: str) -> Any:
    return parse_policy(load_yaml(text), "policy.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("cluster_args: {allow_ssh_form: 10.0.0.0/8}\n",
     "policy.yaml:1: cluster_args.allow_ssh_form: unknown key 'allow_ssh_form'; "
     "did you mean 'allow_ssh_from'?"),
    ("cluster_args: {n_workers: 10}\n",
     "policy.yaml:1: cluster_args.n_workers: unknown key 'n_workers'; known keys: allow_ingress_from, "
     "allow_ssh_from, allow_ssh, allow_spark, scheduler_port, open_extra_ports, use_dashboard_https"),
    ("cluster_args: {allow_ssh: 'yes'}\n",
     "policy.yaml:1: cluster_args.allow_ssh: expected true or false, got 'yes'"),
    ("cluster_args: {scheduler_port: 70000}\n",
     "policy.yaml:1: cluster_args.scheduler_port: port 70000 is outside 1-65535"),
    ("cluster_args: {open_extra_ports: '8787'}\n",
     "policy.yaml:1: cluster_args.open_extra_ports: expected a list of ports, got '8787'"),
    ("cluster_args: {open_extra_ports: [8787, 0]}\n",
     "policy.yaml:1: cluster_args.open_extra_ports[1]: port 0 is outside 1-65535"),
    ("cluster_args: {allow_ingress_from: nowhere}\n",
     "policy.yaml:1: cluster_args.allow_ingress_from: expected a CIDR, an address, 'everyone' or "
     "'me', got 'nowhere'"),
    ("cluster_args: {allow_ingress_from: 10.0.0.0/33}\n",
     "policy.yaml:1: cluster_args.allow_ingress_from: invalid CIDR '10.0.0.0/33'"),
    ("cluster_args: {allow_ssh_from: 5}\n",
     "policy.yaml:1: cluster_args.allow_ssh_from: expected a CIDR, an address, 'everyone' or 'me', got 5"),
    ("cluster_args: [allow_ssh]\n",
     "policy.yaml:1: cluster_args: expected a mapping, got ['allow_ssh']"),
    ("client_ip: home\n",
     "policy.yaml:1: client_ip: expected your public IP address (such as 203.0.113.7), got 'home'"),
    ("client_ip: 198.51.100.0/24\n",
     "policy.yaml:1: client_ip: expected your public IP address (such as 203.0.113.7), got "
     "'198.51.100.0/24'"),
    ("clusters:\n  - match: {names: [a]}\n    cluster_args: {allow_spark: 1}\n",
     "policy.yaml:3: clusters[0].cluster_args.allow_spark: expected true or false, got 1"),
])
def test_bad_arguments_are_refused_naming_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy(text)
    assert str(err.value) == message


ME_WITHOUT_IP = ("'me' means the public address of whoever creates the cluster, which sgaudit "
                 "never looks up; add client_ip: ADDRESS to the policy")


@pytest.mark.parametrize(("text", "message"), [
    ("cluster_args:\n  allow_ingress_from: me\n",
     f"policy.yaml:2: cluster_args.allow_ingress_from: {ME_WITHOUT_IP}"),
    ("cluster_args:\n  allow_ssh_from: me\n",
     f"policy.yaml:2: cluster_args.allow_ssh_from: {ME_WITHOUT_IP}"),
    ("clusters:\n  - match: {names: [a]}\n    cluster_args:\n      allow_ingress_from: me\n",
     f"policy.yaml:4: clusters[0].cluster_args.allow_ingress_from: {ME_WITHOUT_IP}"),
])
def test_me_without_client_ip_is_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy(text)
    assert str(err.value) == message


def test_me_with_client_ip_loads() -> None:
    loaded = policy("client_ip: 198.51.100.7\ncluster_args:\n  allow_ingress_from: me\n")
    assert loaded.client_ip == f"{ME}/32"
    assert str(loaded.cluster_args[clusterargs.CLIENT_IP]) == f"client_ip={ME}/32 (policy.yaml:1)"


INGRESS = "ingress: [{ports: [443], cidr: 10.0.0.0/8}]"
WHY = "coiled.Cluster refuses an ingress list together with cluster arguments, which build their own"


@pytest.mark.parametrize(("text", "message"), [
    (f"backend_options:\n  firewall: {{ports: [1], cidr: 10.0.0.0/8}}\n  {INGRESS}\n",
     "policy.yaml:3: backend_options.ingress cannot be combined with backend_options.firewall "
     "(policy.yaml:2): Coiled refuses both at account level (set_backend_options)"),
    (f"clusters:\n  - match: {{names: [a]}}\n    backend_options: {{{INGRESS}}}\n"
     "    cluster_args: {allow_ssh: true}\n",
     "policy.yaml:3: clusters[0].backend_options.ingress cannot be combined with "
     f"clusters[0].cluster_args (policy.yaml:4): {WHY}"),
    (f"cluster_args: {{}}\nclusters:\n  - match: {{names: [a]}}\n    backend_options: {{{INGRESS}}}\n",
     "policy.yaml:4: clusters[0].backend_options.ingress cannot be combined with cluster_args "
     f"(policy.yaml:1): {WHY}"),
])
def test_combinations_coiled_refuses(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy(text)
    assert str(err.value) == message


def test_account_level_ingress_with_cluster_args_is_replaced_with_a_warning() -> None:
    loaded = policy(f"backend_options: {{{INGRESS}, enable_public_ssh: false}}\n"
                    "clusters:\n  - match: {names: [a]}\n    cluster_args: {allow_ssh: true}\n")
    group = Group("sg-1", "a", "vpc-1", "eu-west-1", "111122223333")
    options, matched = effective_options(loaded, group)
    assert matched == (0,)
    state = resolve(options, VPC)
    assert {(g.from_port, g.source) for g in state.required} == {
        (443, PUBLIC), (22, PUBLIC), (15003, PUBLIC)}
    assert state.warnings == (
        "cluster_args (policy.yaml:4) define the whole firewall of the clusters they apply to; "
        "enable_public_ssh (policy.yaml:1) does not apply to those",
        "cluster_args (policy.yaml:4) define the whole firewall of the clusters they apply to; "
        "ingress (policy.yaml:1) does not apply to those",
    )


def test_ingress_and_cluster_args_from_two_matching_entries_are_refused() -> None:
    loaded = policy(f"clusters:\n  - match: {{names: [a*]}}\n    backend_options: {{{INGRESS}}}\n"
                    "  - match: {names: ['*b']}\n    cluster_args: {allow_ssh: true}\n")
    only_first = Group("sg-1", "ax", "vpc-1", "eu-west-1", "111122223333")
    assert effective_options(loaded, only_first)[1] == (0,)
    both = Group("sg-2", "ab", "vpc-1", "eu-west-1", "111122223333")
    with pytest.raises(PolicyError) as err:
        effective_options(loaded, both)
    assert str(err.value) == ("policy.yaml:3: clusters[0].backend_options.ingress cannot be combined "
                              f"with clusters[1].cluster_args (policy.yaml:5): {WHY}")


def test_top_level_args_are_defaults_that_entries_override_key_by_key() -> None:
    loaded = policy("cluster_args: {allow_ingress_from: 10.2.0.0/16, allow_ssh: true}\n"
                    "clusters:\n  - match: {names: [a]}\n    cluster_args: {allow_ssh: false, "
                    "scheduler_port: 8786}\n")
    a = Group("sg-1", "a", "vpc-1", "eu-west-1", "111122223333")
    b = Group("sg-2", "b", "vpc-1", "eu-west-1", "111122223333")
    for group, expected in ((a, {(8786, "10.2.0.0/16"), (15003, "10.2.0.0/16"), (443, "10.2.0.0/16")}),
                            (b, {(443, "10.2.0.0/16"), (22, "10.2.0.0/16"), (15003, "10.2.0.0/16")})):
        state = resolve(effective_options(loaded, group)[0], VPC)
        assert {(g.from_port, g.source) for g in state.required} == expected


def test_an_empty_cluster_args_means_a_current_client_with_defaults() -> None:
    loaded = policy("clusters:\n  - match: {names: [a]}\n    cluster_args: {}\n")
    a = Group("sg-1", "a", "vpc-1", "eu-west-1", "111122223333")
    b = Group("sg-2", "b", "vpc-1", "eu-west-1", "111122223333")
    assert {(g.from_port, g.source) for g in resolve(effective_options(loaded, a)[0], VPC).required} == {
        (443, PUBLIC), (15003, PUBLIC)}
    # b has no cluster arguments: the legacy defaults
    assert {(g.from_port, g.source) for g in resolve(effective_options(loaded, b)[0], VPC).required} == {
        (22, PUBLIC), (8786, PUBLIC), (8787, PUBLIC)}
