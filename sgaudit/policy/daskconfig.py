"""Read ``coiled: backend-options:`` from the dask configuration, as dask itself reads it.

Why not call ``dask.config.collect``?  It is the reference implementation, but it returns
plain dicts: the file and line of every value is lost, and ``sgaudit explain`` must say where
each option came from.  dask is also a heavy install for an auditor.  So the rules are
re-implemented here, small and explicit (dask/config.py: ``paths``, ``collect_yaml``,
``collect_env``, ``update``, ``canonical_name``), keeping a place for every value:

* the search path: ``$DASK_ROOT_CONFIG`` (default ``/etc/dask``), ``{sys.prefix}/etc/dask``,
  ``~/.config/dask``, then ``$DASK_CONFIG`` when set; a folder gives every ``.yaml``, ``.yml``
  and ``.json`` file in it, in name order; a missing path is skipped, an unreadable one too
  (with a warning here, silently in dask);
* later files win: mappings are deep-merged, lists and scalars replaced; ``-`` and ``_`` in
  keys are the same key at every level;
* then ``DASK_*`` environment variables on top: ``__`` nests, names are lower-cased, values are
  Python literals (``ast.literal_eval``), else ``true``/``false``/``none``/``null`` in any
  case, else the string itself.

Places are "file:line" for files and "env DASK_…" for environment variables.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sgaudit.errors import PolicyError
from sgaudit.fileio.files import parse_problem, read_input
from sgaudit.policy.options import (
    Collected,
    Where,
    collect,
    line_of,
    normalize_key,
    refuse_aliases,
    show,
)
from sgaudit.policy.yamlsource import LineMap, load_yaml, yaml_error_line

DASK_SUFFIXES = (".yaml", ".yml", ".json")
ENV_PREFIX = "DASK_"
#: the interpreter prefix whose etc/dask dask reads; a module attribute so tests can move it
SYS_PREFIX = sys.prefix
#: dask's fallback for environment values that are not Python literals (YAML habits)
_WORDS: dict[str, object] = {"none": None, "null": None, "false": False, "true": True}


class Node(dict[str, Any]):
    """A merged mapping: canonical key -> value, remembering spelling and place of each key."""

    def __init__(self) -> None:
        super().__init__()
        #: canonical key -> the key as first written (dask keeps the first spelling)
        self.spelled: dict[Any, Any] = {}
        #: canonical key -> (label, line) of the last source that wrote this key
        self.src: dict[Any, tuple[str, int | None]] = {}


def canonical(key: Any) -> Any:
    return normalize_key(key) if isinstance(key, str) else key


# -- public entry points -----------------------------------------------------------------------
def read_dask_options(value: object, where: Where, base_dir: Path,
                      env: Mapping[str, str] | None = None,
                      search_path: Iterable[Path] | None = None) -> Collected:
    """The backend options of the dask config named by the policy's ``dask_config`` key.

    ``true`` reads the standard dask locations and ``DASK_*`` variables (``search_path`` and
    ``env`` replace them, for tests); ``false`` reads nothing; a string is one file or folder.
    """
    if value is False:
        return Collected()
    if value is True:
        environ = os.environ if env is None else env
        paths = list(search_path) if search_path is not None else standard_paths(environ)
        return collect_backend_options(paths, environ, with_env=True)
    if not isinstance(value, str) or not value.strip():
        raise where.fail("expected true (the standard dask config), false, or a path to a dask "
                         f"config file or folder, got {show(value)}")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise where.fail(f"dask config {str(path)!r} does not exist")
    return collect_backend_options([path], {}, with_env=False)


def standard_paths(env: Mapping[str, str], prefix: str | None = None) -> list[Path]:
    """dask's search path, lowest precedence first (dask/config.py ``paths``)."""
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    paths = [
        Path(env.get("DASK_ROOT_CONFIG", "/etc/dask")),
        Path(prefix if prefix is not None else SYS_PREFIX) / "etc" / "dask",
        home / ".config" / "dask",
    ]
    if "DASK_CONFIG" in env:
        paths.append(Path(env["DASK_CONFIG"]).expanduser())
    return paths


def collect_backend_options(paths: Iterable[Path], env: Mapping[str, str],
                            with_env: bool) -> Collected:
    """Merge the files under ``paths`` (and ``DASK_*`` variables), then validate
    ``coiled.backend-options`` with the place of every option."""
    warnings: list[str] = []
    tree = Node()
    for file in config_files(paths, warnings):
        data = load_file(file, warnings)
        if data is not None:
            merge(tree, data, str(file))
    if with_env:
        for name, parsed in env_values(env):
            merge(tree, parsed, f"env {name}")
    out = backend_options(tree)
    out.warnings[:0] = warnings
    return out


