"""Versioned documents: newer versions refused, older ones upgraded step by step."""

from __future__ import annotations

import pytest

from sgaudit.fileio.versioned import DocumentFormat, VersionError


def test_an_older_version_is_upgraded_step_by_step() -> None:
    fmt = DocumentFormat("sgaudit_thing", 3, "thing", upgrades={
        1: lambda d: {"sgaudit_thing": 1, "b": d["a"]},
        2: lambda d: {**d, "c": d["b"] * 2}})
    assert fmt.current({"sgaudit_thing": 1, "a": 21}) == {"sgaudit_thing": 3, "b": 21, "c": 42}
    assert fmt.current({"sgaudit_thing": 3, "c": 1}) == {"sgaudit_thing": 3, "c": 1}


@pytest.mark.parametrize(("data", "message"), [
    ({"sgaudit_thing": 4}, "thing version 4 was written by a newer sgaudit; this one reads version 2 "
                           "(upgrade sgaudit)"),
    ({"sgaudit_thing": 1}, "thing version 1 is no longer readable (this sgaudit reads version 2)"),
    ({"sgaudit_thing": True}, "$.sgaudit_thing: expected a version number, got True"),
    ({"sgaudit_thing": 0}, "$.sgaudit_thing: expected a version number, got 0"),
    ({"other": 1}, "not an sgaudit thing (no 'sgaudit_thing' version key)"),
    ([1], "not an sgaudit thing (no 'sgaudit_thing' version key)"),
])
def test_what_cannot_be_read_is_one_line(data: object, message: str) -> None:
    with pytest.raises(VersionError) as raised:
        DocumentFormat("sgaudit_thing", 2, "thing").current(data)
    assert str(raised.value) == message
