"""One jinja2 Environment for every templated report, loading from the installed package
``sgaudit.templates`` (reports/templates/ in a checkout), so a wheel renders like a checkout."""

from __future__ import annotations

from functools import cache
from importlib import resources

import jinja2


def _autoescape(name: str | None) -> bool:
    """HTML is always escaped; other formats escape with their own filters."""
    return bool(name) and name.endswith((".html.j2", ".html", ".svg.j2"))  # type: ignore[union-attr]


def read_asset(name: str) -> str:
    """A file shipped beside the templates (CSS, JS), as text."""
    return resources.files("sgaudit.templates").joinpath(name).read_text(encoding="utf-8")


def _load(name: str) -> str:
    try:
        source = read_asset(name)
    except (FileNotFoundError, IsADirectoryError):
        raise jinja2.TemplateNotFound(name) from None
    if name.endswith(".html.j2"):
        # the indentation is for people editing the template; in a report of thousands of
        # groups it would be megabytes of spaces (HTML templates hold no <pre> or <textarea>)
        source = "\n".join(line.lstrip() for line in source.split("\n"))
    return source


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
