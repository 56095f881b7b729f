"""The backup signature on its own: any kind of backup document, edited in hostile ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sgaudit.errors import SgauditError
from sgaudit.remediate import documents, signing


def signed(tmp_path: Path, body: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "b.json"
    key = signing.create_key(path)
    return path, signing.sign(body, key, path)


def refused(doc: dict[str, Any], path: Path, unsigned_ok: bool = False) -> str:
    with pytest.raises(signing.BackupError) as raised:
        signing.verify(doc, path, unsigned_ok=unsigned_ok, warn=lambda m: None)
    assert raised.value.exit_code == 2
    return str(raised.value)


def test_the_key_is_private_and_never_replaced(tmp_path: Path) -> None:
    path, doc = signed(tmp_path, {"a": 1})
    key_file = tmp_path / "b.json.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_bytes().strip()) == 64
    assert doc["signature"] == {"algorithm": "hmac-sha256", "key_file": "b.json.key",
                                "hmac": signing.digest({"a": 1}, key_file.read_bytes().strip())}
    with pytest.raises(signing.BackupError, match="cannot create the backup's key: File exists"):
        signing.create_key(path)
    with pytest.raises(SgauditError, match=r"its key file .*b.json.key exists"):
        documents.check_target(path)  # the backup itself does not exist, its key does


def test_a_rewrite_in_another_spelling_keeps_the_signature(tmp_path: Path) -> None:
    path, doc = signed(tmp_path, {"b": [1, "é"], "a": {"y": None, "x": True}})
    respelled = json.loads(json.dumps(doc, indent=4, ensure_ascii=False, sort_keys=False))
    signing.verify(respelled, path, unsigned_ok=False, warn=lambda m: None)


@pytest.mark.parametrize("edit", [
    lambda d: d.update(a=2),
    lambda d: d.update(extra="x"),
    lambda d: d["signature"].update(hmac="é²" * 32),
    lambda d: d.update(a=float("nan")),
])
def test_any_edit_is_refused(tmp_path: Path, edit: Any) -> None:
    path, doc = signed(tmp_path, {"a": 1})
    edit(doc)
    assert refused(doc, path) == (f"{path}: the backup was changed after sgaudit wrote it (its "
                                  f"signature does not match its key {path}.key); nothing was changed")
    assert refused(doc, path, unsigned_ok=True).startswith(f"{path}: the backup was changed")


@pytest.mark.parametrize("value", ["abc", None, 5, {"algorithm": "md5", "hmac": "00"},
                                   {"algorithm": "hmac-sha256"}])
def test_a_signature_of_the_wrong_shape_is_refused(tmp_path: Path, value: Any) -> None:
    path, doc = signed(tmp_path, {"a": 1})
    doc["signature"] = value
    if value is None:  # "signature": null reads as no signature
        assert refused(doc, path).startswith(f"{path}: the backup is not signed")
        return
    assert refused(doc, path).startswith(f"{path}: signature: expected {{algorithm: hmac-sha256, hmac: HEX}}")


def test_an_unverifiable_backup_is_accepted_only_with_unsigned_ok_and_a_warning(tmp_path: Path) -> None:
    path, doc = signed(tmp_path, {"a": 1})
    (tmp_path / "b.json.key").unlink()
    assert refused(doc, path).endswith("check it and pass --unsigned-ok to use it; nothing was changed")
    warnings: list[str] = []
    signing.verify(doc, path, unsigned_ok=True, warn=warnings.append)
    assert warnings == [f"{path}: the backup's key {path}.key is missing, so its signature cannot be "
                        "checked; going on because of --unsigned-ok (its consistency was checked)"]
