"""Versioned JSON documents that sgaudit writes and later reads back (baselines, backups,
snapshots): one way to stamp them, recognise them, refuse a newer version and upgrade an older
one, so that the day a version 2 comes, version 1 files keep working."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: turns a document of version N into one of version N + 1
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


class VersionError(ValueError):
    """The document is not of this kind, or of a version this sgaudit cannot read; the message
    is one line without the file name (the caller adds it, with its own error type)."""


@dataclass(frozen=True, slots=True)
class DocumentFormat:
    #: the top-level key holding the version number, e.g. "sgaudit_baseline"
    key: str
    #: the version this sgaudit writes
    version: int
    #: what the document is called in messages, e.g. "baseline"
    label: str
    #: version -> its upgrade to version + 1; every version below ``version`` needs one
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)

    def stamp(self) -> dict[str, int]:
        """The key and version to put first in a document being written."""
        return {self.key: self.version}

    def is_one(self, data: object) -> bool:
        """Whether ``data`` claims to be a document of this kind (of any version)."""
        return isinstance(data, Mapping) and self.key in data

    def current(self, data: object) -> dict[str, Any]:
        """The document at this sgaudit's version: older versions upgraded step by step."""
        if not self.is_one(data):
            raise VersionError(f"not an sgaudit {self.label} (no '{self.key}' version key)")
        assert isinstance(data, Mapping)
        version = data[self.key]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise VersionError(f"$.{self.key}: expected a version number, got {version!r}")
        if version > self.version:
            raise VersionError(f"{self.label} version {version} was written by a newer sgaudit; "
                               f"this one reads version {self.version} (upgrade sgaudit)")
        doc = dict(data)
        while version < self.version:
            upgrade = self.upgrades.get(version)
            if upgrade is None:
                raise VersionError(f"{self.label} version {version} is no longer readable "
                                   f"(this sgaudit reads version {self.version})")
            doc = upgrade(doc)
            version += 1
            doc[self.key] = version
        return doc
