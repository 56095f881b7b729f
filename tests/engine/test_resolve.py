"""Options -> desired state: every row of DESIGN.md section 3, the rows combined, and the source
document's worked examples exactly as its tables show.

Expected states are written from the design's table, not from what the resolver prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sgaudit.engine.resolve import SELF, UNKNOWN_VPC, effective_options, resolve
from sgaudit.model import DesiredState, Grant, Group, Matcher, Origin, Vpc
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.options import Where, collect
from sgaudit.policy.yamlsource import load_yaml

PUBLIC = "0.0.0.0/0"
PRIMARY = "10.0.0.0/16"
SECONDARY = "10.1.0.0/16"
VPC = Vpc("vpc-1", "eu-west-1", "111122223333", PRIMARY, (PRIMARY, SECONDARY))
ONE_BLOCK_VPC = Vpc("vpc-2", "eu-west-1", "111122223333", PRIMARY, (PRIMARY,))

Rule4 = tuple[str, int, int, str]


def tcp(port: int, source: str) -> Rule4:
    return ("tcp", port, port, source)


def from_vpc(*port_list: int, blocks: tuple[str, ...] = (PRIMARY, SECONDARY)) -> set[Rule4]:
    return {tcp(p, b) for p in port_list for b in blocks}


def options(**values: Any) -> dict[str, Origin]:
    """Validated options, exactly as the policy loader builds them."""
    got = collect(values, Where("policy.yaml"))
    return got.options


def options_from_yaml(text: str) -> tuple[dict[str, Origin], list[str]]:
    got = collect(load_yaml(text), Where("policy.yaml"))
    return got.options, got.warnings


def shapes(grants: tuple[Grant, ...]) -> set[Rule4]:
    return {(g.protocol, g.from_port, g.to_port, g.source) for g in grants}


def required(state: DesiredState) -> set[Rule4]:
    return shapes(state.required)


def beyond(state: DesiredState) -> set[Rule4]:
    """The permitted envelope beyond the required rules, without the always-permitted self rule."""
    return shapes(state.permitted) - shapes(state.required) - {("-1", -1, -1, SELF)}


FIREWALL = {"ports": [100, 9012, 465], "cidr": SECONDARY}
D_REQUIRED = {tcp(22, PRIMARY), tcp(8786, PRIMARY), tcp(8787, PRIMARY)}
D_BEYOND = from_vpc(22, 8786, 8787, blocks=(SECONDARY,))
FIREWALL_RULES = {tcp(p, SECONDARY) for p in (8786, 8787, 100, 9012, 465)}

# (id, options, required, permitted beyond required)
ROWS: list[tuple[str, dict[str, Any], set[Rule4], set[Rule4]]] = [
    ("defaults", {},
     {tcp(22, PUBLIC), tcp(8786, PUBLIC), tcp(8787, PUBLIC)}, set()),
    ("defaults-explicit", {"enable_public_ssh": True, "enable_public_http": True,
                           "disable_public_ingress": False},
     {tcp(22, PUBLIC), tcp(8786, PUBLIC), tcp(8787, PUBLIC)}, set()),
    ("S=false", {"enable_public_ssh": False},
     {tcp(8786, PUBLIC), tcp(8787, PUBLIC)}, from_vpc(22)),
    ("H=false", {"enable_public_http": False},
     {tcp(22, PUBLIC)}, from_vpc(8786, 8787)),
    ("S=false,H=false", {"enable_public_ssh": False, "enable_public_http": False},
     set(), from_vpc(22, 8786, 8787)),
    ("D=true", {"disable_public_ingress": True},
     D_REQUIRED, D_BEYOND),
    ("D=true overrides S=true,H=true", {"disable_public_ingress": True, "enable_public_ssh": True,
                                        "enable_public_http": True},
     D_REQUIRED, D_BEYOND),
    ("D=true,S=false,H=false", {"disable_public_ingress": True, "enable_public_ssh": False,
                                "enable_public_http": False},
     D_REQUIRED, D_BEYOND),
    ("F", {"firewall": FIREWALL},
     FIREWALL_RULES | {tcp(22, PUBLIC)}, set()),
    ("F,S=true", {"firewall": FIREWALL, "enable_public_ssh": True},
     FIREWALL_RULES | {tcp(22, PUBLIC)}, set()),
    ("F,S=false", {"firewall": FIREWALL, "enable_public_ssh": False},
     FIREWALL_RULES, from_vpc(22)),
    ("F,H=false", {"firewall": FIREWALL, "enable_public_http": False},
     FIREWALL_RULES | {tcp(22, PUBLIC)}, set()),
    ("F,H=true", {"firewall": FIREWALL, "enable_public_http": True},
     FIREWALL_RULES | {tcp(22, PUBLIC)}, set()),
    ("F,S=false,H=false", {"firewall": FIREWALL, "enable_public_ssh": False, "enable_public_http": False},
     FIREWALL_RULES, from_vpc(22)),
    ("F public", {"firewall": {"ports": [443], "cidr": PUBLIC}},
     {tcp(22, PUBLIC), tcp(8786, PUBLIC), tcp(8787, PUBLIC), tcp(443, PUBLIC)}, set()),
    ("F no extra ports", {"firewall": {"ports": [], "cidr": "203.0.113.0/24"}},
     {tcp(22, PUBLIC), tcp(8786, "203.0.113.0/24"), tcp(8787, "203.0.113.0/24")}, set()),
    # D and F: F's rules stay where F.cidr lies inside the VPC (any of its blocks) ...
    ("D,F inside secondary block", {"disable_public_ingress": True, "firewall": FIREWALL},
     {tcp(22, PRIMARY), tcp(8786, PRIMARY), tcp(8787, PRIMARY)} | FIREWALL_RULES,
     {tcp(22, SECONDARY)}),
    ("D,F inside primary block", {"disable_public_ingress": True,
                                  "firewall": {"ports": [9000], "cidr": "10.0.5.0/24"}},
     {tcp(22, PRIMARY), tcp(8786, PRIMARY), tcp(8787, PRIMARY),
      tcp(8786, "10.0.5.0/24"), tcp(8787, "10.0.5.0/24"), tcp(9000, "10.0.5.0/24")},
     from_vpc(22, 8786, 8787, blocks=(SECONDARY,))),
    # ... otherwise F is overridden
    ("D,F outside", {"disable_public_ingress": True, "firewall": {"ports": [9000], "cidr": "192.168.0.0/16"}},
     D_REQUIRED, D_BEYOND),
    ("D,F wider than VPC", {"disable_public_ingress": True,
                            "firewall": {"ports": [9000], "cidr": "10.0.0.0/8"}},
     D_REQUIRED, D_BEYOND),
    ("D,F spanning both blocks", {"disable_public_ingress": True,
                                  "firewall": {"ports": [9000], "cidr": "10.0.0.0/15"}},
     {tcp(22, PRIMARY), tcp(8786, PRIMARY), tcp(8787, PRIMARY),
      tcp(8786, "10.0.0.0/15"), tcp(8787, "10.0.0.0/15"), tcp(9000, "10.0.0.0/15")},
     from_vpc(22, 8786, 8787, blocks=(SECONDARY,))),
    ("D=false is the defaults", {"disable_public_ingress": False},
     {tcp(22, PUBLIC), tcp(8786, PUBLIC), tcp(8787, PUBLIC)}, set()),
]


@pytest.mark.parametrize(("values", "want_required", "want_beyond"),
                         [pytest.param(*row[1:], id=row[0]) for row in ROWS])
def test_design_table_row(values: dict[str, Any], want_required: set[Rule4],
                          want_beyond: set[Rule4]) -> None:
    state = resolve(options(**values), VPC)
    assert state.unresolved is None
    assert required(state) == want_required
    assert beyond(state) == want_beyond


@pytest.mark.parametrize("values", [row[1] for row in ROWS], ids=[row[0] for row in ROWS])
def test_self_reference_is_always_permitted_and_never_required(values: dict[str, Any]) -> None:
    state = resolve(options(**values), VPC)
    assert ("-1", -1, -1, SELF) in shapes(state.permitted)
    assert all(g.source != SELF for g in state.required)


def test_doc_example_no_public_ssh() -> None:
    """Source document, first table: enable_public_ssh=False gives 8787 and 8786 from
    0.0.0.0/0 and nothing for 22 from outside the VPC."""
    state = resolve(options(enable_public_ssh=False), ONE_BLOCK_VPC)
    assert required(state) == {tcp(8787, PUBLIC), tcp(8786, PUBLIC)}
    port_22 = {r for r in shapes(state.permitted) | required(state) if r[0] == "tcp" and r[1] <= 22 <= r[2]}
    assert port_22 == {tcp(22, PRIMARY)}
    assert state.warnings == ()


def test_doc_example_disable_public_ingress() -> None:
    """Source document, second table: 8787, 8786, 22 from the VPC's CIDR block."""
    vpc = Vpc("vpc-doc", "us-east-1", "1", "10.0.0.0/24", ("10.0.0.0/24",))
    state = resolve(options(disable_public_ingress=True), vpc)
    assert required(state) == {tcp(8787, "10.0.0.0/24"), tcp(8786, "10.0.0.0/24"), tcp(22, "10.0.0.0/24")}
    assert beyond(state) == set()


