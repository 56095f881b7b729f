"""Reports for the renderer tests: the fixtures' demo, and a hand-built report that has every
optional part (incomplete scan, unresolved and accepted groups, waiver notes, a trend) and
hostile text from the cloud everywhere it can appear."""

from __future__ import annotations

import contextlib

from conftest import FIXTURES

from sgaudit.engine.audit import audit
from sgaudit.engine.diff import finding_key
from sgaudit.model import (
    DesiredState,
    Finding,
    Grant,
    Group,
    GroupResult,
    Origin,
    Report,
    Rule,
    ScanError,
    TrendPoint,
    Waiver,
    WaiverNotice,
    WaiverNotices,
)
from sgaudit.policy.loader import load_policy
from sgaudit.sources.snapshot import SnapshotSource

GENERATED_AT = "2026-01-02T03:04:05Z"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=1>"
MARKDOWN_BAIT = "a|b `code` *bold* _em_ [link](https://evil.example) @octocat $x$ <b>hi</b> ~s~ #12 \\"


def fixture_report() -> Report:
    """The README's demo: fixtures/policy.yaml against the fixture snapshots, with paths as a
    user in the checkout types them, whatever the working directory of the test run."""
    with contextlib.chdir(FIXTURES.parent):
        policy = load_policy("fixtures/policy.yaml")
        snapshot = SnapshotSource(["fixtures/security-groups.json", "fixtures/vpcs.json"]).read(policy.select)
        return audit(policy, snapshot, GENERATED_AT)


def _finding(kind: str, severity: str, group: Group, protocol: str, lo: int, hi: int, source: str,
             reason: str, **extra: object) -> Finding:
    return Finding(key=finding_key(kind, group.account, group.region, group.group_id, protocol, lo, hi,
                                   source),
                   kind=kind, severity=severity, account=group.account,  # type: ignore[arg-type]
                   region=group.region, group_id=group.group_id, group_name=group.group_name,
                   protocol=protocol, from_port=lo, to_port=hi, source=source,
                   rule_ids=tuple(str(r) for r in extra.pop("rule_ids", ())),  # type: ignore[union-attr]
                   reason=reason, **extra)  # type: ignore[arg-type]


def edge_report() -> Report:
    """Every optional part of a report, and hostile names, tags and descriptions."""
    origin = Origin("enable_public_ssh", False, "policy.yaml:3")
    desired = DesiredState(
        required=(Grant("tcp", 8786, 8787, "0.0.0.0/0", "enable_public_http is true: Dask ports open",
                        (Origin("enable_public_http", True, "default"),)),),
        permitted=(Grant("tcp", 22, 22, "10.0.0.0/16", "enable_public_ssh is false: ssh only from the VPC",
                         (origin,)),
                   Grant("-1", -1, -1, "self", "the cluster's machines talk to each other")))
    hostile = Group(
        group_id="sg-0000000000000000a", group_name=SCRIPT, vpc_id="vpc-1", region="us-east-1",
        account="111122223333", description=IMG + " " + MARKDOWN_BAIT,
        tags=(("owner", "coiled"), ("team", IMG), ("note", MARKDOWN_BAIT)),
        rules=(Rule("tcp", 22, 22, "0.0.0.0/0", "sgr-1", SCRIPT),
               Rule("tcp", 5432, 5432, "10.20.0.0/16", "sgr-2", "db " + IMG),
               Rule("tcp", 443, 443, "203.0.113.0/24", "sgr-3", "vendor"),
               Rule("-1", -1, -1, "sg-0000000000000000a", "sgr-4")))
    findings = (
        _finding("extra", "critical", hostile, "tcp", 22, 22, "0.0.0.0/0",
                 "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/16",
                 rule_ids=("sgr-1",), description=SCRIPT, first_seen="2025-12-01T00:00:00Z"),
        _finding("extra", "medium", hostile, "tcp", 5432, 5432, "10.20.0.0/16",
                 "outside the envelope: tcp 5432 from 10.20.0.0/16", rule_ids=("sgr-2",),
                 description="db " + IMG, first_seen="2025-11-15T00:00:00Z"),
        _finding("missing", "medium", hostile, "tcp", 8786, 8787, "0.0.0.0/0",
                 "no rule allows it; required because enable_public_http is true: Dask ports open",
                 first_seen="2025-12-20T00:00:00Z"),
        _finding("extra", "high", hostile, "tcp", 443, 443, "203.0.113.0/24",
                 "outside the envelope: tcp 443 from 203.0.113.0/24", rule_ids=("sgr-3",),
                 description="vendor", waived=True, waiver_reason="vendor VPN " + IMG),
    )
    clean = Group("sg-0000000000000000b", "coiled-ok", "vpc-2", "eu-west-1", "444455556666",
                  rules=(Rule("tcp", 8786, 8787, "0.0.0.0/0", "sgr-5"),))
    baselined_group = Group("sg-0000000000000000c", "coiled-baselined", "vpc-1", "us-east-1",
                            "111122223333", rules=(Rule("udp", 53, 53, "10.0.0.0/8", "sgr-6"),))
    baselined = _finding("extra", "low", baselined_group, "udp", 53, 53, "10.0.0.0/8",
                         "outside the envelope: udp 53 from 10.0.0.0/8", rule_ids=("sgr-6",),
                         baselined=True)
    unresolved = Group("sg-0000000000000000d", "coiled-lost", "vpc-9", "eu-west-1", "111122223333")
    results = (
        GroupResult(hostile, desired, findings),
        GroupResult(clean, desired, ()),
        GroupResult(baselined_group, desired, (baselined,)),
        GroupResult(unresolved, DesiredState((), (), (), "VPC vpc-9 is not in the snapshot"), ()),
    )
    errors = (
        ScanError("444455556666", "ap-south-1", "DescribeSecurityGroups", "not authorized " + IMG,
                  "UnauthorizedOperation"),
        ScanError("111122223333", "eu-west-1", "resolve",
                  "sg-0000000000000000d: VPC vpc-9 is not in the snapshot", "Unresolved"),
    )
    def notice(days_left: int, ports: tuple[int, int] = (443, 443), expires: str = "2026-01-05",
               reason: str = "vendor VPN " + IMG, why: str | None = None) -> WaiverNotice:
        waiver = Waiver("sg-0000000000000000a", "tcp", *ports, "203.0.113.0/24", reason, expires,
                        "policy.yaml:20")
        return WaiverNotice(waiver, days_left, why)

    waivers = WaiverNotices(
        expiring=(notice(3),),
        expired=(notice(-32, (9000, 9100), "2025-12-01"),),
        stale=(notice(100, (25, 25), reason="old mail relay", why="matched no finding"),),
    )
    trend = (TrendPoint("2025-12-01T00:00:00Z", 1, 1), TrendPoint("2025-12-15T00:00:00Z", 4, 3),
             TrendPoint("2026-01-02T03:04:05Z", 3, 2))
    return Report(complete=False, errors=errors, results=results,
                  warnings=("policy.yaml:9: firewall cidr 10.1.0.2/16 is not canonical; using 10.1.0.0/16",
                            "control \x1b[31mchars\x07 " + SCRIPT),
                  generated_at=GENERATED_AT, policy_path="policy.yaml",
                  scanned=("aws:111122223333", "aws:444455556666"), waivers=waivers, trend=trend)


