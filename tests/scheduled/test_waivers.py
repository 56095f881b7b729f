"""Waivers: matching by what findings allow, expiry against a fixed ``today``, stale waivers, and
the policy file's ``waivers:`` key."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sgaudit.errors import PolicyError
from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report, Waiver
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.yamlsource import load_yaml
from sgaudit.report.json_report import document
from sgaudit.scheduled.waivers import apply_waivers, covers, far_expiry_warnings, notices

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TODAY = date(2026, 3, 1)
GROUP = "sg-0a11ce0000000005"


def finding(protocol: str = "tcp", from_port: int = 8786, to_port: int = 8787,
            source: str = "10.0.0.0/8", group_id: str = GROUP) -> Finding:
    key = f"extra|111122223333|us-east-1|{group_id}|{protocol}|{from_port}|{to_port}|{source}"
    return Finding(key=key, kind="extra", severity="medium", account="111122223333",
                   region="us-east-1", group_id=group_id, group_name="g", protocol=protocol,
                   from_port=from_port, to_port=to_port, source=source, rule_ids=(), reason="r")


def waiver(protocol: str = "tcp", from_port: int = 8000, to_port: int = 8800,
           source: str = "10.0.0.0/8", expires: str = "2026-06-30", group_id: str = GROUP,
           reason: str = "ticket SEC-12", where: str = "policy.yaml:3") -> Waiver:
    return Waiver(group_id=group_id, protocol=protocol, from_port=from_port, to_port=to_port,
                  source=source, reason=reason, expires=expires, where=where)


def report_of(*findings: Finding, group_ids: tuple[str, ...] = (GROUP,)) -> Report:
    results = []
    for gid in group_ids:
        group = Group(group_id=gid, group_name="g", vpc_id=None, region="us-east-1",
                      account="111122223333")
        results.append(GroupResult(group, DesiredState((), ()),
                                   tuple(f for f in findings if f.group_id == gid)))
    return Report(complete=True, errors=(), results=tuple(results), warnings=(),
                  generated_at="2026-03-01T02:00:00Z", policy_path="policy.yaml", scanned=())


# -- matching ------------------------------------------------------------------------------
@pytest.mark.parametrize(("w", "f", "expected"), [
    # ports inside the waiver's range, source inside its CIDR
    (waiver(), finding(), True),
    (waiver(source="10.0.0.0/8"), finding(source="10.20.0.0/16"), True),
    # a wider source than the waiver's is not covered: CIDR containment, not overlap
    (waiver(source="10.0.0.0/16"), finding(source="10.0.0.0/8"), False),
    # textually different, same network (the finding's source is canonical)
    (waiver(source="10.0.0.0/8"), finding(source="10.0.0.0/8"), True),
    # ports sticking out of the waiver's range
    (waiver(from_port=8786, to_port=8786), finding(from_port=8786, to_port=8787), False),
    (waiver(from_port=8786, to_port=8787), finding(from_port=8787, to_port=8787), True),
    # another group, another protocol
    (waiver(group_id="sg-0a11ce0000000001"), finding(), False),
    (waiver(protocol="udp"), finding(), False),
    # protocol -1 waives every protocol and port from its source
    (waiver(protocol="-1", from_port=-1, to_port=-1),
     finding(protocol="udp", from_port=53, to_port=53), True),
    (waiver(protocol="-1", from_port=-1, to_port=-1),
     finding(protocol="-1", from_port=-1, to_port=-1), True),
    # ... but a tcp waiver never covers an all-traffic finding
    (waiver(from_port=-1, to_port=-1), finding(protocol="-1", from_port=-1, to_port=-1), False),
    # a waiver without ports covers every port of its protocol
    (waiver(from_port=-1, to_port=-1), finding(from_port=0, to_port=65535), True),
    # icmp: a waiver of type 8 (any code) covers type 8 code 0, not type 3
    (waiver(protocol="icmp", from_port=8, to_port=-1),
     finding(protocol="icmp", from_port=8, to_port=0), True),
    (waiver(protocol="icmp", from_port=8, to_port=-1),
     finding(protocol="icmp", from_port=3, to_port=-1), False),
    # other groups and prefix lists match only themselves; never an address range
    (waiver(source="sg-0badbeef00000099"), finding(source="sg-0badbeef00000099"), True),
    (waiver(source="sg-0badbeef00000099"), finding(source="sg-0badbeef00000098"), False),
    (waiver(source="0.0.0.0/0"), finding(source="sg-0badbeef00000099"), False),
    (waiver(source="pl-0123"), finding(source="10.0.0.0/8"), False),
    # IPv6: ::/0 covers an IPv6 range, never an IPv4 one
    (waiver(source="::/0"), finding(source="2001:db8::/32"), True),
    (waiver(source="::/0"), finding(source="10.0.0.0/8"), False),
])
def test_covers(w: Waiver, f: Finding, expected: bool) -> None:
    assert covers(w, f) is expected


def test_a_covered_finding_is_waived_with_the_reason_and_not_active() -> None:
    covered, other = finding(), finding(source="::/0", from_port=8787)
    report, check = apply_waivers(report_of(covered, other), [waiver()], TODAY)
    got = {f.key: f for f in report.findings}
    assert got[covered.key].waived and got[covered.key].waiver_reason == "ticket SEC-12"
    assert not got[other.key].waived and got[other.key].waiver_reason is None
    assert [f.key for f in report.active_findings] == [other.key]
    assert report.results[0].status == "drift"
    assert check.stale == () and check.expired == ()


def test_first_matching_waiver_in_file_order_gives_the_reason_and_both_are_used() -> None:
    first = waiver(reason="first", where="policy.yaml:3")
    second = waiver(reason="second", from_port=8786, to_port=8787, where="policy.yaml:9")
    report, check = apply_waivers(report_of(finding()), [first, second], TODAY)
    assert report.findings[0].waiver_reason == "first"
    assert check.stale == ()


# -- expiry (fixed clock) -------------------------------------------------------------------
def test_the_expiry_date_is_the_last_valid_day() -> None:
    w = waiver(expires="2026-03-01")
    on_the_day, _ = apply_waivers(report_of(finding()), [w], date(2026, 3, 1))
    day_after, check = apply_waivers(report_of(finding()), [w], date(2026, 3, 2))
    assert on_the_day.findings[0].waived
    assert not day_after.findings[0].waived
    assert day_after.active_findings == day_after.findings
    assert check.expired == (w,)
    assert check.stale == ()  # an expired waiver is reported expired, not stale


def test_an_expired_waiver_is_in_the_json_report_and_on_stderr_lines() -> None:
    w = waiver(expires="2026-02-01")
    report, check = apply_waivers(report_of(finding()), [w], TODAY)
    assert document(report)["waivers_expired"] == [{
        "group_id": GROUP, "protocol": "tcp", "ports": "8000-8800", "source": "10.0.0.0/8",
        "reason": "ticket SEC-12", "expires": "2026-02-01", "days_left": -28,
        "where": "policy.yaml:3"}]
    assert notices(check, TODAY) == [
        "policy.yaml:3: waiver for sg-0a11ce0000000005 tcp 8000-8800 from 10.0.0.0/8 expired on "
        "2026-02-01; it no longer covers any finding"]


def test_waivers_expiring_within_14_days_are_listed() -> None:
    soon = waiver(expires="2026-03-15", where="a")  # 14 days left
    later = waiver(expires="2026-03-16", where="b")  # 15 days left
    today = waiver(expires="2026-03-01", where="c")  # last day
    report, _ = apply_waivers(report_of(finding()), [soon, later, today], TODAY)
    expiring = document(report)["waivers_expiring"]
    assert [(w["where"], w["days_left"]) for w in expiring] == [("a", 14), ("c", 0)]


def test_a_waiver_that_matched_nothing_is_stale() -> None:
    unused = waiver(source="192.0.2.0/24", where="policy.yaml:20")
    elsewhere = waiver(group_id="sg-0deadbeef0000001", where="policy.yaml:30")
    report, check = apply_waivers(report_of(finding()), [waiver(), unused, elsewhere], TODAY)
    assert [(w.where, why) for w, why in check.stale] == [
        ("policy.yaml:20", "matched no finding"), ("policy.yaml:30", "group not in this scan")]
    assert [w["why"] for w in document(report)["waivers_stale"]] == [
        "matched no finding", "group not in this scan"]
    assert "policy.yaml:20: waiver for sg-0a11ce0000000005 tcp 8000-8800 from 192.0.2.0/24 is " \
           "stale: matched no finding" in notices(check, TODAY)


def test_far_future_expiry_is_warned_about() -> None:
    ok = waiver(expires="2027-03-01")  # exactly 365 days
    far = waiver(expires="2027-03-02", where="policy.yaml:40")
    assert far_expiry_warnings([ok, far], TODAY) == [
        "policy.yaml:40: waiver for sg-0a11ce0000000005 tcp 8000-8800 from 10.0.0.0/8 expires on "
        "2027-03-02, more than a year ahead; waivers should be reviewed at least yearly"]


def test_without_waivers_the_report_is_unchanged_and_has_no_waiver_notices() -> None:
    report = report_of(finding())
    assert apply_waivers(report, [], TODAY)[0] is report


def test_the_input_report_is_not_changed() -> None:
    original = report_of(finding())
    apply_waivers(original, [waiver()], TODAY)
    assert not original.findings[0].waived and original.waivers is None


# -- the policy file -----------------------------------------------------------------------
def parse(text: str):
    return parse_policy(load_yaml(text), "policy.yaml")


def test_policy_waivers_one_per_port_range() -> None:
    policy = parse("""\