def test_doc_example_firewall_with_non_canonical_cidr() -> None:
    """Source document, third table: enable_public_ssh=False with
    firewall={"ports": [100, 9012, 465], "cidr": "10.1.0.2/16"} gives 8787, 8786, 100, 9012 and
    465 from that CIDR (which is 10.1.0.0/16), and a warning that it was normalised."""
    got = collect({"enable_public_ssh": False,
                   "firewall": {"ports": [100, 9012, 465], "cidr": "10.1.0.2/16"}}, Where("doc.yaml"))
    assert got.warnings == ["doc.yaml: firewall.cidr: '10.1.0.2/16' is not canonical; using 10.1.0.0/16"]
    state = resolve(got.options, ONE_BLOCK_VPC)
    assert required(state) == {tcp(p, "10.1.0.0/16") for p in (8787, 8786, 100, 9012, 465)}
    assert not any(r[1] <= 22 <= r[2] and r[3] != PRIMARY for r in shapes(state.permitted))


def test_vpc_with_several_blocks_permits_each_ipv4_block_and_requires_only_the_primary() -> None:
    vpc = Vpc("vpc-3", "eu-west-1", "1", "10.0.0.0/16", ("10.0.0.0/16", "10.2.0.0/16", "100.64.0.0/16"))
    state = resolve(options(disable_public_ingress=True), vpc)
    assert required(state) == {tcp(p, "10.0.0.0/16") for p in (22, 8786, 8787)}
    assert beyond(state) == {tcp(p, b) for p in (22, 8786, 8787) for b in ("10.2.0.0/16", "100.64.0.0/16")}
    state = resolve(options(enable_public_ssh=False), vpc)
    assert beyond(state) == {tcp(22, b) for b in vpc.cidrs}


