"""The documentation cannot drift from the program: every README link into docs/ lands on a page
(and heading) that exists, and every ```sh block of README.md and docs/*.md runs.

Conventions for ```sh blocks:
- a block preceded by `<!-- not-tested: REASON -->` (blank lines between allowed) needs a real
  cloud, a server or an installation; it is skipped with REASON;
- every other block runs in a fresh temporary directory holding a copy of the repository's
  fixtures/, with the venv's `sgaudit` and `python` first on PATH and no cloud credentials;
- a block is split into commands (lines joined on a trailing backslash; comment-only and blank
  lines are not commands), each run by bash in that directory, in order;
- a command must exit 0, or N when its line ends with a comment `# exit N`, or when the
  comment-only line right after it ends with `(exit N)` (the docs' way of showing an error).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

DOCS = ROOT / "docs"
PAGES = (ROOT / "README.md", *sorted(DOCS.glob("*.md")))
MARKER = re.compile(r"<!--\s*not-tested:\s*(.+?)\s*-->")
EXIT_COMMENT = re.compile(r"#\s*exit\s+(\d+)\s*$")
EXIT_SHOWN = re.compile(r"^#.*\(exit (\d+)\)\s*$")
LINK = re.compile(r"\]\((docs/[^)\s]*)\)")


def sh_blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line, body, reason to skip or None) of every ```sh block of the page."""
    blocks: list[tuple[int, str, str | None]] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    reason: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "```sh":
            end = lines.index("```", i + 1)
            blocks.append((i + 1, "\n".join(lines[i + 1:end]), reason))
            reason, i = None, end + 1
            continue
        marker = MARKER.search(line)
        if marker:
            reason = marker.group(1)
        elif line.strip():
            reason = None
        i += 1
    return blocks


def commands(body: str) -> list[tuple[str, int]]:
    """The block's commands with the exit code each must give."""
    found: list[tuple[str, int]] = []
    pending = ""
    for raw in body.splitlines():
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        stripped = line.strip()
        shown = EXIT_SHOWN.match(stripped)
        if shown and found:
            found[-1] = (found[-1][0], int(shown.group(1)))
        if not stripped or stripped.startswith("#"):
            continue
        said = EXIT_COMMENT.search(stripped)
        found.append((stripped, int(said.group(1)) if said else 0))
    return found


def _block_params() -> list[object]:
    return [pytest.param(page, line, body, reason, id=f"{page.relative_to(ROOT)}:{line}")
            for page in PAGES for line, body, reason in sh_blocks(page)]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The venv first on PATH; no cloud credentials, no proxies, no colours, a private HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "GOOGLE_", "CLOUDSDK_", "SGAUDIT_", "PG"))
           and k.lower() not in ("http_proxy", "https_proxy")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    env["NO_COLOR"] = "1"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


@pytest.mark.parametrize(("page", "line", "body", "reason"), _block_params())
def test_sh_block_runs(page: Path, line: int, body: str, reason: str | None, tmp_path: Path) -> None:
    if reason is not None:
        pytest.skip(f"not tested: {reason}")
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    (tmp_path / "home").mkdir()
    env = _clean_env(tmp_path)
    steps = commands(body)
    assert steps, f"{page.name}:{line}: a ```sh block without a command"
    for command, expected in steps:
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == expected, (
            f"{page.name}:{line}: `{command}` exited {done.returncode}, the docs say {expected}\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def _anchors(page: Path) -> set[str]:
    """The ids MkDocs' toc extension gives the page's headings (its default slugify)."""
    ids: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"#{1,6} (.+)", line)
        if heading:
            text = re.sub(r"[^\w\s-]", "", heading.group(1).replace("`", "")).strip().lower()
            slug = re.sub(r"[-\s]+", "-", text)
            ids.add(slug if slug not in ids else f"{slug}_{len(ids)}")
    return ids


def test_readme_links_into_docs_land_on_pages() -> None:
    links = LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(links) >= 10, links       # the README sends its reader into the docs
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        if not target.is_file() or (anchor and anchor not in _anchors(target)):
            broken.append(link)
    assert broken == []


def test_the_readme_is_short() -> None:
    """A newcomer's five minutes: the reference lives in docs/."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_every_page_is_in_the_site_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert sorted(p.name for p in DOCS.glob("*.md") if f": {p.name}" not in nav) == []


def test_the_docs_examples_are_mostly_run() -> None:
    """A marker is for the few blocks that need a cloud: most examples on fixtures do run."""
    run = [b for p in PAGES for b in sh_blocks(p) if b[2] is None]
    assert len(run) >= 8, run


def test_the_conventions_parse_as_documented() -> None:
    body = "# a comment\nsgaudit check \\\n  --x  # exit 1\nfalse\n# sgaudit: error: no (exit 2)\n\necho ok"
    assert commands(body) == [("sgaudit check    --x  # exit 1", 1), ("false", 2), ("echo ok", 0)]


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """What .ci/run does: a broken link or anchor, or a page outside the nav, fails the build."""
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "fixing" / "index.html").is_file()
