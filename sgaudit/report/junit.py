"""JUnit XML for CI test views: a test suite per account/region, a test case per group.

A drifted group fails (its active findings are the failure's text); an unresolved group and
anything that could not be read are errors, so an incomplete scan never looks green; a group
whose findings are all accepted passes and lists them on its system-out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sgaudit.model import SEVERITIES, Finding, GroupResult, Report, ScanError
from sgaudit.report import view

#: the operation audit.py gives a group whose desired state could not be computed; such a
#: group's own test case carries the error, so it is not repeated as a scan error
_RESOLVE = "resolve"


def render(report: Report) -> str:
    results = view.by_location(report.results)
    scan_errors: dict[tuple[str, str], list[ScanError]] = {}
    for e in report.errors:
        if e.operation != _RESOLVE:
            scan_errors.setdefault((e.account, e.region), []).append(e)
    locations = sorted(set(results) | set(scan_errors))
    root = ET.Element("testsuites", name="sgaudit", timestamp=report.generated_at)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for account, region in locations:
        suite = _suite(report, account, region, results.get((account, region), []),
                       scan_errors.get((account, region), []))
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(report: Report, account: str, region: str, results: list[GroupResult],
           errors: list[ScanError]) -> ET.Element:
    suite = ET.Element("testsuite", name=_x(f"{account}/{region}"), timestamp=report.generated_at,
                       time="0")
    failures = errs = 0
    classname = _x(f"sgaudit.{account}.{region}")
    for e in errors:
        case = ET.SubElement(suite, "testcase", classname=classname, name=_x(f"read {e.operation}"),
                             time="0")
        code = f"{e.code}: " if e.code else ""
        err = ET.SubElement(case, "error", type=_x(e.code or "ScanError"),
                            message=_x(f"could not read: {code}{e.message}"))
        err.text = _x(f"{account}/{region} {e.operation}: {code}{e.message}\n"
                      "The scan is incomplete: drift here may be hidden.")
        errs += 1
    for r in results:
        g = r.group
        name = f"{g.group_id} ({g.group_name})" if g.group_name else g.group_id
        if g.cloud == "gcp":  # a network tag: unique within its network
            name = f"{g.vpc_id}/{g.group_id}"
        name += view.role_label(r.role)
        case = ET.SubElement(suite, "testcase", classname=classname, name=_x(name), time="0")
        active = sorted(view.active(r), key=view.severity_order)
        accepted = view.accepted(r)
        if r.status == "unresolved":
            err = ET.SubElement(case, "error", type="Unresolved",
                                message=_x(f"desired state unknown: {r.desired.unresolved}"))
            err.text = _x(f"{g.group_id}: {r.desired.unresolved}")
            errs += 1
        elif active:
            counts = ", ".join(f"{n} {s}" for s, n in _severity_counts(active) if n)
            fail = ET.SubElement(case, "failure", type="drift",
                                 message=_x(f"{len(active)} active finding(s): {counts}"))
            fail.text = _x("\n".join(_line(f) for f in active))
            failures += 1
        if accepted:
            out = ET.SubElement(case, "system-out")
            out.text = _x("accepted findings:\n" + "\n".join(
                f"{_line(f)} [{view.acceptance(f)}]" for f in accepted))
    suite.set("tests", str(len(results) + len(errors)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errs))
    suite.set("skipped", "0")
    return suite


def _severity_counts(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(s, sum(1 for f in findings if f.severity == s)) for s in SEVERITIES]


def _line(f: Finding) -> str:
    rule = view.rule_text(f.protocol, f.from_port, f.to_port, f.source)
    ids = f" (rule {', '.join(f.rule_ids)})" if f.rule_ids else ""
    return f"{f.severity} {f.kind}: {rule}{ids}: {f.reason}"


def _x(text: object) -> str:
    """Text XML 1.0 can hold (it has no escape for most control characters), lines kept."""
    return "\n".join(view.clean(line) for line in str(text).split("\n"))
