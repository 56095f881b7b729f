"""The package layout the README describes: every package folder ships in the wheel."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """pyproject lists packages by hand (the templates live outside the package); a folder
    missing from the list would silently miss the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sgaudit").rglob("__init__.py")}
    assert on_disk | {"sgaudit.templates"} == listed


def _modules() -> list[Path]:
    return sorted((ROOT / "sgaudit").rglob("*.py"))


def test_every_module_opens_with_the_line_that_says_its_job() -> None:
    """`git ls-files sgaudit` should read like the pipeline, and each module's docstring says
    what it is for before a reader opens more than its first line."""
    missing = [str(p.relative_to(ROOT)) for p in _modules()
               if not (ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "").strip()]
    assert missing == []


def test_the_top_of_the_package_holds_few_modules() -> None:
    """Shared helpers live in packages named for what they are (net, fileio), not loose at the top."""
    top = sorted(p.name for p in (ROOT / "sgaudit").glob("*.py"))
    assert len(top) <= 8, top


def test_no_module_is_longer_than_a_sitting() -> None:
    """A module a newcomer can read in a sitting: at most 450 lines (issue 23)."""
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert long == {}
