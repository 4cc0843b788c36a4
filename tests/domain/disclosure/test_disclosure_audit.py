"""Differencing: two releases of one table, and nested/overlapping geographies (§5.2, T5, T6), on
hand-made tables and on the real Paavo 2022 and 2023 releases."""

from __future__ import annotations

import json
from pathlib import Path

from ennakoiva.domain.disclosure import (
    TOTAL,
    FrequencyTable,
    LeakKind,
    audit_overlap,
    audit_release,
    check_protection,
    default_policy,
    protect,
    protect_nested,
)

POLICY = default_policy()
SHAPE = {"name": "t", "row_dimension": "area", "col_dimension": "group", "rows": ("A", "B", "C"), "cols": ("x", "y")}


def test_a_newcomer_shows_up_as_a_change_of_one() -> None:
    """T5: R2 = R1 + one person; deterministic suppression cannot hide a +1 in a published cell."""
    r1 = protect(FrequencyTable(**SHAPE, counts=((20, 30), (40, 50), (60, 70))), POLICY)
    r2 = protect(FrequencyTable(**SHAPE, counts=((20, 31), (40, 50), (60, 70))), POLICY)
    audit = audit_release(r1, r2, POLICY)
    small = {(leak.row, leak.col): leak.value for leak in audit.by_kind(LeakKind.SMALL_CHANGE)}
    assert small == {("A", "y"): 1, ("A", TOTAL): 1, (TOTAL, "y"): 1, (TOTAL, TOTAL): 1}
    assert not audit.ok


def test_identical_releases_leak_nothing() -> None:
    r = protect(FrequencyTable(**SHAPE, counts=((2, 30), (40, 50), (60, 70))), POLICY)
    assert audit_release(r, r, POLICY).ok


def test_a_suppressed_cell_recovered_from_an_earlier_release() -> None:
    """Last year's release hid the small cell without complements; this year's totals undo it."""
    old_practice = POLICY.model_copy(update={"secondary_suppression": False})
    true_now = FrequencyTable(**SHAPE, counts=((3, 30), (40, 50), (60, 70)))
    previous = protect(FrequencyTable(**SHAPE, counts=((8, 30), (40, 50), (60, 70))), POLICY)
    current = protect(true_now, old_practice)
    assert current.published("A", "x") is None
    recovered = audit_release(previous, current, POLICY).by_kind(LeakKind.RECOVERED)
    assert [(leak.row, leak.col, leak.value) for leak in recovered] == [("A", "x", 3)]


def test_consistently_protected_releases_recover_nothing() -> None:
    """Two bridge-free suppression patterns stay bridge-free together: no exact recovery."""
    previous = protect(FrequencyTable(**SHAPE, counts=((8, 3), (40, 50), (60, 70))), POLICY)
    current = protect(FrequencyTable(**SHAPE, counts=((3, 30), (40, 2), (60, 70))), POLICY)
    assert audit_release(previous, current, POLICY).by_kind(LeakKind.RECOVERED) == []


def test_nested_geographies_sliver_and_recovery() -> None:
    """T6: a district published beside its postal areas: the sliver 42 - 40 = 2 people is disclosed."""
    fine = FrequencyTable(name="postal", row_dimension="postal_area", col_dimension="g", rows=("p1", "p2", "p3", "p4"),
                          cols=("x", "y"), counts=((40, 60), (2, 30), (50, 50), (10, 20)))
    coarse = FrequencyTable(name="district", row_dimension="district", col_dimension="g", rows=("D1", "D2"),
                            cols=("x", "y"), counts=((42, 90), (60, 70)))
    groups = {"D1": ("p1", "p2"), "D2": ("p3", "p4")}
    fine_released, coarse_released = protect(fine, POLICY), protect(coarse, POLICY)
    assert check_protection(fine, fine_released, POLICY) == []
    audit = audit_overlap(fine_released, coarse_released, groups, POLICY)
    slivers = {(leak.row, leak.col, leak.value) for leak in audit.by_kind(LeakKind.SLIVER)}
    assert ("district:D1 - postal:p1", "x", 2) in slivers
    recovered = {(leak.table, leak.row, leak.col, leak.value) for leak in audit.by_kind(LeakKind.RECOVERED)}
    assert ("postal", "p2", "x", 2) in recovered  # the suppressed cell itself: D1 - p1
    assert all(fine.value(r, c) == v for t, r, c, v in recovered if t == "postal")


def test_paavo_age_by_postal_area_passes(paavo_2022: FrequencyTable, paavo_2023: FrequencyTable) -> None:
    """Helsinki, 84 postal areas x 20 age bands: nothing below 5 published, nothing recomputable."""
    for t in (paavo_2022, paavo_2023):
        assert len(t.rows) == 84
        released = protect(t, POLICY)
        assert check_protection(t, released, POLICY) == []
        for cell in released.cells:
            if cell.published is not None:
                assert cell.published == 0 or cell.published >= POLICY.threshold
        assert released.suppressed()  # the real data does have small cells and small areas


