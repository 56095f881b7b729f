"""Atomic file writes: a report, backup or baseline is either whole or absent."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from sgaudit.errors import OutputError


def ensure_writable(path: str | Path, *, label: str = "output") -> None:
    """Refuse, before any work, a path that cannot be written: a long scan must not end in
    "cannot write", nor record history for a report that is never written."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"{path}: cannot write {label}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write {label}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write {label}: folder {str(folder)!r} is not writable")


def atomic_write(path: str | Path, data: str | bytes, *, label: str = "output") -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it into place."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write {label}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write {label}: {exc.strerror or exc}") from None


def _mode_for(target: Path) -> int:
    """mkstemp makes 0600 files; keep an existing file's mode, else honour the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
