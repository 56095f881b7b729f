"""``sgaudit.model`` is a package of one module per kind of record; callers import its face.
Every public name a module defines is on the face (the same object), and a record pickled
under the old single-module names (``sgaudit.model.Finding``) loads as the same record."""

from __future__ import annotations

import ast
import pickle
import pkgutil
from importlib import import_module
from pathlib import Path

import sgaudit.model
from sgaudit.model.findings import Finding, GroupResult, Report
from sgaudit.model.groups import Group, Rule
from sgaudit.model.policy import DesiredState, Grant, Origin
from sgaudit.model.scan import ScanError
from sgaudit.model.terms import Kind, Severity


def _defined(path: Path) -> set[str]:
    """The public names a module's own top level binds (classes, functions, assignments)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def test_the_face_exports_every_public_name_each_module_defines() -> None:
    modules = [m.name for m in pkgutil.iter_modules(sgaudit.model.__path__)]
    assert sorted(modules) == ["findings", "frozen", "gcp", "groups", "policy", "scan", "terms"]
    defined = {}
    for name in modules:
        module = import_module(f"sgaudit.model.{name}")
        for public in _defined(Path(module.__file__ or "")):
            defined[public] = getattr(module, public)
    assert sorted(sgaudit.model.__all__) == sorted(defined)
    assert all(getattr(sgaudit.model, name) is value for name, value in defined.items())


def _report() -> Report:
    rule = Rule("tcp", 22, 22, "0.0.0.0/0", rule_id="sgr-1")
    group = Group("sg-1", "n", "vpc-1", "eu-west-1", "1", rules=(rule,), tags=(("k", "v"),))
    finding = Finding("extra|1|eu-west-1|sg-1|tcp|22|22|0.0.0.0/0", Kind.EXTRA, Severity.CRITICAL,
                      "1", "eu-west-1", "sg-1", "n", "tcp", 22, 22, "0.0.0.0/0", ("sgr-1",), "why")
    desired = DesiredState((Grant("tcp", 443, 443, "10.0.0.0/8", "https",
                                  (Origin("https", True, "policy.yaml:3"),)),), ())
    return Report(False, (ScanError("1", "us-east-1", "DescribeSecurityGroups", "denied"),),
                  (GroupResult(group, desired, (finding,)),), (), "t", None, ("s.json",))


def test_records_pickle_to_equal_records_with_equal_hashes() -> None:
    report = _report()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(report, protocol=protocol))
        assert again == report
        assert again.results[0].findings[0].severity is Severity.CRITICAL
        assert hash(again.results[0]) == hash(report.results[0])


def test_a_pickle_naming_the_single_module_still_loads() -> None:
    """Protocol 0 names each class as text: rename the modules to ``sgaudit.model`` as a pickle
    written before the split names them."""
    report = _report()
    text = pickle.dumps(report, protocol=0)
    old = text
    for module in ("findings", "groups", "policy", "scan", "terms"):
        old = old.replace(f"csgaudit.model.{module}\n".encode(), b"csgaudit.model\n")
    assert b"csgaudit.model.findings\n" in text and b"csgaudit.model.findings\n" not in old
    assert pickle.loads(old) == report
