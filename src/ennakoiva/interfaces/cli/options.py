"""Options and settings shared by the command groups, so every command spells them the same way."""

from __future__ import annotations

from typing import Annotated

import typer

from ennakoiva.platform.settings import Settings

__all__ = ["JsonOption", "StoreOption", "settings_for"]

StoreOption = Annotated[str | None, typer.Option("--store", help="Operational store URL (default: ENNAKOIVA_DB_URL).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def settings_for(store: str | None) -> Settings:
    """Settings from the environment, with ``--store`` overriding the operational store URL."""
    return Settings(db_url=store) if store else Settings()
