"""Shared test helpers: the fixtures folder and an in-process runner of the real entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from pg_support import history_target, pg_server, pg_url  # noqa: F401  (fixtures: history on both)

from sgaudit.cli import main

# Property tests check results, never speed: a busy CI machine must not fail them on a deadline.
settings.register_profile("sgaudit", deadline=None)
settings.load_profile("sgaudit")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture
def sgaudit(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run ``sgaudit ARGS`` through ``sgaudit.cli.main`` (the console script's entry point, with
    its error handling) and return exit code, stdout and stderr."""

    def run(*args: object) -> Run:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # main always exits; reaching here is a bug of its own
            code = -1
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
