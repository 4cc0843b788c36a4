"""Alembic environment: migrates the connection handed over by ``migrate.upgrade`` (or a URL).

``config.attributes`` carries either ``connection`` (an open SQLAlchemy connection; the caller owns
the transaction boundaries) or ``url`` (kept out of the ini-style options, whose ``%`` interpolation
would mangle URL escapes such as ``options=-csearch_path%3D…``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ennakoiva.adapters.stores.database import create_engine
from ennakoiva.adapters.stores.schema import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """``--sql`` mode: print the DDL for the URL's dialect instead of running it."""
    context.configure(url=config.attributes["url"], target_metadata=metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(config.attributes["url"])
    try:
        with engine.connect() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
