"""Read ``coiled: backend-options:`` from dask configuration files, as dask does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sgaudit.errors import PolicyError
from sgaudit.options import Collected, Where, collect, line_of, normalize_key, show
from sgaudit.yamlsource import load_yaml, yaml_error_line

DASK_SUFFIXES = (".yaml", ".yml", ".json")


def read_dask_options(value: object, where: Where, base_dir: Path) -> Collected:
    """The backend options of the dask config named by the policy's ``dask_config`` key."""
    if not isinstance(value, str) or not value.strip():
        raise where.fail(f"expected a path to a dask config file or folder, got {show(value)}")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in DASK_SUFFIXES and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise where.fail(f"dask config {str(path)!r} does not exist")
    out = Collected()
    for file in files:
        got = read_dask_file(file)
        out.options.update(got.options)
        out.warnings.extend(got.warnings)
    return out


def read_dask_file(file: Path) -> Collected:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{file}: cannot read dask config: {exc}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file}: {yaml_error_line(exc)}") from None
    section, where = backend_options_section(data, Where(str(file)))
    if section is None:
        return Collected()
    return collect(section, where)


def backend_options_section(data: Any, where: Where) -> tuple[Any, Where]:
    """Find ``coiled.backend-options`` with ``-`` and ``_`` alike at every level."""
    if not isinstance(data, Mapping):
        return None, where
    for key, value in data.items():
        if normalize_key(key) == "coiled" and isinstance(value, Mapping):
            coiled_where = where.child(key, line_of(data, key))
            for sub_key, sub_value in value.items():
                if normalize_key(sub_key) == "backend_options":
                    return sub_value, coiled_where.child(sub_key, line_of(value, sub_key))
    return None, where