waivers:
  - group_id: sg-0123456789abcdef0
    protocol: tcp
    ports: [9999, "8000-8100"]
    source: 203.0.113.0/24
    reason: vendor VPN, ticket SEC-12
    expires: 2027-01-31
""")
    assert policy.waivers == (
        Waiver("sg-0123456789abcdef0", "tcp", 9999, 9999, "203.0.113.0/24",
               "vendor VPN, ticket SEC-12", "2027-01-31", "policy.yaml:2"),
        Waiver("sg-0123456789abcdef0", "tcp", 8000, 8100, "203.0.113.0/24",
               "vendor VPN, ticket SEC-12", "2027-01-31", "policy.yaml:2"),
    )


def test_policy_waiver_defaults_and_other_sources() -> None:
    policy = parse("""\
waivers:
  - {group_id: sg-1, source: sg-0badbeef00000099, reason: r, expires: "2027-01-31"}
  - {group_id: sg-1, protocol: -1, source: 10.1.0.2/16, reason: r, expires: 2027-01-31}
  - {group_id: sg-1, protocol: icmp, ports: [8, "3-4"], source: 10.0.0.0/8, reason: r, expires: 2027-01-31}
""")
    assert [(w.protocol, w.from_port, w.to_port, w.source) for w in policy.waivers] == [
        ("tcp", -1, -1, "sg-0badbeef00000099"),
        ("-1", -1, -1, "10.1.0.0/16"),
        ("icmp", 3, -1, "10.0.0.0/8"),
        ("icmp", 4, -1, "10.0.0.0/8"),
        ("icmp", 8, -1, "10.0.0.0/8"),
    ]
    assert policy.warnings == ("policy.yaml:3: waivers[1].source: '10.1.0.2/16' is not canonical; "
                               "using 10.1.0.0/16",)


@pytest.mark.parametrize(("entry", "message"), [
    ("{group_id: sg-1, source: 10.0.0.0/8, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0]: missing 'reason' (why this exception is accepted, e.g. a ticket)"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reason: r}",
     "policy.yaml:2: waivers[0]: missing 'expires' (a date YYYY-MM-DD)"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reason: '  ', expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].reason: expected a non-empty text, got '  '"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reason: r, expires: '2027-02-30'}",
     "policy.yaml:2: waivers[0].expires: expected a date YYYY-MM-DD, got '2027-02-30'"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reason: r, expires: next week}",
     "policy.yaml:2: waivers[0].expires: expected a date YYYY-MM-DD, got 'next week'"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reason: r, expires: 2027-01-31 10:00:00}",
     "policy.yaml:2: waivers[0].expires: expected a date YYYY-MM-DD without a time, "
     "got '2027-01-31 10:00:00'"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reason: r, expires: 20270131}",
     "policy.yaml:2: waivers[0].expires: expected a date YYYY-MM-DD, got 20270131"),
    ("{group_id: Web_1, source: 10.0.0.0/8, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].group_id: expected a security group id (sg-…) or a GCP network "
     "tag, got 'Web_1'"),
    ("{group_id: sg-xyz, source: 10.0.0.0/8, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].group_id: expected a security group id (sg-…) or a GCP network "
     "tag, got 'sg-xyz'"),
    ("{source: 10.0.0.0/8, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0]: missing 'group_id' (the security group id (sg-…) or GCP network tag)"),
    ("{group_id: sg-1, source: 10.0.0.0/33, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].source: invalid CIDR '10.0.0.0/33'"),
    ("{group_id: sg-1, ports: [0], source: 10.0.0.0/8, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].ports[0]: expected a port 1-65535 or a \"lo-hi\" range, got 0"),
    ("{group_id: sg-1, protocol: -1, ports: [22], source: 10.0.0.0/8, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].ports: protocol -1 has no ports; remove ports [22]"),
    ("{group_id: sg-1, protocol: tpc, source: 10.0.0.0/8, reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].protocol: expected tcp, udp, icmp, icmpv6, -1 or a protocol "
     "number, got 'tpc'"),
    ("{group_id: sg-1, source: 10.0.0.0/8, reasons: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].reasons: unknown key 'reasons'; did you mean 'reason'?"),
])
def test_policy_waiver_errors(entry: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse(f"waivers:\n  - {entry}\n")
    assert str(raised.value) == message


def test_policy_waivers_must_be_a_list() -> None:
    with pytest.raises(PolicyError, match=r"^policy.yaml:1: waivers: expected a list of "):
        parse("waivers: {group_id: sg-1}\n")


# -- through the command line --------------------------------------------------------------
SNAPSHOTS = ("--snapshot", FIXTURES / "security-groups.json", "--snapshot", FIXTURES / "vpcs.json")


def policy_with_waivers(tmp_path: Path, waivers: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text((FIXTURES / "policy.yaml").read_text() + "\nwaivers:\n" + waivers)
    return path


WAIVE_ALL_SIX = """\
  - {group_id: sg-0a11ce0000000002, ports: [22], source: 0.0.0.0/0,
     reason: bastion SEC-1, expires: 2026-06-01}
  - {group_id: sg-0a11ce0000000002, ports: [8787], source: 0.0.0.0/0,
     reason: SEC-2, expires: 2026-06-01}
  - {group_id: sg-0a11ce0000000003, protocol: -1, source: 0.0.0.0/0,
     reason: scratch SEC-3, expires: 2026-06-01}
  - {group_id: sg-0a11ce0000000005, ports: ["8000-8800"], source: 10.0.0.0/8,
     reason: SEC-4, expires: 2026-06-01}
  - {group_id: sg-0a11ce0000000005, ports: [8787], source: "::/0",
     reason: SEC-5, expires: 2026-06-01}
  - {group_id: sg-0a11ce0000000006, ports: [5432], source: sg-0badbeef00000099,
     reason: db SEC-6, expires: 2026-03-10}
