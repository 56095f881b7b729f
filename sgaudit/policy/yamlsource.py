"""YAML loading that remembers the line of every mapping key, so errors can point at it."""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

#: how many values aliases may add beyond what the file spells out: a policy reuses an anchor a
#: few times; a "billion laughs" file expands to millions and would take minutes and gigabytes
MAX_ALIASED_VALUES = 10_000

_brief_repr = reprlib.Repr()
_brief_repr.maxlevel, _brief_repr.maxstring, _brief_repr.maxother = 3, 60, 60


def brief(value: Any) -> str:
    """A bounded repr: building an error message never walks a whole (possibly huge) value."""
    text = _brief_repr.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class LineMap(dict[Any, Any]):
    """A dict from YAML that knows the 1-based line of each of its keys."""

    lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return getattr(self, "lines", {}).get(key)


class _LineLoader(yaml.SafeLoader):
    """Counts what aliases expand to while composing, before anything is constructed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._aliased = 0
        self._open_anchors: set[str] = set()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        anchor = getattr(event, "anchor", None)
        if anchor is None:
            return super().compose_node(parent, index)
        self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open_anchors.discard(anchor)

    def _count_alias(self, event: yaml.AliasEvent) -> None:
        """Refuse an alias to itself and aliases that would add more than MAX_ALIASED_VALUES."""
        if event.anchor in self._open_anchors:
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor[:40]} refers to the value that holds it "
                "(a recursive alias)", event.start_mark)
        node = self.anchors.get(event.anchor)
        if node is None:
            return  # PyYAML reports the undefined alias itself
        self._aliased += _expanded_size(node, self._sizes)
        if self._aliased > MAX_ALIASED_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"aliases expand to more than {MAX_ALIASED_VALUES} values (an alias "
                "bomb?); refusing to read further", event.start_mark)


def _expanded_size(root: yaml.Node, memo: dict[int, int]) -> int:
    """How many values a node stands for once every alias in it is copied out (iterative, and
    each distinct node is visited once, so a bomb costs as little as its text)."""
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in memo:
            continue
        children = _children(node)
        if children_done:
            memo[id(node)] = 1 + sum(memo.get(id(child), 0) for child in children)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in memo)
    return memo[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


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
                None, None, f"unhashable key {brief(key)}", key_node.start_mark
            ) from exc
        if index >= first_explicit:
            if key in written:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {brief(key)} (first on line {written[key]})",
                    key_node.start_mark)
            written[key] = key_node.start_mark.line + 1
        try:
            result[key] = loader.construct_object(value_node, deep=True)
        except ValueError as exc:  # PyYAML builds dates itself: 2027-02-30 raises a bare ValueError
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value for {brief(key)}: {exc}", value_node.start_mark) from None
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
