"""Every bad policy input through the real entry point: exit 2, exactly one line on stderr naming
the file, the key and the value, never a traceback. Warnings that protect the user: non-canonical
CIDRs are normalised, secrets are never echoed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, Run

VPCS = FIXTURES / "vpcs.json"

# (id, policy text, the error after "<file>:"); an entry of a list is placed at the list's line
BAD_POLICIES: list[tuple[str, str, str]] = [
    ("typo did-you-mean", "backend_options:\n  enabled_public_ssh: false\n",
     "2: backend_options.enabled_public_ssh: unknown key 'enabled_public_ssh'; "
     "did you mean 'enable_public_ssh'?"),
    ("typo in a cluster, as the source document writes it",
     "clusters:\n  - match: {tags: {coiled-cluster: etl}}\n    backend_options:\n"
     "      enabled_public_ssh: false\n      firewall: {ports: [100, 9012, 465], cidr: 10.1.0.2/16}\n",
     "4: clusters[0].backend_options.enabled_public_ssh: unknown key 'enabled_public_ssh'; "
     "did you mean 'enable_public_ssh'?"),
    ("wrong type", 'backend_options:\n  enable_public_ssh: "nope"\n',
     "2: backend_options.enable_public_ssh: expected true or false, got 'nope'"),
    ("number for a flag", "backend_options:\n  disable_public_ingress: 1\n",
     "2: backend_options.disable_public_ingress: expected true or false, got 1"),
    ("invalid cidr", "backend_options:\n  firewall:\n    ports: [100]\n    cidr: 10.1.0.300/16\n",
     "4: backend_options.firewall.cidr: invalid CIDR '10.1.0.300/16'"),
    ("cidr not a string", "backend_options:\n  firewall: {ports: [100], cidr: 5}\n",
     "2: backend_options.firewall.cidr: expected a CIDR such as 10.0.0.0/16, got 5"),
    ("port 0", "backend_options:\n  firewall:\n    ports: [100, 0]\n    cidr: 10.1.0.0/16\n",
     "3: backend_options.firewall.ports[1]: port 0 is outside 1-65535"),
    ("port 70000", "backend_options:\n  firewall:\n    ports: [70000]\n    cidr: 10.1.0.0/16\n",
     "3: backend_options.firewall.ports[0]: port 70000 is outside 1-65535"),
    ("non-list ports", "backend_options:\n  firewall:\n    ports: 22\n    cidr: 10.1.0.0/16\n",
     "3: backend_options.firewall.ports: expected a list of ports, got 22"),
    ("string ports", "backend_options:\n  firewall:\n    ports: '22, 80'\n    cidr: 10.1.0.0/16\n",
     "3: backend_options.firewall.ports: expected a list of ports, got '22, 80'"),
    ("port as string", "backend_options:\n  firewall:\n    ports: ['22']\n    cidr: 10.1.0.0/16\n",
     "3: backend_options.firewall.ports[0]: expected a port number 1-65535, got '22'"),
    ("firewall without cidr", "backend_options:\n  firewall:\n    ports: [22]\n",
     "2: backend_options.firewall: missing 'cidr'"),
    ("firewall unknown key", "backend_options:\n  firewall:\n    ports: [22]\n    cidr: 10.1.0.0/16\n"
     "    prots: [1]\n",
     "5: backend_options.firewall.prots: unknown key 'prots'; did you mean 'ports'?"),
    ("firewall not a mapping", "backend_options:\n  firewall: [22]\n",
     "2: backend_options.firewall: expected a mapping, got [22]"),
    ("backend_options not a mapping", "backend_options: [1]\n",
     "1: backend_options: expected a mapping, got [1]"),
    ("top level list", "- 1\n- 2\n", " expected a mapping, got [1, 2]"),
    ("top level string", "just words\n", " expected a mapping, got 'just words'"),
    ("top level number", "42\n", " expected a mapping, got 42"),
    ("top level typo", "backend-option: {}\n",
     "1: backend-option: unknown key 'backend-option'; did you mean 'backend_options'?"),
    ("alias key", "backend_options:\n  enable_public_ssh: true\n  enable-public-ssh: false\n",
     "3: backend_options.enable-public-ssh: the same key as 'enable_public_ssh' (line 2): '-' and "
     "'_' are alike in keys"),
    ("alias top-level key", "backend_options: {}\nbackend-options: {}\n",
     "2: backend-options: the same key as 'backend_options' (line 1): '-' and '_' are alike in keys"),
    ("alias key in a cluster entry", "clusters:\n  - match: {names: [x]}\n    backend-options: {}\n"
     "    backend_options: {}\n",
     "4: clusters[0].backend_options: the same key as 'backend-options' (line 3): '-' and '_' are "
     "alike in keys"),
    ("alias cluster argument", "cluster_args:\n  allow_ssh: true\n  allow-ssh: false\n",
     "3: cluster_args.allow-ssh: the same key as 'allow_ssh' (line 2): '-' and '_' are alike in keys"),
    ("duplicate key", "backend_options:\n  enable_public_ssh: false\n  enable_public_ssh: true\n",
     " line 3: invalid YAML: duplicate key 'enable_public_ssh' (first on line 2)"),
    ("select tags not a mapping", "select: {tags: [owner]}\n",
     "1: select.tags: expected a mapping, got ['owner']"),
    ("select names not strings", "select:\n  names: 5\n",
     "2: select.names: expected a list of strings, got 5"),
    ("select group id", "select:\n  group_ids: [abc]\n",
     "2: select.group_ids[0]: expected a security group id (sg-…), got 'abc'"),
    ("select unknown key", "select:\n  owner: coiled\n",
     "2: select.owner: unknown key 'owner'; known keys: tags, names, group_ids, network_tags"),
    ("select tag value", "select:\n  tags: {owner: null}\n",
     "2: select.tags.owner: expected a tag value, got null"),
    ("select not a mapping", "select: [owner]\n", "1: select: expected a mapping, got ['owner']"),
    ("clusters entry without match", "clusters:\n  - backend_options: {enable_public_ssh: false}\n",
     "2: clusters[0]: needs a non-empty 'match' (tags, names, group_ids or network_tags)"),
    ("clusters empty match", "clusters:\n  - match: {}\n",
     "2: clusters[0]: needs a non-empty 'match' (tags, names, group_ids or network_tags)"),
    ("clusters unknown key", "clusters:\n  - match: {names: [a]}\n    options: {}\n",
     "3: clusters[0].options: unknown key 'options'; did you mean 'backend_options'?"),
    ("clusters bad matcher", "clusters:\n  - match: {colour: red}\n",
     "2: clusters[0].match.colour: unknown key 'colour'; known keys: tags, names, group_ids, network_tags"),
    ("clusters bad option", "clusters:\n  - match: {names: [a]}\n    backend_options:\n"
     "      enable_public_http: maybe\n",
     "4: clusters[0].backend_options.enable_public_http: expected true or false, got 'maybe'"),
    ("clusters entry not a mapping", "clusters:\n  - 5\n", "1: clusters[0]: expected a mapping, got 5"),
    ("allow without source", "allow:\n  - {protocol: tcp, ports: [443]}\n",
     "2: allow[0]: missing 'source' (a CIDR, sg-…, pl-…, or a GCP tag:, sa: or policy source)"),
    ("allow bad group id", "allow:\n  - {protocol: tcp, ports: [443], source: sg-zz}\n",
     "2: allow[0].source: expected a security group id (sg-…) or prefix list id (pl-…) of hex "
     "digits, got 'sg-zz'"),
    ("allow bad protocol", "allow:\n  - {protocol: xyz, ports: [443], source: 10.0.0.0/8}\n",
     "2: allow[0].protocol: expected tcp, udp, icmp, icmpv6, -1 or a protocol number, got 'xyz'"),
    ("allow tcp without ports", "allow:\n  - {protocol: tcp, source: 10.0.0.0/8}\n",
     "2: allow[0]: 'ports' is required for protocol tcp"),
    ("allow port 0", "allow:\n  - {protocol: tcp, ports: [0], source: 10.0.0.0/8}\n",
     "2: allow[0].ports[0]: expected a port 1-65535 or a \"lo-hi\" range, got 0"),
    ("allow port 70000", "allow:\n  - {protocol: tcp, ports: [70000], source: 10.0.0.0/8}\n",
     "2: allow[0].ports[0]: expected a port 1-65535 or a \"lo-hi\" range, got 70000"),
    ("allow non-list ports", "allow:\n  - {protocol: tcp, ports: 443, source: 10.0.0.0/8}\n",
     "2: allow[0].ports: expected a list of ports (integers or \"lo-hi\"), got 443"),
    ("allow reversed range", "allow:\n  - {protocol: tcp, ports: ['10-5'], source: 10.0.0.0/8}\n",
     "2: allow[0].ports[0]: expected a port 1-65535 or a \"lo-hi\" range, got '10-5'"),
    ("allow invalid cidr", "allow:\n  - {protocol: tcp, ports: [443], source: 10.0.0.300/8}\n",
     "2: allow[0].source: invalid CIDR '10.0.0.300/8'"),
    ("allow all protocols with ports", "allow:\n  - {protocol: -1, ports: [443], source: 10.0.0.0/8}\n",
     "2: allow[0].ports: protocol -1 means every port; remove ports [443]"),
    ("allow unknown key", "allow:\n  - {protocol: tcp, ports: [443], source: 10.0.0.0/8, colour: red}\n",
     "2: allow[0].colour: unknown key 'colour'; known keys: protocol, ports, source, description, "
     "account, region, network"),
    ("allow not a list", "allow: {protocol: tcp}\n",
     "1: allow: expected a list of {protocol, ports, source, account, region, network} entries, "
     "got {'protocol': 'tcp'}"),
]


def write(tmp_path: Path, text: str | bytes, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def assert_one_error_line(run: Run, expected: str) -> None:
    assert run.code == 2
    assert run.out == ""
    assert run.err_lines == [expected], run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize(("text", "error"), [pytest.param(t, e, id=i) for i, t, e in BAD_POLICIES])
def test_bad_policy_is_one_line_naming_file_key_and_value(
        sgaudit: Callable[..., Run], tmp_path: Path, text: str, error: str) -> None:
    policy = write(tmp_path, text)
    run = sgaudit("check", "--policy", policy, "--snapshot", VPCS)
    assert_one_error_line(run, f"sgaudit: error: {policy}:{error}")


@pytest.mark.parametrize(("text", "error"), [pytest.param(t, e, id=i) for i, t, e in BAD_POLICIES[:6]])
def test_explain_refuses_bad_policy_the_same_way(
        sgaudit: Callable[..., Run], tmp_path: Path, text: str, error: str) -> None:
    policy = write(tmp_path, text)
    assert_one_error_line(sgaudit("explain", "--policy", policy, "--snapshot", VPCS),
                          f"sgaudit: error: {policy}:{error}")


@pytest.mark.parametrize("text", ["backend_options: {a: [}\n",
                                  "backend_options:\n\tenable_public_ssh: true\n",
                                  "a: 'unterminated\n", "backend_options:\n  - a\n  b: c\n"])
def test_malformed_yaml(sgaudit: Callable[..., Run], tmp_path: Path, text: str) -> None:
    policy = write(tmp_path, text)
    run = sgaudit("check", "--policy", policy, "--snapshot", VPCS)
    assert run.code == 2 and run.out == ""
    [line] = run.err_lines
    assert line.startswith(f"sgaudit: error: {policy}: line ")
    assert "invalid YAML" in line
    assert "Traceback" not in run.err


def test_missing_policy_file(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = tmp_path / "nope.yaml"
    assert_one_error_line(sgaudit("check", "--policy", policy, "--snapshot", VPCS),
                          f"sgaudit: error: {policy}: cannot read policy file: No such file or directory")


def test_policy_is_a_folder(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", "--policy", tmp_path, "--snapshot", VPCS)
    assert run.code == 2 and run.out == ""
    [line] = run.err_lines
    assert line.startswith("sgaudit: error: ") and str(tmp_path) in line and "--policy" in line


def test_policy_not_utf8(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, b"backend_options:\n  enable_public_ssh: \xff\xfe\n")
    assert_one_error_line(sgaudit("check", "--policy", policy, "--snapshot", VPCS),
                          f"sgaudit: error: {policy}: policy file is not UTF-8 text")


def test_typo_in_dask_config_names_the_dask_file(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    dask = write(tmp_path, "coiled:\n  backend-options:\n    enabled-public-ssh: false\n", "coiled.yaml")
    policy = write(tmp_path, "dask_config: coiled.yaml\n")
    assert_one_error_line(
        sgaudit("check", "--policy", policy, "--snapshot", VPCS),
        f"sgaudit: error: {dask}:3: coiled.backend-options.enabled-public-ssh: unknown key "
        "'enabled-public-ssh'; did you mean 'enable_public_ssh'?")


def test_alias_keys_in_one_dask_file_are_refused(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """Within one file both spellings of one option is ambiguous; across files the later file
    overrides, as dask merges (that case is in test_daskconfig)."""
    dask = write(tmp_path, "coiled:\n  backend-options:\n    enable_public_ssh: true\n"
                 "    enable-public-ssh: false\ndistributed: {a-b: 1, a_b: 2}\n", "coiled.yaml")
    policy = write(tmp_path, "dask_config: coiled.yaml\n")
    assert_one_error_line(
        sgaudit("check", "--policy", policy, "--snapshot", VPCS),
        f"sgaudit: error: {dask}:4: coiled.backend-options.enable-public-ssh: the same key as "
        "'enable_public_ssh' (line 3): '-' and '_' are alike in keys")


def test_missing_dask_config(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, "dask_config: missing/coiled.yaml\n")
    run = sgaudit("check", "--policy", policy, "--snapshot", VPCS)
    assert run.code == 2 and run.out == ""
    [line] = run.err_lines
    assert line.startswith(f"sgaudit: error: {policy}:1: dask_config: ")
    assert "missing/coiled.yaml" in line


def test_empty_policy_means_defaults(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, "# nothing yet\n")
    run = sgaudit("check", "--policy", policy, "--format", "json",
                  "--snapshot", FIXTURES / "docs" / "no-public-ssh-compliant.json", "--snapshot", VPCS)
    assert run.code == 0
    doc = json.loads(run.out)
    # the defaults require 22 from the world; this group has no such rule
    assert [(f["kind"], f["from_port"], f["source"]) for f in doc["findings"]] == [
        ("missing", 22, "0.0.0.0/0")]



def test_empty_sections_mean_nothing_given(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """``clusters:`` with nothing under it is YAML null: the same as no entries, as for
    ``backend_options:``, not an error."""
    policy = write(tmp_path, "backend_options:\nclusters:\nallow:\nwaivers:\n")
    run = sgaudit("check", "--policy", policy, "--format", "json",
                  "--snapshot", FIXTURES / "docs" / "no-public-ssh-compliant.json", "--snapshot", VPCS)
    assert run.code == 0, run.err
    assert [(f["kind"], f["from_port"], f["source"]) for f in json.loads(run.out)["findings"]] == [
        ("missing", 22, "0.0.0.0/0")]


# -- warnings ----------------------------------------------------------------------------------

def test_non_canonical_cidr_warns_and_is_normalised(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, "backend_options:\n  enable_public_ssh: false\n"
                   "  firewall: {ports: [100, 9012, 465], cidr: 10.1.0.2/16}\n")
    run = sgaudit("check", "--policy", policy, "--snapshot", FIXTURES / "docs" / "firewall-compliant.json",
                  "--snapshot", VPCS, "--format", "json")
    assert run.code == 0
    warning = (f"sgaudit: warning: {policy}:3: backend_options.firewall.cidr: '10.1.0.2/16' is not "
               "canonical; using 10.1.0.0/16")
    assert warning in run.err_lines
    doc = json.loads(run.out)
    assert doc["findings"] == []  # the group's 10.1.0.0/16 rules are exactly what it asks for
    run = sgaudit("explain", "--policy", policy, "--snapshot", FIXTURES / "docs" / "firewall-compliant.json",
                  "--snapshot", VPCS, "--format", "json")
    [group] = json.loads(run.out)
    sources = {r["source"] for r in group["rules"] if r["kind"] == "required"}
    assert sources == {"10.1.0.0/16"}


SECRET = "SECRETVALUE-wJalrXUtnFEMI"
KEY_ID = "AKIAEXAMPLEKEYID0001"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_secrets_warn_and_never_appear_in_any_output(sgaudit: Callable[..., Run], tmp_path: Path,
                                                     fmt: str) -> None:
    write(tmp_path, f"coiled:\n  backend_options:\n    aws_secret_access_key: {SECRET}\n", "coiled.yaml")
    policy = write(tmp_path, "backend_options:\n  backend: aws\n"
                   f"  aws_access_key_id: {KEY_ID}\n  aws_secret_access_key: {SECRET}\n"
                   "  customer_hosted: true\n  disable_public_ingress: true\n"
                   "dask_config: coiled.yaml\n"
                   "clusters:\n  - match: {names: ['coiled-*']}\n    backend_options:\n"
                   f"      aws_session_token: {SECRET}\n")
    report = tmp_path / f"report.{fmt}"
    snapshots = ("--snapshot", FIXTURES / "security-groups.json", "--snapshot", VPCS)
    runs = [sgaudit("check", "--policy", policy, *snapshots, "--format", fmt),
            sgaudit("check", "--policy", policy, *snapshots, "--format", fmt, "-o", report),
            sgaudit("explain", "--policy", policy, *snapshots, "--format", fmt)]
    for run in runs:
        assert run.code == 0, run.err
        assert SECRET not in run.out + run.err
        assert KEY_ID not in run.out + run.err
    assert SECRET not in report.read_text()
    warnings = [line for line in runs[0].err_lines if "credential" in line]
    assert warnings == [
        f"sgaudit: warning: {policy}:3: backend_options.aws_access_key_id: looks like a credential; "
        "remove it from this file (value not shown)",
        f"sgaudit: warning: {policy}:4: backend_options.aws_secret_access_key: looks like a credential; "
        "remove it from this file (value not shown)",
        f"sgaudit: warning: {tmp_path / 'coiled.yaml'}:3: coiled.backend_options.aws_secret_access_key: "
        "looks like a credential; remove it from this file (value not shown)",
        f"sgaudit: warning: {policy}:11: clusters[0].backend_options.aws_session_token: looks like a "
        "credential; remove it from this file (value not shown)",
    ]


@pytest.mark.parametrize("text", [
    f"backend_options:\n  aws_secret_access_key: {SECRET}\n  enabled_public_ssh: false\n",
    f"backend_options:\n  aws_secret_access_key: {SECRET}\n  enable_public_ssh: maybe\n",
    f"backend_options:\n  aws_secret_acess_key: {SECRET}\n",
    f"aws_secret_access_key: {SECRET}\n",
    f"backend_options:\n  aws_secret_access_key: [{SECRET}\n",
    f"backend_options:\n  aws_secret_access_key: {SECRET}: x\n",
])
def test_secrets_never_appear_in_errors(sgaudit: Callable[..., Run], tmp_path: Path, text: str) -> None:
    policy = write(tmp_path, text)
    run = sgaudit("check", "--policy", policy, "--snapshot", VPCS)
    assert run.code == 2
    assert SECRET not in run.out + run.err
    assert len([line for line in run.err_lines if line.startswith("sgaudit: error:")]) == 1


def test_the_console_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    """The same, through a real process: ``python -m sgaudit``."""
    policy = write(tmp_path, "backend_options:\n  enabled_public_ssh: false\n")
    proc = subprocess.run([sys.executable, "-m", "sgaudit", "check", "--policy", str(policy),
                           "--snapshot", str(VPCS)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"sgaudit: error: {policy}:2: backend_options.enabled_public_ssh: unknown key 'enabled_public_ssh'; "
        "did you mean 'enable_public_ssh'?"]


def _bomb(levels: int) -> str:
    """A "billion laughs" policy: each anchor is ten aliases of the one before (10**levels)."""
    parts = ['&a0 ["x","x","x","x","x","x","x","x","x","x"]']
    parts += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "backend_options:\n  enable_public_ssh: [" + ", ".join(parts) + "]\n"


def test_alias_bomb_is_refused_in_one_line(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """10**7 values: refused while composing; the old loader spent a second and ~100 MB printing
    them (each extra level: ten times that), so a regression shows as a visible stall."""
    policy = write(tmp_path, _bomb(7))
    run = sgaudit("check", "--policy", policy, "--snapshot", VPCS)
    assert run.code == 2 and run.out == ""
    assert run.err_lines == [f"sgaudit: error: {policy}: line 2: invalid YAML: aliases expand to "
                             "more than 10000 values (an alias bomb?); refusing to read further"]


def test_a_few_aliases_are_fine(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, "clusters:\n  - match: {names: [a-*]}\n    backend_options: &locked\n"
                             "      disable_public_ingress: true\n"
                             "  - match: {names: [b-*]}\n    backend_options: *locked\n")
    run = sgaudit("check", "--policy", policy, "--snapshot", FIXTURES / "security-groups.json",
                  "--snapshot", VPCS, "--format", "json")
    assert run.code == 0, run.err


def test_recursive_alias_is_refused(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, "select:\n  names: &n [a, *n]\n")
    run = sgaudit("check", "--policy", policy, "--snapshot", VPCS)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {policy}: line 2: invalid YAML: alias *n refers to "
                             "the value that holds it (a recursive alias)"]


def test_error_messages_never_print_a_whole_value() -> None:
    """A value shared 10**6 times (as aliases build it) is shown by looking at a few items."""
    from sgaudit.policy.options import show

    seen = []

    class Item:
        def __repr__(self) -> str:
            seen.append(1)
            return "'x'"

    value: object = [Item()] * 10
    for _ in range(5):
        value = [value] * 10
    text = show(value)
    assert len(text) <= 80 and text.startswith("[[[")
    assert len(seen) < 100
