"""OCSF 1.3.0 Compliance Findings (class 2003), a JSON array, for SIEMs and data lakes.

Class 2003 rather than Detection Finding (2004): sgaudit does not detect activity, it checks
a resource's configuration against a policy, and 2003 carries exactly that - a ``compliance``
object with the control (the finding type) and a Fail/Pass status - while 2004 describes
detections of threats and anomalies.

One event per active finding (``activity_id`` 1 Create when this scan first saw it, 2 Update
when the history saw it before); with a history, each finding this scan resolved is an event
with ``activity_id`` 3 Close, status Resolved and compliance Pass. ``finding_info.uid`` is the
stable key. A GCP target has the project as its account and the network tag in its network as
the resource. Validated in the tests against the OCSF schema's own JSON (package
``ocsf-json-schema``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sgaudit import __version__
from sgaudit.engine.finding_types import MISSING_REQUIRED_INGRESS
from sgaudit.model import Finding, Kind, Report, Resolved
from sgaudit.report import security_findings as sf
from sgaudit.report import view
from sgaudit.report.asff import partition
from sgaudit.report.security_findings import Located

OCSF_VERSION = "1.3.0"
CLASS_UID, CLASS_NAME = 2003, "Compliance Finding"
CATEGORY_UID, CATEGORY_NAME = 2, "Findings"
CREATE, UPDATE, CLOSE = 1, 2, 3
ACTIVITIES = {CREATE: "Create", UPDATE: "Update", CLOSE: "Close"}
#: sgaudit severity -> OCSF severity_id and its caption
SEVERITIES = {"low": (2, "Low"), "medium": (3, "Medium"), "high": (4, "High"), "critical": (5, "Critical")}
#: the finding's status (status_id): New while open, Resolved when closed
NEW, RESOLVED = (1, "New"), (4, "Resolved")
#: compliance.status_id
FAIL, PASS = (3, "Fail"), (1, "Pass")
#: cloud.account.type_id: AWS Account; a GCP project is "Other" in 1.3.0
AWS_ACCOUNT, OTHER = 10, 99
STANDARD = "sgaudit: Coiled cluster ingress"


def render(report: Report) -> str:
    """A JSON array, one event a line."""
    return sf.json_lines(events(report)) + "\n"


def events(report: Report) -> list[dict[str, Any]]:
    """Active findings worst first, then the findings this scan resolved (by key)."""
    now = millis(report.generated_at)
    out = [_open(x, report.generated_at, now) for x in sf.located(report)]
    out += [_closed(r, now) for r in sorted(report.resolved or (), key=lambda r: r.key)]
    return out


def millis(when: str) -> int:
    """An ISO time ("2026-01-02T03:04:05Z") as OCSF's timestamp: milliseconds since the epoch."""
    return int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)


def _open(x: Located, scanned_at: str, now: int) -> dict[str, Any]:
    f = x.finding
    seen_before = f.first_seen is not None and f.first_seen < scanned_at
    first = millis(f.first_seen) if f.first_seen else now
    event = _base(UPDATE if seen_before else CREATE, f.severity, now, NEW)
    event.update(
        message=sf.title(x),
        finding_info={"uid": f.key, "title": sf.title(x), "desc": sf.description(x),
                      "types": [x.type.name], "created_time": first, "first_seen_time": first,
                      "last_seen_time": now, "modified_time": now},
        cloud=_cloud(f.account, f.region, x.gcp),
        resources=[_resource(x)],
        compliance={"standards": [STANDARD], "control": x.type.rule_id,
                    "requirements": [view.clean(f.reason)],
                    "status_id": FAIL[0], "status": FAIL[1]},
        remediation={"desc": sf.remediation(x)},
        unmapped=_unmapped(f),
    )
    return event


def _closed(r: Resolved, now: int) -> dict[str, Any]:
    """A finding the history had open and this scan (having read its place completely) did not
    find: fixed, waived, baselined, or its group is gone."""
    event = _base(CLOSE, r.severity, now, RESOLVED)
    gcp = not r.group_id.startswith("sg-")
    title = f"Resolved: {view.clean(r.key)}"
    compliance: dict[str, Any] = {"standards": [STANDARD], "status_id": PASS[0], "status": PASS[1]}
    if r.kind == Kind.MISSING:  # an extra's type depends on its rule, which the history lacks
        compliance["control"] = MISSING_REQUIRED_INGRESS.rule_id
    event.update(
        message=title,
        finding_info={"uid": r.key, "title": title, "created_time": millis(r.first_seen),
                      "first_seen_time": millis(r.first_seen), "last_seen_time": now,
                      "modified_time": now},
        cloud=_cloud(r.account, r.region, gcp),
        resources=[{"uid": view.clean(r.group_id), "region": view.clean(r.region),
                    "type": "Network Tag" if gcp else "AWS::EC2::SecurityGroup"}],
        compliance=compliance,
    )
    return event


def _base(activity: int, severity: str, now: int, status: tuple[int, str]) -> dict[str, Any]:
    severity_id, severity_name = SEVERITIES[str(severity)]
    return {
        "class_uid": CLASS_UID, "class_name": CLASS_NAME,
        "category_uid": CATEGORY_UID, "category_name": CATEGORY_NAME,
        "activity_id": activity, "activity_name": ACTIVITIES[activity],
        "type_uid": CLASS_UID * 100 + activity, "type_name": f"{CLASS_NAME}: {ACTIVITIES[activity]}",
        "time": now, "severity_id": severity_id, "severity": severity_name,
        "status_id": status[0], "status": status[1],
        "metadata": {"version": OCSF_VERSION, "profiles": ["cloud"],
                     "product": {"name": "sgaudit", "vendor_name": "sgaudit", "version": __version__}},
    }


def _cloud(account: str, region: str, gcp: bool) -> dict[str, Any]:
    if gcp:
        return {"provider": "GCP", "project_uid": view.clean(account), "region": view.clean(region),
                "account": {"uid": view.clean(account), "type_id": OTHER, "type": "GCP Project"}}
    return {"provider": "AWS", "region": view.clean(region),
            "account": {"uid": view.clean(account), "type_id": AWS_ACCOUNT, "type": "AWS Account"}}


def _resource(x: Located) -> dict[str, Any]:
    g = x.group
    if x.gcp:
        network = view.clean(g.vpc_id or "")
        return {"uid": f"projects/{view.clean(g.account)}/global/networks/{network}/tags/"
                       f"{view.clean(g.group_id)}",
                "name": view.clean(g.group_id), "type": "Network Tag", "region": view.clean(g.region),
                "data": {"project": view.clean(g.account), "network": network,
                         "network_tag": view.clean(g.group_id)}}
    data = {"group_id": view.clean(g.group_id), "vpc_id": view.clean(g.vpc_id or "")}
    resource: dict[str, Any] = {
        "uid": f"arn:{partition(g.region)}:ec2:{g.region}:{g.account}:security-group/{g.group_id}",
        "type": "AWS::EC2::SecurityGroup", "region": view.clean(g.region),
        "cloud_partition": partition(g.region), "data": data}
    if g.group_name:
        resource["name"] = view.clean(g.group_name)
    return {k: view.clean(v) if isinstance(v, str) else v for k, v in resource.items()}


def _unmapped(f: Finding) -> dict[str, Any]:
    """sgaudit's own fields (the report's finding record) for queries OCSF has no field for."""
    return {"sgaudit": {"kind": str(f.kind), "protocol": f.protocol, "from_port": f.from_port,
                        "to_port": f.to_port, "source": view.clean(f.source),
                        "rule_ids": list(f.rule_ids), "extra": f.kind == Kind.EXTRA}}
