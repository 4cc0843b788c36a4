"""Every rule of the registry holds in a whole synthetic city: keys, references, codes, ranges."""

from __future__ import annotations

import duckdb
import pytest

from ennakoiva.domain.registry import default_registry

REGISTRY = default_registry()


@pytest.fixture(scope="module")
def con(city_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return city_con


def one(con: duckdb.DuckDBPyConnection, query: str) -> int:
    return int(con.sql(query).fetchall()[0][0])


@pytest.mark.parametrize("table", sorted(REGISTRY.tables))
def test_every_table_has_rows_and_unique_primary_keys(con: duckdb.DuckDBPyConnection, table: str) -> None:
    spec = REGISTRY.tables[table]
    keys = ", ".join(f'"{k}"' for k in spec.primary_key)
    assert one(con, f'SELECT count(*) FROM "{table}"') > 0, f"{table} is empty"
    assert one(con, f'SELECT count(*) FROM (SELECT {keys} FROM "{table}" GROUP BY ALL HAVING count(*) > 1)') == 0


REFERENCES = [(t.name, c.name, c.references) for t in REGISTRY.tables.values() for c in t.columns if c.references]


@pytest.mark.parametrize(("table", "column", "reference"), REFERENCES)
def test_every_reference_resolves(con: duckdb.DuckDBPyConnection, table: str, column: str, reference: str) -> None:
    ref_table, ref_col = reference.split(".")
    orphans = one(con, f'SELECT count(*) FROM "{table}" t WHERE t."{column}" IS NOT NULL AND NOT EXISTS '
                       f'(SELECT 1 FROM "{ref_table}" r WHERE r."{ref_col}" = t."{column}")')
    assert orphans == 0


CODED = [(t.name, c.name, c.code_system) for t in REGISTRY.tables.values() for c in t.columns if c.code_system]


@pytest.mark.parametrize(("table", "column", "system"), CODED)
def test_every_code_is_valid(con: duckdb.DuckDBPyConnection, table: str, column: str, system: str) -> None:
    values = [r[0] for r in con.sql(f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
                                    ).fetchall()]
    code_system = REGISTRY.code_systems[system]
    bad = [v for v in values if not code_system.is_valid(str(v))]
    assert not bad, bad[:10]


RANGED = [(t.name, c.name, c.min, c.max) for t in REGISTRY.tables.values() for c in t.columns
          if c.min is not None or c.max is not None]


@pytest.mark.parametrize(("table", "column", "low", "high"), RANGED)
def test_every_value_is_in_range(con: duckdb.DuckDBPyConnection, table: str, column: str,
                                 low: float | None, high: float | None) -> None:
    conds = [f'"{column}" < {low}'] if low is not None else []
    conds += [f'"{column}" > {high}'] if high is not None else []
    assert one(con, f'SELECT count(*) FROM "{table}" WHERE {" OR ".join(conds)}') == 0


def test_nothing_happens_to_a_person_after_death_or_moving_out(con: duckdb.DuckDBPyConnection) -> None:
    for table, column in [("health_visit", "visit_date"), ("diagnosis", "diagnosis_date"),
                          ("measurement", "measured_on"), ("prescription", "start_date"),
                          ("jobseeker_spell", "start_date"), ("income", "month"),
                          ("ecec_placement", "start_date"), ("child_welfare_notification", "notification_date")]:
        late = one(con, f'SELECT count(*) FROM "{table}" e JOIN person p USING (person_id) '
                        f'WHERE e."{column}" > coalesce(p.death_date, p.move_out_date)')
        assert late == 0, table
        early = one(con, f'SELECT count(*) FROM "{table}" e JOIN person p USING (person_id) '
                         f'WHERE e."{column}" < p.birth_date')
        assert early == 0, table
