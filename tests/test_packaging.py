"""A non-editable install renders every format: build the wheel from a copy of the checkout,
install it into a fresh venv, and run the installed ``sgaudit`` there. The venv sees the
dependencies of the running environment through a .pth line (nothing is downloaded), while
sgaudit itself, templates included, comes only from the wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

#: what each format's output of the fixtures' demo must show
CHECKS: dict[str, Callable[[str], bool]] = {
    "table": lambda out: "2 of 6 group(s) match their desired state." in out,
    "json": lambda out: len(json.loads(out)["findings"]) == 6,
    "markdown": lambda out: out.startswith("## ❌ sgaudit: drift in 4 of 6 security group(s)"),
    "html": lambda out: (out.startswith("<!DOCTYPE html>")
                         and "<h1>Drift in 4 of 6 security groups</h1>" in out),
    "sarif": lambda out: len(json.loads(out)["runs"][0]["results"]) == 6,
    "junit": lambda out: ET.fromstring(out.encode()).get("failures") == "4",
    "asff": lambda out: len(json.loads(out)["Findings"]) == 6,
    "ocsf": lambda out: [e["class_uid"] for e in json.loads(out)] == [2003] * 6,
}
FORMATS = tuple(CHECKS)


def _run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_the_wheel_renders_every_format(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("sgaudit", "reports"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", src]
    built = _run(*build)
    if built.returncode != 0:  # no index to fetch the build backend from: use the installed one
        built = _run(*build, "--no-build-isolation")
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("sgaudit-*.whl")

    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run(python, "-c", purelib).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_sgaudit_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    installed = _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
                     "--no-index", wheel)
    assert installed.returncode == 0, installed.stderr

    where = _run(python, "-c", "import sgaudit, sgaudit.templates as t; print(sgaudit.__file__); "
                 "print(list(t.__path__)[0])", cwd=tmp_path).stdout.split()
    assert all(p.startswith(str(site)) for p in where), where     # the wheel, not the checkout

    demo = ["--policy", FIXTURES / "policy.yaml", "--snapshot", FIXTURES / "security-groups.json",
            "--snapshot", FIXTURES / "vpcs.json"]
    for fmt in FORMATS:
        run = _run(venv / "bin" / "sgaudit", "check", *demo, "-f", fmt, cwd=tmp_path)
        assert run.returncode == 0, (fmt, run.stderr)
        assert CHECKS[fmt](run.stdout), fmt
    # and -o infers the format in the installed tool too
    run = _run(venv / "bin" / "sgaudit", "check", *demo, "-o", tmp_path / "r.html", cwd=tmp_path)
    assert run.returncode == 0 and (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