def test_inside_the_vpc_includes_its_ipv6_blocks() -> None:
    """A deliberate widening of DESIGN.md section 3 (see README): traffic from the VPC's own
    IPv6 block is as much "inside the VPC" as traffic from its IPv4 blocks."""
    vpc = Vpc("vpc-4", "eu-west-1", "1", PRIMARY, (PRIMARY, "2600:1f18:abcd:ef00::/56"))
    state = resolve(options(enable_public_ssh=False), vpc)
    assert beyond(state) == {tcp(22, PRIMARY), tcp(22, "2600:1f18:abcd:ef00::/56")}


@pytest.mark.parametrize("values", [
    {"enable_public_ssh": False},
    {"enable_public_http": False},
    {"disable_public_ingress": True},
    {"firewall": FIREWALL, "enable_public_ssh": False},
    {"disable_public_ingress": True, "firewall": FIREWALL},
])
@pytest.mark.parametrize("vpc", [None, Vpc("vpc-5", "eu-west-1", "1", None, ())], ids=["no-vpc", "no-cidr"])
def test_unknown_vpc_cidr_when_needed_is_unresolved(values: dict[str, Any], vpc: Vpc | None) -> None:
    """Only what does not depend on the VPC is required; "inside the VPC" stands for any VPC,
    so only what is extra whatever the VPC turns out to be can be reported."""
    state = resolve(options(**values), vpc)
    assert state.unresolved is not None
    assert "VPC" in state.unresolved
    known = resolve(options(**values), VPC)
    # what does not depend on the VPC stays required: the world's Dask ports, a firewall's CIDR
    # (unless disable_public_ingress makes it depend on the VPC)
    independent = {g for g in shapes(known.required) if g[3] not in (PRIMARY,)}
    if values.get("disable_public_ingress"):
        independent = set()
    assert shapes(state.required) == independent
    envelope = shapes(state.permitted)
    assert ("-1", -1, -1, SELF) in envelope
    known = resolve(options(**values), VPC)
    # every rule of the known state is in the envelope, with the VPC's blocks standing for "any VPC"
    for p, lo, hi, src in shapes(known.required) | shapes(known.permitted):
        assert (p, lo, hi, src) in envelope or (
            src in VPC.cidrs and (p, lo, hi, UNKNOWN_VPC) in envelope)


