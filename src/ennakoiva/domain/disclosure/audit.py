"""Differencing audits: what an attacker learns by combining releases or overlapping tables.

``audit_release`` compares two releases of the same table (e.g. Paavo 2022 and 2023). The change
table ``current - previous`` obeys the same additive lines, so a change is known wherever both
releases publish the cell, and every other change is solved from the lines exactly. It reports

- ``recovered``: a cell suppressed in one release whose value follows from the other release plus
  the solved change (suppression undone by differencing);
- ``small_change``: a published or solved change with ``0 < |d| < threshold`` — for populations
  that only grow (cumulative counts, a newcomer added), that is a group of fewer than ``threshold``
  people singled out [§5.2, T5].

``audit_overlap`` combines a fine table (postal areas) with a coarse one (districts = unions of
postal areas): suppressed cells recomputable from the combined system are ``recovered``; a
difference of two published cells whose areas are nested (a *sliver*) with ``0 < d < threshold``
is a ``sliver`` leak [T6].

Why consistent protection recovers nothing exactly across releases: a change is solvable only if
its cell is a bridge in the graph of cells suppressed in either release; ``protect`` leaves no
bridge in either pattern, and the union of two bridge-free graphs is bridge-free. What remains is
the published change itself (``small_change``), which deterministic suppression cannot hide
(analytics.md T5: the case for cell key perturbation). Across *different* tables (overlapping
geographies) the argument fails, hence ``protect_nested``.

The audit's attacker solves the linear system over the reals (no non-negativity); ``protect``'s
own check also uses non-negativity, but only within one table.

Published numbers are taken as exact; with a rounding base above 1 the audit is an over-estimate.

>>> from ennakoiva.domain.disclosure.policy import default_policy
>>> from ennakoiva.domain.disclosure.protect import protect
>>> p = default_policy()
>>> shape = dict(name="t", row_dimension="area", col_dimension="sex", rows=("A", "B", "C"), cols=("m", "f"))
>>> r1 = protect(FrequencyTable(**shape, counts=((20, 30), (40, 50), (60, 70))), p)
>>> r2 = protect(FrequencyTable(**shape, counts=((21, 30), (40, 50), (60, 70))), p)
>>> [(x.kind.value, x.row, x.col, x.value) for x in audit_release(r1, r2, p).leaks][:2]
[('small_change', 'A', 'm', 1), ('small_change', 'A', 'Total', 1)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from itertools import combinations

from pydantic import BaseModel, ConfigDict

from ennakoiva.domain.disclosure.linear import determined
from ennakoiva.domain.disclosure.policy import DisclosurePolicy
from ennakoiva.domain.disclosure.protect import protect
from ennakoiva.domain.disclosure.table import TOTAL, CellKey, FrequencyTable, ProtectedTable, SuppressionReason

__all__ = ["Leak", "LeakKind", "ReleaseAudit", "audit_overlap", "audit_release", "protect_nested"]


class LeakKind(StrEnum):
    RECOVERED = "recovered"
    SMALL_CHANGE = "small_change"
    SLIVER = "sliver"


class Leak(BaseModel):
    """One cell (or derived cell) an attacker learns; ``value`` is what they compute."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: LeakKind
    table: str
    row: str
    col: str
    value: int
    detail: str


class ReleaseAudit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    leaks: tuple[Leak, ...]
    cells_compared: int
    changes_known: int

    @property
    def ok(self) -> bool:
        return not self.leaks

    def by_kind(self, kind: LeakKind) -> list[Leak]:
        return [leak for leak in self.leaks if leak.kind is kind]


def _line_equations(shape: FrequencyTable, known: Mapping[CellKey, int], tag: str
                    ) -> list[tuple[dict[tuple[str, CellKey], int], int]]:
    eqs: list[tuple[dict[tuple[str, CellKey], int], int]] = []
    for line in shape.lines():
        coeffs: dict[tuple[str, CellKey], int] = {}
        rhs = 0
        for cell in line:
            a = -1 if cell == line[-1] else 1
            if cell in known:
                rhs -= a * known[cell]
            else:
                coeffs[(tag, cell)] = coeffs.get((tag, cell), 0) + a
        eqs.append((coeffs, rhs))
    return eqs


