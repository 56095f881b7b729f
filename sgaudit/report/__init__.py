"""Report formats behind one small interface; each format lives in its own module and is
imported only when used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from sgaudit.errors import UsageError
from sgaudit.model import Report


class Renderer(Protocol):
    def __call__(self, report: Report) -> str: ...


class ReportFormat(StrEnum):
    """A report format: its name on the command line, the file extensions that imply it, and
    the module that renders it (imported only when used)."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    SARIF = "sarif"
    JUNIT = "junit"
    ASFF = "asff"
    OCSF = "ocsf"

    @property
    def extensions(self) -> tuple[str, ...]:
        return _EXTENSIONS[self]

    def renderer(self) -> Renderer:
        module = importlib.import_module(f"sgaudit.report.{_MODULES.get(self, self.value)}")
        render: Renderer = module.render
        return render

    @classmethod
    def for_path(cls, path: str) -> ReportFormat | None:
        suffix = Path(path).suffix.lower()
        return next((f for f in cls if suffix in f.extensions), None)


_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "table": (".txt",), "json": (".json",), "markdown": (".md", ".markdown"),
    "html": (".html", ".htm"), "sarif": (".sarif",), "junit": (".xml",),
    "asff": (".asff",), "ocsf": (".ocsf",),
}
_MODULES = {"json": "json_report"}
#: every format's name, in the order the help lists them
FORMATS: tuple[str, ...] = tuple(f.value for f in ReportFormat)


def renderer(name: str) -> Renderer:
    try:
        return ReportFormat(name).renderer()
    except ValueError:
        raise UsageError(f"--format: unknown format {name!r}; choose from {', '.join(FORMATS)}") from None


def render_chunks(name: str, report: Report) -> Iterator[str]:
    """The report in this format as chunks of text: a format whose module has its own
    ``render_chunks`` (json) gives a long report as it is made, so that it is written without
    being held whole; any other gives its text as one chunk."""
    render = renderer(name)
    chunks = getattr(sys.modules[render.__module__], "render_chunks", None)
    return chunks(report) if chunks is not None else iter((render(report),))


def format_for_path(path: str) -> str | None:
    return ReportFormat.for_path(path)


def format_ports(protocol: str, from_port: int, to_port: int) -> str:
    """AWS's FromPort/ToPort as people read them: "22", "8786-8787", "all"."""
    if protocol == "-1" or (from_port == -1 and to_port == -1):
        return "all"
    if protocol in ("icmp", "icmpv6"):
        return f"type {from_port}" + ("" if to_port == -1 else f" code {to_port}")
    if from_port == to_port:
        return str(from_port)
    return f"{from_port}-{to_port}"


def format_protocol(protocol: str) -> str:
    return "all" if protocol == "-1" else protocol
