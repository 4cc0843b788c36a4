"""``gap_closed_when``: the rule that takes a person off the list, kept apart from the finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennakoiva.domain.criteria import CRITERIA_DIR, load_criterion
from ennakoiva.domain.criteria.tree import AllOf, AnyValue, Named, NoneOf
from ennakoiva.domain.yaml_source import CatalogueError

FOLLOWUP = (CRITERIA_DIR / "htn-no-bp-followup.yaml").read_text(encoding="utf-8")


def test_closed_when_compiles_to_a_named_exclusion_and_is_evidence() -> None:
    c = load_criterion(CRITERIA_DIR / "htn-no-bp-followup.yaml").compiled
    assert isinstance(c.condition, AllOf)
    finding, closed = c.condition.children
    assert isinstance(finding, Named) and finding.name == "htn"
    assert isinstance(closed, NoneOf)
    (rule,) = closed.children
    assert isinstance(rule, Named) and rule.name == "gap_closed_when"
    assert isinstance(rule.node, Named) and isinstance(rule.node.node, AnyValue)
    assert [e.name for e in c.evidence][-1] == "gap_closed_when"


def test_a_bad_closed_when_names_its_line(tmp_path: Path) -> None:
    text = FOLLOWUP.replace("gap_closed_when: {use: bp_checked}", "gap_closed_when: {use: bp_done}")
    path = tmp_path / "htn-no-bp-followup.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        load_criterion(path)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("gap_closed_when"))
    assert f":{line}" in str(exc.value) and "bp_done" in str(exc.value)
