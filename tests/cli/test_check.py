"""``sgaudit check`` and ``sgaudit explain`` end to end on the bundled fixtures.

The expected findings are worked out from the rules of DESIGN.md section 3 (comments say how),
not copied from what the program prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import FIXTURES, Run

from sgaudit.net import addresses

POLICY = FIXTURES / "policy.yaml"
GROUPS = FIXTURES / "security-groups.json"
VPCS = FIXTURES / "vpcs.json"
DOCS = FIXTURES / "docs"
DEMO = ("--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS)
SCHEMA = json.loads((Path(__file__).parent.parent / "report.schema.json").read_text())
ACCOUNT = "111122223333"

WHY_HTTP = "required because enable_public_http is true: Dask ports open to the world"

# The demo: account level enable_public_ssh=false; etl has disable_public_ingress; analytics a
# firewall {100, 9012, 465} from 10.1.0.0/16; allow tcp 443 from 198.51.100.0/24.  The VPC has
# the blocks 10.0.0.0/16 (primary) and 10.1.0.0/16, together 10.0.0.0/15.
DEMO_FINDINGS = [
    # prod-2: ssh from the world, but ssh is only permitted from inside the VPC
    ("sg-0a11ce0000000002", "extra", "critical", "tcp", 22, 22, "0.0.0.0/0",
     "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/15"),
    # prod-2: 8787 from the world is required (http stays public) and absent
    ("sg-0a11ce0000000002", "missing", "medium", "tcp", 8787, 8787, "0.0.0.0/0",
     f"no rule allows it; {WHY_HTTP}"),
    # scratch: all traffic from the world; only 8786-8787 (everyone), 22 (VPC) and 443 (vendor
    # VPN) of tcp are in the envelope, nothing of the other protocols
    ("sg-0a11ce0000000003", "extra", "critical", "-1", -1, -1, "0.0.0.0/0",
     "outside the envelope: tcp 0-8785, 8788-65535 from 0.0.0.0/0 except 10.0.0.0/15, 198.51.100.0/24; "
     "tcp 0-21, 23-8785, 8788-65535 from 10.0.0.0/15; tcp 0-442, 444-8785, 8788-65535 from "
     "198.51.100.0/24; udp, icmp, icmpv6, all other protocols from 0.0.0.0/0"),
    # analytics: the Dask ports are for 10.1.0.0/16 only (firewall); 10.0.0.0/8 is wider
    ("sg-0a11ce0000000005", "extra", "medium", "tcp", 8786, 8787, "10.0.0.0/8",
     "outside the envelope: tcp 8786-8787 from 10.0.0.0/8 except 10.1.0.0/16"),
    # analytics: IPv6 world on the dashboard
    ("sg-0a11ce0000000005", "extra", "high", "tcp", 8787, 8787, "::/0",
     "outside the envelope: tcp 8787 from ::/0"),
    # reporting: another security group on 5432 (its 443 from the vendor VPN is allowed)
    ("sg-0a11ce0000000006", "extra", "medium", "tcp", 5432, 5432, "sg-0badbeef00000099",
     "outside the envelope: tcp 5432 from sg-0badbeef00000099"),
]
DEMO_STATUS = {"sg-0a11ce0000000001": "ok", "sg-0a11ce0000000002": "drift", "sg-0a11ce0000000003": "drift",
               "sg-0a11ce0000000004": "ok", "sg-0a11ce0000000005": "drift", "sg-0a11ce0000000006": "drift"}


def brief(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["group_id"], f["kind"], f["severity"], f["protocol"], f["from_port"], f["to_port"],
             f["source"], f["reason"]) for f in doc["findings"]]


def check_json(sgaudit: Callable[..., Run], *args: object) -> tuple[Run, dict[str, Any]]:
    run = sgaudit("check", *args, "--format", "json")
    return run, json.loads(run.out)


def assert_contract(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, SCHEMA)
    for f in doc["findings"]:
        if not f["source"].startswith(("sg-", "pl-")):
            assert addresses.parse_cidr(f["source"]) == (f["source"], True), f["source"]
        for text in f["rule_ids"] + ([f["description"]] if f.get("description") else []):
            assert text not in f["key"]
    keys = [f["key"] for f in doc["findings"]]
    assert len(keys) == len(set(keys))


# -- the demo ----------------------------------------------------------------------------------

def test_demo_findings(sgaudit: Callable[..., Run]) -> None:
    run, doc = check_json(sgaudit, *DEMO)
    assert run.code == 0
    assert brief(doc) == DEMO_FINDINGS
    assert {g["group_id"]: g["status"] for g in doc["groups"]} == DEMO_STATUS
    assert doc["complete"] is True and doc["errors"] == []
    assert run.err_lines == [
        "sgaudit: 6 group(s) audited; 4 drifted; 6 active finding(s) (2 critical, 1 high, 3 medium)"]


def test_demo_json_follows_the_contract(sgaudit: Callable[..., Run]) -> None:
    _, doc = check_json(sgaudit, *DEMO)
    assert_contract(doc)
    assert doc["schema"] == "sgaudit.report/v1"
    assert [g["group_id"] for g in doc["groups"]] == list(DEMO_STATUS)
    assert doc["groups"][0] == {**doc["groups"][0], "group_name": "coiled-dask-prod-1",
                                "vpc_id": "vpc-0c0ffee0000000001", "region": "unknown", "account": ACCOUNT}
    group = f"{ACCOUNT}|unknown|sg-0a11ce0000000002"
    assert doc["findings"][0]["key"] == f"extra|{group}|tcp|22|22|0.0.0.0/0"
    assert doc["findings"][1]["key"] == f"missing|{group}|tcp|8787|8787|0.0.0.0/0"
    assert all(f["waived"] is False for f in doc["findings"])


def test_keys_are_stable_across_runs_ids_and_descriptions(sgaudit: Callable[..., Run],
                                                           tmp_path: Path) -> None:
    data = json.loads(GROUPS.read_text())
    for gi, group in enumerate(data["SecurityGroups"]):
        for pi, perm in enumerate(group["IpPermissions"]):
            for key in ("IpRanges", "Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds"):
                for ri, entry in enumerate(perm.get(key, [])):
                    entry["SecurityGroupRuleId"] = f"sgr-0{gi}{pi}{ri}abc"
                    entry["Description"] = f"changed by someone {gi}{pi}{ri}"
    changed = tmp_path / "groups.json"
    changed.write_text(json.dumps(data))
    _, first = check_json(sgaudit, *DEMO)
    _, again = check_json(sgaudit, *DEMO)
    _, other = check_json(sgaudit, "--policy", POLICY, "--snapshot", changed, "--snapshot", VPCS)
    assert [f["key"] for f in first["findings"]] == [f["key"] for f in again["findings"]] == [
        f["key"] for f in other["findings"]]
    assert_contract(other)
    ids = {f["source"]: f["rule_ids"] for f in other["findings"] if f["kind"] == "extra"}
    assert ids["::/0"] == ["sgr-0440abc"]  # the extra finding points at the rule as it stands


@pytest.mark.parametrize(("flags", "code"), [((), 0), (("--fail-on-drift",), 1), (("--allow-partial",), 0),
                                             (("--fail-on-drift", "--allow-partial"), 1)])
def test_demo_exit_codes(sgaudit: Callable[..., Run], flags: tuple[str, ...], code: int) -> None:
    assert sgaudit("check", *DEMO, *flags).code == code


def test_demo_table(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", *DEMO)
    assert run.code == 0
    lines = run.out.splitlines()
    headers = [line for line in lines if line.startswith("sg-")]
    assert headers == [
        f"sg-0a11ce0000000002 (coiled-dask-prod-2)  account {ACCOUNT}  region unknown  "
        "vpc vpc-0c0ffee0000000001  status drift",
        f"sg-0a11ce0000000003 (coiled-dask-scratch)  account {ACCOUNT}  region unknown  "
        "vpc vpc-0c0ffee0000000001  status drift",
        f"sg-0a11ce0000000005 (coiled-dask-analytics)  account {ACCOUNT}  region unknown  "
        "vpc vpc-0c0ffee0000000001  status drift",
        f"sg-0a11ce0000000006 (coiled-dask-reporting)  account {ACCOUNT}  region unknown  "
        "vpc vpc-0c0ffee0000000001  status drift",
    ]
    assert lines[-1] == "2 of 6 group(s) match their desired state."
    assert sum(line.startswith("severity") for line in lines) == 4
    finding_rows = [line.split()[:5] for line in lines
                    if line.split()[:1] and line.split()[0] in ("critical", "high", "medium", "low")]
    assert finding_rows == [
        ["critical", "extra", "tcp", "22", "0.0.0.0/0"],
        ["medium", "missing", "tcp", "8787", "0.0.0.0/0"],
        ["critical", "extra", "all", "all", "0.0.0.0/0"],
        ["medium", "extra", "tcp", "8786-8787", "10.0.0.0/8"],
        ["high", "extra", "tcp", "8787", "::/0"],
        ["medium", "extra", "tcp", "5432", "sg-0badbeef00000099"],
    ]
    assert run.err_lines == [
        "sgaudit: 6 group(s) audited; 4 drifted; 6 active finding(s) (2 critical, 1 high, 3 medium)"]


def test_output_file_json_by_extension(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = sgaudit("check", *DEMO, "-o", out)
    assert run.code == 0 and run.out == ""
    doc = json.loads(out.read_text())
    assert_contract(doc)
    assert brief(doc) == DEMO_FINDINGS
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind


def test_output_file_table(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    run = sgaudit("check", *DEMO, "--output", out, "--fail-on-drift")
    assert run.code == 1 and run.out == ""
    assert out.read_text() == sgaudit("check", *DEMO).out


def test_quiet_has_no_summary(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", *DEMO, "-q")
    assert run.err == ""


def test_unknown_format_is_a_usage_error(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", *DEMO, "--format", "yaml")
    assert run.code == 2 and run.out == ""
    [line] = run.err_lines
    assert line.startswith("sgaudit: error: ") and "yaml" in line


def test_unwritable_output_is_one_line(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "missing-folder" / "report.json"
    run = sgaudit("check", *DEMO, "-o", out)
    assert run.code == 2
    [line] = run.err_lines
    assert line.startswith(f"sgaudit: error: {out}: cannot write report")


# -- the source document's tables, compliant and drifted ----------------------------------------

DOC_CASES = {
    # first table: enable_public_ssh=False -> 8787, 8786 from the world; ssh only from the VPC
    "no-public-ssh": [
        ("sg-0d0c000000000001", "extra", "critical", "tcp", 22, 22, "0.0.0.0/0",
         "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/15"),
        ("sg-0d0c000000000001", "missing", "medium", "tcp", 8786, 8786, "0.0.0.0/0",
         f"no rule allows it; {WHY_HTTP}"),
    ],
    # second table: disable_public_ingress=True -> 8787, 8786, 22 from the VPC's primary block
    # (and the same from its other block); 8787 from the world is extra, and covers the
    # required 8787 from the VPC, so nothing is missing
    "disable-public-ingress": [
        ("sg-0d0c000000000002", "extra", "high", "tcp", 8787, 8787, "0.0.0.0/0",
         "outside the envelope: tcp 8787 from 0.0.0.0/0 except 10.0.0.0/15"),
    ],
    # third table: enable_public_ssh=False + firewall {100, 9012, 465} from 10.1.0.0/16 ->
    # 8787, 8786, 100, 9012, 465 from it.  9000-9100 covers 9012 but is wider; 465 from the
    # world covers the required 465 but is wider.
    "firewall": [
        ("sg-0d0c000000000003", "extra", "medium", "tcp", 9000, 9100, "10.1.0.0/16",
         "outside the envelope: tcp 9000-9011, 9013-9100 from 10.1.0.0/16"),
        ("sg-0d0c000000000003", "extra", "high", "tcp", 465, 465, "0.0.0.0/0",
         "outside the envelope: tcp 465 from 0.0.0.0/0 except 10.1.0.0/16"),
    ],
}


@pytest.mark.parametrize("name", sorted(DOC_CASES))
def test_doc_table_compliant(sgaudit: Callable[..., Run], name: str) -> None:
    args = ("--policy", DOCS / f"{name}.yaml", "--snapshot", DOCS / f"{name}-compliant.json",
            "--snapshot", VPCS)
    run, doc = check_json(sgaudit, *args, "--fail-on-drift")
    assert run.code == 0
    assert doc["findings"] == []
    assert [g["status"] for g in doc["groups"]] == ["ok"]
    assert_contract(doc)
    table = sgaudit("check", *args)
    assert table.out == "1 of 1 group(s) match their desired state.\n"


@pytest.mark.parametrize("name", sorted(DOC_CASES))
def test_doc_table_drifted(sgaudit: Callable[..., Run], name: str) -> None:
    args = ("--policy", DOCS / f"{name}.yaml", "--snapshot", DOCS / f"{name}-drifted.json",
            "--snapshot", VPCS)
    run, doc = check_json(sgaudit, *args)
    assert run.code == 0
    assert brief(doc) == DOC_CASES[name]
    assert [g["status"] for g in doc["groups"]] == ["drift"]
    assert_contract(doc)
    assert sgaudit("check", *args, "--fail-on-drift").code == 1


def test_doc_firewall_example_with_its_own_non_canonical_cidr(sgaudit: Callable[..., Run],
                                                              tmp_path: Path) -> None:
    """The document writes the firewall CIDR as 10.1.0.2/16; that is 10.1.0.0/16."""
    policy = tmp_path / "doc.yaml"
    policy.write_text("backend_options:\n  enable_public_ssh: false\n"
                      "  firewall: {ports: [100, 9012, 465], cidr: 10.1.0.2/16}\n")
    run, doc = check_json(sgaudit, "--policy", policy, "--snapshot", DOCS / "firewall-compliant.json",
                          "--snapshot", VPCS, "--fail-on-drift")
    assert run.code == 0 and doc["findings"] == []
    assert doc["warnings"] == [f"{policy}:3: backend_options.firewall.cidr: '10.1.0.2/16' is not canonical; "
                               "using 10.1.0.0/16"]


# -- explain -----------------------------------------------------------------------------------

def explain_json(sgaudit: Callable[..., Run], *args: object) -> list[dict[str, Any]]:
    run = sgaudit("explain", *DEMO, "--format", "json", *args)
    assert run.code == 0, run.err
    return json.loads(run.out)


def rows(group: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {(r["kind"], r["protocol"], r["from_port"], r["to_port"], r["source"], r["reason"],
             tuple(r["origins"])) for r in group["rules"]}


def test_explain_names_every_rule_and_its_option(sgaudit: Callable[..., Run]) -> None:
    [group] = explain_json(sgaudit, "sg-0a11ce0000000005")
    firewall = "firewall opens the Dask ports and [100, 9012, 465] to 10.1.0.0/16"
    ssh = "enable_public_ssh is false: ssh only from inside the VPC"
    ssh_origin = (f"enable_public_ssh=false ({POLICY}:3)",)
    allow = (f"allow=tcp from 198.51.100.0/24 ({POLICY}:20)",)
    got = rows(group)
    fw_origins = {r[6] for r in got if r[5] == firewall}
    assert len(fw_origins) == 1
    [fw_origin] = fw_origins
    assert len(fw_origin) == 1 and fw_origin[0].startswith("firewall=") and fw_origin[0].endswith(
        f"({POLICY}:16)")
    assert got == {
        *{("required", "tcp", p, p, "10.1.0.0/16", firewall, fw_origin)
          for p in (8786, 8787, 100, 9012, 465)},
        ("permitted", "tcp", 22, 22, "10.0.0.0/16", ssh, ssh_origin),
        ("permitted", "tcp", 22, 22, "10.1.0.0/16", ssh, ssh_origin),
        ("permitted", "-1", -1, -1, "sg-0a11ce0000000005 (itself)",
         "the cluster's machines talk to each other (always permitted)", ()),
        ("permitted", "tcp", 443, 443, "198.51.100.0/24",
         f"listed in the policy's allow ({POLICY}:20)", allow),
    }


def test_explain_defaults_name_the_default(sgaudit: Callable[..., Run]) -> None:
    [group] = explain_json(sgaudit, "sg-0a11ce0000000001")
    required = {(r["from_port"], r["source"], tuple(r["origins"])) for r in group["rules"]
                if r["kind"] == "required"}
    assert required == {(8786, "0.0.0.0/0", ("enable_public_http=true (default)",)),
                        (8787, "0.0.0.0/0", ("enable_public_http=true (default)",))}


def test_explain_table_shows_each_option(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("explain", *DEMO, "sg-0a11ce0000000004", "sg-0a11ce0000000005")
    assert run.code == 0
    text = run.out
    assert text.startswith(f"sg-0a11ce0000000004 (coiled-dask-etl)  account {ACCOUNT}  region unknown  "
                           "vpc vpc-0c0ffee0000000001\n")
    assert f"sg-0a11ce0000000005 (coiled-dask-analytics)  account {ACCOUNT}" in text
    flat = " ".join(text.split())  # columns wrap (a long path even at a hyphen); compare the words
    for words in ("disable_public_ingress=true", f"{POLICY.name}:13)", "enable_public_ssh=false",
                  f"{POLICY.name}:3)",
                  "allow=tcp from 198.51.100.0/24", "sg-0a11ce0000000005 (itself)", "firewall="):
        assert words in flat, words


def test_explain_every_demo_group(sgaudit: Callable[..., Run]) -> None:
    groups = explain_json(sgaudit)
    assert [g["group_id"] for g in groups] == list(DEMO_STATUS)
    for g in groups:
        assert g["unresolved"] is None
        for r in g["rules"]:
            assert r["reason"]
            assert r["origins"] or r["source"].endswith("(itself)")


def test_explain_unknown_group_is_a_usage_error(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("explain", *DEMO, "sg-0nothere")
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == ["sgaudit: error: group(s) not found among the selected groups: sg-0nothere"]


def test_explain_unresolved_group(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("explain", "--policy", POLICY, "--snapshot", GROUPS, "sg-0a11ce0000000001")
    assert run.code == 3
    assert "UNRESOLVED: the VPC's CIDR is needed but unknown" in run.out


# -- warnings and the contract in the corners ----------------------------------------------------

def test_override_warnings_reach_stderr_once(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("backend_options:\n  enable_public_ssh: true\n"
                      "clusters:\n  - match: {tags: {owner: coiled}}\n"
                      "    backend_options:\n      disable_public_ingress: true\n"
                      "      firewall: {ports: [9000], cidr: 192.168.0.0/16}\n")
    run = sgaudit("check", "--policy", policy, "--snapshot", GROUPS, "--snapshot", VPCS)
    assert run.code == 0
    assert [line for line in run.err_lines if "warning" in line] == [
        f"sgaudit: warning: disable_public_ingress ({policy}:6) overrides enable_public_ssh=true "
        f"({policy}:2)",
        f"sgaudit: warning: disable_public_ingress ({policy}:6) overrides firewall ({policy}:7): "
        "192.168.0.0/16 is not inside the VPC (10.0.0.0/16, 10.1.0.0/16)",
    ]


def test_incomplete_report_follows_the_contract(sgaudit: Callable[..., Run]) -> None:
    run, doc = check_json(sgaudit, "--policy", POLICY, "--snapshot", GROUPS)
    assert run.code == 3
    assert_contract(doc)
    assert doc["complete"] is False and len(doc["errors"]) == 6


def test_a_rule_of_another_ip_protocol_fits_the_contract(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    data = json.loads(GROUPS.read_text())
    data["SecurityGroups"][0]["IpPermissions"].append(
        {"IpProtocol": "50", "IpRanges": [{"CidrIp": "203.0.113.0/24"}]})
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps(data))
    _, doc = check_json(sgaudit, "--policy", POLICY, "--snapshot", groups, "--snapshot", VPCS)
    assert_contract(doc)
    esp = [f for f in doc["findings"] if f["protocol"] == "50"]
    assert [(f["kind"], f["severity"], f["from_port"], f["to_port"], f["source"]) for f in esp] == [
        ("extra", "high", -1, -1, "203.0.113.0/24")]
