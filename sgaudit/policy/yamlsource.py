"""YAML loading that remembers the line of every mapping key, so errors can point at it."""

from __future__ import annotations

from typing import Any

import yaml


class LineMap(dict[Any, Any]):
    """A dict from YAML that knows the 1-based line of each of its keys."""

    lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return getattr(self, "lines", {}).get(key)


class _LineLoader(yaml.SafeLoader):
    pass


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    """A LineMap; a key written twice is an error (YAML would silently keep the last value,
    so ``enable_public_ssh: false`` could be undone further down the file)."""
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
    loader.flatten_mapping(node)  # puts keys merged in with ``<<`` first; explicit keys override them
    first_explicit = len(node.value) - explicit
    result = LineMap()
    result.lines = {}
    written: dict[Any, int] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            ) from exc
        if index >= first_explicit:
            if key in written:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {written[key]})",
                    key_node.start_mark)
            written[key] = key_node.start_mark.line + 1
        try:
            result[key] = loader.construct_object(value_node, deep=True)
        except ValueError as exc:  # PyYAML builds dates itself: 2027-02-30 raises a bare ValueError
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value for {key!r}: {exc}", value_node.start_mark) from None
        result.lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    """Parse YAML; mappings come back as LineMap. Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_LineLoader)


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """One line describing a YAML syntax error, with its line number."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 1}: invalid YAML: {problem}"
    return f"invalid YAML: {problem}"
