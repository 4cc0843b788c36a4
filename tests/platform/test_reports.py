"""Report, drill-down and map use cases: decided and logged first, CSV input the same as the city."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from ennakoiva.domain.consent.decision import Actor
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.reports import CitySource, FileSource, choropleth, drilldown, policy_for, report
from ennakoiva.platform.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_url=f"sqlite:///{tmp_path / 'store.sqlite3'}", audit_key_file=tmp_path / "audit.key",
                    audit_checkpoint_file=tmp_path / "checkpoints.jsonl")


@pytest.fixture(scope="module")
def people_csv(small_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "people.csv"
    con = duckdb.connect(str(small_city.db), read_only=True)
    con.sql(f"""COPY (SELECT district_code AS district, sex, mother_tongue AS "mother tongue",
                 CASE WHEN person_id % 3 = 0 THEN 'yes' ELSE 'no' END AS employed
                 FROM person WHERE death_date IS NULL AND move_out_date IS NULL) TO '{path}' (HEADER)""")
    con.close()
    return path


def test_a_drilldown_is_decided_and_logged_before_it_reads(small_city: Any, settings: Settings) -> None:
    dd = drilldown(CitySource(small_city.db), ["district"], "employment_service_user", settings=settings)
    assert dd.total().count is not None and dd.total().denominator is not None
    with open_operational(settings) as ops:
        entries = list(ops.audit.entries())
    assert [(e.purpose_id, e.decision, e.subject_id, set(e.categories)) for e in entries] == [
        ("open-data-statistics", "permit", None, {"population", "employment"})]


def test_someone_outside_the_purpose_is_refused(small_city: Any, settings: Settings) -> None:
    with pytest.raises(PermissionError, match="open-data-statistics"):
        drilldown(CitySource(small_city.db), ["sex"], actor=Actor(id="x", role="nurse", service="health-services"),
                  settings=settings)


def test_the_threshold_is_a_setting_but_never_below_three() -> None:
    assert policy_for(7).threshold == 7
    with pytest.raises(ValueError, match="greater than or equal to 3"):
        policy_for(2)


def test_csv_input_gives_the_same_numbers_as_pandas(people_csv: Path, settings: Settings) -> None:
    dd = drilldown(FileSource(people_csv), ["district", "sex"], "employed", settings=settings)
    df = pd.read_csv(people_csv, dtype=str)
    want = df.assign(e=df.employed == "yes").groupby(["district", "sex"]).e.agg(["sum", "count"])
    shown = 0
    for row in dd.body():
        s = want.loc[(row.labels["district"], row.labels["sex"])]
        if row.count is not None:
            assert row.count == s["sum"]
            shown += 1
        if row.denominator is not None:
            assert row.denominator == s["count"]
    assert shown > 40
    assert dd.total().count == (df.employed == "yes").sum() and dd.total().denominator == len(df)


def test_csv_input_with_a_value_condition_and_spaces_in_names(people_csv: Path, settings: Settings) -> None:
    dd = drilldown(FileSource(people_csv), ["sex"], "mother tongue!=fi", settings=settings)
    df = pd.read_csv(people_csv, dtype=str)
    assert dd.total().count == (df["mother tongue"] != "fi").sum()


def test_report_gives_every_measure_over_its_denominator(small_city: Any, settings: Settings) -> None:
    results = report(CitySource(small_city.db), settings=settings)
    assert [r.measure for r in results] == [None, "foreign_language", "swedish_speaking", "employment_service_user",
                                            "jobseeker", "employed", "in_ecec"]
    residents = results[0].total().count
    assert residents == 30_000  # the small city has 30 000 residents on its extract date
    assert results[1].total().denominator == residents
    assert 0 < results[3].total().denominator < residents


def test_a_map_from_a_file_and_from_the_city(small_city: Any, people_csv: Path, settings: Settings) -> None:
    city = choropleth(CitySource(small_city.db), "foreign_language", area="postal_area", settings=settings)
    assert len(city.spec["datasets"]["areas"]) == 84 and not city.unmapped
    file = choropleth(FileSource(people_csv, areas={"district": "district"}), "employed", settings=settings)
    assert len(file.spec["datasets"]["areas"]) == 34
    assert file.status_counts()["published"] >= 25


def test_the_catalogue_lists_what_can_be_asked() -> None:
    from ennakoiva.platform.reports import analytics_catalogue  # noqa: PLC0415

    specs = {s["id"]: s for s in analytics_catalogue()}
    residents = specs["residents"]
    assert {"district", "postal_area", "age_band", "sex", "language_group", "mother_tongue", "activity",
            "employment_service"} <= {d["id"] for d in residents["dimensions"]}
    assert {"employment_service_user", "foreign_language"} <= {m["id"] for m in residents["measures"]}
    assert {"education", "finnish_skill"} <= {d["id"] for d in specs["jobseekers"]["dimensions"]}
