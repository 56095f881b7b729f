"""Port-interval arithmetic against a brute-force model: sets of small integers."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgaudit import ports

SMALL = 63  # the model's axis is 0..63: small enough to enumerate, big enough for gaps


@st.composite
def interval(draw: st.DrawFn, top: int = SMALL) -> ports.Interval:
    a = draw(st.integers(0, top))
    b = draw(st.integers(0, top))
    return (min(a, b), max(a, b))


raw_sets = st.lists(interval(), max_size=8)


def points(intervals: ports.IntervalSet | list[ports.Interval]) -> set[int]:
    return {p for lo, hi in intervals for p in range(lo, hi + 1)}


def assert_normal(intervals: ports.IntervalSet) -> None:
    """Sorted, disjoint, non-adjacent, each lo <= hi."""
    for lo, hi in intervals:
        assert lo <= hi
    for (_, prev_hi), (lo, _) in pairwise(intervals):
        assert lo > prev_hi + 1


@given(raw_sets)
def test_normalize_keeps_the_points_and_is_canonical(raw: list[ports.Interval]) -> None:
    norm = ports.normalize(raw)
    assert points(norm) == points(raw)
    assert_normal(norm)
    assert ports.normalize(norm) == norm


@given(raw_sets, raw_sets)
def test_normal_form_is_unique(a: list[ports.Interval], b: list[ports.Interval]) -> None:
    assert (ports.normalize(a) == ports.normalize(b)) == (points(a) == points(b))


@given(raw_sets, raw_sets)
def test_subtract_is_set_difference(a: list[ports.Interval], b: list[ports.Interval]) -> None:
    result = ports.subtract(ports.normalize(a), ports.normalize(b))
    assert points(result) == points(a) - points(b)
    assert_normal(result)


@given(raw_sets, raw_sets)
def test_intersect_is_set_intersection(a: list[ports.Interval], b: list[ports.Interval]) -> None:
    result = ports.intersect(ports.normalize(a), ports.normalize(b))
    assert points(result) == points(a) & points(b)
    assert_normal(result)


@given(raw_sets, raw_sets)
def test_covers_is_superset(a: list[ports.Interval], b: list[ports.Interval]) -> None:
    assert ports.covers(ports.normalize(a), ports.normalize(b)) == (points(a) >= points(b))


@given(raw_sets, raw_sets, st.integers(0, 1 << 130))
def test_arithmetic_does_not_depend_on_where_the_axis_sits(
        a: list[ports.Interval], b: list[ports.Interval], shift: int) -> None:
    """The address line reuses this code with integers up to 2**160: shifting changes nothing."""
    def moved(s: ports.IntervalSet) -> ports.IntervalSet:
        return tuple((lo + shift, hi + shift) for lo, hi in s)

    na, nb = ports.normalize(a), ports.normalize(b)
    assert ports.normalize(moved(na)) == moved(na)
    assert ports.subtract(moved(na), moved(nb)) == moved(ports.subtract(na, nb))
    assert ports.intersect(moved(na), moved(nb)) == moved(ports.intersect(na, nb))


@given(st.lists(interval(ports.PORT_MAX), max_size=6), st.lists(interval(ports.PORT_MAX), max_size=6))
def test_whole_axis_subtract_then_intersect_is_empty(a: list[ports.Interval],
                                                     b: list[ports.Interval]) -> None:
    na, nb = ports.normalize(a), ports.normalize(b)
    rest = ports.subtract(na, nb)
    assert ports.intersect(rest, nb) == ()
    assert ports.normalize(rest + ports.intersect(na, nb)) == na


def test_empty_sets() -> None:
    assert ports.normalize([]) == ()
    assert ports.subtract((), ((0, 5),)) == ()
    assert ports.subtract(((0, 5),), ()) == ((0, 5),)
    assert ports.intersect(((0, 5),), ()) == ()
    assert ports.covers(((0, 5),), ())
    assert not ports.covers((), ((1, 1),))


def test_adjacent_intervals_merge() -> None:
    assert ports.normalize([(8787, 8787), (8786, 8786)]) == ((8786, 8787),)
    assert ports.normalize([(1, 3), (5, 7)]) == ((1, 3), (5, 7))


@pytest.mark.parametrize(
    ("protocol", "from_port", "to_port", "expected"),
    [
        ("tcp", 22, 22, (22, 22)),
        ("tcp", 8786, 8787, (8786, 8787)),
        ("udp", 0, 65535, (0, 65535)),
        ("tcp", -1, -1, (0, 65535)),
        ("udp", -1, -1, (0, 65535)),
        # icmp: type * 256 + code; code -1 is every code of the type, type -1 every type
        ("icmp", 8, 0, (8 * 256, 8 * 256)),
        ("icmp", 8, -1, (8 * 256, 8 * 256 + 255)),
        ("icmp", -1, -1, (0, 65535)),
        ("icmpv6", 128, -1, (128 * 256, 128 * 256 + 255)),
        ("-1", -1, -1, (0, 65535)),
        ("50", -1, -1, (0, 65535)),  # ESP: no ports, the whole axis
    ],
)
def test_axis_interval(protocol: str, from_port: int, to_port: int, expected: ports.Interval) -> None:
    assert ports.axis_interval(protocol, from_port, to_port) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tcp", "tcp"), ("TCP", "tcp"), ("6", "tcp"), (6, "tcp"),
        ("udp", "udp"), ("17", "udp"),
        ("icmp", "icmp"), ("1", "icmp"),
        ("icmpv6", "icmpv6"), ("58", "icmpv6"),
        ("-1", "-1"), (-1, "-1"), ("all", "-1"),
        ("50", "50"), ("255", "255"),
        ("256", None), ("tcpx", None), ("", None), ("-2", None),
    ],
)
def test_normalize_protocol(raw: object, expected: str | None) -> None:
    assert ports.normalize_protocol(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (22, (22, 22)), (1, (1, 1)), (65535, (65535, 65535)), ("443", (443, 443)),
        ("8000-8100", (8000, 8100)), (" 10 - 20 ", (10, 20)),
        (0, None), (65536, None), (70000, None), (-1, None), (True, None), ("20-10", None),
        ("0-10", None), ("a-b", None), (2.5, None), (None, None), ([22], None),
    ],
)
def test_parse_port_spec(raw: object, expected: ports.Interval | None) -> None:
    assert ports.parse_port_spec(raw) == expected


@pytest.mark.parametrize(
    ("protocol", "intervals", "text"),
    [
        ("tcp", ((22, 22), (8786, 8787)), "22, 8786-8787"),
        ("tcp", ((0, 65535),), "all ports"),
        ("icmp", ((0, 65535),), "all types"),
        ("icmp", ((8 * 256, 8 * 256 + 255),), "type 8"),
        ("icmp", ((3 * 256 + 4, 3 * 256 + 4),), "type 3 code 4"),
        ("icmp", ((0, 3 * 256 + 255),), "types 0-3"),
    ],
)
def test_format_axis(protocol: str, intervals: ports.IntervalSet, text: str) -> None:
    assert ports.format_axis(protocol, intervals) == text