def _shape(t: ProtectedTable) -> FrequencyTable:
    return t.as_table_shape()


def audit_release(previous: ProtectedTable, current: ProtectedTable, policy: DisclosurePolicy) -> ReleaseAudit:
    """Leaks from differencing two releases of the same table (same rows and columns)."""
    if (previous.rows, previous.cols) != (current.rows, current.cols):
        raise ValueError("releases must have the same rows and columns; align them first")
    shape = _shape(current)
    k = policy.threshold
    known: dict[CellKey, int] = {}
    for cell in shape.extended_cells():
        a, b = previous.published(*cell), current.published(*cell)
        if a is not None and b is not None:
            known[cell] = b - a
    solved = {cell: int(v) for (_, cell), v in determined(_line_equations(shape, known, "d")).items()
              if v.denominator == 1}
    leaks: list[Leak] = []
    for cell in shape.extended_cells():
        prev, cur = previous.published(*cell), current.published(*cell)
        if cell in known:
            d = known[cell]
            if 0 < abs(d) < k:
                leaks.append(Leak(kind=LeakKind.SMALL_CHANGE, table=current.name, row=cell[0], col=cell[1], value=d,
                                  detail=f"published change {d:+d} between releases"))
            continue
        if cell not in solved:
            continue
        d = solved[cell]
        if prev is not None:
            leaks.append(Leak(kind=LeakKind.RECOVERED, table=current.name, row=cell[0], col=cell[1],
                              value=prev + d, detail=f"current = previous {prev} {d:+d} (change solved from totals)"))
        elif cur is not None:
            leaks.append(Leak(kind=LeakKind.RECOVERED, table=previous.name, row=cell[0], col=cell[1],
                              value=cur - d, detail=f"previous = current {cur} {-d:+d} (change solved from totals)"))
        elif 0 < abs(d) < k:
            leaks.append(Leak(kind=LeakKind.SMALL_CHANGE, table=current.name, row=cell[0], col=cell[1], value=d,
                              detail=f"change {d:+d} of a cell suppressed in both releases, solved from totals"))
    return ReleaseAudit(leaks=tuple(leaks), cells_compared=len(known), changes_known=len(known) + len(solved))


def audit_overlap(fine: ProtectedTable, coarse: ProtectedTable, groups: Mapping[str, Sequence[str]],
                  policy: DisclosurePolicy) -> ReleaseAudit:
    """Leaks from publishing a fine table and a coarse one whose rows are unions of fine rows."""
    if fine.cols != coarse.cols or set(groups) != set(coarse.rows):
        raise ValueError("coarse table must have the fine table's columns and a group for every row")
    if any(p not in fine.rows for members in groups.values() for p in members):
        raise ValueError("groups name rows the fine table does not have")
    k = policy.threshold
    fshape, cshape = _shape(fine), _shape(coarse)
    fknown = {c: v for c in fshape.extended_cells() if (v := fine.published(*c)) is not None}
    cknown = {c: v for c in cshape.extended_cells() if (v := coarse.published(*c)) is not None}
    eqs = _line_equations(fshape, fknown, "fine") + _line_equations(cshape, cknown, "coarse")
    eqs += _link_equations(fshape, fknown, cknown, groups)
    solved = determined(eqs)
    leaks = [Leak(kind=LeakKind.RECOVERED, table=fine.name if tag == "fine" else coarse.name, row=cell[0],
                  col=cell[1], value=int(v), detail="suppressed cell solved from the overlapping tables")
             for (tag, cell), v in sorted(solved.items()) if v.denominator == 1]
    leaks += _slivers(fine, coarse, fknown, cknown, groups, k)
    return ReleaseAudit(leaks=tuple(leaks), cells_compared=len(fknown) + len(cknown), changes_known=len(solved))


