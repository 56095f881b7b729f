"""Findings of one security group and the reports that carry them, for the tests of the history
and of what a scan changed: one account, group sg-1 in the regions asked for."""

from __future__ import annotations

from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report, ScanError

ACCOUNT = "111122223333"


def finding(port: int, region: str = "us-east-1", severity: str = "high") -> Finding:
    key = f"extra|{ACCOUNT}|{region}|sg-1|tcp|{port}|{port}|0.0.0.0/0"
    return Finding(key=key, kind="extra", severity=severity, account=ACCOUNT, region=region,  # type: ignore[arg-type]
                   group_id="sg-1", group_name="g", protocol="tcp", from_port=port, to_port=port,
                   source="0.0.0.0/0", rule_ids=(), reason="r")


def report_of(*findings: Finding, regions: tuple[str, ...] = ("us-east-1",),
              failed: tuple[str, ...] = ()) -> Report:
    """sg-1 read in each of ``regions`` but the ``failed`` ones, which answered with an error."""
    results = tuple(
        GroupResult(Group("sg-1", "g", None, region, ACCOUNT), DesiredState((), ()),
                    tuple(f for f in findings if f.region == region))
        for region in regions if region not in failed)
    errors = tuple(ScanError(ACCOUNT, r, "DescribeSecurityGroups", "denied") for r in failed)
    return Report(complete=not errors, errors=errors, results=results, warnings=(),
                  generated_at="t", policy_path="p.yaml", scanned=("s.json",))
