"""Group, GroupResult, AppliedRule and the engine's rects, pieces, steps and exposures take a
faster ``__init__`` (model.frozen.quick_init): it must behave exactly as the one ``dataclass``
generates - the same parameters and defaults, frozen, equal and hashed by value, and ``replace``
still works.  Rule and Finding are named tuples: their fields, defaults and immutability."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from sgaudit.engine.diff.rects import Outside, Rect, Source
from sgaudit.engine.gcp_effective.shapes import Exposure, Step
from sgaudit.model.findings import AppliedRule, Finding, GroupResult, make_finding
from sgaudit.model.groups import Group, Rule, make_rule
from sgaudit.model.policy import DesiredState
from sgaudit.model.terms import Kind, Severity


def _generated(cls: type) -> type:
    """The same fields as a plain frozen slotted dataclass (the generated ``__init__``)."""
    spec = [(f.name, f.type, dataclasses.field(default=f.default))
            if f.default is not dataclasses.MISSING else (f.name, f.type)
            for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, spec, frozen=True, slots=True)


@pytest.mark.parametrize("cls", [Group, GroupResult, AppliedRule, Source, Rect, Outside,
                                 Step, Exposure])
def test_same_parameters_and_defaults(cls: type) -> None:
    assert inspect.signature(cls) == inspect.signature(_generated(cls))


def test_rule_values_defaults_and_keywords() -> None:
    empty = inspect.Parameter.empty
    assert [(p.name, p.default) for p in inspect.signature(Rule).parameters.values()] == [
        ("protocol", empty), ("from_port", empty), ("to_port", empty), ("source", empty),
        ("rule_id", None), ("description", None), ("peer_account", None), ("peering_id", None)]
    rule = Rule("tcp", 22, 22, "10.0.0.0/8", description="ssh")
    assert rule == Rule(protocol="tcp", from_port=22, to_port=22, source="10.0.0.0/8",
                        rule_id=None, description="ssh", peer_account=None, peering_id=None)
    assert hash(rule) == hash(Rule("tcp", 22, 22, "10.0.0.0/8", None, "ssh"))
    assert rule != Rule("tcp", 22, 22, "10.0.0.0/8")
    assert rule._replace(source="sg-1").source == "sg-1"
    assert repr(rule) == ("Rule(protocol='tcp', from_port=22, to_port=22, source='10.0.0.0/8', "
                          "rule_id=None, description='ssh', peer_account=None, peering_id=None)")
    with pytest.raises(AttributeError):
        rule.source = "0.0.0.0/0"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Rule("tcp", 22, 22)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Rule("tcp", 22, 22, "x", colour="red")  # type: ignore[call-arg]


def test_finding_fields_values_and_defaults() -> None:
    empty = inspect.Parameter.empty
    assert [(p.name, p.default) for p in inspect.signature(Finding).parameters.values()] == [
        ("key", empty), ("kind", empty), ("severity", empty), ("account", empty), ("region", empty),
        ("group_id", empty), ("group_name", empty), ("protocol", empty), ("from_port", empty),
        ("to_port", empty), ("source", empty), ("rule_ids", empty), ("reason", empty),
        ("description", None), ("waived", False), ("waiver_reason", None), ("baselined", False),
        ("first_seen", None)]
    args = ("k", Kind.EXTRA, Severity.HIGH, "1", "r", "sg-1", "n", "tcp", 22, 22, "1.2.3.0/24",
            ("sgr-1",), "why")
    finding = Finding(*args)
    assert (finding.description, finding.waived, finding.waiver_reason, finding.baselined,
            finding.first_seen) == (None, False, None, False, None)
    assert finding.active and not finding._replace(baselined=True).active
    assert finding._replace(waived=True) == Finding(*args, waived=True)
    assert finding == Finding(**dict(zip(Finding._fields, args, strict=False)))
    assert hash(finding) == hash(Finding(*args))
    with pytest.raises(AttributeError):
        finding.waived = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        Finding(*args[:-1])  # type: ignore[call-arg]


def test_group_and_result_values_and_defaults() -> None:
    group = Group("sg-1", "n", None, "eu-west-1", "1")
    assert (group.description, group.tags, group.rules, group.cloud) == ("", (), (), "aws")
    assert group == Group(group_id="sg-1", group_name="n", vpc_id=None, region="eu-west-1",
                          account="1", description="", tags=(), rules=(), cloud="aws")
    assert dataclasses.replace(group, cloud="gcp").cloud == "gcp"
    result = GroupResult(group, DesiredState((), ()), ())
    assert result.applied == () and result.status == "ok"
    assert hash(result) == hash(GroupResult(group, DesiredState((), ()), ()))


def test_made_in_one_step_as_the_constructors_make_them() -> None:
    """The hot loops' ``make_rule``/``make_finding`` take every field in order: the same record
    as the constructor with those values (and the import fails if the fields change)."""
    rule = make_rule(("tcp", 22, 22, "10.0.0.0/8", "sgr-1", "ssh", None, None))
    assert rule == Rule("tcp", 22, 22, "10.0.0.0/8", "sgr-1", "ssh") and type(rule) is Rule
    assert rule.description == "ssh" and rule.peering_id is None
    args = ("k", Kind.EXTRA, Severity.HIGH, "1", "r", "sg-1", "n", "tcp", 22, 22, "1.2.3.0/24",
            ("sgr-1",), "why", "d")
    finding = make_finding((*args, False, None, False, None))
    assert finding == Finding(*args) and type(finding) is Finding and finding.active