def clean_report() -> Report:
    group = Group("sg-0000000000000000b", "coiled-ok", "vpc-2", "eu-west-1", "444455556666",
                  rules=(Rule("tcp", 8786, 8787, "0.0.0.0/0", "sgr-5"),))
    desired = DesiredState((Grant("tcp", 8786, 8787, "0.0.0.0/0", "Dask ports"),), ())
    return Report(complete=True, errors=(), results=(GroupResult(group, desired, ()),), warnings=(),
                  generated_at=GENERATED_AT, policy_path=None, scanned=("snap.json",))


def gcp_report() -> Report:
    """A Google Cloud scan built from the records a GCP source hands the engine, run through the
    real audit: a required rule taken away by a hierarchical policy, a world-open rule made
    harmless by a higher-priority deny (no finding), redundant allows, a rule that only possibly
    applies (service account, instances not read), the same network name in two projects, and
    hostile text in a rule's description."""
    from sgaudit.model import (
        FirewallMatch,
        FirewallPolicy,
        FirewallRule,
        GcpNetwork,
        GcpState,
        Snapshot,
    )
    from sgaudit.policy.loader import parse_policy

    def rule(name: str, ports: tuple[int, ...], project: str = "coiled-prod", **kw: object) -> FirewallRule:
        fields: dict[str, object] = {"priority": 1000, "action": "allow", "source_ranges": ("0.0.0.0/0",),
                                     "target_tags": ("coiled-etl",), **kw}
        return FirewallRule(name=name, project=project, network="default",
                            matches=(FirewallMatch("tcp", tuple((p, p) for p in ports)),),
                            **fields)  # type: ignore[arg-type]

    org = FirewallPolicy("org-guardrails", "hierarchical", (
        FirewallRule(name="org-guardrails/100", project="coiled-prod", network="default", priority=100,
                     action="deny", matches=(FirewallMatch("tcp", ((22, 22),)),),
                     source_ranges=("0.0.0.0/0",), target_tags=()),
        FirewallRule(name="org-guardrails/200", project="coiled-prod", network="default", priority=200,
                     action="goto_next", matches=(FirewallMatch("-1"),),
                     source_ranges=("0.0.0.0/0", "::/0"), target_tags=()),))
    prod = GcpNetwork("coiled-prod", "default", subnet_ranges=("10.128.0.0/20", "10.4.0.0/14"),
                      policies=(org,))
    dev = GcpNetwork("coiled-dev", "default", subnet_ranges=("10.128.0.0/20",), policies=())
    firewalls = (
        rule("coiled-etl-ingress", (22, 8786, 8787), description="Coiled " + SCRIPT),
        rule("coiled-etl-dashboard", (8787,), priority=900),
        rule("debug-9000", (9000,)),
        rule("block-9000", (9000,), priority=500, action="deny"),
        rule("open-5432", (5432,), target_tags=(), description="db " + IMG,
             target_service_accounts=("db@coiled-prod.iam.gserviceaccount.com",)),
        rule("internal", (), target_tags=("coiled-etl",), source_ranges=(), source_tags=("coiled-etl",)),
        rule("coiled-ml-ingress", (22, 8786, 8787), project="coiled-dev", target_tags=("coiled-ml",)),
    )
    state = GcpState(networks={("coiled-prod", "default"): prod, ("coiled-dev", "default"): dev},
                     firewalls=firewalls)
    policy = parse_policy({"select": {"network_tags": ["coiled-*"]}}, "policy.yaml")
    report = audit(policy, Snapshot(groups=(), gcp=state, scanned=("gcp:coiled-prod", "gcp:coiled-dev")),
                   GENERATED_AT)
    return report
