"""What the files a fix writes share between AWS and Google Cloud: where a backup goes (never
over another), its header, the journal it is kept as, reading its fields back, and the name of
the ``--format json`` plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sgaudit.errors import UsageError
from sgaudit.fileio.files import atomic_write
from sgaudit.remediate import signing
from sgaudit.remediate.signing import BackupError

#: the ``check --fix --format json`` document, the same for both clouds
SCHEMA = "sgaudit.fix/v1"
#: a change's result in the journal before its call, and while its call is unanswered
PLANNED = "planned"
PENDING = "pending"


def default_path(now: datetime | None = None, folder: str | Path = ".") -> Path:
    """``sgaudit-backup-20260131T020000Z.json`` in ``folder``; never an existing file (nor
    one whose key file exists)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = Path(folder) / f"sgaudit-backup-{stamp}"
    path = base.with_suffix(".json")
    n = 1
    while path.exists() or signing.key_path(path).exists():
        path = Path(f"{base}-{n}.json")
        n += 1
    return path


def check_target(path: str | Path) -> None:
    """Refuse to overwrite a backup (it may be the only way back) before anything changes."""
    target = Path(path)
    if str(path) == "-":
        raise UsageError("--backup -: a backup is a file (it is rewritten around every change); "
                         "give a path")
    if target.exists():
        raise UsageError(f"--backup {path}: the file exists; a backup is never overwritten, "
                         "choose another path")
    if signing.key_path(target).exists():
        raise UsageError(f"--backup {path}: its key file {signing.key_path(target)} exists (the key "
                         "of another backup?); choose another path")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--backup {path}: folder {folder} does not exist")


def stamp(now: str) -> dict[str, Any]:
    """The header fields of a new backup."""
    from sgaudit import __version__

    return {"created_at": now, "sgaudit_version": __version__}


class Journal:
    """A fix's backup as it goes: the whole document, signed and rewritten atomically after each
    step, so that whatever happens to the process the file says which calls may have reached
    the cloud.  Each cloud's writer fills ``doc`` (its ``changes`` in the plan's order) and says
    what a started or finished call records."""

    def __init__(self, path: str | Path, doc: dict[str, Any], seqs: Iterable[int]) -> None:
        self.path = Path(path)
        self.doc = doc
        self._index = {seq: i for i, seq in enumerate(seqs)}
        self._key: bytes | None = None

    def write(self) -> None:
        """The whole file, signed; the key file is created before the first version."""
        if self._key is None:
            self._key = signing.create_key(self.path)
        signed = signing.sign(self.doc, self._key, self.path)
        atomic_write(self.path, json.dumps(signed, indent=2) + "\n", label="backup")

    def record_outcomes(self, outcomes: Sequence[Any]) -> None:
        """Outcomes of changes that never reached a call (skipped, failed re-reads, not
        attempted)."""
        for outcome in outcomes:
            entry = self._entry(outcome.change)
            if entry["result"] == PLANNED:
                entry.update(result=outcome.result, detail=outcome.detail)
        self.write()

    def pending(self) -> set[int]:
        """The changes whose call was started and never answered (an interrupted run)."""
        return {c["seq"] for c in self.doc["changes"] if c["result"] == PENDING}

    def _entry(self, change: Any) -> dict[str, Any]:
        entry: dict[str, Any] = self.doc["changes"][self._index[change.seq]]
        return entry


def list_field(obj: Any, key: str, where: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if not isinstance(value, list):
        raise BackupError(f"{where}.{key}: expected a list")
    return value


def str_field(obj: Any, key: str, where: str) -> str:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if not isinstance(value, str) or not value:
        raise BackupError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value
