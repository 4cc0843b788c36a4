"""Every criterion's own fixtures (residents in, expected match out) pass through the compiled SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennakoiva.adapters.engine.criteria_fixtures import FixtureOutcome, run_fixtures
from ennakoiva.domain.criteria import load_criteria, load_criterion

LOADED = load_criteria()
OUTCOMES = run_fixtures(LOADED)


@pytest.mark.parametrize("criterion", [c.compiled.id for c in LOADED])
def test_every_active_criterion_carries_fixtures(criterion: str) -> None:
    spec = next(c.spec for c in LOADED if c.compiled.id == criterion)
    assert spec.status != "active" or spec.tests is not None, f"{criterion} has no tests: block"


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: f"{o.criterion_id}/{o.case}")
def test_fixture(outcome: FixtureOutcome) -> None:
    assert outcome.passed, outcome.describe()


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The runner can fail: flip one case's expectation and it reports the case by name."""
    src = next(c.path for c in LOADED if c.compiled.id == "htn-untreated").read_text(encoding="utf-8")
    flipped = src.replace("    - name: diagnosis older than five years\n      expect: no_hit",
                          "    - name: diagnosis older than five years\n      expect: hit", 1)
    assert flipped != src
    path = tmp_path / "htn-untreated.yaml"
    path.write_text(flipped, encoding="utf-8")
    failed = [o for o in run_fixtures([load_criterion(path)]) if not o.passed]
    assert [o.case for o in failed] == ["diagnosis older than five years"]
    assert "expected hit, got no_hit" in failed[0].describe()
