"""CIDR-set arithmetic against a brute-force model: Python sets of the addresses of one /24
(IPv4) or one /120 (IPv6), where every address can be enumerated."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgaudit.net import addresses, intervals

V4_BASE = int(ipaddress.IPv4Address("192.0.2.0"))
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


@st.composite
def v4_cidr(draw: st.DrawFn) -> str:
    """A /24../32 inside 192.0.2.0/24, sometimes written with host bits set."""
    length = draw(st.integers(24, 32))
    offset = draw(st.integers(0, 255))
    return f"{ipaddress.IPv4Address(V4_BASE + offset)}/{length}"


@st.composite
def v6_cidr(draw: st.DrawFn) -> str:
    """A /120../128 inside 2001:db8::/120."""
    length = draw(st.integers(120, 128))
    offset = draw(st.integers(0, 255))
    return f"{ipaddress.IPv6Address(V6_BASE + offset)}/{length}"


cidr_lists = st.lists(st.one_of(v4_cidr(), v6_cidr()), max_size=6)
v4_lists = st.lists(v4_cidr(), max_size=6)


def model(cidrs: list[str]) -> set[tuple[int, int]]:
    """Every address of the CIDRs, as (IP version, integer)."""
    out = set()
    for c in cidrs:
        net = ipaddress.ip_network(c, strict=False)
        out.update((net.version, int(a)) for a in net)
    return out


def members(intervals: intervals.IntervalSet) -> set[tuple[int, int]]:
    """The addresses of an interval set on sgaudit's shared line, as (IP version, integer)."""
    out = set()
    for lo, hi in intervals:
        assert hi - lo < 1 << 10, "the model only ever builds small sets"
        for x in range(lo, hi + 1):
            out.add((6, x - addresses.V6_OFFSET) if x >= addresses.V6_OFFSET else (4, x))
    return out


@given(cidr_lists)
def test_cidr_set_holds_exactly_the_addresses(cidrs: list[str]) -> None:
    assert members(addresses.cidr_set(cidrs)) == model(cidrs)


@given(cidr_lists, cidr_lists)
def test_set_operations_match_python_sets(a: list[str], b: list[str]) -> None:
    sa, sb = addresses.cidr_set(a), addresses.cidr_set(b)
    assert members(intervals.subtract(sa, sb)) == model(a) - model(b)
    assert members(intervals.intersect(sa, sb)) == model(a) & model(b)
    assert intervals.covers(sa, sb) == (model(a) >= model(b))


@given(cidr_lists)
def test_to_cidrs_round_trips_with_the_fewest_blocks(cidrs: list[str]) -> None:
    back = addresses.to_cidrs(addresses.cidr_set(cidrs))
    assert model(back) == model(cidrs)
    for c in back:
        assert addresses.parse_cidr(c) == (c, True)
    fewest = [n for version in (4, 6) for n in ipaddress.collapse_addresses(
        ipaddress.ip_network(c, strict=False) for c in cidrs
        if ipaddress.ip_network(c, strict=False).version == version)]
    assert list(back) == [str(n) for n in fewest]


@given(v4_cidr())
def test_non_canonical_cidr_is_normalised(cidr: str) -> None:
    canonical, was_canonical = addresses.parse_cidr(cidr)
    assert canonical == str(ipaddress.ip_network(cidr, strict=False))
    assert was_canonical == (canonical == cidr)
    assert addresses.parse_cidr(canonical) == (canonical, True)


@pytest.mark.parametrize(
    ("text", "canonical", "was_canonical"),
    [
        ("10.1.0.2/16", "10.1.0.0/16", False),
        ("10.1.0.0/16", "10.1.0.0/16", True),
        ("0.0.0.0/0", "0.0.0.0/0", True),
        ("10.0.0.5", "10.0.0.5/32", False),
        ("::/0", "::/0", True),
        ("2001:DB8::/32", "2001:db8::/32", False),
        ("2001:db8::1/64", "2001:db8::/64", False),
    ],
)
def test_parse_cidr(text: str, canonical: str, was_canonical: bool) -> None:
    assert addresses.parse_cidr(text) == (canonical, was_canonical)


@pytest.mark.parametrize("text", ["10.1.0.300/16", "10.0.0.0/33", "300.0.0.0/8", "", "  ", "sg-123",
                                  "10.0.0.0/", "::/129"])