def _link_equations(fshape: FrequencyTable, fknown: Mapping[CellKey, int], cknown: Mapping[CellKey, int],
                    groups: Mapping[str, Sequence[str]]) -> list[tuple[dict[tuple[str, CellKey], int], int]]:
    eqs: list[tuple[dict[tuple[str, CellKey], int], int]] = []
    for area, members in groups.items():
        for col in fshape.ext_cols:
            coeffs: dict[tuple[str, CellKey], int] = {}
            rhs = 0
            if (area, col) in cknown:
                rhs += cknown[(area, col)]
            else:
                coeffs[("coarse", (area, col))] = -1
            for p in members:
                if (p, col) in fknown:
                    rhs -= fknown[(p, col)]
                else:
                    coeffs[("fine", (p, col))] = coeffs.get(("fine", (p, col)), 0) + 1
            eqs.append((coeffs, rhs))
    return eqs


def _slivers(fine: ProtectedTable, coarse: ProtectedTable, fknown: Mapping[CellKey, int],
             cknown: Mapping[CellKey, int], groups: Mapping[str, Sequence[str]], k: int) -> list[Leak]:
    leaks: list[Leak] = []
    everything = frozenset(fine.rows)
    for col in fine.ext_cols:
        aggregates: list[tuple[frozenset[str], int, str]] = []
        aggregates += [(frozenset([r]), v, f"{fine.name}:{r}") for r in fine.rows
                       if (v := fknown.get((r, col))) is not None]
        aggregates += [(frozenset(groups[a]), v, f"{coarse.name}:{a}") for a in coarse.rows
                       if (v := cknown.get((a, col))) is not None]
        for t, known in ((fine, fknown), (coarse, cknown)):
            if (total := known.get((TOTAL, col))) is not None and len(t.rows) > 1:
                aggregates.append((everything, total, f"{t.name}:{TOTAL}"))
        for a, b in combinations(aggregates, 2):
            small, big = (a, b) if a[0] < b[0] else (b, a) if b[0] < a[0] else (None, None)
            if small is None or big is None:
                continue
            d = big[1] - small[1]
            if 0 < d < k:
                leaks.append(Leak(kind=LeakKind.SLIVER, table=coarse.name, row=f"{big[2]} - {small[2]}", col=col,
                                  value=d, detail="difference of two published cells over nested areas"))
    return leaks


def protect_nested(fine: FrequencyTable, coarse: FrequencyTable, groups: Mapping[str, Sequence[str]],
                   policy: DisclosurePolicy) -> tuple[ProtectedTable, ProtectedTable, ReleaseAudit]:
    """Protect a fine table and a coarse one (rows = unions of fine rows) so that together they
    recover no suppressed cell: while ``audit_overlap`` solves one, the coarse cell containing it
    (or, for a solved coarse cell, the smallest published fine cell inside it) is suppressed too
    and both tables are protected again. Returns both releases and the final audit (slivers, if
    any, are left for the caller to judge).
    """
    member_of = {p: area for area, members in groups.items() for p in members}
    fine_force: dict[CellKey, SuppressionReason] = {}
    coarse_force: dict[CellKey, SuppressionReason] = {}
    while True:
        fine_r, coarse_r = protect(fine, policy, force=fine_force), protect(coarse, policy, force=coarse_force)
        audit = audit_overlap(fine_r, coarse_r, groups, policy)
        before = len(fine_force) + len(coarse_force)
        for leak in audit.by_kind(LeakKind.RECOVERED):
            if leak.table == fine.name and leak.row in member_of:
                coarse_force.setdefault((member_of[leak.row], leak.col), SuppressionReason.LINKED)
            elif leak.table == coarse.name and leak.row in groups:
                inside = [(p, leak.col) for p in groups[leak.row] if fine_r.published(p, leak.col) is not None]
                if inside:
                    best = min(inside, key=lambda cell: (fine.value(*cell), fine.rows.index(cell[0])))
                    fine_force.setdefault(best, SuppressionReason.LINKED)
        if len(fine_force) + len(coarse_force) == before:
            return fine_r, coarse_r, audit
