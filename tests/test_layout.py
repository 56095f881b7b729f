"""The package layout the README describes: every package folder ships in the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """pyproject lists packages by hand (the templates live outside the package); a folder
    missing from the list would silently miss the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sgaudit").rglob("__init__.py")}
    assert on_disk | {"sgaudit.templates"} == listed
