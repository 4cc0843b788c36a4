"""The synthetic city against the real Paavo 2023 statistics and the documented parameters.

Paavo is read here straight from the raw Statistics Finland file (Latin-1), not from the
calibration table the generator uses, so a derivation error would show.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ennakoiva.adapters.synth.calibration import load_params

PAAVO = Path(__file__).resolve().parents[3] / "data/external/helsinki/paavo/009_12f7_2023_all.csv"
BANDS = ["0-2", "3-6", "7-12", "13-15", "16-17", "18-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
         "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84"]
EDGES = [0, 3, 7, 13, 16, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 200]


def _paavo() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    with PAAVO.open(encoding="latin-1", newline="") as fh:
        for row in list(csv.reader(fh))[3:]:
            if len(row) == 3:
                out[row[0][:5]][row[1]] = float(row[2])
    return out


@pytest.fixture(scope="module")
def con(city_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return city_con


CURRENT = "death_date IS NULL AND move_out_date IS NULL"


def test_age_bands_match_paavo_city_wide(con: duckdb.DuckDBPyConnection) -> None:
    paavo = _paavo()
    real = np.array([sum(a[f"{b} years (HE)"] for a in paavo.values()) for b in BANDS]
                    + [sum(a["85 years or over (HE)"] for a in paavo.values())])
    real = real / real.sum()
    ages = np.array(con.sql(f"SELECT date_diff('year', birth_date, DATE '2026-11-01') - "
                            f"CASE WHEN strftime(birth_date, '%m%d') > '1101' THEN 1 ELSE 0 END FROM person "
                            f"WHERE {CURRENT}").fetchall()).ravel()
    synth = np.histogram(ages, bins=EDGES)[0] / len(ages)
    # each band within 0.6 percentage points of the real share (30 000 residents: sampling sd ~0.15 pp)
    assert np.abs(synth - real).max() < 0.006, np.round((synth - real) * 100, 2)


def test_postal_area_populations_match_paavo(con: duckdb.DuckDBPyConnection) -> None:
    paavo = _paavo()
    total = sum(a["Inhabitants, total (HE)"] for a in paavo.values())
    rows = dict(con.sql(f"SELECT postal_code, count(*) FROM person WHERE {CURRENT} GROUP BY 1").fetchall())
    n = sum(rows.values())
    for code, area in paavo.items():
        expected = area["Inhabitants, total (HE)"] / total * n
        assert abs(rows.get(code, 0) - expected) <= 1, code  # exact up to rounding


def test_language_shares_match_parameters(con: duckdb.DuckDBPyConnection) -> None:
    lang = load_params()["languages"]
    fi, sv, foreign = con.sql(
        f"SELECT avg((mother_tongue = 'fi')::INT), avg((mother_tongue = 'sv')::INT), "
        f"avg((mother_tongue NOT IN ('fi', 'sv'))::INT) FROM person WHERE {CURRENT}").fetchall()[0]
    assert abs(sv - lang["sv"]) < 0.012
    assert abs(foreign - lang["foreign"]["share"]) < 0.02
    assert abs(fi - lang["fi"]) < 0.025


def test_foreign_language_share_is_higher_in_the_east(con: duckdb.DuckDBPyConnection) -> None:
    by_major = dict(con.sql(
        f"SELECT left(district_code, 1), avg((mother_tongue NOT IN ('fi', 'sv'))::INT) FROM person "
        f"WHERE {CURRENT} GROUP BY 1").fetchall())
    # Eastern (7xx) vs Southern (1xx) major district, as in Helsinki's statistics
    assert by_major["7"] > 1.4 * by_major["1"]


def test_one_person_households_close_to_paavo(con: duckdb.DuckDBPyConnection) -> None:
    paavo = _paavo()
    real = sum(a["One-person households (TE)"] for a in paavo.values()) / sum(
        a["Households, total (TE)"] for a in paavo.values())
    synth = con.sql(
        f"SELECT avg((n = 1)::INT) FROM (SELECT household_id, count(*) n FROM person WHERE {CURRENT} "
        f"GROUP BY 1)").fetchall()[0][0]
    assert abs(synth - real) < 0.06, (synth, real)


def test_every_child_has_a_guardian_in_the_household(con: duckdb.DuckDBPyConnection) -> None:
    orphans = con.sql(
        f"SELECT count(*) FROM person c WHERE {CURRENT} AND birth_date > DATE '2008-11-02' AND NOT EXISTS ("
        "SELECT 1 FROM family_relation r JOIN person g ON g.person_id = r.person_id "
        "WHERE r.related_person_id = c.person_id AND r.relation = 'guardian_of' "
        "AND g.household_id = c.household_id)").fetchall()[0][0]
    assert orphans == 0


def test_parents_are_plausibly_older_than_their_children(con: duckdb.DuckDBPyConnection) -> None:
    gaps = np.array(con.sql(
        "SELECT date_diff('day', g.birth_date, c.birth_date) / 365.25 FROM family_relation r "
        "JOIN person g ON g.person_id = r.person_id JOIN person c ON c.person_id = r.related_person_id "
        "WHERE r.relation = 'guardian_of' AND g.household_id = c.household_id").fetchall()).ravel()
    assert gaps.min() >= 15
    assert 28 <= np.median(gaps) <= 36


def test_target_group_for_the_preschool_offer_is_realistic(con: duckdb.DuckDBPyConnection) -> None:
    share = con.sql(f"SELECT avg((year(birth_date) = 2021)::INT) FROM person WHERE {CURRENT}").fetchall()[0][0]
    # Paavo 2023: ages 3-6 are 3.6 % of Helsinki, about 0.9 % per birth year (1/110)
    assert 0.007 < share < 0.012


def test_phone_numbers_are_unique_except_deliberately_shared(con: duckdb.DuckDBPyConnection) -> None:
    shared = con.sql("SELECT count(*) FROM (SELECT address FROM contact_channel GROUP BY 1 HAVING count(*) > 1)"
                     ).fetchall()[0][0]
    spouses = con.sql("SELECT count(*) / 2 FROM family_relation WHERE relation = 'spouse_of'").fetchall()[0][0]
    assert 0 < shared < 0.05 * spouses


def test_unemployment_rate_close_to_paavo(con: duckdb.DuckDBPyConnection) -> None:
    tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    if "jobseeker_spell" not in tables or not con.sql("SELECT count(*) FROM jobseeker_spell").fetchall()[0][0]:
        pytest.fail("the employment sector produced no job-seeker spells")
    paavo = _paavo()
    emp = sum(a["Employed (PT)"] for a in paavo.values())
    unemp = sum(a["Unemployed (PT)"] for a in paavo.values())
    job_seekers = con.sql("SELECT count(DISTINCT person_id) FROM jobseeker_spell WHERE end_date IS NULL"
                          ).fetchall()[0][0]
    residents = con.sql(f"SELECT count(*) FROM person WHERE {CURRENT}").fetchall()[0][0]
    paavo_rate = unemp / sum(a["Inhabitants, total (HE)"] for a in paavo.values())
    assert abs(job_seekers / residents - paavo_rate) < 0.02, (job_seekers / residents, paavo_rate, emp)