@pytest.mark.parametrize("values", [{}, {"firewall": FIREWALL}, {"enable_public_http": True}])
def test_unknown_vpc_is_fine_when_not_needed(values: dict[str, Any]) -> None:
    state = resolve(options(**values), None)
    assert state.unresolved is None
    assert required(state) == required(resolve(options(**values), VPC))


# -- warnings --------------------------------------------------------------------------------

def test_disable_overrides_explicit_flags_with_a_warning() -> None:
    opts, _ = options_from_yaml("disable_public_ingress: true\nenable_public_ssh: true\n"
                                "enable_public_http: true\n")
    state = resolve(opts, VPC)
    assert state.warnings == (
        "disable_public_ingress (policy.yaml:1) overrides enable_public_ssh=true (policy.yaml:2)",
        "disable_public_ingress (policy.yaml:1) overrides enable_public_http=true (policy.yaml:3)",
    )


@pytest.mark.parametrize("text", [
    "disable_public_ingress: true\n",
    "disable_public_ingress: true\nenable_public_ssh: false\nenable_public_http: false\n",
    "disable_public_ingress: false\nenable_public_ssh: true\n",
    "disable_public_ingress: true\nfirewall: {ports: [9000], cidr: 10.0.5.0/24}\n",
])
def test_no_warning_when_nothing_is_overridden(text: str) -> None:
    opts, _ = options_from_yaml(text)
    assert resolve(opts, VPC).warnings == ()


def test_disable_overrides_firewall_outside_the_vpc_with_a_warning() -> None:
    opts, _ = options_from_yaml("disable_public_ingress: true\n"
                                "firewall: {ports: [9000], cidr: 192.168.0.0/16}\n")
    state = resolve(opts, VPC)
    assert state.warnings == (
        "disable_public_ingress (policy.yaml:1) overrides firewall (policy.yaml:2): 192.168.0.0/16 "
        "is not inside the VPC (10.0.0.0/16, 10.1.0.0/16)",
    )
    assert all(g.source != "192.168.0.0/16" for g in state.required + state.permitted)


def test_disable_keeps_firewall_inside_the_vpc_without_warning() -> None:
    opts, _ = options_from_yaml("disable_public_ingress: true\n"
                                "firewall: {ports: [100, 9012, 465], cidr: 10.1.0.0/16}\n")
    state = resolve(opts, VPC)
    assert state.warnings == ()
    assert required(state) >= FIREWALL_RULES


