"""Primary and secondary suppression against the attacks of analytics.md §5.2 (T2, T3)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import pytest

from ennakoiva.domain.disclosure import (
    TOTAL,
    CellStatus,
    DisclosurePolicy,
    FrequencyTable,
    ProtectedTable,
    SuppressionReason,
    check_protection,
    default_policy,
    exposed_cells,
    load_policy,
    protect,
)
from ennakoiva.domain.disclosure.linear import determined
from ennakoiva.domain.yaml_source import CatalogueError

POLICY = default_policy()
ZEROS = POLICY.model_copy(update={"id": "zeros", "suppress_zeros": True})


def table(counts: list[list[int]], area_axis: Literal["rows", "cols"] | None = None) -> FrequencyTable:
    rows = tuple(f"r{i}" for i in range(len(counts)))
    cols = tuple(f"c{j}" for j in range(len(counts[0])))
    return FrequencyTable(name="t", row_dimension="r", col_dimension="c", rows=rows, cols=cols,
                          counts=tuple(tuple(r) for r in counts), area_axis=area_axis)


# -- brute-force attacker -------------------------------------------------------------------------

def feasible_values(t: FrequencyTable, released: ProtectedTable, window: int = 2) -> dict[tuple[str, str], set[int]]:
    """Values each suppressed cell takes over the non-negative integer tables matching the release.

    Enumerates the suppressed interior cells depth first, each within ``window`` of its true value
    (searching less can only miss alternatives, so the check stays sound for "not determined"); a
    published total fixes the last unknown of its line and bounds the others. Stops once every
    suppressed cell has shown two values, which is all the assertion needs.
    """
    pub = {(c.row, c.col): c.published for c in released.cells}
    unknown = [(r, c) for r in t.rows for c in t.cols if pub[(r, c)] is None]
    suppressed = [k for k, v in pub.items() if v is None]
    current: dict[tuple[str, str], int] = {(r, c): v for r in t.rows for c in t.cols if (v := pub[(r, c)]) is not None}

    def members(cell: tuple[str, str]) -> list[tuple[str, str]]:
        rows = t.rows if cell[0] == TOTAL else (cell[0],)
        cols = t.cols if cell[1] == TOTAL else (cell[1],)
        return [(r, c) for r in rows for c in cols]

    margins = [(m, members(m), v) for m, v in pub.items() if v is not None and TOTAL in m]
    position = {cell: i for i, cell in enumerate(unknown)}
    last = [max((position[c] for c in cells if c in position), default=-1) for _, cells, _ in margins]
    containing = {cell: [j for j, (_, cells, _) in enumerate(margins) if cell in cells] for cell in unknown}
    seen: dict[tuple[str, str], set[int]] = {k: set() for k in suppressed}

    def done() -> bool:
        return all(len(s) >= 2 for s in seen.values())

    def dfs(i: int) -> None:
        if i == len(unknown):
            for cell in suppressed:
                seen[cell].add(sum(current[c] for c in members(cell)))
            return
        cell = unknown[i]
        truth = t.value(*cell)
        low, high, forced = max(0, truth - window), truth + window, set()
        for j in containing[cell]:
            _, cells, total = margins[j]
            slack = total - sum(current.get(c, 0) for c in cells if c != cell)
            high = min(high, slack)
            if last[j] == i:
                forced.add(slack)
        choices = sorted(forced) if forced else sorted(range(low, high + 1), key=lambda v: abs(v - truth))
        if len(forced) > 1:
            return
        for v in choices:
            if v < low or v > high:
                continue
            current[cell] = v
            dfs(i + 1)
            del current[cell]
            if done():
                return

    dfs(0)
    return seen


def assert_protected(t: FrequencyTable, released: ProtectedTable, policy: DisclosurePolicy) -> None:
    assert check_protection(t, released, policy) == []
    for cell in released.cells:
        if cell.published is not None:
            v = t.value(cell.row, cell.col)
            assert v == 0 or v >= policy.threshold, cell
    # the brute-force attacker: no suppressed cell has a single possible value
    for cell, values in feasible_values(t, released).items():
        assert len(values) >= 2, f"{cell} recoverable as {values}"


# -- policy -----------------------------------------------------------------------------------------

def test_default_policy_states_its_sources_and_floor() -> None:
    assert POLICY.threshold == 5 and POLICY.secondary_suppression and POLICY.area_floor == 100
    assert any("[D1]" in s for s in POLICY.sources) and any("[D5]" in s for s in POLICY.sources)
    assert POLICY.dominance is None


def test_policy_file_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "lax.yaml"
    bad.write_text("id: lax\nversion: 1\nsources: [x]\nthreshold: 2\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"lax.yaml:4"):
        load_policy(bad)
    bad.write_text("id: lax\nversion: 1\nsources: [x]\nthreshhold: 5\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"lax.yaml:4"):
        load_policy(bad)


# -- attacks ----------------------------------------------------------------------------------------

def test_small_cells_are_never_published() -> None:
    t = table([[3, 7, 40], [1, 25, 30], [12, 18, 9]])
    released = protect(t, POLICY)
    assert released.cell("r0", "c0").reason is SuppressionReason.BELOW_THRESHOLD
    assert released.cell("r1", "c0").reason is SuppressionReason.BELOW_THRESHOLD
    assert_protected(t, released, POLICY)


def test_margin_attack_on_a_lone_suppressed_cell() -> None:
    """§5.2 [D16]: 3 males, 7 females and a published total — hiding the 3 alone does not protect it."""
    t = table([[3, 7], [20, 25]])
    naive = {("r0", "c0")}
    assert exposed_cells(t, naive) == [("r0", "c0")]  # 10 - 7 = 3
    released = protect(t, POLICY)
    assert released.cell("r0", "c0").status is CellStatus.PRIMARY
    assert set(released.suppressed(CellStatus.SECONDARY)) == {("r0", "c1"), ("r1", "c0"), ("r1", "c1")}
    assert released.published("r0", TOTAL) == 10  # totals stay published
    assert_protected(t, released, POLICY)


def test_two_suppressed_cells_per_line_is_not_enough() -> None:
    """Two protected blocks joined by one cell: every line has two suppressions, yet the joint is exact."""
    t = table([[10, 11, 12, 13], [14, 15, 16, 17], [18, 19, 20, 21], [22, 23, 24, 25]])
    pattern = {("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1"),
               ("r2", "c2"), ("r2", "c3"), ("r3", "c2"), ("r3", "c3"), ("r0", "c2")}
    assert exposed_cells(t, pattern) == [("r0", "c2")]


def test_zero_cells_and_group_disclosure() -> None:
    """All 7 people of r0 are in c2: with zeros suppressed, the zeros must not be recoverable either."""
    t = table([[0, 0, 7], [9, 6, 8], [11, 10, 5]])
    naive = {("r0", "c0"), ("r0", "c1")}
    assert exposed_cells(t, naive) == [("r0", "c0"), ("r0", "c1")]  # two zeros summing to 0 are both 0
    released = protect(t, ZEROS)
    assert released.cell("r0", "c0").reason is SuppressionReason.ZERO
    assert released.published("r0", "c2") is None
    assert_protected(t, released, ZEROS)


def test_small_line_total_suppresses_the_whole_line() -> None:
    t = table([[1, 0, 3], [9, 6, 8], [11, 10, 5]])
    released = protect(t, POLICY)
    assert all(released.published("r0", c) is None for c in (*t.cols, TOTAL))
    assert released.cell("r0", "c1").reason is SuppressionReason.SMALL_LINE_TOTAL
    assert_protected(t, released, POLICY)


def test_area_floor_hides_small_areas() -> None:
    t = table([[40, 45, 10], [400, 300, 200], [300, 300, 300]], area_axis="rows")
    released = protect(t, POLICY)
    assert released.cell("r0", TOTAL).reason is SuppressionReason.AREA_FLOOR
    assert all(released.published("r0", c) is None for c in t.cols)
    assert_protected(t, released, POLICY)


def test_one_dimensional_table() -> None:
    t = FrequencyTable(name="t", row_dimension="age", rows=("0-19", "20-64", "65-"), counts=((2,), (40,), (9,)))
    released = protect(t, POLICY)
    assert released.suppressed() == [("0-19", "count"), ("65-", "count")]
    assert released.published(TOTAL, "count") == 51
    assert_protected(t, released, POLICY)


def test_a_single_cell_table_is_suppressed_without_complements() -> None:
    t = FrequencyTable(name="t", row_dimension="all", rows=("all",), counts=((3,),))
    released = protect(t, POLICY)
    assert released.suppressed() == [("all", "count")]
    assert check_protection(t, released, POLICY) == []


def test_rounding_publishes_multiples_of_the_base() -> None:
    policy = POLICY.model_copy(update={"rounding_base": 5})
    released = protect(table([[3, 7, 40], [11, 25, 32]]), policy)
    assert all(c.published % 5 == 0 for c in released.cells if c.published is not None)
    assert released.published("r1", "c2") == 30  # 32 to the nearest 5


def test_the_brute_force_attacker_breaks_primary_only_suppression() -> None:
    """The verifier is not vacuous: without secondary suppression it recovers the hidden cell."""
    t = table([[3, 7], [20, 25]])
    naive = protect(t, POLICY.model_copy(update={"secondary_suppression": False}))
    assert feasible_values(t, naive) == {("r0", "c0"): {3}}


def test_protection_is_deterministic() -> None:
    t = table([[3, 3, 3, 3], [3, 3, 3, 3], [9, 9, 9, 9]])
    assert protect(t, POLICY) == protect(t, POLICY)


@pytest.mark.parametrize("policy", [POLICY, ZEROS], ids=["default", "zeros"])
def test_random_small_tables_resist_the_brute_force_attacker(policy: DisclosurePolicy) -> None:
    rng = random.Random(20261122)
    for _ in range(300):
        shape = rng.choice([(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 4), (4, 1), (1, 4)])
        counts = [[rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 12, 20]) for _ in range(shape[1])] for _ in range(shape[0])]
        t = table(counts)
        released = protect(t, policy)
        assert_protected(t, released, policy)
        # a weaker (real-valued, linear) attacker finds nothing either
        pub = {(c.row, c.col): c.published for c in released.cells}
        eqs = []
        for line in t.lines():
            coeffs: dict[tuple[str, str], int] = {}
            rhs = 0
            for cell in line:
                a = -1 if cell == line[-1] else 1
                if (v := pub[cell]) is None:
                    coeffs[cell] = a
                else:
                    rhs -= a * v
            eqs.append((coeffs, rhs))
        assert determined(eqs) == {}