"""


def test_waived_findings_do_not_fail_the_gate(sgaudit, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    policy = policy_with_waivers(tmp_path, WAIVE_ALL_SIX)
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS, "-f", "json", "--fail-on-drift")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["summary"]["findings"] == 6 and doc["summary"]["active"] == 0
    assert {f["key"]: f["waiver_reason"] for f in doc["findings"] if f["waived"]} == {
        "extra|111122223333|unknown|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0": "bastion SEC-1",
        "missing|111122223333|unknown|sg-0a11ce0000000002|tcp|8787|8787|0.0.0.0/0": "SEC-2",
        "extra|111122223333|unknown|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0": "scratch SEC-3",
        "extra|111122223333|unknown|sg-0a11ce0000000005|tcp|8786|8787|10.0.0.0/8": "SEC-4",
        "extra|111122223333|unknown|sg-0a11ce0000000005|tcp|8787|8787|::/0": "SEC-5",
        "extra|111122223333|unknown|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099": "db SEC-6",
    }
    assert [w["group_id"] for w in doc["waivers_expiring"]] == ["sg-0a11ce0000000006"]
    assert doc["waivers_expired"] == [] and doc["waivers_stale"] == []
    assert {g["group_id"]: g["status"] for g in doc["groups"]}["sg-0a11ce0000000003"] == "accepted"


def test_an_expired_waiver_fails_the_gate_and_says_so(sgaudit, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-11T02:00:00Z")  # the db waiver ended on 03-10
    policy = policy_with_waivers(tmp_path, WAIVE_ALL_SIX)
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS, "-f", "json", "--fail-on-drift")
    assert run.code == 1
    doc = json.loads(run.out)
    assert [f["key"] for f in doc["findings"] if not f["waived"]] == [
        "extra|111122223333|unknown|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099"]
    assert [(w["group_id"], w["expires"], w["days_left"]) for w in doc["waivers_expired"]] == [
        ("sg-0a11ce0000000006", "2026-03-10", -1)]
    assert (f"sgaudit: warning: {policy}:33: waiver for sg-0a11ce0000000006 tcp 5432 from "
            "sg-0badbeef00000099 expired on 2026-03-10; it no longer covers any finding") in run.err_lines


def test_a_missing_reason_is_one_line_and_exit_2(sgaudit, tmp_path: Path) -> None:
    policy = policy_with_waivers(tmp_path, "  - group_id: sg-0a11ce0000000002\n"
                                           "    source: 0.0.0.0/0\n    expires: 2026-06-01\n")
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {policy}:23: waivers[0]: missing 'reason' "
                             "(why this exception is accepted, e.g. a ticket)"]
    assert run.out == ""


def test_a_bad_clock_override_is_one_line_and_exit_2(sgaudit, monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "yesterday")
    run = sgaudit("check", *SNAPSHOTS)
    assert run.code == 2
    assert run.err_lines == ["sgaudit: error: SGAUDIT_NOW: expected an ISO date or time such as "
                             "2026-01-31T02:00:00Z, got 'yesterday'"]


def test_an_impossible_date_is_one_line_and_exit_2(sgaudit, tmp_path: Path) -> None:
    policy = policy_with_waivers(tmp_path, "  - {group_id: sg-1, source: 10.0.0.0/8, reason: r, "
                                           "expires: 2027-02-30}\n")
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {policy}: line 23: invalid YAML: invalid value for "
                             "'expires': day is out of range for month"]


# -- issue 14, defect 13 and ICMP type 0 ---------------------------------------------------------
@pytest.mark.parametrize("finding_ports", [(-1, -1), (0, 65535), (1, 65535)])
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_a_1_65535_waiver_covers_an_all_ports_finding(protocol: str,
                                                      finding_ports: tuple[int, int]) -> None:
    [w] = parse(f"waivers:\n  - {{group_id: {GROUP}, protocol: {protocol}, ports: [\"1-65535\"], "
                "source: 10.0.0.0/8, reason: r, expires: 2027-01-31}\n").waivers
    assert covers(w, finding(protocol=protocol, from_port=finding_ports[0], to_port=finding_ports[1]))
    assert not covers(w, finding(protocol="icmp" if protocol == "tcp" else "tcp",
                                 from_port=-1, to_port=-1))


def test_a_narrower_waiver_still_does_not_cover_all_ports() -> None:
    assert not covers(waiver(from_port=2, to_port=65535), finding(from_port=-1, to_port=-1))


def test_icmp_type_0_echo_reply_can_be_waived_and_allowed() -> None:
    policy = parse("""\
