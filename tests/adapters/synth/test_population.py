"""Population register of the synthetic city: keys, lifetimes, households and relations hold together."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from ennakoiva.adapters.synth.ids import scramble
from ennakoiva.adapters.synth.sampling import match_sorted


@pytest.fixture(scope="module")
def con(city_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return city_con


def one(con: duckdb.DuckDBPyConnection, query: str) -> object:
    return con.sql(query).fetchall()[0][0]


def test_keys_are_unique(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) - count(DISTINCT person_id) FROM person") == 0
    assert one(con, "SELECT count(*) - count(DISTINCT household_id) FROM household") == 0
    assert one(con, "SELECT count(*) FROM (SELECT person_id, related_person_id, relation FROM family_relation "
                    "GROUP BY ALL HAVING count(*) > 1)") == 0


def test_every_foreign_key_resolves(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) FROM person p ANTI JOIN household h USING (household_id)") == 0
    assert one(con, "SELECT count(*) FROM family_relation r ANTI JOIN person p USING (person_id)") == 0
    assert one(con, "SELECT count(*) FROM family_relation r ANTI JOIN person p "
                    "ON p.person_id = r.related_person_id") == 0
    assert one(con, "SELECT count(*) FROM contact_channel c ANTI JOIN person p USING (person_id)") == 0


def test_departures_happen_inside_the_window_and_after_birth(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) FROM person WHERE death_date < birth_date OR move_out_date < birth_date "
                    "OR moved_in_date <= birth_date") == 0
    assert one(con, "SELECT count(*) FROM person WHERE death_date IS NOT NULL AND move_out_date IS NOT NULL") == 0
    dead = one(con, "SELECT count(*) FROM person WHERE death_date IS NOT NULL")
    moved = one(con, "SELECT count(*) FROM person WHERE move_out_date IS NOT NULL")
    assert 0 < dead < moved  # Helsinki loses more people to migration than to death
    assert one(con, "SELECT max(greatest(death_date, move_out_date, moved_in_date)) FROM person") < \
        np.datetime64("2026-11-01")


def test_household_types_match_their_members(con: duckdb.DuckDBPyConnection) -> None:
    bad = one(con, """
        WITH m AS (
          SELECT h.household_id, h.household_type, count(*) n,
                 sum((p.birth_date > DATE '2008-11-01')::INT) kids
          FROM household h JOIN person p USING (household_id)
          WHERE p.death_date IS NULL AND p.move_out_date IS NULL GROUP BY ALL)
        SELECT count(*) FROM m WHERE
          (household_type IN ('single_adult', 'single_pensioner') AND n <> 1) OR
          (household_type IN ('couple', 'pensioner_couple') AND (n <> 2 OR kids > 0)) OR
          (household_type = 'single_parent' AND (n - kids <> 1 OR kids = 0)) OR
          (household_type = 'couple_with_children' AND (n - kids <> 2 OR kids = 0))""")
    assert bad == 0


def test_separated_guardians_exist_for_some_single_parent_families(con: duckdb.DuckDBPyConnection) -> None:
    outside = one(con, """
        SELECT count(DISTINCT c.person_id) FROM family_relation r
        JOIN person g ON g.person_id = r.person_id JOIN person c ON c.person_id = r.related_person_id
        WHERE r.relation = 'guardian_of' AND g.household_id <> c.household_id""")
    assert outside > 0


def test_preferred_languages_are_service_languages(con: duckdb.DuckDBPyConnection) -> None:
    langs = dict(con.sql("SELECT preferred_language, count(*) FROM contact_channel GROUP BY 1").fetchall())
    assert set(langs) == {"fi", "sv", "en"}


def test_scrambled_ids_are_a_bijection() -> None:
    seq = np.arange(0, 2_000_000, dtype=np.int64) * 9_999_991
    ids = scramble(seq, "person")
    assert len(np.unique(ids)) == len(ids)
    assert (ids > 0).all()


def test_monotone_matching_takes_distinct_positions() -> None:
    rng = np.random.default_rng(0)
    pool = np.sort(rng.integers(18, 90, 3000))
    wanted = np.sort(rng.integers(25, 50, 300))
    pos = match_sorted(pool, wanted)
    assert len(np.unique(pos)) == len(pos)
    assert np.all(np.diff(pos) > 0)
    assert np.median(np.abs(pool[pos] - wanted)) <= 2
