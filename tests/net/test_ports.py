"""Port-interval arithmetic against a brute-force model: sets of small integers."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgaudit.net import intervals, ports

SMALL = 63  # the model's axis is 0..63: small enough to enumerate, big enough for gaps


@st.composite
def interval(draw: st.DrawFn, top: int = SMALL) -> intervals.Interval:
    a = draw(st.integers(0, top))
    b = draw(st.integers(0, top))
    return (min(a, b), max(a, b))


raw_sets = st.lists(interval(), max_size=8)


def points(intervals: intervals.IntervalSet | list[intervals.Interval]) -> set[int]:
    return {p for lo, hi in intervals for p in range(lo, hi + 1)}


def assert_normal(intervals: intervals.IntervalSet) -> None:
    """Sorted, disjoint, non-adjacent, each lo <= hi."""
    for lo, hi in intervals:
        assert lo <= hi
    for (_, prev_hi), (lo, _) in pairwise(intervals):
        assert lo > prev_hi + 1


@given(raw_sets)
def test_normalize_keeps_the_points_and_is_canonical(raw: list[intervals.Interval]) -> None:
    norm = intervals.normalize(raw)
    assert points(norm) == points(raw)
    assert_normal(norm)
    assert intervals.normalize(norm) == norm


@given(raw_sets, raw_sets)
def test_normal_form_is_unique(a: list[intervals.Interval], b: list[intervals.Interval]) -> None:
    assert (intervals.normalize(a) == intervals.normalize(b)) == (points(a) == points(b))


@given(raw_sets, raw_sets)
def test_subtract_is_set_difference(a: list[intervals.Interval], b: list[intervals.Interval]) -> None:
    result = intervals.subtract(intervals.normalize(a), intervals.normalize(b))
    assert points(result) == points(a) - points(b)
    assert_normal(result)


@given(raw_sets, raw_sets)
def test_intersect_is_set_intersection(a: list[intervals.Interval], b: list[intervals.Interval]) -> None:
    result = intervals.intersect(intervals.normalize(a), intervals.normalize(b))
    assert points(result) == points(a) & points(b)
    assert_normal(result)


@given(raw_sets, raw_sets)
def test_covers_is_superset(a: list[intervals.Interval], b: list[intervals.Interval]) -> None:
    assert intervals.covers(intervals.normalize(a), intervals.normalize(b)) == (points(a) >= points(b))


@given(raw_sets, raw_sets, st.integers(0, 1 << 130))
def test_arithmetic_does_not_depend_on_where_the_axis_sits(
        a: list[intervals.Interval], b: list[intervals.Interval], shift: int) -> None:
    """The address line reuses this code with integers up to 2**160: shifting changes nothing."""
    def moved(s: intervals.IntervalSet) -> intervals.IntervalSet:
        return tuple((lo + shift, hi + shift) for lo, hi in s)

    na, nb = intervals.normalize(a), intervals.normalize(b)
    assert intervals.normalize(moved(na)) == moved(na)
    assert intervals.subtract(moved(na), moved(nb)) == moved(intervals.subtract(na, nb))
    assert intervals.intersect(moved(na), moved(nb)) == moved(intervals.intersect(na, nb))


@given(st.lists(interval(ports.PORT_MAX), max_size=6), st.lists(interval(ports.PORT_MAX), max_size=6))
def test_whole_axis_subtract_then_intersect_is_empty(a: list[intervals.Interval],
                                                     b: list[intervals.Interval]) -> None:
    na, nb = intervals.normalize(a), intervals.normalize(b)
    rest = intervals.subtract(na, nb)
    assert intervals.intersect(rest, nb) == ()
    assert intervals.normalize(rest + intervals.intersect(na, nb)) == na


def test_empty_sets() -> None:
    assert intervals.normalize([]) == ()
    assert intervals.subtract((), ((0, 5),)) == ()
    assert intervals.subtract(((0, 5),), ()) == ((0, 5),)
    assert intervals.intersect(((0, 5),), ()) == ()
    assert intervals.covers(((0, 5),), ())
    assert not intervals.covers((), ((1, 1),))


def test_adjacent_intervals_merge() -> None:
    assert intervals.normalize([(8787, 8787), (8786, 8786)]) == ((8786, 8787),)
    assert intervals.normalize([(1, 3), (5, 7)]) == ((1, 3), (5, 7))


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
def test_axis_interval(protocol: str, from_port: int, to_port: int, expected: intervals.Interval) -> None:
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
def test_parse_port_spec(raw: object, expected: intervals.Interval | None) -> None:
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
def test_format_axis(protocol: str, intervals: intervals.IntervalSet, text: str) -> None:
    assert ports.format_axis(protocol, intervals) == text
