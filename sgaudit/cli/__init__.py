"""The command line: the only package that wires policy, sources, engine and reports together."""

from sgaudit.cli.main import main

__all__ = ["main"]
