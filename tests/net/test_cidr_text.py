"""The fast CIDR readers (IPv4 dotted quads, IPv6 colon-hex) and the IPv6 printer against
``ipaddress``, the reference: on random addresses in every spelling ``ipaddress`` reads, and on
hostile text, ``parse_cidr`` and ``cidr_interval`` give what ipaddress gives (or refuse what it
refuses), and ``address_text`` prints what ``str(IPv6Address(n))`` prints."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sgaudit.net import addresses, ipv6


def reference_parse_cidr(text: str) -> tuple[str, bool]:
    """``parse_cidr`` with ipaddress for every address (its fast paths left out)."""
    raw = text.strip()
    if not raw:
        raise addresses.CidrError(text)
    if "/" in raw and not addresses._PREFIX_RE.fullmatch(raw.rsplit("/", 1)[1]):
        raise addresses.CidrError(raw)
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError as exc:
        raise addresses.CidrError(raw) from exc
    return str(net), str(net) == raw


def reference_interval(text: str) -> tuple[int, int] | type[Exception]:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return ValueError
    offset = addresses.V6_OFFSET if net.version == 6 else 0
    return int(net.network_address) + offset, int(net.broadcast_address) + offset


def outcome(func: object, text: str) -> object:
    try:
        return func(text)  # type: ignore[operator]
    except ValueError:  # CidrError and ipaddress's errors alike
        return ValueError


def reference_read_cidr(text: str) -> str:
    return reference_parse_cidr(text)[0]


def assert_like_ipaddress(text: str) -> None:
    assert outcome(addresses.parse_cidr, text) == outcome(reference_parse_cidr, text), text
    addresses.PARSED.pop(text, None)
    assert outcome(addresses.read_cidr, text) == outcome(reference_read_cidr, text), text
    if text in addresses.PARSED:  # what the snapshot reader leaves for the differ
        assert addresses.PARSED[text] == reference_interval(text), text
    assert outcome(addresses.cidr_interval, text) == reference_interval(text), text
    fast4 = addresses._fast_v4(text)
    if fast4 is not None:
        net = ipaddress.ip_network(text, strict=False)
        assert (int(ipaddress.IPv4Address(text.partition("/")[0])), net.prefixlen) == fast4
    fast = ipv6.parse(text)
    if fast is not None:  # what the fast path reads, ipaddress reads to the same value
        net = ipaddress.ip_network(text, strict=False)
        assert (int(ipaddress.IPv6Address(text.partition("/")[0])), net.prefixlen) == fast
    block = ipv6.canonical_block(text)
    if block is not None:  # only a network as ipaddress prints it, read to its value
        net = ipaddress.ip_network(text)  # strict: no host bits
        assert (str(net), (int(net.network_address), net.prefixlen)) == (text, block)


#: addresses with long and short zero runs, the values where spellings differ most
hextet = st.sampled_from([0, 0, 0, 1, 0xFFFF, 0xABC, 0x10]) | st.integers(0, 0xFFFF)
address_values = st.lists(hextet, min_size=8, max_size=8).map(
    lambda hs: int("".join(f"{h:04x}" for h in hs), 16)) | st.integers(0, (1 << 128) - 1)


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """One address spelled as ipaddress would read it: any zero run (even of one hextet) as
    ``::`` or not, hextets with or without leading zeros, in either case, sometimes with an
    embedded IPv4 tail, with or without a prefix length (sometimes with host bits)."""
    value = draw(address_values)
    hextets = [f"{value >> (112 - 16 * i) & 0xFFFF:x}" for i in range(8)]
    hextets = [h.zfill(draw(st.integers(len(h), 4))) for h in hextets]
    zeros = [i for i, h in enumerate(hextets) if int(h, 16) == 0]
    if zeros and draw(st.booleans()):
        start = draw(st.sampled_from(zeros))
        end = start
        while end + 1 < 8 and int(hextets[end + 1], 16) == 0 and draw(st.booleans()):
            end += 1
        text = ":".join(hextets[:start]) + "::" + ":".join(hextets[end + 1:])
    else:
        text = ":".join(hextets)
    if draw(st.booleans()):
        text = "".join(c.upper() if draw(st.booleans()) else c for c in text)
    if draw(st.integers(0, 9)) == 0:
        text = str(ipaddress.IPv6Address(value).exploded)[:30] + f"{value >> 24 & 255}.0.0.1"
    if draw(st.booleans()):
        text += f"/{draw(st.integers(0, 128))}"
    return text


@st.composite
def v4_spellings(draw: st.DrawFn) -> str:
    """Dotted quads, canonical or with leading zeros, with or without a prefix (0-32)."""
    octets = draw(st.lists(st.sampled_from([0, 1, 10, 127, 255]) | st.integers(0, 255),
                           min_size=4, max_size=4))
    text = ".".join(str(o).zfill(draw(st.sampled_from([1, 1, 1, 2, 3]))) for o in octets)
    if draw(st.booleans()):
        text += f"/{draw(st.integers(0, 33))}"
    return text


hostile = st.text(alphabet="0123456789abcdefABCDEFgx:./% \t\u0660\uff10", max_size=45)


@settings(max_examples=3000)
@given(spellings())
@example("::")
@example("::/0")
@example("1:2:3:4:5:6:7::")
@example("::1:2:3:4:5:6:7")
@example("0001:0002::00ff/64")
@example("2001:DB8::/32")
@example("::ffff:1.2.3.4/128")
@example("::ffff:102:304")
def test_spellings_read_as_ipaddress_reads_them(text: str) -> None:
    assert_like_ipaddress(text)


@settings(max_examples=3000)
@given(v4_spellings())
@example("10.0.0.1")
@example("10.1.2.3/16")
@example("0.0.0.0/0")
@example("255.255.255.255/32")
def test_ipv4_spellings_read_as_ipaddress_reads_them(text: str) -> None:
    assert_like_ipaddress(text)


v4_hostile = st.text(alphabet="0123456789./ \n\u0661x+-_", max_size=22)


@settings(max_examples=3000)
@given(hostile | v4_hostile | spellings().map(lambda t: t[:-1] if len(t) > 2 else t + ":"))
@example("1:2:3:4:5:6:7:8::")
@example("::1:2:3:4:5:6:7:8")
@example("1:2:3:4:5:6:7")
@example(":1::")
@example("1::2::3")
@example("1:::2")
@example(":::")
@example("00001::")
@example("fe80::1%eth0")
@example("fe80::1%1/64")
@example("::/129")
@example("::/01")
@example("::/")
@example("1::/64/3")
@example(" ::1 ")
@example("::1\n")
@example("\u0661::")
@example("12345::")
@example("g::")
@example("::0x1")
@example("1_0::")
@example("010.0.0.1")
@example("1.2.3.4/033")
@example("1.2.3.4/33")
@example("1.2.3.4/")
@example("1.2.3")
@example("1.2.3.4.5")
@example("256.0.0.0")
@example("1.2.3.4/255.255.0.0")
@example("1.2.3.4/8/8")
@example("+1.2.3.4")
@example("1.2.3.\u0664")
@example("1.2.3.4\n")
@example("1.2.3.0/24\x00")
@example("1.2.3.0\x00/24")
@example(" 1.2.3.0/24")
@example("1.2.3.0/24 ")
@example("1.2.3.4/24")
@example("1.2.3.4/032")
@example("01.2.3.0/24")
@example("1.2.3.\u0660/24")
@example("1.2.3.\uff10/24")
@example("1.2.3.0/\u0662\u0664")
@example("1.2.3.0/24/24")
@example("::ffff:1.2.3.4")
@example("::ffff:1.2.3.0/120")
@example("::FFFF:1.2.3.4/128")
@example("1.2.3.0./24")
@example(".1.2.3.0/24")
@example(":1:2:3:4:5:6:7/128")
@example("1:2:3:4:5:6:7:/128")
@example("1::2::3/128")
@example("1:::2/64")
@example("::1:/128")
@example(":/128")
@example("/128")
@example("1:0:0:2::/64")
@example("1::2:0:0:0/128")
@example("1:0:0:0::2/128")
@example("1::0:2/128")
@example("0:0:1::/64")
@example("::0:1/128")
@example("1:2:3:4:5:6::/112")
@example("1:2:3:4:5:6:7::/128")
@example("1:0:0:2:3:4:5:6/128")
@example("1:2:3:4:5:6:0:0/128")
@example("0:0:0:0:0:0:0:0/0")
@example("1:2:3:4::5:6:7:8/128")
@example("1:2:3:4:5:6:7:8:9/128")
@example("2001:DB8::/32")
@example("2001:0db8::/32")
@example("2001:db8:00::/48")
@example("12345::/16")
@example("::ffff:0:0/96")
@example("::ffff:0:0/128")
@example("::/0")
@example("::/128")
@example("1::/0")
@example("fe80::1%eth0/128")
@example("2001:db8::/64\x00")
@example("2001:db8::\x00/64")
@example("2001:db8::/\u0666\u0664")
@example("2001:db8::/064")
def test_hostile_text_is_refused_or_read_as_ipaddress_does(text: str) -> None:
    assert_like_ipaddress(text)


@settings(max_examples=3000)
@given(address_values)
@example(0)
@example(1)
@example((1 << 128) - 1)
@example(0xFFFF_0102_0304)
@example(0x1_0000_0000_0000)
@example(int(ipaddress.IPv6Address("1:0:0:1:0:0:0:1")))
@example(int(ipaddress.IPv6Address("1:0:0:1:0:0:1:1")))
@example(int(ipaddress.IPv6Address("1:0:1:0:1:0:1:0")))
def test_address_text_prints_as_ipaddress_does(value: int) -> None:
    assert ipv6.address_text(value) == str(ipaddress.IPv6Address(value))


@pytest.mark.parametrize("value", [-1, 1 << 128, 1 << 200])
def test_a_value_that_is_no_ipv6_address_is_refused_as_ipaddress_refuses_it(value: int) -> None:
    with pytest.raises(ipaddress.AddressValueError):
        ipv6.address_text(value)


def test_seeded_random_blocks_format_and_parse_back() -> None:
    """to_cidrs and interval_text print IPv6 blocks as ipaddress does, and the printed text is
    read back to the same interval by the fast path (no ipaddress involved)."""
    rng = random.Random(20261207)
    for _ in range(5000):
        prefix = rng.choice([0, 1, 16, 32, 48, 56, 64, 96, 112, 127, 128, rng.randint(0, 128)])
        value = rng.getrandbits(128) & ~((1 << (128 - prefix)) - 1)
        if rng.random() < 0.5:
            value &= rng.getrandbits(128) & rng.getrandbits(128)  # zero hextets, often in runs
        net = ipaddress.IPv6Network((value, prefix))
        lo = int(net.network_address) + addresses.V6_OFFSET
        hi = int(net.broadcast_address) + addresses.V6_OFFSET
        assert addresses.interval_text(lo, hi) == str(net)
        assert addresses.to_cidrs(((lo, hi),)) == (str(net),)
        assert ipv6.parse(str(net)) == (value, prefix)
        assert ipv6.canonical_block(str(net)) == (None if value >> 32 == 0xFFFF else (value, prefix))
        addresses.PARSED.pop(str(net), None)
        assert addresses.read_cidr(str(net)) == str(net)
        assert addresses.PARSED[str(net)] == (lo, hi)
        uncompressed = ":".join(f"{value >> (112 - 16 * i) & 0xFFFF:x}" for i in range(8))
        for other in {net.exploded, f"{uncompressed}/{prefix}", str(net).upper()} - {str(net)}:
            assert ipv6.canonical_block(other) is None, other
            assert addresses.read_cidr(other) == str(net), other


def test_seeded_random_ipv4_blocks_read_as_parse_cidr_reads_them() -> None:
    """``read_cidr``'s own reading of canonical dotted quads: random networks (most of them
    canonical, some with host bits set or no prefix length) give parse_cidr's text, and the
    canonical ones are entered in PARSED without a call to parse_cidr."""
    rng = random.Random(20261207)
    for _ in range(5000):
        prefix = rng.choice([0, 1, 8, 16, 24, 28, 31, 32, rng.randint(0, 32)])
        value = rng.getrandbits(32)
        if rng.random() < 0.8:
            value &= ~((1 << (32 - prefix)) - 1) & 0xFFFFFFFF
        address = str(ipaddress.IPv4Address(value))
        text = address if rng.random() < 0.1 else f"{address}/{prefix}"
        addresses.PARSED.pop(text, None)
        misses = addresses.parse_cidr.cache_info().misses
        net = ipaddress.ip_network(text, strict=False)
        assert addresses.read_cidr(text) == str(net), text
        assert addresses.PARSED[str(net)] == (int(net.network_address), int(net.broadcast_address))
        if str(net) == text:
            assert addresses.parse_cidr.cache_info().misses == misses, text


@pytest.mark.parametrize("text", ["2001:db8::/32", "2001:DB8:0:0::/48", "2001:0db8::1/64"])
def test_parsed_ipv6_sources_are_found_by_the_differ_without_parsing_again(text: str) -> None:
    canonical, _ = addresses.parse_cidr(text)
    net = ipaddress.ip_network(text, strict=False)
    assert addresses.PARSED[canonical] == (int(net.network_address) + addresses.V6_OFFSET,
                                           int(net.broadcast_address) + addresses.V6_OFFSET)
