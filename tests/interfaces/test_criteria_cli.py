"""``ennakoiva criteria validate|run|explain``: every run decided and logged under the care-gap purpose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ennakoiva.domain.criteria import CRITERIA_DIR
from ennakoiva.interfaces.cli.criteria_commands import criteria_app
from ennakoiva.platform.operational import open_operational


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own operational store (where the access decisions are logged)."""
    monkeypatch.setenv("ENNAKOIVA_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("ENNAKOIVA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("ENNAKOIVA_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    return tmp_path


def test_validate_the_catalogue() -> None:
    result = CliRunner().invoke(criteria_app, ["validate", str(CRITERIA_DIR), "--json"])
    assert result.exit_code == 0, result.output
    assert "htn-untreated" in json.loads(result.output)["valid"]


def test_validate_runs_the_fixtures_and_fails_on_a_wrong_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(criteria_app, ["validate", str(CRITERIA_DIR), "--json"])
    assert json.loads(result.output)["fixtures"] >= 40 and json.loads(result.output)["failed"] == []
    text = (CRITERIA_DIR / "htn-untreated.yaml").read_text(encoding="utf-8")
    text = text.replace("    - name: over 85\n      expect: no_hit", "    - name: over 85\n      expect: hit", 1)
    (tmp_path / "htn-untreated.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(criteria_app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "htn-untreated / over 85: expected hit, got no_hit" in result.output


def test_validate_names_file_and_line(tmp_path: Path) -> None:
    text = (CRITERIA_DIR / "htn-untreated.yaml").read_text(encoding="utf-8").replace("within: P12M", "within: 12M")
    (tmp_path / "htn-untreated.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(criteria_app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "htn-untreated.yaml:" in result.output and "ISO-8601 duration" in result.output


def test_run_writes_results_and_counts(small_city: Any, tmp_path: Path) -> None:
    out = tmp_path / "gaps.parquet"
    result = CliRunner().invoke(criteria_app, [
        "run", "--db", str(small_city.db), "--on", small_city.result.as_of.isoformat(), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    table = pq.read_table(out)
    assert sum(summary["matched"].values()) == table.num_rows > 0
    assert set(summary["matched"]) == {p.stem for p in CRITERIA_DIR.glob("*.yaml")}


def test_run_writes_ranked_outreach_lists_and_district_counts(small_city: Any, tmp_path: Path) -> None:
    out, lists = tmp_path / "gaps.parquet", tmp_path / "lists"
    result = CliRunner().invoke(criteria_app, [
        "run", "--db", str(small_city.db), "--on", small_city.result.as_of.isoformat(), "--out", str(out),
        "--lists", str(lists), "--json"])
    assert result.exit_code == 0, result.output
    gaps = pq.read_table(out).to_pylist()
    outreach = pacsv.read_csv(lists / "outreach.csv").to_pylist()
    # one row per person, on exactly one station's list, with the sum of their points
    assert sorted(r["person_id"] for r in outreach) == sorted({g["person_id"] for g in gaps})
    points: dict[int, int] = {}
    for g in gaps:
        points[g["person_id"]] = points.get(g["person_id"], 0) + g["points"]
    assert all(r["points"] == points[r["person_id"]] for r in outreach)
    assert {r["unit_name"] for r in outreach if r["unit_id"] is None} <= {"unassigned"}
    assert any(r["unit_id"] is not None for r in outreach)
    rank = {"critical": 2, "warning": 1, "info": 0}
    by_unit: dict[int, list[dict[str, Any]]] = {}
    for r in outreach:
        by_unit.setdefault(r["unit_id"], []).append(r)
    for rows in by_unit.values():
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        keys = [(-rank[r["tier"]], -r["points"], r["person_id"]) for r in rows]
        assert keys == sorted(keys)
    assert json.loads(result.output)["lists"]["persons_by_station"] == {
        rows[0]["unit_name"]: len(rows) for rows in by_unit.values()}
    counts = pacsv.read_csv(lists / "district_counts.csv", convert_options=pacsv.ConvertOptions(
        column_types={"district_code": pa.string()})).to_pylist()
    matched = json.loads(result.output)["matched"]
    per_criterion: dict[str, int] = {}
    for c in counts:
        per_criterion[c["criterion_id"]] = per_criterion.get(c["criterion_id"], 0) + c["persons"]
    assert per_criterion == {k: v for k, v in matched.items() if v}


def test_run_rejects_a_bad_date(small_city: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(criteria_app, [
        "run", "--db", str(small_city.db), "--on", "2026-02-30", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "--on must be a date" in result.output


def test_explain_one_person(small_city: Any, tmp_path: Path) -> None:
    out = tmp_path / "gaps.parquet"
    on = small_city.result.as_of.isoformat()
    CliRunner().invoke(criteria_app, ["run", "--db", str(small_city.db), "--on", on, "--out", str(out)])
    first = pq.read_table(out).slice(0, 1).to_pylist()[0]
    result = CliRunner().invoke(criteria_app, [
        "explain", "--db", str(small_city.db), "--on", on, "--person", str(first["person_id"]), "--lang", "fi",
        "--json"])
    assert result.exit_code == 0, result.output
    matched = json.loads(result.output)["matched"]
    assert first["criterion_id"] in {m["criterion_id"] for m in matched}
    assert all(m["name"] and isinstance(m["evidence"], dict) for m in matched)


def test_explain_words_the_evidence_in_the_chosen_language(small_city: Any, tmp_path: Path) -> None:
    out = tmp_path / "gaps.parquet"
    on = small_city.result.as_of.isoformat()
    CliRunner().invoke(criteria_app, ["run", "--db", str(small_city.db), "--on", on, "--out", str(out)])
    first = next(r for r in pq.read_table(out).to_pylist()
                 if r["criterion_id"] == "htn-untreated" and json.loads(r["evidence"]).get("sbp_160.date"))
    explained = {}
    for lang in ("fi", "sv", "en"):
        result = CliRunner().invoke(criteria_app, [
            "explain", "--db", str(small_city.db), "--on", on, "--person", str(first["person_id"]), "--lang", lang,
            "--json"])
        assert result.exit_code == 0, result.output
        explained[lang] = next(m for m in json.loads(result.output)["matched"] if m["criterion_id"] == "htn-untreated")
    en, fi, sv = (explained[k]["explanation"] for k in ("en", "fi", "sv"))
    assert explained["en"]["extra_actions"] == ["invite-exercise-group"]
    treatment = [line for line in en if line.startswith("on_treatment:")]
    assert treatment == ["on_treatment: no C02, C03, C07, C08, C09 prescription in the last 12 months"]
    assert "on_treatment: ei lääkemääräystä C02, C03, C07, C08, C09 12 kuukauden aikana" in fi
    assert "on_treatment: inget recept på C02, C03, C07, C08, C09 under de senaste 12 månaderna" in sv
    sbp = {k: next(line for line in explained[k]["explanation"] if line.startswith("sbp_160:")) for k in explained}
    day = explained["en"]["evidence"]["sbp_160.date"]
    y, m, d = (int(part) for part in str(day)[:10].split("-"))
    assert f" on {str(day)[:10]} " in sbp["en"]
    assert f" {d}.{m}.{y} " in sbp["fi"] and f" den {d}.{m}.{y} " in sbp["sv"]


def test_a_run_is_one_logged_population_read_and_a_wrong_role_is_refused(small_city: Any, tmp_path: Path) -> None:
    on = small_city.result.as_of.isoformat()
    ok = CliRunner().invoke(criteria_app, ["run", "--db", str(small_city.db), "--on", on, "--out",
                                           str(tmp_path / "g.csv")])
    assert ok.exit_code == 0, ok.output
    refused = CliRunner().invoke(criteria_app, ["run", "--db", str(small_city.db), "--on", on, "--out",
                                                str(tmp_path / "h.csv"), "--role", "teacher"])
    assert refused.exit_code == 2 and "access denied" in refused.output
    assert not (tmp_path / "h.csv").exists()
    with open_operational() as ops:
        entries = list(ops.audit.entries())
    assert [(e.purpose_id, e.subject_id, e.decision, e.role) for e in entries] == [
        ("care-gap-identification", None, "permit", "care-gap-analyst"),
        ("care-gap-identification", None, "deny", "teacher")]
