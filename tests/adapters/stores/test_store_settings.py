"""Store settings: one URL picks the engine; the audit key file is created 0600 and guarded."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ennakoiva.adapters.stores import DEFAULT_URL
from ennakoiva.platform.settings import AUDIT_KEY_BYTES, Settings, load_or_create_key


def test_the_store_url_comes_from_ennakoiva_db_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENNAKOIVA_DB_URL", raising=False)
    assert Settings().db_url == DEFAULT_URL == "sqlite:///ennakoiva-store.sqlite3"
    monkeypatch.setenv("ENNAKOIVA_DB_URL", "postgresql+psycopg://ennakoiva@db/ennakoiva")
    assert Settings().db_url == "postgresql+psycopg://ennakoiva@db/ennakoiva"


def test_a_missing_key_file_is_created_owner_only_and_then_reused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("ENNAKOIVA_AUDIT_KEY_FILE", str(path))
    settings = Settings()
    key = settings.audit_key()
    assert len(key) == AUDIT_KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.audit_key() == key == load_or_create_key(path, create=False)


def test_key_files_others_can_read_or_that_are_malformed_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_or_create_key(tmp_path / "none.key", create=False)
    loose = tmp_path / "loose.key"
    loose.write_text("ab" * 32)
    loose.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_key(loose)
    for name, content in (("short.key", "ab" * 8), ("text.key", "not hex at all")):
        bad = tmp_path / name
        bad.write_text(content)
        bad.chmod(0o600)
        with pytest.raises(ValueError, match="audit key"):
            load_or_create_key(bad)
