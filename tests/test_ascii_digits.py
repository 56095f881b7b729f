"""Numbers are ASCII digits in every parser: ``str.isdigit`` also takes ``²`` (which ``int``
refuses: exit 70 before) and other scripts' digits (``١٠٠``, ``３３٨٩``, which ``int`` read as
100 and 3389): each is now refused with one line (exit 2 on the command line), like any other
malformed number.  And ``/00`` is not a prefix length."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Run
from hypothesis import given, settings
from hypothesis import strategies as st

from sgaudit.errors import PolicyError
from sgaudit.net import addresses, ports
from sgaudit.policy.loader import load_policy
from sgaudit.sources import gcpjson
from sgaudit.sources.awsjson import ShapeError

ASCII_DIGIT = st.sampled_from("0123456789")
#: every character beyond ASCII that str.isdigit() accepts (superscripts, Arabic-Indic, fullwidth…)
OTHER_DIGIT = st.sampled_from([chr(c) for c in range(128, sys.maxunicode + 1) if chr(c).isdigit()])
_DIGITS = st.lists(st.one_of(ASCII_DIGIT, OTHER_DIGIT), max_size=3).map("".join)
#: strings that str.isdigit() accepts with at least one digit that is not 0-9
FOREIGN_NUMBERS = st.tuples(_DIGITS, OTHER_DIGIT, _DIGITS).map("".join)


def test_the_helper_reads_ascii_digits_only() -> None:
    assert [ports.ascii_int(t) for t in ("0", "22", "0065535", "²", "١٠٠", "３３８９", "", "-1", " 1")] == [
        0, 22, 65535, None, None, None, None, None, None]
    assert ports.ascii_int("9" * 21) is None  # longer than any number an input names


@given(FOREIGN_NUMBERS)
def test_ports_and_protocols_refuse_other_digits(text: str) -> None:
    assert ports.normalize_protocol(text) is None
    assert ports.parse_port_spec(text) is None
    assert ports.parse_port_spec(f"{text}-65535") is None
    assert ports.parse_port_spec(f"1-{text}") is None


def test_a_protocol_number_is_canonical() -> None:
    """``06`` is tcp, not a protocol "06" that no finding or allow entry would ever match."""
    assert [ports.normalize_protocol(t) for t in ("06", "017", "0", "132", "0132", "256")] == [
        "tcp", "udp", "0", "132", "132", None]


@pytest.mark.parametrize("text", ["0.0.0.0/00", "10.0.0.0/08", "::/00", "10.0.0.0/255.0.0.0",
                                  "10.0.0.0/٨", "10.0.0.0/+8"])
def test_a_prefix_length_is_plain_digits(text: str) -> None:
    with pytest.raises(addresses.CidrError) as raised:
        addresses.parse_cidr(text)
    assert str(raised.value).startswith(f"not a CIDR: {text!r}")


# -- the policy: allow and waivers ---------------------------------------------------------------
def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@settings(max_examples=40)
@given(number=FOREIGN_NUMBERS, where=st.sampled_from(["allow_port", "allow_protocol", "waiver_port"]))
def test_the_policy_refuses_other_digits_in_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                     number: str, where: str) -> None:
    port = number if where != "allow_protocol" else "22"
    protocol = number if where == "allow_protocol" else "tcp"
    body = (f"allow:\n  - {{protocol: '{protocol}', ports: ['{port}'], source: 10.0.0.0/8}}\n"
            if where != "waiver_port" else
            "waivers:\n  - {group_id: sg-0123456789abcdef0, protocol: tcp, "
            f"ports: ['{port}'], source: 0.0.0.0/0, reason: r, expires: 2099-01-01}}\n")
    path = _policy(tmp_path_factory.mktemp("p"), body)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}:") and number in message


@pytest.mark.parametrize(("body", "expected"), [
    ("allow:\n  - {protocol: tcp, ports: ['３３８９'], source: 10.0.0.0/8}\n",
     "allow[0].ports[0]: expected a port 1-65535 or a \"lo-hi\" range, got '３３８９'"),
    ("allow:\n  - {protocol: '²', ports: [22], source: 10.0.0.0/8}\n",
     "allow[0].protocol: expected tcp, udp, icmp, icmpv6, -1 or a protocol number, got '²'"),
    ("allow:\n  - {protocol: tcp, ports: [22], source: 0.0.0.0/00}\n", "0.0.0.0/00"),
])
def test_check_with_such_a_policy_is_exit_2_and_one_line(sgaudit: Callable[..., Run], tmp_path: Path,
                                                         body: str, expected: str) -> None:
    path = _policy(tmp_path, body)
    run = sgaudit("check", "--policy", path, "--snapshot", FIXTURES / "security-groups.json",
                  "--snapshot", FIXTURES / "vpcs.json")
    assert run.code == 2 and run.out == ""
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith(f"sgaudit: error: {path}")
    assert expected in run.err_lines[0]


# -- an AWS snapshot ---------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["²", "٦", "６"])
def test_an_aws_snapshot_with_other_digits_in_ipprotocol_is_exit_2(sgaudit: Callable[..., Run],
                                                                   tmp_path: Path, protocol: str) -> None:
    doc = json.loads((FIXTURES / "security-groups.json").read_text())
    doc["SecurityGroups"][0]["IpPermissions"][0]["IpProtocol"] = protocol
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    run = sgaudit("check", "--snapshot", path, "--snapshot", FIXTURES / "vpcs.json")
    assert run.code == 2 and run.out == ""
    assert len(run.err_lines) == 1
    assert "SecurityGroups[0].IpPermissions[0].IpProtocol: unknown protocol" in run.err_lines[0]


# -- Google Cloud ------------------------------------------------------------------------------
def _firewall() -> dict[str, Any]:
    rules = json.loads((FIXTURES / "gcp" / "firewall-rules.json").read_text())
    return copy.deepcopy(rules[0])


@settings(max_examples=40)
@given(number=FOREIGN_NUMBERS, field=st.sampled_from(["priority", "port", "protocol", "range_end"]))
def test_gcp_fields_refuse_other_digits(number: str, field: str) -> None:
    raw = _firewall()
    if field == "priority":
        raw["priority"] = number
    elif field == "port":
        raw["allowed"][0]["ports"] = [number]
    elif field == "range_end":
        raw["allowed"][0]["ports"] = [f"8000-{number}"]
    else:
        raw["allowed"][0]["IPProtocol"] = number
    with pytest.raises(ShapeError) as raised:
        gcpjson.parse_firewall(raw, "firewalls[0]")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("firewalls[0]")


def test_gcp_ascii_numbers_still_read() -> None:
    raw = _firewall()
    raw["priority"], raw["allowed"][0]["ports"] = "900", ["8786-8787", "22"]
    raw["allowed"][0]["IPProtocol"] = "6"
    rule = gcpjson.parse_firewall(raw, "firewalls[0]")
    assert rule.priority == 900
    assert [(m.protocol, m.ports) for m in rule.matches] == [("tcp", ((22, 22), (8786, 8787)))]