def test_invalid_cidrs_are_refused(text: str) -> None:
    with pytest.raises(addresses.CidrError):
        addresses.parse_cidr(text)


def test_two_slash_17_cover_a_slash_16() -> None:
    halves = addresses.cidr_set(["10.0.0.0/17", "10.0.128.0/17"])
    assert halves == addresses.cidr_set(["10.0.0.0/16"])
    assert intervals.covers(halves, addresses.cidr_set(["10.0.0.0/16"]))
    assert not intervals.covers(addresses.cidr_set(["10.0.0.0/17"]), addresses.cidr_set(["10.0.0.0/16"]))


def test_two_halves_are_the_ipv4_internet() -> None:
    halves = addresses.cidr_set(["0.0.0.0/1", "128.0.0.0/1"])
    assert halves == addresses.cidr_set(["0.0.0.0/0"]) == addresses.V4_ALL
    assert addresses.is_world(halves)
    assert addresses.to_cidrs(halves) == ("0.0.0.0/0",)


def test_ipv4_and_ipv6_never_overlap() -> None:
    v4 = addresses.cidr_set(["0.0.0.0/0"])
    v6 = addresses.cidr_set(["::/0"])
    assert intervals.intersect(v4, v6) == ()
    assert v6 == addresses.V6_ALL
    # the IPv4-mapped IPv6 block is IPv6 space, not IPv4
    mapped = addresses.cidr_set(["::ffff:0:0/96"])
    assert intervals.intersect(mapped, v4) == ()
    assert intervals.normalize(v4 + v6) == addresses.INTERNET


@pytest.mark.parametrize(
    ("cidrs", "world"),
    [
        (["0.0.0.0/0"], True),
        (["::/0"], True),
        (["0.0.0.0/1", "128.0.0.0/1"], True),
        (["0.0.0.0/1"], False),
        (["::/1", "8000::/1"], True),
        (["2000::/3"], False),
        (["10.0.0.0/8"], False),
    ],
)
def test_is_world(cidrs: list[str], world: bool) -> None:
    assert addresses.is_world(addresses.cidr_set(cidrs)) is world


@pytest.mark.parametrize(
    ("cidrs", "private"),
    [
        (["10.0.0.0/8"], True),
        (["10.1.0.0/16", "192.168.1.0/24", "172.16.0.0/12"], True),
        (["100.64.0.0/10"], True),
        (["fd00::/8"], True),
        (["172.32.0.0/16"], False),
        (["10.0.0.0/7"], False),
        (["198.51.100.0/24"], False),
        (["::/0"], False),
    ],
)
def test_is_private(cidrs: list[str], private: bool) -> None:
    assert addresses.is_private(addresses.cidr_set(cidrs)) is private


def test_describe() -> None:
    assert addresses.describe(addresses.INTERNET) == "0.0.0.0/0 and ::/0"
    assert addresses.describe(addresses.cidr_set(["10.0.0.0/16", "10.1.0.0/16"])) == "10.0.0.0/15"
    many = addresses.cidr_set([f"10.0.{i * 2}.0/24" for i in range(8)])
    assert addresses.describe(many) == ("10.0.0.0/24, 10.0.2.0/24, 10.0.4.0/24, 10.0.6.0/24, "
                                        "10.0.8.0/24, 10.0.10.0/24 and 2 more")


def test_one_ipv6_block_is_spelled_from_the_start_of_ipv6() -> None:
    """IPv6 blocks align from where IPv6 starts on the shared line (2**32), not from 0: ::/95
    is one block, and the 2**33 addresses from ::1:0:0 are not (they straddle two /95s).
    Found by the property test in tests/engine/test_fast_paths.py."""
    v6 = addresses.V6_OFFSET
    assert addresses.interval_text(v6, v6 + 2**33 - 1) == "::/95"
    assert addresses.interval_text(2 * v6, 2 * v6 + 2**33 - 1) is None
    assert addresses.to_cidrs(((2 * v6, 2 * v6 + 2**33 - 1),)) == ("::1:0:0/96", "::2:0:0/96")
    assert addresses.interval_text(2 * v6, 2 * v6 + 2**32 - 1) == "::1:0:0/96"