def test_paavo_2022_to_2023_differencing(paavo_2022: FrequencyTable, paavo_2023: FrequencyTable) -> None:
    """T5 on the shipped releases: what public data already allows. Every leak is true arithmetic."""
    r22, r23 = protect(paavo_2022, POLICY), protect(paavo_2023, POLICY)
    audit = audit_release(r22, r23, POLICY)
    assert audit.by_kind(LeakKind.RECOVERED) == []  # both protected the same way: no exact recovery
    small = audit.by_kind(LeakKind.SMALL_CHANGE)
    assert small  # net changes of 1-4 people between years are visible in published cells
    for leak in small:
        if r22.published(leak.row, leak.col) is not None:
            assert paavo_2023.value(leak.row, leak.col) - paavo_2022.value(leak.row, leak.col) == leak.value


def _coarser(t: FrequencyTable) -> tuple[FrequencyTable, dict[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for area in t.rows:
        groups.setdefault(area[:3], []).append(area)  # 001.., 002.., …: 9 coarser areas
    index = {a: i for i, a in enumerate(t.rows)}
    coarse = FrequencyTable(
        name=f"{t.name}_coarse", row_dimension="area", col_dimension="age_band", rows=tuple(groups),
        cols=t.cols, area_axis="rows",
        counts=tuple(tuple(sum(t.counts[index[a]][j] for a in members) for j in range(len(t.cols)))
                     for members in groups.values()),
    )
    return coarse, groups


def test_paavo_postal_areas_beside_coarser_areas(paavo_2023: FrequencyTable) -> None:
    """T6 / [D9] on real data: each table protected on its own, published together, leaks every
    suppressed postal-area cell; protecting them together leaks none."""
    coarse, groups = _coarser(paavo_2023)
    fine_alone = protect(paavo_2023, POLICY)
    audit = audit_overlap(fine_alone, protect(coarse, POLICY), groups, POLICY)
    recovered = audit.by_kind(LeakKind.RECOVERED)
    assert {(leak.row, leak.col) for leak in recovered} == set(fine_alone.suppressed())
    assert all(paavo_2023.value(leak.row, leak.col) == leak.value for leak in recovered)

    fine_r, coarse_r, joint = protect_nested(paavo_2023, coarse, groups, POLICY)
    assert joint.by_kind(LeakKind.RECOVERED) == []
    assert check_protection(paavo_2023, fine_r, POLICY) == []
    assert check_protection(coarse, coarse_r, POLICY) == []
    assert all(0 < leak.value < POLICY.threshold for leak in joint.by_kind(LeakKind.SLIVER))


def test_nested_protection_on_the_hand_made_districts() -> None:
    fine = FrequencyTable(name="postal", row_dimension="postal_area", col_dimension="g",
                          rows=("p1", "p2", "p3", "p4"), cols=("x", "y"),
                          counts=((40, 60), (2, 30), (50, 50), (10, 20)))
    coarse = FrequencyTable(name="district", row_dimension="district", col_dimension="g", rows=("D1", "D2"),
                            cols=("x", "y"), counts=((42, 90), (60, 70)))
    _, coarse_r, audit = protect_nested(fine, coarse, {"D1": ("p1", "p2"), "D2": ("p3", "p4")}, POLICY)
    assert audit.by_kind(LeakKind.RECOVERED) == []
    assert coarse_r.published("D1", "x") is None


def test_statfin_14jt_small_municipalities_would_be_protected() -> None:
    """StatFin 14jt (2024) publishes 1-4 foreign-language children in ECEC for small municipalities;
    under the default policy those cells, and what would give them away, are suppressed."""
    path = Path(__file__).resolve().parents[3] / "data" / "external" / "helsinki" / "statfin_14jt" / "14jt.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    areas = doc["dimension"]["alue_23_20240101"]["category"]
    order = sorted(areas["index"], key=areas["index"].__getitem__)
    values = doc["value"]
    counts = {code: (values[2 * i], values[2 * i + 1]) for i, code in enumerate(order)}
    municipalities = [c for c in order if c != "SSS" and None not in counts[c]]
    t = FrequencyTable(
        name="statfin_14jt_2024", row_dimension="municipality", col_dimension="language",
        rows=tuple(areas["label"][c] for c in municipalities), cols=("foreign_language", "other"),
        counts=tuple((counts[c][1], counts[c][0] - counts[c][1]) for c in municipalities),
    )
    assert t.value("Helsinki", "foreign_language") == 7313
    assert t.value("Helsinki", TOTAL) == 30870
    released = protect(t, POLICY)
    assert check_protection(t, released, POLICY) == []
    small = [r for r in t.rows if 0 < t.value(r, "foreign_language") < POLICY.threshold]
    assert len(small) == 82  # reference §5.1: 82 municipalities publish 1-4
    assert all(released.published(r, "foreign_language") is None for r in small)
    assert released.published("Helsinki", "foreign_language") == 7313
