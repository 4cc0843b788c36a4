"""One settings class, read once from the environment (ENNAKOIVA_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Where things live; every field can be set as ENNAKOIVA_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="ENNAKOIVA_", frozen=True)

    db: Path = Path("ennakoiva.duckdb")
    truth: Path = Path("ennakoiva-truth.duckdb")
    demo_dir: Path = Path("demo")
    threads: int | None = None
    memory_limit: str | None = None
