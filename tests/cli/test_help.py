"""``--help`` in panels: each command's options grouped (input, output, AWS, Google Cloud,
scheduled scans, fix, delivery), an example at the end, and plain text when stdout is not a
terminal or NO_COLOR is set."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

SGAUDIT = str(Path(sys.executable).parent / "sgaudit")
PANEL = re.compile(r"^\+- (.+?) -+\+$")


def _help(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return subprocess.run([SGAUDIT, *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**environ, **env})


def _panels(text: str) -> dict[str, list[str]]:
    """Panel title -> the long options listed in it, in order."""
    panels: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        title = PANEL.match(line.strip())
        if title:
            current = panels.setdefault(title.group(1), [])
            continue
        option = re.match(r"^\|\s{1,5}(\*\s+)?(--[a-z-]+)", line)
        if option:
            current.append(option.group(2))
    return panels


def test_check_help_groups_every_option_in_its_panel() -> None:
    done = _help("check", "--help")
    assert done.returncode == 0, done.stderr
    assert _panels(done.stdout) == {
        "Input": ["--policy", "--snapshot", "--region", "--account", "--max-workers", "--timeout"],
        "Output": ["--format", "--output", "--report", "--fail-on-drift", "--allow-partial", "--quiet"],
        "AWS": ["--profile", "--role-arn", "--external-id", "--regions", "--endpoint-url", "--org-role",
                "--accounts", "--exclude-accounts", "--no-rule-ids"],
        "Google Cloud": ["--gcp-project"],
        "Scheduled scans": ["--baseline", "--update-baseline", "--history", "--record-what-if"],
        "Fix": ["--fix", "--dry-run", "--yes", "--max-changes", "--backup"],
        "Delivery": ["--notify", "--notify-on", "--securityhub"],
        "Options": ["--help"],
    }
    assert list(_panels(done.stdout)) == ["Input", "Output", "AWS", "Google Cloud", "Scheduled scans",
                                          "Fix", "Delivery", "Options"]


def test_no_option_of_any_command_is_left_in_the_catch_all_panel() -> None:
    from sgaudit.cli.main import cli

    for name in cli.commands:
        panels = _panels(_help(name, "--help").stdout)
        assert panels.pop("Options") == ["--help"], name
        command = cli.commands[name]
        listed = sorted(o for options in panels.values() for o in options)
        assert listed == sorted(o for p in command.params if p.param_type_name == "option"
                                for o in p.opts if o.startswith("--")), name


@pytest.mark.parametrize("command", ["check", "explain", "snapshot", "history", "rollback"])
def test_every_command_help_ends_with_an_example(command: str) -> None:
    lines = [line.strip() for line in _help(command, "--help").stdout.splitlines() if line.strip()]
    assert lines[-1].startswith(f"Example: sgaudit {command} ") or any(
        line.startswith(f"Example: sgaudit {command} ") for line in lines[-3:]), lines[-3:]


def test_the_example_of_check_runs_on_the_fixtures(tmp_path: Path) -> None:
    from sgaudit.cli.help import EXAMPLES

    command = EXAMPLES["check"].removeprefix("Example: sgaudit ").split()
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([SGAUDIT, *command[:-3], "-o", str(tmp_path / "r.html"), "--fail-on-drift"],
                          cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert command[-3:] == ["-o", "report.html", "--fail-on-drift"]
    assert done.returncode == 1, done.stderr          # the fixtures drift
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_piped_help_is_plain_even_when_ci_forces_colour() -> None:
    done = _help("check", "--help", FORCE_COLOR="1", GITHUB_ACTIONS="true")
    assert "\x1b[" not in done.stdout
    assert "+- Input -" in done.stdout          # ASCII boxes, no box drawing
    assert not re.search(r"[─│╭╮╰╯]", done.stdout)


def _help_on_a_terminal(**env: str) -> str:
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    with subprocess.Popen([SGAUDIT, "check", "--help"], stdout=follower, stderr=follower,
                          env={**environ, "TERM": "xterm-256color", **env}) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:                 # the terminal closed: the program is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_colour_and_no_color_turns_it_off() -> None:
    assert "\x1b[" in _help_on_a_terminal()
    plain = _help_on_a_terminal(NO_COLOR="1")
    assert "\x1b[" not in plain
    assert "+- Input -" in plain


def test_no_arguments_print_the_help_on_stderr_and_exit_2() -> None:
    done = _help()
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Usage: sgaudit [OPTIONS] COMMAND [ARGS]..." in done.stderr
