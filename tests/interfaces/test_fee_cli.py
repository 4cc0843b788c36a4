"""``ennakoiva fee`` as a family or a fee officer uses it: the reference's worked examples, to the euro.

The expected figures are fees.md §5's worked examples and §2.1's published amounts, typed here from
the reference (not read from the catalogue), so a wrong parameter file fails these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import today
from ennakoiva.domain.consent.records import Party
from ennakoiva.interfaces.cli import fee_commands
from ennakoiva.interfaces.cli.main import app
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

FEE = "daycare-fee-income-check"
WORKED = "2025-03-01"  # fees.md §5: rules of 1.8.2024 – 31.7.2026


def fee(*args: str, env: dict[str, str] | None = None) -> Result:
    # the module's Rich console fixed its width when first imported, whatever COLUMNS says now
    fee_commands.console.width = 160
    return CliRunner().invoke(app, ["fee", *args], env={"COLUMNS": "160", **(env or {})})


def fee_json(*args: str) -> dict[str, Any]:
    result = fee(*args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize(("args", "fees", "total"), [
    # §5 #1: size 3, 6 000 €, > 7 h/day: (6 000 − 5 245) × 0.107 = 80.785 → 81
    (("--family-size", "3", "--income", "6000", "--children", "1"), [81], 81),
    # §5 #2: size 4, 9 000 €, two full-time: capped 311; older 0.40 × 311 = 124.4 → 124
    (("--family-size", "4", "--income", "9000", "--children", "2"), [311, 124], 435),
    # §5 #3: single parent, 5 000 €, 5–7 h/day: 100 × 80 % = 80; ≤ 5 h/day: 60
    (("--family-size", "2", "--income", "5000", "--children", "1", "--hours-per-day", "6"), [80], 80),
    (("--family-size", "2", "--income", "5000", "--children", "1", "--hours-per-day", "5"), [60], 60),
    # §5 #4a: size 2, 4 300 €: 25 < 30 → 0; #4b: size 3, 5 700 €, ≤ 5 h: 49 × 60 % = 29.4 → 29 < 30 → 0
    (("--family-size", "2", "--income", "4300", "--children", "1"), [0], 0),
    (("--family-size", "3", "--income", "5700", "--children", "1", "--hours-per-day", "4.5"), [0], 0),
    # §5 #4c: size 5, 8 000 €, three full-time: 143, 57, 28.6 → 29 < 30 → 0
    (("--family-size", "5", "--income", "8000", "--children", "3"), [143, 57, 0], 200),
])
def test_worked_examples_to_the_euro(args: tuple[str, ...], fees: list[int], total: int) -> None:
    out = fee_json(*args, "--on", WORKED)
    assert out["children"] == [{"order": i, "fee": f} for i, f in enumerate(fees, start=1)]
    assert out["total"] == total
    assert out["parameters_valid_from"] == "2024-08-01"


def test_date_boundary_examples() -> None:
    # §5 #5: the example 1 family the month before 1.8.2024 (limit 4 998): 107.214 → 107
    assert fee_json("--family-size", "3", "--income", "6000", "--children", "1", "--on", "2024-07-01")["total"] == 107
    # §5 #6: income not reported, two children, from 1.8.2026: 335 + 134
    out = fee_json("--family-size", "4", "--children", "2", "--on", "2026-09-01")
    assert [c["fee"] for c in out["children"]] == [335, 134]
    assert out["parameters_valid_from"] == "2026-08-01"
    assert out["trace"]["income_basis"] == "income_not_reported"


def test_income_after_the_gap_is_refused_naming_the_parameter_and_date() -> None:
    # §5 #7 / §2.3: the income limits of OKM 1028/2025 are not captured — fail loudly, never fall back
    result = fee("--family-size", "3", "--income", "6000", "--children", "1", "--on", "2026-08-01")
    assert result.exit_code == 2
    assert "income_limits" in result.stderr and "2026-08-01" in result.stderr
    assert "the last date with a value is 2026-07-31" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_on_defaults_to_today_in_helsinki() -> None:
    on = today()
    result = fee("--family-size", "3", "--income", "6000", "--children", "1", "--json")
    if on >= date(2026, 8, 1):  # the default date itself has no income limits: refused for that date
        assert result.exit_code == 2 and f"for {on.isoformat()}" in result.stderr
    else:
        assert json.loads(result.stdout)["trace"]["on"] == on.isoformat()
    assert fee_json("--family-size", "3", "--children", "1")["trace"]["on"] == on.isoformat()


def test_missing_income_or_the_familys_choice_gives_the_maximum_fee() -> None:
    missing = fee_json("--family-size", "4", "--children", "2", "--on", WORKED)
    assert [c["fee"] for c in missing["children"]] == [311, 124]  # §2.1: 311, ≤ 124
    chosen = fee_json("--family-size", "3", "--income", "4000", "--children", "1", "--max-fee", "--on", WORKED)
    assert chosen["total"] == 311
    assert chosen["trace"]["income_basis"] == "maximum_fee_accepted"


def test_hours_per_day_per_child_youngest_first() -> None:
    # size 5, 9 000 €: full-time (9 000 − 6 667) × 0.107 = 249.631 → 250; youngest 8 h → 250;
    # second 0.4 × 250 = 100 at 6 h (80 %) → 80; third 0.2 × 250 = 50 at 5 h (60 %) → 30 (not below 30)
    out = fee_json("--family-size", "5", "--income", "9000", "--children", "3", "--hours-per-day", "8",
                   "--hours-per-day", "6", "--hours-per-day", "5", "--on", WORKED)
    assert [c["fee"] for c in out["children"]] == [250, 80, 30]
    assert [c["hours_per_day"] for c in out["trace"]["children"]] == ["8.0", "6.0", "5.0"]
    once = fee_json("--family-size", "5", "--income", "9000", "--children", "3", "--hours-per-day", "6",
                    "--on", WORKED)
    assert [c["fee"] for c in once["children"]] == [200, 80, 40]  # 250, 100, 50 all at 80 %


def test_trace_names_every_parameter_with_its_reference() -> None:
    trace = fee_json("--family-size", "3", "--income", "6000", "--children", "1", "--on", WORKED)["trace"]
    params = {p["name"]: p for p in trace["parameters"]}
    assert {"income_limits", "percentage", "max_fee", "min_fee", "hour_tiers"} <= set(params)
    assert "3: 5245" in params["income_limits"]["value"]
    assert params["income_limits"]["reference"] == "OKM ilmoitus 1062/2023"
    assert params["income_limits"]["valid_from"] == "2024-08-01"
    assert all(p["reference"] for p in trace["parameters"])
    assert any("80.785" in s["text"] for s in trace["steps"])


def test_readable_tables_without_json() -> None:
    result = fee("--family-size", "4", "--income", "9000", "--children", "2", "--on", WORKED)
    assert result.exit_code == 0, result.output
    for text in ("order (1 = youngest)", "435", "Parameters used", "OKM ilmoitus 1062/2023", "How the fee was"):
        assert text in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--family-size", "3", "--income", "6000", "--children", "2", "--hours-per-day", "8", "--hours-per-day", "5",
      "--hours-per-day", "5"), "give it once (every child) or 2 times"),
    (("--family-size", "2", "--income", "6000", "--children", "2"), "cannot hold 2 child(ren) and an adult"),
    (("--family-size", "3", "--income", "lots", "--children", "1"), "--income must be euros per month"),
    (("--family-size", "3", "--income", "-5", "--children", "1"), "zero or more"),
    (("--family-size", "3", "--children", "1", "--on", "1.8.2026"), "--on must be a date"),
    (("--income", "6000",), "give --family-size and --children"),
    (("--family-size", "3", "--income", "6000", "--children", "1", "--on", "2022-12-31"), "no value before"),
])
def test_bad_input_gets_one_clear_line(args: tuple[str, ...], message: str) -> None:
    result = fee(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- the consented proposal through the CLI ---------------------------------------------------------------


@pytest.fixture
def store_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {"ENNAKOIVA_DB_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
           "ENNAKOIVA_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
           "ENNAKOIVA_AUDIT_CHECKPOINT_FILE": str(tmp_path / "checkpoints.jsonl")}


def test_propose_without_and_with_consent(small_city: Any, store_env: dict[str, str]) -> None:
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        child, g1, g2 = engine.sql(
            "SELECT r.related_person_id, min(r.person_id), max(r.person_id) FROM family_relation r "
            "JOIN person c ON c.person_id = r.related_person_id JOIN person g ON g.person_id = r.person_id "
            "WHERE r.relation = 'guardian_of' AND c.birth_date BETWEEN DATE '2022-01-01' AND DATE '2024-12-31' "
            "AND g.household_id = c.household_id GROUP BY 1 HAVING count(*) = 2 ORDER BY 1 LIMIT 1"
        ).to_pylist()[0].values()
    db = str(small_city.db)
    refused = fee("propose", "--db", db, "--guardian", str(g1), "--on", "2026-07-01", "--json", env=store_env)
    assert refused.exit_code == 0, refused.output
    out = json.loads(refused.stdout)
    assert out["status"] == "no_consent" and out["children"] == []
    assert out["alternative_route"]["maximum_fee"] == {"youngest": 311, "second": 124, "further": 62,
                                                       "parameters_valid_from": "2024-08-01"}
    assert out["access_decisions"] == [{"subject_id": g1, "role": "guardian", "outcome": "deny",
                                        "reason": "no_consent", "categories": ["income"]}]

    settings = Settings(db_url=store_env["ENNAKOIVA_DB_URL"],
                        audit_key_file=Path(store_env["ENNAKOIVA_AUDIT_KEY_FILE"]),
                        audit_checkpoint_file=Path(store_env["ENNAKOIVA_AUDIT_CHECKPOINT_FILE"]))
    with open_operational(settings) as ops:
        for g in (g1, g2):
            ops.consents.give(FEE, child, Party(person_id=g, role="guardian", auth_method="suomi.fi-strong"),
                              language="fi", required_parties=(g1, g2), covered_subjects=(g1, g2))
    gap = fee("propose", "--db", db, "--guardian", str(g2), "--on", "2026-09-01", env=store_env)
    # consented, but the 1.8.2026 income limits are unknown: refused loudly, before anything is read
    assert gap.exit_code == 2 and "'income_limits' for 2026-09-01" in gap.stderr
    proposed = fee("propose", "--db", db, "--guardian", str(g2), "--on", "2026-07-01", "--json", env=store_env)
    assert proposed.exit_code == 0, proposed.output
    out = json.loads(proposed.stdout)
    assert out["status"] == "proposed"
    assert [c["person_id"] for c in out["children"]] == [child]
    assert out["income_basis"] == "income" and out["placement"]["proposed"] is not None
    assert Decimal(out["counted_income"]) >= 0
    shown = fee("propose", "--db", db, "--guardian", str(g2), "--on", "2026-07-01", env=store_env)
    assert shown.exit_code == 0, shown.output
    assert "Proposed daycare place" in shown.stdout and "Access decisions" in shown.stdout
    audit = CliRunner().invoke(app, ["audit", "show", "--subject", str(g2), "--json"], env=store_env)
    entries = json.loads(audit.stdout)
    assert [(e["purpose_id"], e["decision"]) for e in entries] == [(FEE, "permit"), (FEE, "permit")]
    third = fee("propose", "--db", db, "--guardian", str(g1), "--on", "2026-07-01", "--json", env=store_env)
    # the purpose allows two checks a year: the third is refused at the gate
    assert json.loads(third.stdout)["access_decisions"][0]["reason"] == "use_limit_reached"


def test_propose_without_consent_offers_the_new_maximum_after_the_gap(small_city: Any,
                                                                       store_env: dict[str, str]) -> None:
    # no consent: no income is needed, so the 1.8.2026 maximum (335 €, OKM 1028/2025) is offered
    result = fee("propose", "--db", str(small_city.db), "--guardian", "5", "--on", "2026-09-01", env=store_env)
    assert result.exit_code == 0, result.output
    assert "alternative route" in result.stdout and "335 € (youngest), 134 € (second)" in result.stdout
