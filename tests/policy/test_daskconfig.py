"""The dask config read as dask reads it: four folders, several files, DASK_* variables, ``-`` and
``_`` alike, deep merge; every option with the file and line (or variable) it came from.

Never the real home folder, /etc/dask or the venv's etc/dask: HOME, DASK_ROOT_CONFIG, DASK_CONFIG
and the interpreter prefix all point into tmp_path, and other DASK_* variables are removed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sgaudit.errors import PolicyError
from sgaudit.model import Origin
from sgaudit.policy import daskconfig
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.options import Where
from sgaudit.policy.yamlsource import load_yaml


@dataclass
class DaskDirs:
    root: Path  # $DASK_ROOT_CONFIG
    prefix: Path  # {sys.prefix}/etc/dask
    home: Path  # ~/.config/dask
    config: Path  # $DASK_CONFIG

    def write(self, folder: Path, name: str, text: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def dask_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DaskDirs:
    for name in list(os.environ):
        if name.startswith("DASK_"):
            monkeypatch.delenv(name)
    dirs = DaskDirs(root=tmp_path / "etc-dask", prefix=tmp_path / "prefix" / "etc" / "dask",
                    home=tmp_path / "home" / ".config" / "dask", config=tmp_path / "dask-config")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DASK_ROOT_CONFIG", str(dirs.root))
    monkeypatch.setenv("DASK_CONFIG", str(dirs.config))
    monkeypatch.setattr(daskconfig, "SYS_PREFIX", str(tmp_path / "prefix"))
    return dirs


def read_standard() -> dict[str, Origin]:
    got = daskconfig.read_dask_options(True, Where("policy.yaml", "dask_config"), Path("."))
    assert got.warnings == []
    return got.options


def values(options: dict[str, Origin]) -> dict[str, object]:
    return {k: o.value for k, o in options.items()}


def wheres(options: dict[str, Origin]) -> dict[str, str]:
    return {k: o.where for k, o in options.items()}


def backend(body: str) -> str:
    """A dask config file holding ``coiled: backend-options:`` with ``body`` (indented 4)."""
    return "coiled:\n  backend-options:\n" + "".join(f"    {line}\n" for line in body.splitlines())


# -- the search path ---------------------------------------------------------------------------
def test_search_path_is_dasks_in_its_order(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "h"), "DASK_ROOT_CONFIG": str(tmp_path / "r"),
           "DASK_CONFIG": str(tmp_path / "c")}
    assert daskconfig.standard_paths(env, prefix=str(tmp_path / "p")) == [
        tmp_path / "r", tmp_path / "p" / "etc" / "dask", tmp_path / "h" / ".config" / "dask",
        tmp_path / "c"]


def test_search_path_defaults_to_etc_dask_and_the_interpreter_prefix(tmp_path: Path) -> None:
    # computed, never read here
    assert daskconfig.standard_paths({"HOME": str(tmp_path)}) == [
        Path("/etc/dask"), Path(sys.prefix) / "etc" / "dask", tmp_path / ".config" / "dask"]


def test_every_folder_is_read_later_ones_winning(dask_dirs: DaskDirs) -> None:
    root = dask_dirs.write(dask_dirs.root, "coiled.yaml", backend(
        "enable-public-ssh: true\nenable-public-http: true\ndisable-public-ingress: false\n"
        "firewall: {ports: [100], cidr: 10.1.0.0/16}"))
    prefix = dask_dirs.write(dask_dirs.prefix, "coiled.yaml", backend(
        "enable_public_http: false\ndisable_public_ingress: true"))
    home = dask_dirs.write(dask_dirs.home, "coiled.yml", backend("disable-public-ingress: false"))
    config = dask_dirs.write(dask_dirs.config, "coiled.json",
                             '{"coiled": {"backend_options": {\n  "enable_public_ssh": false}}}\n')
    options = read_standard()
    assert values(options) == {"enable_public_ssh": False, "enable_public_http": False,
                               "disable_public_ingress": False,
                               "firewall": {"ports": (100,), "cidr": "10.1.0.0/16"}}
    assert wheres(options) == {"enable_public_ssh": f"{config}:2", "enable_public_http": f"{prefix}:3",
                               "disable_public_ingress": f"{home}:3", "firewall": f"{root}:6"}


def test_files_in_a_folder_are_read_in_name_order(dask_dirs: DaskDirs) -> None:
    dask_dirs.write(dask_dirs.home, "b.yaml", backend("enable-public-ssh: true"))
    last = dask_dirs.write(dask_dirs.home, "c.YAML", backend("enable_public_ssh: false"))
    dask_dirs.write(dask_dirs.home, "a.json", '{"coiled": {"backend-options": {"enable-public-ssh": 5}}}')
    dask_dirs.write(dask_dirs.home, "d.txt", backend("enable_public_ssh: 7"))
    dask_dirs.write(dask_dirs.home, "e.yaml~", backend("enable_public_ssh: 7"))
    options = read_standard()
    assert values(options) == {"enable_public_ssh": False}
    assert wheres(options) == {"enable_public_ssh": f"{last}:3"}


def test_hyphens_and_underscores_are_one_key_at_every_level(dask_dirs: DaskDirs) -> None:
    dask_dirs.write(dask_dirs.root, "a.yaml", backend("enable-public-ssh: false\nenable_public_http: false"))
    second = dask_dirs.write(dask_dirs.root, "b.yaml",
                             "coiled:\n  backend_options:\n    enable-public-http: true\n")
    third = dask_dirs.write(dask_dirs.home, "c.yaml",
                            "coiled:\n  backend-options:\n    enable_public_ssh: true\n")
    options = read_standard()
    assert values(options) == {"enable_public_ssh": True, "enable_public_http": True}
    assert wheres(options) == {"enable_public_ssh": f"{third}:3", "enable_public_http": f"{second}:3"}


def test_lists_are_replaced_not_merged(dask_dirs: DaskDirs) -> None:
    dask_dirs.write(dask_dirs.root, "a.yaml", backend(
        "ingress:\n  - {ports: [22], cidr: 0.0.0.0/0}\n  - {ports: [443], cidr: 0.0.0.0/0}"))
    later = dask_dirs.write(dask_dirs.home, "a.yaml",
                            backend("ingress:\n  - {ports: [443], cidr: 10.0.0.0/8}"))
    options = read_standard()
    assert values(options) == {"ingress": ({"ports": (443,), "cidr": "10.0.0.0/8"},)}
    assert wheres(options) == {"ingress": f"{later}:3"}


def test_mappings_merge_across_files_and_the_origin_names_every_place(dask_dirs: DaskDirs) -> None:
    first = dask_dirs.write(dask_dirs.root, "a.yaml", backend("firewall:\n  ports: [100, 9012]"))
    second = dask_dirs.write(dask_dirs.home, "b.yaml", backend("firewall:\n  cidr: 10.1.0.0/16"))
    options = read_standard()
    assert values(options) == {"firewall": {"ports": (100, 9012), "cidr": "10.1.0.0/16"}}
    assert wheres(options) == {"firewall": f"{second}:3 + {first}:4 + {second}:4"}


def test_a_later_null_section_clears_the_earlier_one(dask_dirs: DaskDirs) -> None:
    dask_dirs.write(dask_dirs.root, "a.yaml", backend("enable-public-ssh: false"))
    dask_dirs.write(dask_dirs.home, "b.yaml", "coiled:\n  backend-options: null\n")
    assert read_standard() == {}


def test_dask_config_may_name_a_file(dask_dirs: DaskDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_CONFIG", str(dask_dirs.config / "only.yaml"))
    file = dask_dirs.write(dask_dirs.config, "only.yaml", backend("enable-public-ssh: false"))
    dask_dirs.write(dask_dirs.config, "ignored.yaml", backend("enable-public-http: false"))
    options = read_standard()
    assert wheres(options) == {"enable_public_ssh": f"{file}:3"}


def test_nothing_anywhere_is_no_options(dask_dirs: DaskDirs) -> None:
    dask_dirs.write(dask_dirs.home, "empty.yaml", "")
    dask_dirs.write(dask_dirs.home, "other.yaml", "distributed:\n  scheduler:\n    work-stealing: true\n")
    assert read_standard() == {}


# -- environment variables ---------------------------------------------------------------------
def test_environment_variables_win_over_files(dask_dirs: DaskDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    file = dask_dirs.write(dask_dirs.home, "coiled.yaml",
                           backend("enable-public-ssh: true\nenable-public-http: false"))
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "False")
    options = read_standard()
    assert values(options) == {"enable_public_ssh": False, "enable_public_http": False}
    assert wheres(options) == {"enable_public_ssh": "env DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH",
                               "enable_public_http": f"{file}:4"}


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "False", {"enable_public_ssh": False}),
    ("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "false", {"enable_public_ssh": False}),
    ("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "TRUE", {"enable_public_ssh": True}),
    ("DASK_COILED__BACKEND_OPTIONS__ENABLE-PUBLIC-SSH", "0 == 1", None),  # not a literal: a string
    ("DASK_COILED__BACKEND_OPTIONS__FIREWALL", "{'ports': [9000], 'cidr': '10.1.0.0/16'}",
     {"firewall": {"ports": (9000,), "cidr": "10.1.0.0/16"}}),
    ("DASK_COILED__BACKEND_OPTIONS__INGRESS", "[{'ports': [443], 'cidr': '2001:db8::/32'}]",
     {"ingress": ({"ports": (443,), "cidr": "2001:db8::/32"},)}),
    ("DASK_COILED__BACKEND_OPTIONS", "{'enable-public-http': False}", {"enable_public_http": False}),
    ("dask_coiled__backend_options__enable_public_ssh", "False", {}),  # dask reads DASK_ only
])
def test_environment_values_are_python_literals(dask_dirs: DaskDirs, monkeypatch: pytest.MonkeyPatch,
                                                name: str, text: str, expected: object) -> None:
    monkeypatch.setenv(name, text)
    if expected is None:
        with pytest.raises(PolicyError) as err:
            read_standard()
        assert str(err.value) == (f"env {name}: coiled.backend_options.enable-public-ssh: "
                                  "expected true or false, got '0 == 1'")
        return
    options = read_standard()
    assert values(options) == expected
    assert set(wheres(options).values()) <= {f"env {name}"}


def test_a_whole_section_from_the_environment_merges_into_the_files(
        dask_dirs: DaskDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    file = dask_dirs.write(dask_dirs.root, "coiled.yaml", backend("enable-public-ssh: false"))
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS", "{'enable_public_http': False}")
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__FIREWALL__CIDR", "'10.1.0.0/16'")
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__FIREWALL__PORTS", "[9000]")
    options = read_standard()
    assert values(options) == {"enable_public_ssh": False, "enable_public_http": False,
                               "firewall": {"cidr": "10.1.0.0/16", "ports": (9000,)}}
    assert wheres(options) == {
        "enable_public_ssh": f"{file}:3", "enable_public_http": "env DASK_COILED__BACKEND_OPTIONS",
        "firewall": "env DASK_COILED__BACKEND_OPTIONS__FIREWALL__PORTS + "
                    "env DASK_COILED__BACKEND_OPTIONS__FIREWALL__CIDR"}


def test_environment_typo_is_refused_with_did_you_mean(dask_dirs: DaskDirs,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__ENABLED_PUBLIC_SSH", "False")
    with pytest.raises(PolicyError) as err:
        read_standard()
    assert str(err.value) == (
        "env DASK_COILED__BACKEND_OPTIONS__ENABLED_PUBLIC_SSH: coiled.backend_options."
        "enabled_public_ssh: unknown key 'enabled_public_ssh'; did you mean 'enable_public_ssh'?")


def test_the_env_mapping_can_be_injected() -> None:
    got = daskconfig.read_dask_options(
        True, Where("p.yaml", "dask_config"), Path("."), search_path=[],
        env={"DASK_COILED__BACKEND_OPTIONS__DISABLE_PUBLIC_INGRESS": "True", "HOME": "/nonexistent"})
    assert {k: str(o) for k, o in got.options.items()} == {
        "disable_public_ingress":
            "disable_public_ingress=true (env DASK_COILED__BACKEND_OPTIONS__DISABLE_PUBLIC_INGRESS)"}


# -- bad files -----------------------------------------------------------------------------------
def test_file_typo_is_refused_naming_file_and_line(dask_dirs: DaskDirs) -> None:
    file = dask_dirs.write(dask_dirs.home, "coiled.yaml", backend("enable-public-http: true\n"
                                                                  "enabled-public-ssh: false"))
    with pytest.raises(PolicyError) as err:
        read_standard()
    assert str(err.value) == (f"{file}:4: coiled.backend-options.enabled-public-ssh: unknown key "
                              "'enabled-public-ssh'; did you mean 'enable_public_ssh'?")


def test_wrong_type_in_a_nested_option_names_its_line(dask_dirs: DaskDirs) -> None:
    file = dask_dirs.write(dask_dirs.home, "coiled.yaml",
                           backend("firewall:\n  ports: [100]\n  cidr: 10.1/99"))
    with pytest.raises(PolicyError) as err:
        read_standard()
    assert str(err.value) == f"{file}:5: coiled.backend-options.firewall.cidr: invalid CIDR '10.1/99'"


@pytest.mark.parametrize(("text", "message"), [
    ("coiled: [\n", "line 2: invalid YAML: expected the node content, but found '<stream end>'"),
    ("- coiled\n", "a dask config file must hold a mapping at the top, got ['coiled']"),
    ("coiled:\n  backend-options: [1]\n", "coiled.backend-options: expected a mapping, got [1]"),
])
def test_bad_files_are_refused(dask_dirs: DaskDirs, text: str, message: str) -> None:
    file = dask_dirs.write(dask_dirs.home, "coiled.yaml", text)
    with pytest.raises(PolicyError) as err:
        read_standard()
    place = f"{file}:2" if message.startswith("coiled.") else f"{file}"
    assert str(err.value) == f"{place}: {message}"


# -- the policy's dask_config key ------------------------------------------------------------
def test_policy_dask_config_true_reads_the_standard_config(dask_dirs: DaskDirs,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    file = dask_dirs.write(dask_dirs.prefix, "coiled.yaml", backend("enable-public-http: false"))
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "false")
    policy = parse_policy(load_yaml("dask_config: true\n"), "policy.yaml")
    assert {k: str(o) for k, o in policy.dask_options.items()} == {
        "enable_public_http": f"enable_public_http=false ({file}:3)",
        "enable_public_ssh": "enable_public_ssh=false (env DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH)"}


def test_policy_dask_config_false_reads_nothing(dask_dirs: DaskDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "false")
    assert parse_policy(load_yaml("dask_config: false\n"), "policy.yaml").dask_options == {}


def test_policy_dask_config_path_reads_only_that_folder(dask_dirs: DaskDirs, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_HTTP", "false")
    dask_dirs.write(dask_dirs.home, "coiled.yaml", backend("disable-public-ingress: true"))
    folder = tmp_path / "team" / "dask"
    first = dask_dirs.write(folder, "10-coiled.yaml", backend("firewall: {ports: [100], cidr: 10.1.0.0/16}"))
    second = dask_dirs.write(folder, "20-coiled.yml", "coiled:\n  backend_options:\n"
                             "    enable_public_ssh: false\n")
    policy = parse_policy(load_yaml("dask_config: dask\n"), "policy.yaml", base_dir=tmp_path / "team")
    assert wheres(policy.dask_options) == {"firewall": f"{first}:3", "enable_public_ssh": f"{second}:3"}
    single = parse_policy(load_yaml(f"dask_config: {second}\n"), "policy.yaml")
    assert wheres(single.dask_options) == {"enable_public_ssh": f"{second}:3"}


@pytest.mark.parametrize(("text", "message"), [
    ("dask_config: 5\n", "policy.yaml:1: dask_config: expected true (the standard dask config), false, "
                         "or a path to a dask config file or folder, got 5"),
    ("dask_config: ''\n", "policy.yaml:1: dask_config: expected true (the standard dask config), false, "
                          "or a path to a dask config file or folder, got ''"),
])
def test_policy_dask_config_bad_values(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(load_yaml(text), "policy.yaml")
    assert str(err.value) == message


def test_policy_dask_config_missing_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(load_yaml("dask_config: nowhere/\n"), "policy.yaml", base_dir=tmp_path)
    assert str(err.value) == (f"policy.yaml:1: dask_config: dask config {str(tmp_path / 'nowhere')!r} "
                              "does not exist")
