"""Files in and out.

Out: a report, backup, baseline or snapshot is either whole or absent.  A regular file (or a
path that does not exist yet) is written to a temporary file beside it and renamed into place;
a symlink is followed and its *target* is replaced that way, so the link stays a link; a
character device or a FIFO (``/dev/stdout``, a pipe) is written directly, never replaced by a
plain file; ``-`` is stdout.  Any failure (a full disk, a closed pipe) is one line, exit 2.

In: input files must be regular files (a FIFO or a device could block or never end) and are
read with a size bound.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sgaudit.errors import OutputError, SgauditError

#: the name that means stdout
STDOUT = "-"
#: inputs larger than this are refused (the largest real snapshot is a few hundred MB)
MAX_INPUT_BYTES = 1 << 30

_SURROGATES = re.compile("[\ud800-\udfff]")


def encode(text: str) -> bytes:
    """UTF-8; a lone surrogate (which JSON escapes can carry in) becomes U+FFFD instead of
    stopping the report."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def resolve(path: str | Path) -> Path:
    """Where a write to ``path`` lands: the final target of its symlinks (which may not exist)."""
    return Path(os.path.realpath(path))


def _kind(target: str | Path) -> str | None:
    """"regular", "char", "fifo", "dir", another file type's name, or None when absent.
    Symlinks are followed by the kernel (so /proc's fd links to pipes work too)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return "unreadable"
    for test, name in ((stat.S_ISREG, "regular"), (stat.S_ISCHR, "char"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISDIR, "dir"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


_KIND_NAMES = {"char": "a character device", "fifo": "a FIFO"}


def ensure_writable(path: str | Path, *, label: str = "output", regular_only: bool = False) -> None:
    """Refuse, before any work, a path that cannot be written: a long scan must not end in
    "cannot write", nor record history for a report that is never written.  ``regular_only``:
    a database, which must be a file (no stdout, device or FIFO)."""
    if str(path) == STDOUT and not regular_only:
        return
    kind = _kind(path)
    if kind == "socket" and is_stdout(path) and not regular_only:
        return
    target = resolve(path)
    if kind == "dir":
        raise OutputError(f"{path}: cannot write {label}: it is a folder")
    if regular_only and (kind in _KIND_NAMES or str(path) == STDOUT):
        what = _KIND_NAMES.get(kind or "", "stdout")
        raise OutputError(f"{path}: cannot write {label}: it is not a regular file ({what})")
    if kind in ("char", "fifo"):
        if not os.access(path, os.W_OK):
            raise OutputError(f"{path}: cannot write {label}: permission denied")
        return
    if kind not in (None, "regular"):
        raise OutputError(f"{path}: cannot write {label}: it is a {kind}")
    folder = target.parent
    shown = folder if Path(path).is_symlink() else Path(path).parent
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write {label}: folder {str(shown)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write {label}: folder {str(shown)!r} is not writable")


def atomic_write(path: str | Path, data: str | bytes | Iterator[str], *, label: str = "output") -> None:
    """Write ``data`` to ``path``: atomically for files (through symlinks), directly to
    character devices, FIFOs and ``-`` (stdout).  ``data`` may come in chunks of text (a long
    report): a file gets each as it comes, so the whole text is never held at once."""
    kind = _kind(path) if str(path) != STDOUT else None
    if str(path) == STDOUT or (kind in ("char", "fifo", "socket") and is_stdout(path)):
        write_stdout(_whole(data), label=label)  # our own stdout (/dev/stdout): through its buffer
        return
    if kind in ("char", "fifo"):
        _write_stream(path, _whole(data), label)  # opened by its name: /proc's fd links work too
        return
    if kind not in (None, "regular"):
        raise OutputError(f"{path}: cannot write {label}: it is a {kind}")
    _replace(path, resolve(path), data, label)


def _whole(data: str | bytes | Iterator[str]) -> bytes:
    if isinstance(data, bytes):
        return data
    return encode(data if isinstance(data, str) else "".join(data))


def is_stdout(path: str | Path) -> bool:
    """Is ``path`` (after links) the file this process's stdout is?  (/dev/stdout, /dev/fd/1)"""
    try:
        mine, there = os.fstat(sys.stdout.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _replace(path: str | Path, target: Path, data: str | bytes | Iterator[str], label: str) -> None:
    """Temporary file beside the target, fsync, rename over it, fsync the folder; the temporary
    file is removed whatever stops the write (an error making the chunks, too)."""
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write {label}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, (str, bytes)):
                handle.write(encode(data) if isinstance(data, str) else data)
            else:
                for chunk in data:
                    handle.write(encode(chunk))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write {label}: {exc.strerror or exc}") from None
        raise


