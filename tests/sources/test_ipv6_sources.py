"""IPv6 sources of a snapshot in every spelling AWS CLI users paste: the rule holds the canonical
CIDR (as ipaddress prints it), the differ finds its interval without parsing it again, and text
that is not an IPv6 CIDR is one error naming the entry."""

from __future__ import annotations

import ipaddress

import pytest

from sgaudit.net import addresses
from sgaudit.sources import awsjson


def sources(*cidrs: str) -> list[str]:
    perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "Ipv6Ranges": [{"CidrIpv6": c} for c in cidrs]}
    return [r.source for r in awsjson.permission_rules(perm, "$.p")]


@pytest.mark.parametrize(("text", "canonical"), [
    ("2001:db8::/32", "2001:db8::/32"),
    ("2001:DB8::/32", "2001:db8::/32"),
    ("2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:db8::/32"),
    ("2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"),
    ("2001:db8::1/64", "2001:db8::/64"),  # host bits set
    (" 2001:db8::1 ", "2001:db8::1/128"),  # a bare address, spaces around
    ("::/0", "::/0"),
    ("0:0:0:0:0:0:0:0/0", "::/0"),
    ("::ffff:10.0.0.1/128", "::ffff:a00:1/128"),  # embedded IPv4: ipaddress reads it
])
def test_spellings_become_the_canonical_cidr(text: str, canonical: str) -> None:
    assert sources(text) == [canonical]
    assert canonical == str(ipaddress.ip_network(text.strip(), strict=False))
    net = ipaddress.ip_network(canonical)
    assert addresses.PARSED.get(canonical, addresses.cidr_interval(canonical)) == (
        int(net.network_address) + addresses.V6_OFFSET, int(net.broadcast_address) + addresses.V6_OFFSET)


def test_the_differ_finds_a_plain_ipv6_source_without_parsing_it_again() -> None:
    [source] = sources("2001:db8:cafe:1::/64")
    assert addresses.PARSED[source] == (addresses.V6_OFFSET + (0x2001_0DB8_CAFE_0001 << 64),
                                        addresses.V6_OFFSET + (0x2001_0DB8_CAFE_0001 << 64) + (1 << 64) - 1)


@pytest.mark.parametrize("text", ["1::2::3/64", "2001:db8::/0128", "2001:db8::/129", "12345::/16",
                                  "2001:db8:::/48", ":2001:db8::/48", "2001:db8::/", "g::/16"])
def test_text_that_is_no_ipv6_cidr_is_named(text: str) -> None:
    with pytest.raises(awsjson.ShapeError) as err:
        sources("2001:db8::/32", text)
    assert str(err.value) == f"$.p.Ipv6Ranges[1].CidrIpv6: invalid CIDR {text!r}"
