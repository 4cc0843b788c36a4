"""Outreach lists carry each person's further actions (``action.extra``) from the compiled criteria."""

from __future__ import annotations

from typing import Any

from ennakoiva.adapters.engine.criteria_outreach import OUTREACH_COLUMNS, outreach_lists
from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria
from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.criteria import load_criteria


def test_extra_actions_are_the_persons_criteria_extras(small_city: Any) -> None:
    compiled = [c.compiled for c in load_criteria() if c.spec.status == "active"]
    extras = {c.id: set(c.extras) for c in compiled}
    assert any(extras.values()), "some criterion offers a further action"
    on = small_city.result.as_of
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        gaps = evaluate_criteria(engine, compiled, on)
        rows = outreach_lists(engine, gaps, on, compiled).to_pylist()
        bare = outreach_lists(engine, gaps, on).to_pylist()
    assert tuple(rows[0]) == OUTREACH_COLUMNS
    expected: dict[int, set[str]] = {}
    for g in gaps.to_pylist():
        expected.setdefault(g["person_id"], set()).update(extras[g["criterion_id"]])
    got = {r["person_id"]: r["extra_actions"] for r in rows}
    assert got == {p: ",".join(sorted(x)) for p, x in expected.items()}
    assert any(got.values()), "the small city has a person with a further action"
    assert all(r["extra_actions"] == "" for r in bare)
    assert [{k: v for k, v in r.items() if k != "extra_actions"} for r in rows] == [
        {k: v for k, v in r.items() if k != "extra_actions"} for r in bare]
