"""``audit.Selector`` remembers a group's options and role per what the policy's matchers
read: it must answer exactly as ``effective_options`` and ``group_role`` do for each group,
refusals included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sgaudit.engine.audit import Selector
from sgaudit.engine.resolve import effective_options, group_role
from sgaudit.errors import PolicyError
from sgaudit.model import Group
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.yamlsource import load_yaml

POLICIES = ("""
backend_options: {enable_public_ssh: false}
clusters:
  - match: {tags: {coiled-cluster: etl}}
    backend_options: {disable_public_ingress: true}
  - match: {tags: {coiled-cluster: analytics}}
    backend_options: {firewall: {ports: [100], cidr: 10.1.0.0/16}}
""", """
roles:
  cluster: {names: ["coiled-*-cluster"]}
clusters:
  - match: {tags: {coiled-role: workers}}
    role: scheduler
  - match: {names: ["*-etl-*"]}
    backend_options: {enable_public_http: true}
""", """
clusters:
  - match: {group_ids: [sg-1, sg-2]}
    backend_options: {enable_public_ssh: true}
""")

groups = st.builds(
    lambda gid, name, tags, cloud: Group(gid, name, "vpc-1", "eu-west-1", "1", tags=tuple(tags),
                                         cloud=cloud),
    st.sampled_from(("sg-1", "sg-2", "sg-3", "coiled-a")),
    st.sampled_from(("coiled-etl-cluster", "coiled-etl-1", "coiled-x-cluster", "app")),
    st.lists(st.tuples(st.sampled_from(("coiled-cluster", "coiled-role", "owner")),
                       st.sampled_from(("etl", "analytics", "workers", "coiled"))), max_size=3),
    st.sampled_from(("aws", "aws", "gcp")))


def direct(policy: object, group: Group) -> object:
    try:
        options, matched = effective_options(policy, group)  # type: ignore[arg-type]
        return (options, matched, *group_role(policy, group, matched))  # type: ignore[arg-type]
    except PolicyError as exc:
        return str(exc)


@settings(max_examples=200, deadline=None)
@given(which=st.sampled_from(range(len(POLICIES))), fleet=st.lists(groups, min_size=1, max_size=8))
def test_selector_answers_as_effective_options_and_group_role(which: int, fleet: list[Group]) -> None:
    policy = parse_policy(load_yaml(POLICIES[which]), "policy.yaml")
    selector = Selector(policy)
    for group in fleet:
        try:
            got: object = selector.options_and_role(group)
        except PolicyError as exc:
            got = str(exc)
        assert got == direct(policy, group)


def test_groups_differing_only_in_what_no_matcher_reads_share_one_answer() -> None:
    policy = parse_policy(load_yaml(POLICIES[0]), "policy.yaml")
    selector = Selector(policy)
    for i in range(50):
        group = Group(f"sg-{i}", f"coiled-{i}", "vpc-1", "eu-west-1", "1",
                      tags=(("coiled-cluster", "etl"), ("Name", f"coiled-etl-{i}")))
        assert selector.options_and_role(group) == direct(policy, group)
    assert len(selector._seen) == 1
