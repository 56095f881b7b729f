"""Golden files for the Markdown, SARIF and JUnit reports of the fixtures' demo and of a report
with every optional part and hostile cloud text. A fixed ``generated_at`` keeps them stable.

After an intended change, regenerate with ``SGAUDIT_UPDATE_GOLDEN=1 python -m pytest
tests/report/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from report_samples import clean_report, edge_report, fixture_report, gcp_report

from sgaudit import __version__
from sgaudit.model import Report
from sgaudit.report import junit, markdown, sarif

GOLDEN = Path(__file__).parent.parent / "golden"
RENDERERS = {"md": markdown.render, "sarif": sarif.render, "xml": junit.render}
REPORTS: dict[str, Callable[[], Report]] = {
    "fixtures": fixture_report, "edge": edge_report, "clean": clean_report, "gcp": gcp_report}


def _normalise(text: str) -> str:
    """The tool's version is in SARIF; keep golden files valid across version bumps."""
    return text.replace(f'"{__version__}"', '"VERSION"')


@pytest.mark.parametrize("report_name", sorted(REPORTS))
@pytest.mark.parametrize("ext", sorted(RENDERERS))
def test_golden(report_name: str, ext: str) -> None:
    got = _normalise(RENDERERS[ext](REPORTS[report_name]()))
    path = GOLDEN / f"{report_name}.{ext}"
    if os.environ.get("SGAUDIT_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with SGAUDIT_UPDATE_GOLDEN=1 to create it"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("ext", sorted(RENDERERS))
def test_rendering_is_deterministic(ext: str) -> None:
    assert RENDERERS[ext](edge_report()) == RENDERERS[ext](edge_report())
