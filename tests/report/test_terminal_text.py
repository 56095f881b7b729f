"""Terminal escape injection: cloud text (group names, ids, tags, descriptions) is data in every
format and every command.  Control characters (ESC of CSI and OSC sequences, C1 controls), bidi
controls (U+061C, U+202E, ...) and lone surrogates become U+FFFD; newlines cannot start a fake
line.  JSON documents keep the exact text, escaped as \\uXXXX (they are pure ASCII)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Run

CLEAR = "\x1b[2J\x1b[H"                      # clear the screen, cursor home
TITLE = "\x1b]0;owned\x07"                   # OSC: set the window title
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"     # OSC 52: write the clipboard
C1_CSI = "\x9b2J"                            # the one-byte CSI of C1
BIDI = "\u061c\u202e"                         # Arabic letter mark, right-to-left override
NAME = f"{CLEAR}0 drifted{TITLE}{CLIPBOARD}{C1_CSI}{BIDI}\ud800\nsgaudit: 0 group(s) audited"
#: what a terminal must never receive
FORBIDDEN = ("\x1b", "\x9b", "\x07", "\u061c", "\u202e", "\ud800")


@pytest.mark.parametrize(("raw", "cleaned"), [
    ("a\x1b[2Jb", "a\ufffd[2Jb"),
    ("t\x1b]0;x\x07", "t\ufffd]0;x\ufffd"),
    ("c1\x9b2J", "c1\ufffd2J"),
    ("alm\u061c rlo\u202e lri\u2066", "alm\ufffd rlo\ufffd lri\ufffd"),
    ("lone \ud800", "lone \ufffd"),
    ("two\nlines\r\tx", "two lines x"),
    (None, ""),
])
def test_clean(raw: object, cleaned: str) -> None:
    from sgaudit.text import clean

    assert clean(raw) == cleaned


def test_clean_lines_keeps_line_breaks_but_not_carriage_returns() -> None:
    from sgaudit.text import clean_lines

    assert clean_lines("a\nb\r\nc\rd\x1b[K") == "a\nb\nc\nd\ufffd[K"


def hostile_snapshot(tmp_path: Path) -> Path:
    data: dict[str, Any] = json.loads((FIXTURES / "security-groups.json").read_text())
    group = data["SecurityGroups"][0]
    group["GroupName"] = NAME
    group["Description"] = f"desc {CLEAR}{BIDI}"
    group["Tags"].append({"Key": f"k{TITLE}", "Value": f"v{CLIPBOARD}"})
    group["IpPermissions"].append(
        {"IpProtocol": "tcp", "FromPort": 9999, "ToPort": 9999,
         "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": f"rule {CLEAR}{C1_CSI}"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []})
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data))  # json escapes the surrogate as \ud800
    return path


def _assert_safe(text: str, where: str) -> None:
    for bad in FORBIDDEN:
        assert bad not in text, f"{where}: {bad!r} reached the output"


@pytest.mark.parametrize("fmt", ["table", "markdown", "html", "sarif", "junit"])
def test_no_format_passes_escapes(sgaudit: Callable[..., Run], tmp_path: Path, fmt: str) -> None:
    snap = hostile_snapshot(tmp_path)
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
                  "--snapshot", FIXTURES / "vpcs.json", "-f", fmt)
    assert run.code == 0, run.err
    _assert_safe(run.out, fmt)
    _assert_safe(run.err, "stderr")
    assert "\ufffd" in run.out


def test_table_cannot_fake_a_summary_line(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", hostile_snapshot(tmp_path),
                  "--snapshot", FIXTURES / "vpcs.json")
    header = [line for line in run.out.splitlines() if line.startswith("sg-0a11ce0000000001")]
    assert header == ["sg-0a11ce0000000001 (\ufffd[2J\ufffd[H0 drifted\ufffd]0;owned\ufffd\ufffd]52;c;"
                      "cm0gLXJmIH4=\ufffd\ufffd2J\ufffd\ufffd\ufffd sgaudit: 0 group(s) audited)  "
                      "account 111122223333  region unknown  vpc vpc-0c0ffee0000000001  status drift"]
    assert not any(line.startswith("sgaudit: 0 group(s)") for line in run.out.splitlines())


def test_json_keeps_the_exact_text_in_ascii(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", hostile_snapshot(tmp_path),
                  "--snapshot", FIXTURES / "vpcs.json", "-f", "json")
    assert run.out.isascii()
    names = {g["group_id"]: g["group_name"] for g in json.loads(run.out)["groups"]}
    assert names["sg-0a11ce0000000001"] == NAME


def test_explain_and_history(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    snap = hostile_snapshot(tmp_path)
    args = ("--policy", FIXTURES / "policy.yaml", "--snapshot", snap, "--snapshot", FIXTURES / "vpcs.json")
    explain = sgaudit("explain", *args, "sg-0a11ce0000000001")
    assert explain.code == 0
    _assert_safe(explain.out, "explain")
    assert explain.out.startswith("sg-0a11ce0000000001 (\ufffd[2J")
    db = tmp_path / "h.db"
    assert sgaudit("check", *args, "--history", db).code == 0
    history = sgaudit("history", "--history", db)
    assert history.code == 0
    _assert_safe(history.out, "history")


def test_a_hostile_group_id_in_keys_and_history(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads((FIXTURES / "security-groups.json").read_text())
    data["SecurityGroups"][2]["GroupId"] = f"sg-{CLEAR}{TITLE}"
    snap = tmp_path / "ids.json"
    snap.write_text(json.dumps(data))
    db = tmp_path / "h.db"
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
                  "--snapshot", FIXTURES / "vpcs.json", "--history", db)
    _assert_safe(run.out + run.err, "check")
    history = sgaudit("history", "--history", db)
    _assert_safe(history.out + history.err, "history")
    assert "sg-\ufffd[2J\ufffd[H\ufffd]0;owned\ufffd" in history.out


def test_warnings_and_errors_are_cleaned(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text('select:\n  names: ["x\\e]0;owned\\a"]\n')  # YAML's own escapes
    run = sgaudit("check", "--policy", policy, "--snapshot", FIXTURES / "security-groups.json")
    assert run.err_lines[0] == ("sgaudit: warning: no security group matched the selection "
                                "(name x\ufffd]0;owned\ufffd); nothing was audited")
    _assert_safe(run.err, "stderr")
    error = sgaudit("check", "--policy", tmp_path / f"no{CLEAR}.yaml")
    assert error.code == 2
    assert error.err_lines == [f"sgaudit: error: {tmp_path}/no\ufffd[2J\ufffd[H.yaml: cannot read policy "
                               "file: No such file or directory"]
