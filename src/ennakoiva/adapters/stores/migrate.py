"""Run the packaged Alembic migrations programmatically (no ``alembic.ini`` at runtime).

>>> alembic_config("sqlite:///store.sqlite3").get_main_option("script_location").endswith("migrations")
True
"""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from ennakoiva.adapters.stores.database import create_engine, normalise_url, write_transaction

__all__ = ["MIGRATIONS", "alembic_config", "current_revision", "downgrade", "head_revision", "sql_script", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration pointing at the migrations shipped in this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["url"] = normalise_url(url)
    return cfg


def _run(target: str | URL | Engine, revision: str, *, up: bool) -> None:
    engine = create_engine(target) if not isinstance(target, Engine) else target
    try:
        cfg = alembic_config()
        # One transaction for the whole run: on both engines DDL is transactional, so a failed
        # migration leaves the database as it was.
        with write_transaction(engine) as conn:
            cfg.attributes["connection"] = conn
            if up:
                command.upgrade(cfg, revision)
            else:
                command.downgrade(cfg, revision)
    finally:
        if not isinstance(target, Engine):
            engine.dispose()


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """``alembic upgrade head`` against a store URL or engine (creates the file for SQLite)."""
    _run(target, revision, up=True)


def downgrade(target: str | URL | Engine, revision: str) -> None:
    """``alembic downgrade REVISION`` (``"base"`` drops every table)."""
    _run(target, revision, up=False)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def sql_script(url: str | URL, revision: str = "head") -> str:
    """The DDL ``upgrade`` would run, for a DBA to review (Alembic's offline ``--sql`` mode)."""
    buffer = io.StringIO()
    cfg = alembic_config(url)
    cfg.output_buffer = buffer
    command.upgrade(cfg, revision, sql=True)
    return buffer.getvalue()
