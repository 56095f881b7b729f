"""``sgaudit check -f FORMAT`` and ``-o FILE`` for the report formats: the format follows the
file's extension unless -f says otherwise; an unwritable path is one line, exit 2, no file."""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run

from sgaudit.cli.common import choose_format
from sgaudit.errors import UsageError
from sgaudit.report import FORMATS, format_for_path

DEMO = ["--policy", FIXTURES / "policy.yaml", "--snapshot", FIXTURES / "security-groups.json",
        "--snapshot", FIXTURES / "vpcs.json"]


@pytest.mark.parametrize(("name", "fmt"), [
    ("report.html", "html"), ("REPORT.HTM", "html"), ("summary.md", "markdown"),
    ("scan.sarif", "sarif"), ("junit.xml", "junit"), ("r.json", "json"), ("r.txt", "table"),
    ("no-extension", None), ("r.sarif.json", "json"), ("hub.asff", "asff"), ("siem.ocsf", "ocsf"),
])
def test_format_for_path(name: str, fmt: str | None) -> None:
    assert format_for_path(name) == fmt


def test_every_format_is_registered_with_its_module() -> None:
    assert sorted(FORMATS) == ["asff", "html", "json", "junit", "markdown", "ocsf", "sarif", "table"]
    assert choose_format(None, "x.html") == "html"
    assert choose_format("json", "x.html") == "json"      # -f wins
    assert choose_format(None, "report") == "table"       # no extension: the table
    with pytest.raises(UsageError) as refused:                # an unknown one: never a silent table
        choose_format(None, "x.unknown")
    assert str(refused.value) == ("-o x.unknown: no report format has the extension '.unknown' (known: "
                                  ".txt, .json, .md, .markdown, .html, .htm, .sarif, .xml, .asff, .ocsf); "
                                  "pass -f FORMAT")
    assert choose_format(None, None) == "table"


def _check(path: Path, fmt: str) -> None:
    text = path.read_text(encoding="utf-8")
    if fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "Drift in 4 of 6 security groups" in text
    elif fmt == "markdown":
        assert text.startswith("## ❌ sgaudit: drift in 4 of 6 security group(s)\n")
    elif fmt == "sarif":
        assert len(json.loads(text)["runs"][0]["results"]) == 6
    elif fmt == "junit":
        assert ET.fromstring(text.encode()).get("failures") == "4"


@pytest.mark.parametrize(("name", "fmt"), [("report.html", "html"), ("pr.md", "markdown"),
                                           ("scan.sarif", "sarif"), ("junit.xml", "junit")])
def test_output_format_follows_the_extension(sgaudit: Callable[..., Run], tmp_path: Path, name: str,
                                             fmt: str) -> None:
    out = tmp_path / name
    run = sgaudit("check", *DEMO, "-o", out)
    assert (run.code, run.out) == (0, "")
    _check(out, fmt)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    # the same bytes as -f FORMAT on stdout, apart from the time of the scan
    stdout = sgaudit("check", *DEMO, "-f", fmt).out
    assert len(stdout.splitlines()) == len(out.read_text(encoding="utf-8").splitlines())


def test_format_flag_overrides_the_extension(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert sgaudit("check", *DEMO, "-f", "sarif", "-o", out).code == 0
    _check(out, "sarif")


@pytest.mark.parametrize("fmt", ["html", "markdown", "sarif", "junit"])
@pytest.mark.parametrize("where", ["missing folder", "folder is a file"])
def test_unwritable_output(sgaudit: Callable[..., Run], tmp_path: Path, fmt: str, where: str) -> None:
    (tmp_path / "file").write_text("x")
    parent = tmp_path / ("missing" if where == "missing folder" else "file")
    out = parent / "report.out"
    run = sgaudit("check", *DEMO, "-f", fmt, "-o", out)
    assert run.code == 2 and run.out == ""
    [line] = run.err_lines                          # one line, no traceback, no summary
    assert line.startswith(f"sgaudit: error: {out}: cannot write report: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]   # nothing written, nothing left
    assert (tmp_path / "file").read_text() == "x"


def test_output_that_is_a_folder(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", *DEMO, "-o", tmp_path)
    assert run.code == 2 and run.out == ""
    [line] = run.err_lines
    assert line.startswith("sgaudit: error: ") and "directory" in line


def test_one_scan_several_reports(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """--report FILE writes the same scan again in FILE's format (the Action uploads the SARIF
    and shows the Markdown from one run)."""
    sarif, md = tmp_path / "scan.sarif", tmp_path / "pr.md"
    run = sgaudit("check", *DEMO, "-o", tmp_path / "r.json", "--report", sarif, "--report", md)
    assert run.code == 0, run.err
    _check(sarif, "sarif")
    _check(md, "markdown")
    assert len(json.loads((tmp_path / "r.json").read_text())["findings"]) == 6
    assert f"sgaudit: markdown report written to {md}" in run.err_lines


@pytest.mark.parametrize(("args", "message"), [
    (["--report", "x.foo"], "--report x.foo: no report format has its extension (known: .txt, .json, .md, "
                            ".markdown, .html, .htm, .sarif, .xml, .asff, .ocsf)"),
    (["--report", "-"], "--report -: stdout is -o's (use -o -)"),
    (["-o", "a.md", "--report", "a.md"], "--report a.md: given twice"),
])
def test_report_refusals(sgaudit: Callable[..., Run], tmp_path: Path, args: list[str], message: str) -> None:
    with contextlib.chdir(tmp_path):
        run = sgaudit("check", *DEMO, *args)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {message}"])
    assert list(tmp_path.iterdir()) == []
