"""Shared fixtures: one small synthetic city per test session (per xdist worker)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import duckdb
import pytest

from ennakoiva.adapters.synth.city import SynthResult
from ennakoiva.platform.synthesis import synthesise_city


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Conftest files hold fixtures, not doctests: without this, ``--doctest-modules`` imports each one
    as a module named ``conftest`` and trips over the sub-folder conftest imported just before it."""
    return True if collection_path.name == "conftest.py" else None

SMALL_CITY_RESIDENTS = 30_000
SMALL_CITY_SEED = 7


@dataclass(frozen=True)
class SmallCity:
    db: Path
    truth: Path
    result: SynthResult


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> SmallCity:
    """A 30 000-resident city with every sector, built once and opened read-only by tests."""
    root = tmp_path_factory.mktemp("city")
    db, truth = root / "city.duckdb", root / "truth.duckdb"
    result = synthesise_city(db, truth, residents=SMALL_CITY_RESIDENTS, seed=SMALL_CITY_SEED)
    return SmallCity(db, truth, result)


@pytest.fixture(scope="session")
def city_con(small_city: SmallCity) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only DuckDB connection to the small city, shared by the tests that query it directly."""
    con = duckdb.connect(str(small_city.db), read_only=True)
    yield con
    con.close()


PG_URL = "postgresql+psycopg://postgres@localhost/test"


@pytest.fixture
def postgresql_schema_url() -> Iterator[str]:
    """A fresh, uniquely named schema in the machine's PostgreSQL (database ``test``).

    An unreachable server fails the test — never a skip: CI must exercise PostgreSQL.
    """
    from sqlalchemy import create_engine  # noqa: PLC0415 - only the store tests need SQLAlchemy

    schema = f"t_{uuid4().hex[:20]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
