"""Backups signed with an HMAC whose key is a file beside them, so an edit is detected.

A backup tells ``rollback`` what to authorize and revoke: a hand-edited one could open a group
to the world.  Each backup gets its own random key, ``BACKUP.key`` (created 0600, never
overwritten), and carries ``"signature": {"algorithm", "key_file", "hmac"}`` over the rest of
the document in a canonical JSON form (sorted keys, no spaces, ASCII), so a rewrite of the file
that keeps its content keeps its signature.

What it protects against: an edit of the backup alone (by hand, by a tool, in a ticket or a
shared folder it was copied to without its key), a truncated or corrupted file.  What it does
not: someone who can write both files (or read the key) can sign anything; keep the key where
the backup's readers cannot write.  Any kind of backup can use it: these functions take the
document, not its meaning.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sgaudit.errors import SgauditError

ALGORITHM = "hmac-sha256"
SIGNATURE = "signature"
KEY_SUFFIX = ".key"
#: a key file is 64 hex digits and a newline; anything much larger is not one
_KEY_LIMIT = 4096


class BackupError(SgauditError):
    """A backup file that cannot be used for a rollback (exit 2)."""


def key_path(backup: str | Path) -> Path:
    """Where a backup's key lives: beside it, named after it."""
    return Path(f"{backup}{KEY_SUFFIX}")


def create_key(backup: str | Path) -> bytes:
    """A new random key in ``BACKUP.key``, readable by its owner only; an existing file is
    never replaced (it may be the key of another backup)."""
    path = key_path(backup)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise BackupError(f"{path}: cannot create the backup's key: {exc.strerror or exc}") from None
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise BackupError(f"{path}: cannot write the backup's key: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return key


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes signed: the document without its signature, in one spelling only."""
    body = {k: v for k, v in doc.items() if k != SIGNATURE}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(doc: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(doc), hashlib.sha256).hexdigest()


def sign(doc: Mapping[str, Any], key: bytes, backup: str | Path) -> dict[str, Any]:
    """The document with its signature (replacing an older one)."""
    body = {k: v for k, v in doc.items() if k != SIGNATURE}
    return {**body, SIGNATURE: {"algorithm": ALGORITHM, "key_file": key_path(backup).name,
                                "hmac": digest(body, key)}}


def verify(doc: Mapping[str, Any], backup: str | Path, *, unsigned_ok: bool,
           warn: Callable[[str], None]) -> None:
    """Refuse (BackupError) a backup whose signature does not match its key file.  One that
    cannot be checked (no signature: written before backups were signed, or stripped; or its
    key file is gone) is refused too unless ``unsigned_ok``, and then accepted with a warning:
    accepting it silently would make removing the signature a way around it."""
    signature = doc.get(SIGNATURE)
    path = key_path(backup)
    if signature is None:
        _unverified(f"{backup}: the backup is not signed (written before sgaudit signed backups, "
                    "or its signature was removed)", unsigned_ok, warn)
        return
    if (not isinstance(signature, Mapping) or signature.get("algorithm") != ALGORITHM
            or not isinstance(signature.get("hmac"), str)):
        raise BackupError(f"{backup}: {SIGNATURE}: expected {{algorithm: {ALGORITHM}, hmac: HEX}}, "
                          f"got {json.dumps(signature)[:80]}")
    key = read_key(path, backup, unsigned_ok, warn)
    if key is None:
        return
    given = signature["hmac"].encode("utf-8", "replace")  # any text: compared as bytes
    if not hmac.compare_digest(given, digest(doc, key).encode()):
        raise BackupError(f"{backup}: the backup was changed after sgaudit wrote it (its signature "
                          f"does not match its key {path}); nothing was changed")


def read_key(path: Path, backup: str | Path, unsigned_ok: bool,
             warn: Callable[[str], None]) -> bytes | None:
    """The key of a signed backup; None (after the warning) when it is missing and
    ``unsigned_ok`` allows going on without it."""
    try:
        with open(path, "rb") as handle:
            key = handle.read(_KEY_LIMIT + 1).strip()
    except FileNotFoundError:
        _unverified(f"{backup}: the backup's key {path} is missing, so its signature cannot be "
                    "checked", unsigned_ok, warn)
        return None
    except OSError as exc:
        raise BackupError(f"{path}: cannot read the backup's key: {exc.strerror or exc}") from None
    if not key or len(key) > _KEY_LIMIT:
        raise BackupError(f"{path}: not a backup key (expected 64 hex digits)")
    return key


def _unverified(why: str, unsigned_ok: bool, warn: Callable[[str], None]) -> None:
    if not unsigned_ok:
        raise BackupError(f"{why}; check it and pass --unsigned-ok to use it; nothing was changed")
    warn(f"{why}; going on because of --unsigned-ok (its consistency was checked)")
