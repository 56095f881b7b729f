"""The collector pause: restored afterwards, cycles still collected, and no young collection
over everything made during the pause once it ends."""

from __future__ import annotations

import gc
import weakref

from sgaudit.gcpause import collector_paused


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_restored_and_nested() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_records_made_while_paused_leave_the_young_generation() -> None:
    with collector_paused():
        kept = [[i] for i in range(20_000)]
    assert gc.get_count()[0] < 1000  # no young collection would have to walk them all
    assert gc.get_freeze_count() == 0
    assert len(kept) == 20_000


def test_cycles_made_while_paused_are_still_collected() -> None:
    with collector_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
    assert ref() is not None
    gc.collect()
    assert ref() is None


def test_someone_elses_frozen_objects_stay_frozen() -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    gc.freeze()  # a frozen cycle is never collected ...
    try:
        with collector_paused():
            pass
        gc.collect()
        assert ref() is not None  # ... the pause did not thaw it
    finally:
        gc.unfreeze()
    gc.collect()
    assert ref() is None