def _write_stream(path: str | Path, payload: bytes, label: str) -> None:
    """A device or a FIFO: opened for writing as it is (never created, truncated or replaced)."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write {label}: {exc.strerror or exc}") from None
    try:
        _write_all(fd, payload)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write {label}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _write_all(fd: int, payload: bytes) -> None:
    """os.write until every byte is out: a short write is retried, so the next call raises the
    reason (a reader that left: EPIPE; a size limit: EFBIG; a full disk: ENOSPC)."""
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(0, f"short write ({len(payload) - len(view)} of {len(payload)} bytes)")
        view = view[written:]


def write_stdout(data: str | bytes, *, label: str = "report", stream: BinaryIO | None = None) -> None:
    """The report on stdout, whole: a full disk, a file size limit or a closed pipe there is one
    line and exit 2, and stdout is then pointed at /dev/null so that the interpreter's final
    flush stays quiet.  A short write counts as a failed one (Python's buffered writer hands a
    pipe whose reader left, or a file at its size limit, a partial write without an error)."""
    payload = encode(data) if isinstance(data, str) else data
    try:
        if stream is None and sys.stdout is None:  # started with stdout closed (>&-)
            raise OSError(0, "stdout is closed")
        out = stream if stream is not None else sys.stdout.buffer
        if stream is None:
            sys.stdout.flush()
        _write_whole(out, payload)
    except (OSError, ValueError) as exc:  # ValueError: a closed file object
        if stream is None:
            _silence_stdout()
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise OutputError(f"stdout: cannot write {label}: {why}") from None


def _write_whole(out: BinaryIO, payload: bytes) -> None:
    """Every byte or an OSError: through the descriptor when there is one (each short write is
    retried, so the next one says why: EPIPE, EFBIG, ENOSPC), else through the stream's own
    write, whose count is checked."""
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
        fd = -1
    out.flush()
    if fd >= 0:
        _write_all(fd, payload)
        return
    view = memoryview(payload)
    while view:
        written = out.write(view)
        if not written:
            raise OSError(0, f"short write ({len(payload) - len(view)} of {len(payload)} bytes)")
        view = view[written:]
    out.flush()


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


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


# -- input ------------------------------------------------------------------------------------
def _open_regular(path: str | Path, label: str, error: type[SgauditError]) -> int:
    """An open descriptor of a regular file.  Opened without blocking (a FIFO would wait for a
    writer) and checked on the descriptor itself, so the file cannot be swapped in between.
    OSError (missing, no permission) is left to the caller, which has its own words for it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
        raise error(f"{path}: cannot read {label}: it is {what}; give a file")
    os.set_blocking(fd, True)
    return fd


def check_regular(path: str | Path, *, label: str, error: type[SgauditError] = SgauditError) -> None:
    """Refuse an input that is not a regular file (a device like /dev/zero never ends)."""
    os.close(_open_regular(path, label, error))


def read_input(path: str | Path, *, label: str, error: type[SgauditError] = SgauditError,
               limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of an input file: only a regular file (after symlinks), at most ``limit``
    bytes.  Raises ``error`` (one line) for anything else, OSError when it cannot be opened."""
    with os.fdopen(_open_regular(path, label, error), "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise error(f"{path}: cannot read {label}: larger than {limit >> 20} MiB")
    return data


def parse_problem(exc: BaseException) -> str | None:
    """What a JSON or YAML parser's non-syntax failure means, or None for other errors:
    nesting deeper than the parser's recursion allows, or an integer too long to convert."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return f"a number too long to read (more than {sys.get_int_max_str_digits()} digits)"
    return None
