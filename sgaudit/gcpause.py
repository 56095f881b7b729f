"""Pausing the cyclic garbage collector around bulk work on acyclic records.

Parsing a snapshot, diffing it and rendering the report create millions of small objects
(rules, findings, their tuples) that hold no reference cycles: reference counting frees them.
The cyclic collector would still traverse every live one again and again as the heap grows,
which costs as much as the work itself on a large fleet.  Pausing it there changes no result;
it is restored afterwards, so a long-running caller (the tests) keeps collecting cycles.

Restoring it must not cost a traversal either: the objects allocated while paused still count
as young, so the first allocation afterwards would collect the young generation - every record
made in the pause, hundreds of thousands of them - in one go (about 5% of a large check).  They
are handed to the oldest generation instead (``gc.freeze`` then ``gc.unfreeze``: two list
splices), where cycles among them are still found, by the next full collection.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off inside, back to how it was outside (nesting is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _age_young_objects()
            gc.enable()


def _age_young_objects() -> None:
    """Move every tracked object to the oldest generation and reset the young count, without
    traversing them; only when nothing else is frozen (``unfreeze`` would thaw that too)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def pausing_collector(func: Callable[P, T]) -> Callable[P, T]:
    """Decorator form of ``collector_paused``."""
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with collector_paused():
            return func(*args, **kwargs)
    return wrapper
