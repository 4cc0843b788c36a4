"""Primary and secondary cell suppression for frequency tables, then optional rounding.

Primary suppression hides every cell (margins included) with ``0 < n < threshold``, zero cells if
the policy says so, whole lines whose total is below the threshold [D1] and areas below the area
floor [D5]. Secondary suppression then adds complementary cells until no suppressed cell can be
recomputed from the published cells and totals.

*Recomputable* is decided exactly, for non-negative integer tables: the suppressed cells and the
additive lines form a bipartite graph (one node per line, one edge per suppressed cell, margins
with a minus sign). Another table consistent with everything published exists and differs in a
cell ``e`` if and only if a cycle of suppressed cells through ``e`` can be shifted by ±1 without
taking any cell below zero (conformal decomposition of the difference of the two tables). So a
cell is *exposed* when no such cycle exists in either direction; a zero cell can only go up.

Complementary cells are chosen greedily: first, in every line with exactly one suppressed cell,
the smallest positive interior cell of that line; then, for each cell still exposed, the cheapest
cell of the whole table whose suppression protects it. Cost: zero cells last, interior before
margins, then smaller value, then position (deterministic).

>>> from ennakoiva.domain.disclosure.policy import default_policy
>>> t = FrequencyTable(name="t", row_dimension="age", col_dimension="sex", rows=("0-19", "20-"),
...                    cols=("m", "f"), counts=((3, 7), (10, 12)))
>>> p = protect(t, default_policy())
>>> [(c.row, c.col, c.status.value) for c in p.cells if c.published is None]
[('0-19', 'm', 'primary'), ('0-19', 'f', 'secondary'), ('20-', 'm', 'secondary'), ('20-', 'f', 'secondary')]
>>> exposed_cells(t, set(p.suppressed()))
[]
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping

from ennakoiva.domain.disclosure.policy import DisclosurePolicy
from ennakoiva.domain.disclosure.table import (
    TOTAL,
    CellKey,
    CellStatus,
    FrequencyTable,
    ProtectedCell,
    ProtectedTable,
    SuppressionReason,
)

__all__ = ["check_protection", "exposed_cells", "primary_suppression", "protect", "round_to_base"]

Node = tuple[str, str]


def round_to_base(value: int, base: int) -> int:
    """Round to the nearest multiple of ``base``, halves up.

    >>> [round_to_base(v, 5) for v in (0, 2, 3, 7, 8, 12)]
    [0, 0, 5, 5, 10, 10]
    """
    return (value + base // 2) // base * base


def primary_suppression(table: FrequencyTable, policy: DisclosurePolicy) -> dict[CellKey, SuppressionReason]:
    """Cells that must not be published on their own account, with the first rule that caught each."""
    k = policy.threshold
    out: dict[CellKey, SuppressionReason] = {}
    if policy.area_floor is not None:
        for line in _area_lines(table):
            total = sum(table.value(*cell) for cell in line if TOTAL not in cell)
            if 0 < total < policy.area_floor:
                for cell in line:
                    out.setdefault(cell, SuppressionReason.AREA_FLOOR)
    if policy.suppress_small_line_totals:
        for line in table.lines():
            if 0 < table.value(*line[-1]) < k:
                for cell in line:
                    out.setdefault(cell, SuppressionReason.SMALL_LINE_TOTAL)
    for cell in table.extended_cells():
        v = table.value(*cell)
        if 0 < v < k:
            out.setdefault(cell, SuppressionReason.BELOW_THRESHOLD)
        elif v == 0 and policy.suppress_zeros:
            out.setdefault(cell, SuppressionReason.ZERO)
    return out


def _area_lines(table: FrequencyTable) -> list[list[CellKey]]:
    if table.area_axis == "rows":
        return [[(r, c) for c in table.ext_cols] for r in table.rows]
    if table.area_axis == "cols":
        return [[(r, c) for r in table.ext_rows] for c in table.cols]
    return []


def _nodes(table: FrequencyTable, cell: CellKey) -> tuple[Node, Node]:
    # A row is an equation only when there is a total column (and a column only with a total row);
    # rows without an equation are unconstrained and behave as one free node.
    row: Node = ("R", cell[0]) if table.has_total_col else ("R", "")
    col: Node = ("C", cell[1]) if table.has_total_row else ("C", "")
    return row, col


def _sign(cell: CellKey) -> int:
    return (-1 if cell[0] == TOTAL else 1) * (-1 if cell[1] == TOTAL else 1)


def _graph(table: FrequencyTable, suppressed: Iterable[CellKey],
           values: dict[CellKey, int]) -> dict[Node, list[tuple[Node, CellKey]]]:
    adj: dict[Node, list[tuple[Node, CellKey]]] = defaultdict(list)
    for f in suppressed:
        r, c = _nodes(table, f)
        s = _sign(f)
        if s > 0 or values[f] >= 1:  # y = +1 on f: the cell changes by s
            adj[r].append((c, f))
        if s < 0 or values[f] >= 1:  # y = -1 on f: the cell changes by -s
            adj[c].append((r, f))
    return adj


def _can_move(table: FrequencyTable, e: CellKey, direction: int,
              adj: dict[Node, list[tuple[Node, CellKey]]], values: dict[CellKey, int]) -> bool:
    if direction < 0 and values[e] == 0:
        return False
    r, c = _nodes(table, e)
    start, goal = (c, r) if direction * _sign(e) > 0 else (r, c)
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            return True
        for nxt, f in adj.get(node, ()):
            if f != e and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False


def _exposed(table: FrequencyTable, e: CellKey, adj: dict[Node, list[tuple[Node, CellKey]]],
             values: dict[CellKey, int]) -> bool:
    if not (table.has_total_row or table.has_total_col):  # a single cell: no total to subtract from
        return False
    return not (_can_move(table, e, 1, adj, values) or _can_move(table, e, -1, adj, values))


def exposed_cells(table: FrequencyTable, suppressed: set[CellKey]) -> list[CellKey]:
    """Suppressed cells whose exact value follows from the published cells and totals."""
    values = {cell: table.value(*cell) for cell in table.extended_cells()}
    adj = _graph(table, suppressed, values)
    return [e for e in table.extended_cells() if e in suppressed and _exposed(table, e, adj, values)]


def _secondary(table: FrequencyTable, suppressed: set[CellKey], values: dict[CellKey, int]) -> set[CellKey]:
    order = {cell: i for i, cell in enumerate(table.extended_cells())}

    def cost(cell: CellKey) -> tuple[int, int, int, int]:
        return (values[cell] == 0, (cell[0] == TOTAL) + (cell[1] == TOTAL), values[cell], order[cell])

    added: set[CellKey] = set()
    lines = table.lines()
    while True:
        changed = False
        for line in lines:  # the classic necessary condition: never exactly one suppressed cell in a line
            if sum(cell in suppressed for cell in line) == 1:
                free = [cell for cell in line if cell not in suppressed]
                if free:
                    best = min(free, key=cost)
                    suppressed.add(best)
                    added.add(best)
                    changed = True
        if changed:
            continue
        adj = _graph(table, suppressed, values)
        exposed = [e for e in sorted(suppressed, key=order.__getitem__) if _exposed(table, e, adj, values)]
        if not exposed:
            return added
        e = exposed[0]
        candidates = sorted((cell for cell in values if cell not in suppressed), key=cost)
        if not candidates:
            return added
        chosen = next((f for f in candidates
                       if not _exposed(table, e, _graph(table, suppressed | {f}, values), values)), None)
        if chosen is None:  # no single cell frees it (zeros block every cycle): widen along its lines
            chosen = next((f for f in candidates if f[0] == e[0] or f[1] == e[1]), candidates[0])
        suppressed.add(chosen)
        added.add(chosen)


def protect(table: FrequencyTable, policy: DisclosurePolicy, *,
            force: Mapping[CellKey, SuppressionReason] | None = None) -> ProtectedTable:
    """Apply the policy to every cell of the table and its margins; see the module docstring.

    ``force`` adds primary suppressions decided outside the table (e.g. by a linked table).
    """
    values = {cell: table.value(*cell) for cell in table.extended_cells()}
    primary = primary_suppression(table, policy)
    for cell, reason in (force or {}).items():
        if cell not in values:
            raise ValueError(f"{cell} is not a cell of {table.name}")
        primary.setdefault(cell, reason)
    suppressed = set(primary)
    secondary = _secondary(table, suppressed, values) if policy.secondary_suppression and primary else set()
    cells = []
    for cell in table.extended_cells():
        if cell in primary:
            cells.append(ProtectedCell(row=cell[0], col=cell[1], status=CellStatus.PRIMARY, reason=primary[cell]))
        elif cell in secondary:
            cells.append(ProtectedCell(row=cell[0], col=cell[1], status=CellStatus.SECONDARY,
                                       reason=SuppressionReason.COMPLEMENTARY))
        else:
            cells.append(ProtectedCell(row=cell[0], col=cell[1], status=CellStatus.PUBLISHED,
                                       published=round_to_base(values[cell], policy.rounding_base)))
    return ProtectedTable(name=table.name, policy_id=policy.id, threshold=policy.threshold,
                          rounding_base=policy.rounding_base, rows=table.rows, cols=table.cols,
                          ext_rows=table.ext_rows, ext_cols=table.ext_cols, cells=tuple(cells))


def check_protection(table: FrequencyTable, protected: ProtectedTable, policy: DisclosurePolicy) -> list[str]:
    """Violations of the policy in a released table (empty when it may go out)."""
    problems = []
    for cell in protected.cells:
        v = table.value(cell.row, cell.col)
        if cell.published is not None and (0 < v < policy.threshold or (v == 0 and policy.suppress_zeros)):
            problems.append(f"{cell.row}/{cell.col}: published {v} below threshold {policy.threshold}")
    suppressed = set(protected.suppressed())
    if policy.secondary_suppression:
        problems.extend(f"{r}/{c}: recomputable from the totals" for r, c in exposed_cells(table, suppressed))
    return problems
