"""The ``account``/``region``/``network`` keys of waivers and ``allow`` entries, and the GCP
sources (``tag:``, ``sa:``, policy tokens) they can name: what is accepted, and one exact line
for everything that is not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Run

from sgaudit.errors import PolicyError
from sgaudit.model.groups import Group
from sgaudit.model.policy import Place, Policy, Waiver
from sgaudit.net import addresses
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.yamlsource import load_yaml
from sgaudit.sources import gcppolicies

WAIVER = "waivers:\n  - {group_id: %s, source: %s, reason: r, expires: 2026-04-30%s}\n"
ALLOW = "allow:\n  - {protocol: tcp, ports: [22], source: %s%s}\n"


def policy(text: str) -> Policy:
    return parse_policy(load_yaml(text), "policy.yaml")


def waiver(target: str = "coiled-etl", source: str = "0.0.0.0/0", place: str = "") -> Waiver:
    [w] = policy(WAIVER % (target, source, place)).waivers
    return w


def refusal(text: str) -> str:
    with pytest.raises(PolicyError) as raised:
        policy(text)
    return str(raised.value)


# -- places ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("target", "place", "expected"), [
    ("coiled-etl", "", Place()),
    ("coiled-etl", ", account: staging", Place(account="staging")),
    ("coiled-etl", ", account: 'example.com:staging', network: default, region: global",
     Place(account="example.com:staging", region="global", network="default")),
    ("sg-0123", ", account: 111122223333, region: us-gov-west-1", Place("111122223333", "us-gov-west-1")),
    ("sg-0123", ", account: '012345678901'", Place(account="012345678901")),
    # an AWS CLI file read without a --region label reports region "unknown"
    ("sg-0123", ", region: unknown", Place(region="unknown")),
])
def test_a_waiver_place(target: str, place: str, expected: Place) -> None:
    assert waiver(target, place=place).place == expected


@pytest.mark.parametrize(("target", "place", "message"), [
    ("coiled-etl", ", account: '１１１１２２２２３３３３'",
     "account: expected a 12-digit AWS account id or a Google Cloud project id, "
     "got '１１１１２２２２３３３３'"),
    ("sg-0123", ", account: 11112222333",
     "account: expected a 12-digit AWS account id or a Google Cloud project id, got 11112222333 "
     "(quote it: YAML reads a number with a leading 0 differently)"),
    ("sg-0123", ", account: 012345670123",
     "account: expected a 12-digit AWS account id or a Google Cloud project id, got 1402433619 "
     "(quote it: YAML reads a number with a leading 0 differently)"),
    ("sg-0123", ", account: null",
     "account: expected a 12-digit AWS account id or a Google Cloud project id, got null"),
    ("coiled-etl", ", region: us-east1",
     "region: expected an AWS region such as us-east-1, or global (every Google Cloud target's "
     "region), got 'us-east1'"),
    ("coiled-etl", ", network: Default",
     "network: expected a Google Cloud network name (lower-case letters, digits and hyphens), "
     "got 'Default'"),
    ("coiled-etl", ", network: [a]",
     "network: expected a Google Cloud network name (lower-case letters, digits and hyphens), "
     "got ['a']"),
    # each key says which cloud it is for; the target says it too
    ("sg-0123", ", network: default",
     "network: 'default' is for Google Cloud, but group_id sg-0123 is an AWS security group"),
    ("sg-0123", ", account: staging",
     "account: 'staging' is for Google Cloud, but group_id sg-0123 is an AWS security group"),
    ("coiled-etl", ", account: 111122223333",
     "account: 111122223333 is for AWS, but group_id coiled-etl is a Google Cloud network tag"),
    ("coiled-etl", ", region: us-east-1",
     "region: 'us-east-1' is for AWS, but group_id coiled-etl is a Google Cloud network tag"),
])
def test_a_bad_waiver_place_is_one_line(target: str, place: str, message: str) -> None:
    assert refusal(WAIVER % (target, "0.0.0.0/0", place)) == f"policy.yaml:2: waivers[0].{message}"


def test_an_allow_entry_takes_its_cloud_from_its_keys() -> None:
    [grant] = policy(ALLOW % ("0.0.0.0/0", ", account: 111122223333, region: eu-west-1")).allow
    assert grant.place == Place("111122223333", "eu-west-1")
    assert grant.origins[0].value == "tcp from 0.0.0.0/0 in account 111122223333 region eu-west-1"
    [grant] = policy(ALLOW % ("0.0.0.0/0", ", network: default")).allow
    assert grant.place == Place(network="default")
    assert refusal(ALLOW % ("0.0.0.0/0", ", account: 111122223333, network: default")) == (
        "policy.yaml:2: allow[0].network: 'default' is for Google Cloud, but account 111122223333 "
        "is for AWS")
    assert refusal(ALLOW % ("0.0.0.0/0", ", region: global, account: 111122223333")) == (
        "policy.yaml:2: allow[0].region: 'global' is for Google Cloud, but account 111122223333 "
        "is for AWS")


def test_a_place_holds_only_its_own_groups() -> None:
    gcp = Group("coiled-etl", "coiled-etl", "default", "global", "staging", cloud="gcp")
    aws = Group("sg-1", "g", "vpc-1", "us-east-1", "111122223333")
    assert Place().holds(gcp) and Place().holds(aws)
    assert Place(account="staging", network="default").holds(gcp)
    assert not Place(account="prod").holds(gcp)
    assert not Place(network="other").holds(gcp)
    assert not Place(network="vpc-1").holds(aws)  # a network is a GCP network, never a VPC
    assert Place("111122223333", "us-east-1").holds(aws)
    assert not Place(region="us-west-2").holds(aws)


# -- sources -------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "tag:bastion", "sa:runner@acme.iam.gserviceaccount.com", "srcFqdns:ci.example.com",
    "srcSecureTags:tagValues/123", "srcRegionCodes:US", "srcThreatIntelligences:iplist-tor-exit-nodes",
    "srcAddressGroups:projects/acme/locations/global/addressGroups/vendors",
])
def test_gcp_sources_are_accepted_as_findings_print_them(source: str) -> None:
    assert waiver(source=f"'{source}'").source == source
    [grant] = policy(ALLOW % (f"'{source}'", "")).allow
    assert grant.source == source


def test_a_waiver_may_name_its_own_target_tag_as_the_source() -> None:
    """A rule whose source tag is its own target prints the bare tag as the finding's source
    (as a cluster's missing own traffic does)."""
    assert waiver(source="coiled-etl").source == "coiled-etl"
    # another tag is not its own: a bare name is no source
    assert refusal(WAIVER % ("coiled-etl", "coiled-ml", "")) == (
        "policy.yaml:2: waivers[0].source: invalid CIDR 'coiled-ml'")


@pytest.mark.parametrize(("source", "message"), [
    ("tags:web", "unknown source kind 'tags'; did you mean 'tag'? (a CIDR, sg-…, pl-…, or one of "
                 + ", ".join(f"{k}:" for k in addresses.GCP_SOURCE_KINDS) + ")"),
    ("tag:Web_1", "expected tag:NAME with a network tag (lower-case letters, digits and hyphens), "
                  "got 'tag:Web_1'"),
    ("sa:runner", "expected sa:EMAIL with a service account's email, got 'sa:runner'"),
    ("'srcFqdns:a b'", "expected srcFqdns:VALUE with a value of printable characters and no spaces, "
                       "got 'srcFqdns:a b'"),
    ("'srcFqdns:'", "expected srcFqdns:VALUE with a value of printable characters and no spaces, "
                    "got 'srcFqdns:'"),
])
def test_a_bad_gcp_source_is_one_line(source: str, message: str) -> None:
    assert refusal(ALLOW % (source, "")) == f"policy.yaml:2: allow[0].source: {message}"


def test_every_source_kind_the_gcp_reader_makes_is_known() -> None:
    """The reader's token kinds (gcppolicies) and the policy's (addresses) cannot drift apart."""
    made = {"tag", "sa", "srcSecureTags", *gcppolicies._OTHER_SOURCES}
    assert made == set(addresses.GCP_SOURCE_KINDS)


def test_a_bad_place_stops_check_with_one_line(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(WAIVER % ("sg-0123", "0.0.0.0/0", ", network: default"))
    run = sgaudit("check", "--policy", path, "--snapshot", tmp_path / "none.json")
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {path}:2: waivers[0].network: 'default' is for "
                             "Google Cloud, but group_id sg-0123 is an AWS security group"]