def test_warning_names_each_level_when_cluster_overrides_account() -> None:
    data = load_yaml("backend_options:\n  enable_public_ssh: true\n"
                     "clusters:\n  - match: {tags: {coiled-cluster: etl}}\n"
                     "    backend_options: {disable_public_ingress: true}\n")
    policy = parse_policy(data, "p.yaml")
    group = Group("sg-1", "etl", "vpc-1", "eu-west-1", "111122223333",
                  tags=(("owner", "coiled"), ("coiled-cluster", "etl")))
    opts, matched = effective_options(policy, group)
    assert matched == (0,)
    state = resolve(opts, VPC)
    assert state.warnings == (
        "disable_public_ingress (p.yaml:5) overrides enable_public_ssh=true (p.yaml:2)",)
    assert required(state) == {tcp(p, PRIMARY) for p in (22, 8786, 8787)}


# -- origins: explain relies on them ---------------------------------------------------------

def test_grants_name_the_option_that_produced_them() -> None:
    opts, _ = options_from_yaml("enable_public_ssh: false\nfirewall: {ports: [100], cidr: 10.1.0.0/16}\n")
    state = resolve(opts, VPC)
    by_shape = {(g.protocol, g.from_port, g.to_port, g.source): g for g in state.required + state.permitted}
    assert by_shape[tcp(22, PRIMARY)].origins == (Origin("enable_public_ssh", False, "policy.yaml:1"),)
    fw = by_shape[tcp(100, SECONDARY)].origins
    assert [(o.key, o.where) for o in fw] == [("firewall", "policy.yaml:2")]
    defaults = resolve({}, VPC)
    ssh = next(g for g in defaults.required if g.from_port == 22)
    assert ssh.origins == (Origin("enable_public_ssh", True, "default"),)


# -- allow list and precedence ---------------------------------------------------------------

def test_allow_grants_join_the_envelope_not_the_requirements() -> None:
    allow = (Grant("tcp", 443, 443, "198.51.100.0/24", "listed in the policy's allow (p.yaml:9)"),)
    state = resolve({}, VPC, allow)
    assert tcp(443, "198.51.100.0/24") in shapes(state.permitted)
    assert tcp(443, "198.51.100.0/24") not in required(state)


def _policy(text: str, tmp_path: Path) -> Any:
    return parse_policy(load_yaml(text), str(tmp_path / "p.yaml"), base_dir=tmp_path)


def test_precedence_account_then_dask_config_then_cluster(tmp_path: Path) -> None:
    (tmp_path / "coiled.yaml").write_text("coiled:\n  backend-options:\n    enable-public-ssh: true\n"
                                          "    enable_public_http: false\n")
    policy = _policy("backend_options: {enable_public_ssh: false, disable_public_ingress: false}\n"
                     "dask_config: coiled.yaml\n"
                     "clusters:\n"
                     "  - match: {names: ['etl-*']}\n"
                     "    backend_options: {enable_public_http: true}\n"
                     "  - match: {group_ids: [sg-9]}\n"
                     "    backend_options: {enable_public_http: false}\n", tmp_path)
    plain = Group("sg-1", "other", "vpc-1", "r", "a")
    opts, matched = effective_options(policy, plain)
    assert matched == ()
    assert {k: o.value for k, o in opts.items()} == {
        "enable_public_ssh": True, "enable_public_http": False, "disable_public_ingress": False}
    assert opts["enable_public_ssh"].where.endswith("coiled.yaml:3")

    etl = Group("sg-2", "etl-7", "vpc-1", "r", "a")
    opts, matched = effective_options(policy, etl)
    assert matched == (0,)
    assert opts["enable_public_http"].value is True

    both = Group("sg-9", "etl-9", "vpc-1", "r", "a")
    opts, matched = effective_options(policy, both)
    assert matched == (0, 1)
    assert opts["enable_public_http"].value is False  # later entries win, in file order


def test_default_select_is_owner_coiled() -> None:
    policy = parse_policy(None, "p.yaml")
    assert policy.select == Matcher(tags=(("owner", "coiled"),), network_tags=("coiled*",))