waivers:
  - {group_id: sg-1, protocol: icmp, ports: [0, "0-3"], source: 10.0.0.0/8, reason: r, expires: 2027-01-31}
allow:
  - {protocol: icmp, ports: [0], source: 10.0.0.0/8}
""")
    assert [(w.protocol, w.from_port, w.to_port) for w in policy.waivers] == [
        ("icmp", 0, -1), ("icmp", 1, -1), ("icmp", 2, -1), ("icmp", 3, -1)]
    assert [(g.protocol, g.from_port, g.to_port, g.source) for g in policy.allow] == [
        ("icmp", 0, -1, "10.0.0.0/8")]
    [w] = [w for w in policy.waivers if w.from_port == 0]
    assert covers(w, finding(protocol="icmp", from_port=0, to_port=0, group_id="sg-1"))
    assert not covers(w, finding(protocol="icmp", from_port=8, to_port=0, group_id="sg-1"))


@pytest.mark.parametrize(("section", "entry", "message"), [
    ("waivers", "{group_id: sg-1, protocol: icmp, ports: [256], source: 10.0.0.0/8, reason: r, "
     "expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].ports[0]: expected an icmp type 0-255 or a \"lo-hi\" range, got 256"),
    ("waivers", "{group_id: sg-1, protocol: icmp, ports: [\"250-300\"], source: 10.0.0.0/8, "
     "reason: r, expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].ports[0]: expected an icmp type 0-255 or a \"lo-hi\" range, "
     "got '250-300'"),
    ("waivers", "{group_id: sg-1, protocol: icmpv6, ports: [-1], source: '::/0', reason: r, "
     "expires: 2027-01-31}",
     "policy.yaml:2: waivers[0].ports[0]: expected an icmp type 0-255 or a \"lo-hi\" range, got -1"),
    ("allow", "{protocol: icmp, ports: [300], source: 10.0.0.0/8}",
     "policy.yaml:2: allow[0].ports[0]: expected an icmp type 0-255 or a \"lo-hi\" range, got 300"),
    ("allow", "{protocol: icmp, ports: [\"9-8\"], source: 10.0.0.0/8}",
     "policy.yaml:2: allow[0].ports[0]: expected an icmp type 0-255 or a \"lo-hi\" range, got '9-8'"),
])
def test_icmp_types_are_range_checked(section: str, entry: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse(f"{section}:\n  - {entry}\n")
    assert str(raised.value) == message


def test_allow_1_65535_permits_an_all_ports_rule() -> None:
    """The same rule for ``allow``: a 0-65535 rule from the allowed source leaves no "tcp 0"."""
    from sgaudit.engine.diff import Differ
    from sgaudit.engine.resolve import resolve
    from sgaudit.model import Rule, Vpc

    policy = parse("allow:\n  - {protocol: tcp, ports: [\"1-65535\"], source: 10.0.0.0/8}\n")
    assert [(g.from_port, g.to_port) for g in policy.allow] == [(0, 65535)]
    vpc = Vpc("vpc-1", "us-east-1", "111122223333", "10.0.0.0/16", ("10.0.0.0/16",))
    state = resolve({}, vpc, policy.allow)
    group = Group("sg-1", "g", "vpc-1", "us-east-1", "111122223333", rules=(
        Rule("tcp", 0, 65535, "10.0.0.0/8"), Rule("tcp", 22, 22, "0.0.0.0/0"),
        Rule("tcp", 8786, 8787, "0.0.0.0/0")))
    assert Differ().diff(group, state) == ()
