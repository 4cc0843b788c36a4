"""Property tests: whatever the microdata and the drill-down, what is released is safe (T2, T3, T4)."""

from __future__ import annotations

import itertools
from datetime import date

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ennakoiva.adapters.reports.drilldown import Drilldown, build_table, protect_groups
from ennakoiva.adapters.reports.spec import file_spec
from ennakoiva.domain.disclosure import TOTAL, CellStatus, DisclosurePolicy, default_policy, exposed_cells
from ennakoiva.domain.disclosure.linear import determined

ON = date(2026, 11, 1)
COLUMNS = ["area", "sex", "lang", "flag"]
SPEC = file_spec("t", COLUMNS, by=["area"], measure="flag", areas={"area": "district"})


@st.composite
def groups(draw: st.DrawFn) -> tuple[list[str], bool, pa.Table, int]:
    """A random aggregate result: 1–3 dimensions, small and large counts, with or without a measure."""
    by = draw(st.sampled_from([["area"], ["sex"], ["area", "sex"], ["sex", "lang"], ["area", "sex", "lang"]]))
    measure = draw(st.booleans())
    levels = {"area": ["101", "102", "103", "104"][: draw(st.integers(2, 4))], "sex": ["F", "M"],
              "lang": ["fi", "sv", "other"][: draw(st.integers(2, 3))]}
    rows: dict[str, list[object]] = {f"g{i}": [] for i in range(len(by))}
    rows |= {"units": [], "denominator": [], "numerator": []}
    small = st.integers(0, 12)
    for combo in itertools.product(*(levels[d] for d in by)):
        units = draw(st.one_of(small, st.integers(0, 400)))
        if units == 0:
            continue
        den = units if not measure else draw(st.integers(0, units))
        num = draw(st.integers(0, den)) if measure else den
        for i, v in enumerate(combo):
            rows[f"g{i}"].append(v)
        rows["units"].append(units)
        rows["denominator"].append(den)
        rows["numerator"].append(num)
    threshold = draw(st.integers(3, 10))
    return by, measure, pa.table(rows), threshold


def _policy(threshold: int, floor: int | None = 100) -> DisclosurePolicy:
    return DisclosurePolicy.model_validate({**default_policy().model_dump(), "threshold": threshold,
                                            "area_floor": floor})


def _release(by: list[str], measure: bool, result: pa.Table, policy: DisclosurePolicy) -> Drilldown | None:
    if result.num_rows == 0 or not sum(result.column("denominator").to_pylist()):
        return None
    return protect_groups(result, SPEC, by, "flag" if measure else None, policy, ON)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups())
def test_no_released_count_is_a_small_cell(case: tuple[list[str], bool, pa.Table, int]) -> None:
    by, measure, result, k = case
    dd = _release(by, measure, result, _policy(k))
    if dd is None:
        return
    for cell in dd.table.cells:  # every number of the table, margins and complements included
        assert cell.published is None or cell.published == 0 or cell.published >= k
    for row in dd.rows:  # T4: a share only beside a published count and a published denominator
        assert row.share is None or (row.count is not None and row.denominator is not None)
        assert row.count is None or row.count == 0 or row.count >= k
        assert row.denominator is None or row.denominator == 0 or row.denominator >= k


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups())
def test_no_suppressed_cell_is_recoverable_from_the_margins(case: tuple[list[str], bool, pa.Table, int]) -> None:
    by, measure, result, k = case
    policy = _policy(k)
    dd = _release(by, measure, result, policy)
    if dd is None:
        return
    table = build_table(result, SPEC, by, "flag" if measure else None, policy).table
    suppressed = set(dd.table.suppressed())
    assert exposed_cells(table, suppressed) == []  # exact, with non-negativity
    # Independently: an attacker solving the published line equations over the reals pins down nothing.
    known = {(c.row, c.col): c.published for c in dd.table.cells if c.published is not None}
    equations = []
    for line in table.lines():
        coeffs: dict[tuple[str, str], int] = {}
        rhs = 0
        for cell in line:
            a = -1 if cell == line[-1] else 1
            if cell in known:
                rhs -= a * known[cell]  # type: ignore[operator]
            else:
                coeffs[cell] = coeffs.get(cell, 0) + a
        equations.append((coeffs, rhs))
    solved = determined(equations)
    primary = set(dd.table.suppressed(CellStatus.PRIMARY))
    assert not (set(solved) & primary)
    # and no line holds exactly one suppressed cell
    for line in table.lines():
        assert sum(cell in suppressed for cell in line) != 1


@settings(max_examples=60, deadline=None)
@given(groups())
def test_areas_under_the_floor_are_never_shown(case: tuple[list[str], bool, pa.Table, int]) -> None:
    by, measure, result, k = case
    if "area" not in by:
        return
    dd = _release(by, measure, result, _policy(k, floor=150))
    if dd is None:
        return
    d = result.to_pydict()
    i = by.index("area")
    pop: dict[str, int] = {}
    for area, units in zip(d[f"g{i}"], d["units"], strict=True):
        pop[area] = pop.get(area, 0) + units  # type: ignore[index]
    small = {a for a, n in pop.items() if n < 150}
    for row in dd.rows:
        if row.labels.get("area") in small:
            assert row.count is None and row.share is None


def test_a_small_complement_is_protected_too() -> None:
    """'All but two are employed' discloses the two: the rest column is a cell like any other."""
    result = pa.table({"g0": ["101", "102", "103"], "units": [200, 300, 400], "denominator": [200, 300, 400],
                       "numerator": [198, 150, 220]})
    dd = protect_groups(result, SPEC, ["area"], "flag", _policy(5), ON)
    row = next(r for r in dd.rows if r.labels["area"] == "101")
    assert (row.count is None or row.denominator is None) and row.share is None
    assert dd.total().labels == {"area": TOTAL}
