"""Engines for the operational store: one URL picks SQLite (embedded default) or PostgreSQL.

SQLite connections get WAL journaling, enforced foreign keys and a busy timeout; the driver's own
transaction handling is switched off so that SQLAlchemy's ``begin`` emits the ``BEGIN`` itself —
``BEGIN IMMEDIATE`` on a connection marked with :data:`WRITE` (see :func:`write_transaction`), so
that two writers serialise at the start of their transactions instead of failing half-way with
"database is locked". PostgreSQL goes through psycopg 3 (``postgresql+psycopg://``); a plain
``postgresql://`` URL is mapped onto it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL, make_url

__all__ = [
    "DEFAULT_URL",
    "SQLITE_BUSY_TIMEOUT_MS",
    "WRITE",
    "create_engine",
    "is_postgresql",
    "is_sqlite",
    "normalise_url",
    "reader",
    "sqlite_url",
    "write_transaction",
]

DEFAULT_URL = "sqlite:///ennakoiva-store.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes SQLite open the transaction with BEGIN IMMEDIATE (a no-op on PostgreSQL).
WRITE = "ennakoiva_write"


def sqlite_url(path: Path | str) -> str:
    """The SQLAlchemy URL of an SQLite file.

    >>> sqlite_url("/tmp/x.sqlite3")
    'sqlite:////tmp/x.sqlite3'
    """
    return f"sqlite:///{Path(path)}"


def normalise_url(url: str | URL) -> URL:
    """Parse a store URL; ``postgresql://`` and ``postgres://`` mean psycopg 3.

    >>> normalise_url("postgresql://postgres@localhost/test").drivername
    'postgresql+psycopg'
    >>> normalise_url("sqlite:///store.sqlite3").drivername
    'sqlite'
    """
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValueError(f"unsupported store URL {parsed.render_as_string(hide_password=True)!r}: "
                         "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise ValueError(f"PostgreSQL store URLs must use psycopg 3 (postgresql+psycopg://), got {parsed.drivername!r}")
    return parsed


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def is_postgresql(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def create_engine(url: str | URL = DEFAULT_URL, *, echo: bool = False, **kwargs: Any) -> Engine:
    """An engine for the store at ``url`` with the settings every Ennakoiva connection needs."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, **kwargs)
    # No pre-ping: it costs a round trip on every checkout, which a 2 ms decision budget cannot
    # spare; connections are recycled instead, and a dead one fails its statement loudly.
    kwargs.setdefault("pool_recycle", 1800)
    return sa_create_engine(parsed, echo=echo, **kwargs)


def _sqlite_engine(url: URL, *, echo: bool, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database in {"", ":memory:"}:
        # An in-memory database lives and dies with one connection: several pooled connections would
        # each see their own empty database. The store is meant to be a file.
        raise ValueError("the SQLite store must be a file: use sqlite:///PATH")
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    # Pooled (SQLAlchemy's default for files): opening a connection and setting its pragmas costs
    # more than a whole decision lookup.
    engine = sa_create_engine(url, echo=echo, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins (see do_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable with WAL except against power loss
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def reader(engine: Engine) -> Engine:
    """The engine for single-statement reads: autocommit on PostgreSQL.

    Saves the BEGIN and ROLLBACK round trips SQLAlchemy's implicit transaction would add to every
    lookup (a single statement sees one snapshot anyway). SQLite's are in-process and cheap.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a write transaction, committed on success and rolled back on error.

    On SQLite it starts with ``BEGIN IMMEDIATE`` (takes the write lock up front); on PostgreSQL it is
    an ordinary READ COMMITTED transaction and callers take row or advisory locks themselves.
    """
    with engine.connect() as plain:
        conn = plain.execution_options(**{WRITE: True})
        with conn.begin():
            yield conn
