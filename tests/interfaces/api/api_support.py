"""Shared pieces of the API tests (a module apart from conftest.py, so that tests can import it)."""

from __future__ import annotations

from pathlib import Path

from ennakoiva.platform.settings import Settings

__all__ = ["PASSWORD", "platform_settings"]

PASSWORD = "test-demo-password"


def platform_settings(folder: Path, **extra: object) -> Settings:
    """Settings that keep every file of one test module in ``folder``."""
    return Settings(db_url=f"sqlite:///{folder / 'store.sqlite3'}", audit_key_file=folder / "audit.key",
                    audit_checkpoint_file=folder / "checkpoints.jsonl", aggregates_file=folder / "overview.json",
                    sms_simulator_file=folder / "sms.sqlite3", demo_password=PASSWORD, **extra)  # type: ignore[arg-type]
