"""What ``--fix`` writes into a GCP firewall rule: exact sources and ports, never approximated;
RFC 1035 names; fingerprints that see any change."""

from __future__ import annotations

import pytest

from sgaudit.engine.diff import OTHER, Outside
from sgaudit.engine.resolve import SELF
from sgaudit.model import Grant
from sgaudit.net import addresses
from sgaudit.remediate.gcp import shapes as gcp_shapes
from sgaudit.remediate.gcp.shapes import Inexpressible, Shape

KEYS = ("tcp", "udp", "icmp", "icmpv6", OTHER)
FULL = ((0, 65535),)


def piece(protocol: str, axis: tuple[tuple[int, int], ...], *cidrs: str, token: str | None = None) -> Outside:
    return Outside(protocol, axis, addrs=addresses.cidr_set(cidrs) if cidrs else (), token=token)


def test_ipv4_and_ipv6_sources_are_separate_rules_and_ports_are_exact() -> None:
    shapes = gcp_shapes.shapes([piece("tcp", ((22, 22), (8000, 8100)), "0.0.0.0/0", "::/0")], KEYS, "t")
    assert shapes == [Shape((("tcp", ("22", "8000-8100")),), source_ranges=("0.0.0.0/0",)),
                      Shape((("tcp", ("22", "8000-8100")),), source_ranges=("::/0",))]


def test_ports_with_the_same_sources_make_one_rule() -> None:
    """Each port range gets every source that reaches it: 22 from 10/8, 8786-8787 from both."""
    shapes = gcp_shapes.shapes([piece("tcp", ((22, 22),), "10.0.0.0/8"),
                                piece("tcp", ((8786, 8787),), "10.0.0.0/8"),
                                piece("tcp", ((8786, 8787),), "0.0.0.0/5")], KEYS, "t")
    assert shapes == [Shape((("tcp", ("22",)),), source_ranges=("10.0.0.0/8",)),
                      Shape((("tcp", ("8786-8787",)),), source_ranges=("0.0.0.0/5", "10.0.0.0/8"))]


def test_every_protocol_whole_is_all_and_tokens_become_source_tags_or_accounts() -> None:
    everything = [piece(k, FULL, token=SELF) for k in KEYS]
    assert gcp_shapes.shapes(everything, KEYS, "coiled-a") == [
        Shape((("all", ()),), source_tags=("coiled-a",))]
    assert gcp_shapes.shapes([piece("udp", FULL, token="sa:x@p.iam.gserviceaccount.com")], KEYS, "t") == [
        Shape((("udp", ()),), source_service_accounts=("x@p.iam.gserviceaccount.com",))]


@pytest.mark.parametrize(("pieces", "message"), [
    ([piece(OTHER, FULL, "0.0.0.0/0")], "\"all other protocols\" without the named ones cannot be written "
                                        "as a VPC firewall rule"),
    ([piece("icmp", ((8 * 256, 8 * 256 + 255),), "0.0.0.0/0")],
     "icmp type 8: a VPC firewall rule matches every type of it or none"),
    ([piece("tcp", FULL, token="sg-123")], "source sg-123 is not one a VPC firewall rule can name"),
])
def test_what_no_rule_can_say_is_refused_not_approximated(pieces: list[Outside], message: str) -> None:
    with pytest.raises(Inexpressible) as refused:
        gcp_shapes.shapes(pieces, KEYS, "t")
    assert str(refused.value) == message


def test_a_required_rule_as_one_rule() -> None:
    assert gcp_shapes.grant_shape(Grant("tcp", 8787, 8787, "0.0.0.0/0", "why"), "t") == \
        Shape((("tcp", ("8787",)),), source_ranges=("0.0.0.0/0",))
    assert gcp_shapes.grant_shape(Grant("-1", -1, -1, SELF, "why"), "coiled-a") == \
        Shape((("all", ()),), source_tags=("coiled-a",))


@pytest.mark.parametrize("tag", ["coiled-a", "Ünïcode_TAG", "x" * 80, "-", "9-starts-with-a-digit"])
def test_names_are_rfc_1035_at_most_63_and_never_taken(tag: str) -> None:
    first = gcp_shapes.rule_name("deny", tag, "salt", ())
    second = gcp_shapes.rule_name("deny", tag, "salt", {first})
    for name in (first, second):
        assert gcp_shapes.NAME.match(name) and len(name) <= 63 and name.startswith("sgaudit-deny-")
    assert second != first


def test_any_change_to_a_rule_changes_its_fingerprint() -> None:
    rule = {"name": "r", "priority": 1000, "sourceRanges": ["0.0.0.0/0"], "description": "d"}
    same = dict(reversed(list(rule.items())))
    assert gcp_shapes.fingerprint(rule) == gcp_shapes.fingerprint(same)
    for key, value in (("priority", 999), ("sourceRanges", ["0.0.0.0/1"]), ("description", "e")):
        assert gcp_shapes.fingerprint({**rule, key: value}) != gcp_shapes.fingerprint(rule)