# -- reading -------------------------------------------------------------------------------
def config_files(paths: Iterable[Path], warnings: list[str]) -> list[Path]:
    """Every config file of the search path, in the order dask reads them."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            try:
                names = sorted(os.listdir(path))
            except OSError as exc:
                warnings.append(f"{path}: cannot list dask config folder ({exc.strerror or exc}); "
                                "skipped, as dask does")
                continue
            files.extend(path / n for n in names if os.path.splitext(n)[1].lower() in DASK_SUFFIXES)
        elif path.exists():
            files.append(path)
    return files


def load_file(file: Path, warnings: list[str]) -> Mapping[Any, Any] | None:
    """One config file as a LineMap; None when empty or unreadable (dask skips those)."""
    try:
        text = read_input(file, label="dask config", error=PolicyError).decode("utf-8")
    except OSError as exc:
        warnings.append(f"{file}: cannot read dask config ({exc.strerror or exc}); skipped, as "
                        "dask does")
        return None
    except UnicodeDecodeError:
        raise PolicyError(f"{file}: dask config is not UTF-8 text") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file}: {yaml_error_line(exc)}") from None
    except (RecursionError, ValueError) as exc:
        raise PolicyError(f"{file}: invalid YAML: {parse_problem(exc) or exc}") from None
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise PolicyError(f"{file}: a dask config file must hold a mapping at the top, "
                          f"got {show(data)}")
    _refuse_coiled_aliases(data, file)
    return data


def _refuse_coiled_aliases(data: Mapping[Any, Any], file: Path) -> None:
    """Within one file, ``enable_public_ssh`` and ``enable-public-ssh`` side by side under
    ``coiled`` are one option written twice (dask would keep either silently). The rest of the
    file is dask's business, not sgaudit's."""
    coiled = LineMap({k: v for k, v in data.items() if canonical(k) == "coiled"})
    coiled.lines = {k: line for k in coiled if (line := line_of(data, k)) is not None}
    refuse_aliases(coiled, Where(str(file)))


def read_dask_file(file: Path) -> Collected:
    """The backend options of one dask config file."""
    return collect_backend_options([file], {}, with_env=False)


def interpret_env_value(text: str) -> object:
    """As dask's ``interpret_value``: a Python literal, else a YAML-ish word, else the text."""
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        pass
    return _WORDS.get(text.lower(), text)


def env_values(env: Mapping[str, str]) -> list[tuple[str, Mapping[Any, Any]]]:
    """``DASK_A__B_C=1`` -> ("DASK_A__B_C", {"a": {"b_c": 1}}), in name order."""
    out: list[tuple[str, Mapping[Any, Any]]] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == "DASK_INTERNAL_INHERIT_CONFIG":
            continue
        keys = name[len(ENV_PREFIX):].lower().split("__")
        if not all(keys):
            continue
        value: object = interpret_env_value(env[name])
        for key in reversed(keys):
            value = {key: value}
        assert isinstance(value, dict)
        out.append((name, value))
    return out


# -- merging -------------------------------------------------------------------------------
def merge(into: Node, new: Mapping[Any, Any], label: str) -> None:
    """dask's ``update``: mappings merge key by key, everything else replaces."""
    for key, value in new.items():
        k = canonical(key)
        place = (label, line_of(new, key))
        into.spelled.setdefault(k, key)
        into.src[k] = place
        if isinstance(value, Mapping):
            old = into.get(k)
            if not isinstance(old, Node):
                old = into[k] = Node()
            merge(old, value, label)
        else:
            into[k] = value


def places(node: Node, key: Any) -> list[str]:
    """Every "label:line" that contributed to ``node[key]``, in order of first appearance."""
    label, line = node.src[key]
    found = [f"{label}:{line}" if line else label]
    value = node[key]
    if isinstance(value, Node):
        for sub in value:
            found.extend(p for p in places(value, sub) if p not in found)
    return found


def sources(node: Node, key: Any) -> set[str]:
    label = node.src[key][0]
    value = node[key]
    if isinstance(value, Node):
        return {label}.union(*(sources(value, k) for k in value))
    return {label}


def to_linemap(node: Node, with_lines: bool) -> LineMap:
    """A merged node as the LineMap that ``options.collect`` reads (lines only when the
    whole node came from one source, so that every line number is true)."""
    out = LineMap()
    out.lines = {}
    for k, value in node.items():
        key = node.spelled[k]
        out[key] = to_linemap(value, with_lines) if isinstance(value, Node) else value
        line = node.src[k][1]
        if with_lines and line is not None:
            out.lines[key] = line
    return out


def backend_options(tree: Node) -> Collected:
    """Validate ``coiled.backend-options`` of a merged tree, each option with its own place."""
    out = Collected()
    coiled = tree.get("coiled")
    if not isinstance(coiled, Node) or "backend_options" not in coiled:
        return out
    section = coiled["backend_options"]
    path = f"{tree.spelled['coiled']}.{coiled.spelled['backend_options']}"
    if not isinstance(section, Node):
        if section is None:
            return out
        label, line = coiled.src["backend_options"]
        raise Where(label, path, line).fail(f"expected a mapping, got {show(section)}")
    for k in section:
        key = section.spelled[k]
        value = section[k]
        single = len(sources(section, k)) == 1
        body = LineMap()
        body.lines = {}
        body[key] = to_linemap(value, single) if isinstance(value, Node) else value
        if single:
            label, line = section.src[k]
            if line is not None:
                body.lines[key] = line
            where = Where(label, path)
        else:
            where = Where(" + ".join(places(section, k)), path)
        got = collect(body, where)
        out.options.update(got.options)
        out.warnings.extend(got.warnings)
    return out
