"""The JSON report encodes groups and findings line by line without building their dicts; each
line must be exactly ``json.dumps`` of the dict (``document``), whatever the text holds."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from sgaudit.model import DesiredState, Finding, Group, GroupResult, Kind, Report, Severity
from sgaudit.report import json_report
from tests.report_samples import clean_report, edge_report, fixture_report


def reference(report: Report) -> str:
    """The report as ``json.dumps`` spells each value: the encoding before the fast lines."""
    doc = json_report.document(report)
    lines = ["{"]
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < len(doc) - 1 else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n    ".join(json.dumps(v) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n    {body}\n  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_sample_reports_encode_as_json_dumps_does() -> None:
    for report in (fixture_report(), edge_report(), clean_report()):
        text = json_report.render(report)
        assert text == reference(report)
        assert json.loads(text)["findings"] == [json_report.finding_dict(f) for f in report.findings]


texts = st.text(max_size=12)
maybe_texts = st.one_of(st.none(), texts)


@settings(max_examples=200, deadline=None)
@given(name=texts, vpc=maybe_texts, source=texts, reason=texts, description=maybe_texts,
       rule_ids=st.lists(texts, max_size=3), waived=st.booleans(), waiver=maybe_texts,
       baselined=st.booleans(), first_seen=maybe_texts, ports=st.tuples(st.integers(-1, 65535),
                                                                         st.integers(-1, 65535)))
def test_any_text_encodes_as_json_dumps_does(name: str, vpc: str | None, source: str, reason: str,
                                            description: str | None, rule_ids: list[str],
                                            waived: bool, waiver: str | None, baselined: bool,
                                            first_seen: str | None, ports: tuple[int, int]) -> None:
    group = Group("sg-1", name, vpc, "eu-west-1", "1111")
    finding = Finding(key=f"extra|{source}", kind="extra", severity="high", account="1111",
                      region="eu-west-1", group_id="sg-1", group_name=name, protocol="tcp",
                      from_port=ports[0], to_port=ports[1], source=source, rule_ids=tuple(rule_ids),
                      reason=reason, description=description, waived=waived, waiver_reason=waiver,
                      baselined=baselined, first_seen=first_seen)
    report = replace(clean_report(), results=(GroupResult(group, DesiredState((), ()), (finding,)),))
    assert json_report.render(report) == reference(report)


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from([*Kind, "extra", "other"]), severity=st.sampled_from([*Severity, "high", "x"]),
       accepted=st.tuples(st.sampled_from([False, True, 0, 1]), maybe_texts,
                          st.sampled_from([False, True, 0]), maybe_texts))
def test_enums_and_acceptance_encode_as_json_dumps_does(
        kind: str, severity: str, accepted: tuple[bool, str | None, bool, str | None]) -> None:
    """Kinds, severities and statuses (str enums) and the acceptance fields, whatever their
    values, are spelled as json.dumps spells them (the fast line has shortcuts for both)."""
    waived, waiver, baselined, first_seen = accepted
    group = Group("sg-1", "n", "vpc-1", "eu-west-1", "1111")
    finding = Finding(key="k", kind=kind, severity=severity, account="1111",  # type: ignore[arg-type]
                      region="eu-west-1", group_id="sg-1", group_name="n", protocol="tcp",
                      from_port=22, to_port=22, source="0.0.0.0/0", rule_ids=(), reason="r",
                      waived=waived, waiver_reason=waiver, baselined=baselined, first_seen=first_seen)
    report = replace(clean_report(), results=(GroupResult(group, DesiredState((), ()), (finding,)),))
    assert json_report.render(report) == reference(report)
