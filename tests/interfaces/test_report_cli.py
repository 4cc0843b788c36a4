"""``ennakoiva report|drilldown|map|opendata publish`` end to end on the small city."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ennakoiva.interfaces.cli.main import app


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENNAKOIVA_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("ENNAKOIVA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("ENNAKOIVA_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    return tmp_path


def _run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def test_report_and_drilldown(small_city: Any) -> None:
    figures = _run("report", "--db", str(small_city.db), "--measure", "foreign_language", "--json")
    assert [f["measure"] for f in figures] == [None, "foreign_language"]
    dd = _run("drilldown", "--db", str(small_city.db), "--by", "language_group,sex", "--measure",
              "employment_service_user", "--json")
    assert dd["policy"]["threshold"] == 5 and dd["rows"][-1]["labels"] == {"language_group": "Total", "sex": "Total"}
    strict = _run("drilldown", "--db", str(small_city.db), "--by", "district", "--threshold", "10", "--json")
    assert strict["policy"]["threshold"] == 10
    assert all(r["count"] is None or r["count"] >= 10 for r in strict["rows"])
    assert "district" in _run("drilldown", "--db", str(small_city.db), "--by", "district")


def test_drilldown_refuses_a_threshold_below_three(small_city: Any) -> None:
    result = CliRunner().invoke(app, ["drilldown", "--db", str(small_city.db), "--by", "sex", "--threshold", "2"])
    assert result.exit_code == 2 and "greater than or equal to 3" in result.output


def test_drilldown_on_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("district,sex,employed\n" + "".join(f"10{i % 3 + 1},{'FM'[i % 2]},{i % 4 == 0:d}\n"
                                                           for i in range(600)), encoding="utf-8")
    dd = _run("drilldown", "--data", str(path), "--by", "district,sex", "--measure", "employed", "--json")
    assert dd["rows"][-1]["count"] == 150 and dd["rows"][-1]["denominator"] == 600


def test_map_writes_the_spec_and_the_image(small_city: Any, tmp_path: Path) -> None:
    out = _run("map", "--db", str(small_city.db), "--measure", "foreign_language", "--out", str(tmp_path / "m.svg"),
               "--vega-lite", str(tmp_path / "m.json"), "--json")
    assert sum(out["areas"].values()) == 34 and "CC BY 4.0" in out["attribution"]
    spec = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert spec["usermeta"]["attribution"] == out["attribution"]
    assert "CC BY 4.0" in (tmp_path / "m.svg").read_text(encoding="utf-8")


def test_opendata_publish_twice_audits_against_the_previous_release(small_city: Any, tmp_path: Path) -> None:
    first = _run("opendata", "publish", "--db", str(small_city.db), "--out", str(tmp_path / "r1"), "--json")
    assert {t["name"] for t in first["tables"]} >= {"residents_by_district_language_group",
                                                    "employment_service_users_by_district"}
    assert first["policy"]["threshold"] == 5 and first["audit"]["previous_release"] is None
    csv_text = (tmp_path / "r1" / "residents_by_postal_area_language_group.csv").read_text(encoding="utf-8")
    assert ".." in csv_text  # small postal areas are suppressed, not dropped
    record = json.loads((tmp_path / "r1" / "release.json").read_text(encoding="utf-8"))
    assert "primary" not in json.dumps(record) and record["licence"] == "CC BY 4.0"
    second = _run("opendata", "publish", "--db", str(small_city.db), "--out", str(tmp_path / "r2"),
                  "--previous", str(tmp_path / "r1"), "--json")
    assert second["release_id"] == first["release_id"]  # same data, byte-identical release
    assert len(second["audit"]["compared_tables"]) == 4 and second["findings"] == []


def test_drilldown_on_a_parquet_file_with_a_weight_column(tmp_path: Path) -> None:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    path = tmp_path / "aggregated.parquet"
    data = {("00100", "fi"): 400, ("00100", "other"): 90, ("00120", "fi"): 300, ("00120", "other"): 3,
            ("00130", "fi"): 250, ("00130", "other"): 60}
    pq.write_table(pa.table({"area": [k[0] for k in data], "lang": [k[1] for k in data], "n": list(data.values())}),
                   path)
    dd = _run("drilldown", "--data", str(path), "--by", "area,lang", "--weight", "n", "--json")
    cells = {tuple(r["labels"].values()): r["count"] for r in dd["rows"]}
    assert cells[("Total", "Total")] == sum(data.values())
    assert cells[("00120", "other")] is None  # 3 people: suppressed, and so is what would give it away
    assert cells[("00120", "Total")] is None or cells[("00120", "fi")] is None
    published = {k: v for k, v in cells.items() if v is not None and "Total" not in k}
    assert published and all(data[k] == v for k, v in published.items())


def _tamper(folder: Path, table: str, edit: Any) -> None:
    path = folder / "release.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    t = next(t for t in record["tables"] if t["name"] == table)
    edit(t)
    path.write_text(json.dumps(record), encoding="utf-8")


def test_opendata_reports_small_changes_and_refuses_recovery(small_city: Any, tmp_path: Path) -> None:
    table = "employment_service_users_by_district"
    _run("opendata", "publish", "--db", str(small_city.db), "--out", str(tmp_path / "r1"), "--json")

    def one_fewer(t: dict[str, Any]) -> None:  # the previous release had one user fewer in the first district
        row = t["rows"][0]
        for cell in t["cells"]:
            if (cell[0], cell[1]) in {(row, "numerator"), (row, "Total"), ("Total", "numerator"), ("Total", "Total")}:
                cell[2] -= 1

    _tamper(tmp_path / "r1", table, one_fewer)
    report = _run("opendata", "publish", "--db", str(small_city.db), "--out", str(tmp_path / "r2"),
                  "--previous", str(tmp_path / "r1"), "--json")
    small = [f for f in report["findings"] if f["kind"] == "small_change"]
    assert {(f["table"], f["value"]) for f in small} == {(table, 1)} and len(small) == 4
    strict = CliRunner().invoke(app, ["opendata", "publish", "--db", str(small_city.db), "--out",
                                      str(tmp_path / "r3"), "--previous", str(tmp_path / "r1"), "--strict"])
    assert strict.exit_code == 2 and "refused" in strict.output and not (tmp_path / "r3").exists()

    _run("opendata", "publish", "--db", str(small_city.db), "--out", str(tmp_path / "p1"), "--json")

    def suppress_one(t: dict[str, Any]) -> None:  # the previous release hid one cell this release shows
        t["cells"][0][2] = None

    _tamper(tmp_path / "p1", table, suppress_one)
    refused = CliRunner().invoke(app, ["opendata", "publish", "--db", str(small_city.db), "--out",
                                       str(tmp_path / "p2"), "--previous", str(tmp_path / "p1")])
    assert refused.exit_code == 2 and "could be recovered" in refused.output
    assert not (tmp_path / "p2").exists()


def test_a_postal_area_map_from_a_csv_keeps_the_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text("postal,sex,n,users\n" + "".join(f"{code},{s},200,{k * 10 + 5}\n" for k, code in
                                                     enumerate(["00100", "00120", "00130"]) for s in "FM"),
                    encoding="utf-8")
    out = _run("map", "--data", str(path), "--measure", "sex=F", "--weight", "n", "--area-column",
               "postal=postal_area", "--area", "postal_area", "--out", str(tmp_path / "m.json"), "--json")
    assert out["unmapped"] == [] and out["areas"]["published"] == 3 and out["areas"]["no data"] == 81
    shares = {r["labels"]["postal"]: r["share"] for r in out["drilldown"]["rows"]}
    assert shares["00100"] == 0.5
