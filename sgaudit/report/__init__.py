"""Report formats behind one small interface; each format lives in its own module and is
imported only when used."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from sgaudit.errors import UsageError
from sgaudit.model import Report

#: format name -> (module, file extensions that imply it)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "table": ("sgaudit.report.table", (".txt",)),
    "json": ("sgaudit.report.json_report", (".json",)),
    "markdown": ("sgaudit.report.markdown", (".md", ".markdown")),
    "html": ("sgaudit.report.html", (".html", ".htm")),
    "sarif": ("sgaudit.report.sarif", (".sarif",)),
    "junit": ("sgaudit.report.junit", (".xml",)),
}


class Renderer(Protocol):
    def __call__(self, report: Report) -> str: ...


def renderer(name: str) -> Renderer:
    if name not in FORMATS:
        raise UsageError(f"--format: unknown format {name!r}; choose from {', '.join(FORMATS)}")
    module = importlib.import_module(FORMATS[name][0])
    return module.render  # type: ignore[no-any-return]


def format_for_path(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    for name, (_, extensions) in FORMATS.items():
        if suffix in extensions:
            return name
    return None


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
