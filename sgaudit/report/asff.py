"""AWS Security Finding Format (ASFF, SchemaVersion 2018-10-08): ``{"Findings": [...]}``, one
finding per active finding, exactly what ``--securityhub`` imports with BatchImportFindings.

Each finding's ``Id`` is derived from its stable key, so importing again updates the finding
rather than adding one; ``CreatedAt`` is when the history first saw it (else the scan time),
``UpdatedAt`` the scan time. ``Workflow``, ``Note`` and ``UserDefinedFields`` are never written:
they belong to the people who triage findings (BatchUpdateFindings).

A GCP target has the project as its account, region "global", and a resource of type ``Other``
naming the network and tag: for pipelines that convert; Security Hub itself takes AWS accounts.
"""

from __future__ import annotations

from typing import Any

from sgaudit import __version__
from sgaudit.model import Kind, Report
from sgaudit.report import security_findings as sf
from sgaudit.report import view
from sgaudit.report.security_findings import Located, cut

SCHEMA_VERSION = "2018-10-08"
#: generator ids start with this, one per finding type ("sgaudit/SGA001")
GENERATOR_PREFIX = "sgaudit/"
#: the namespace/category every sgaudit finding is filed under; the classifier says extra/missing
TYPE_PREFIX = "Software and Configuration Checks/AWS Security Best Practices/"
TYPES = {Kind.EXTRA: TYPE_PREFIX + "Network Reachability - Extra Ingress",
         Kind.MISSING: TYPE_PREFIX + "Network Reachability - Missing Required Ingress"}
#: ProductFields keys sgaudit writes (Security Hub adds its own under aws/)
FIELD_PREFIX = "sgaudit/"
#: ASFF field limits (characters)
TITLE_MAX, DESCRIPTION_MAX, REMEDIATION_MAX, FIELD_VALUE_MAX = 256, 1024, 512, 2048


def render(report: Report) -> str:
    """``{"Findings": [...]}``, one finding a line."""
    return '{"Findings": ' + sf.json_lines(findings(report)) + "}\n"


def document(report: Report) -> dict[str, Any]:
    return {"Findings": findings(report)}


def findings(report: Report) -> list[dict[str, Any]]:
    """The active findings as ASFF, worst first."""
    return [finding(x, report.generated_at) for x in sf.located(report)]


def partition(region: str) -> str:
    """The AWS partition a region belongs to (ARNs differ in China and GovCloud)."""
    for prefix, name in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
                         ("us-iso-", "aws-iso")):
        if region.startswith(prefix):
            return name
    return "aws"


def product_arn(account: str, region: str) -> str:
    """A custom integration's product: the account's own ``default`` product in the region."""
    return f"arn:{partition(region)}:securityhub:{region}:{account}:product/{account}/default"


def finding(x: Located, scanned_at: str) -> dict[str, Any]:
    f = x.finding
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": sf.finding_id(f.key),
        "ProductArn": product_arn(f.account, f.region),
        "ProductName": "sgaudit",
        "CompanyName": "sgaudit",
        "GeneratorId": GENERATOR_PREFIX + x.type.rule_id,
        "AwsAccountId": f.account,
        "Region": f.region,
        "Types": [TYPES[Kind(f.kind)]],
        "CreatedAt": f.first_seen or scanned_at,
        "UpdatedAt": scanned_at,
        "Severity": {"Label": f.severity.upper(), "Original": str(f.severity)},
        # how a provider updates severity and types after the first import (the top-level
        # fields count only when a finding is created)
        "FindingProviderFields": {"Severity": {"Label": f.severity.upper(), "Original": str(f.severity)},
                                  "Types": [TYPES[Kind(f.kind)]]},
        "Title": cut(sf.title(x), TITLE_MAX),
        "Description": cut(sf.description(x), DESCRIPTION_MAX),
        "Remediation": {"Recommendation": {"Text": cut(sf.remediation(x), REMEDIATION_MAX)}},
        "Resources": [resource(x)],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
        "ProductFields": product_fields(x),
    }


def resource(x: Located) -> dict[str, Any]:
    g = x.group
    if x.gcp:
        network = view.clean(g.vpc_id or "")
        return {"Type": "Other", "Id": f"//compute.googleapis.com/projects/{view.clean(g.account)}"
                                       f"/global/networks/{network}#tag={view.clean(g.group_id)}",
                "Partition": "aws", "Region": g.region,
                "Details": {"Other": {"cloud": "gcp", "project": view.clean(g.account),
                                      "network": network, "networkTag": view.clean(g.group_id)}}}
    details: dict[str, Any] = {"GroupId": view.clean(g.group_id), "OwnerId": view.clean(g.account)}
    if g.group_name:
        details["GroupName"] = view.clean(g.group_name)
    if g.vpc_id:
        details["VpcId"] = view.clean(g.vpc_id)
    return {"Type": "AwsEc2SecurityGroup",
            "Id": f"arn:{partition(g.region)}:ec2:{g.region}:{g.account}:security-group/{g.group_id}",
            "Partition": partition(g.region), "Region": g.region,
            "Details": {"AwsEc2SecurityGroup": details}}


def product_fields(x: Located) -> dict[str, str]:
    """The finding's own fields, for rules and searches in Security Hub (string values only)."""
    f = x.finding
    fields = {"key": f.key, "kind": str(f.kind), "rule": x.type.rule_id, "protocol": f.protocol,
              "from_port": str(f.from_port), "to_port": str(f.to_port), "source": f.source,
              "reason": f.reason, "version": __version__}
    if f.rule_ids:
        fields["rule_ids"] = ",".join(f.rule_ids)
    if x.role != "scheduler":
        fields["role"] = x.role
    if x.gcp:
        fields.update(cloud="gcp", network=x.group.vpc_id or "")
    return {FIELD_PREFIX + k: cut(view.clean(v), FIELD_VALUE_MAX) for k, v in fields.items()}
