"""Which unknowns of a linear system are pinned down exactly (exact rational arithmetic).

An attacker who knows published numbers and the additive relations between them solves a linear
system; an unknown is *determined* when every solution gives it the same value: in reduced row
echelon form it is a pivot whose row has no free variable.

>>> determined([({"a": 1, "b": 1}, 10), ({"b": 1, "c": 1}, 7), ({"c": 1}, 3)])
{'a': Fraction(6, 1), 'b': Fraction(4, 1), 'c': Fraction(3, 1)}
>>> determined([({"a": 1, "b": 1}, 10)])
{}
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from fractions import Fraction
from typing import TypeVar

__all__ = ["determined"]

V = TypeVar("V", bound=Hashable)


def determined(equations: Sequence[tuple[Mapping[V, int], int]]) -> dict[V, Fraction]:
    """Unknowns whose value is the same in every solution of ``sum(coeff * var) = rhs``."""
    variables: list[V] = []
    index: dict[V, int] = {}
    for coeffs, _ in equations:
        for v in coeffs:
            if v not in index:
                index[v] = len(variables)
                variables.append(v)
    n = len(variables)
    rows: list[list[Fraction]] = []
    for coeffs, rhs in equations:
        row = [Fraction(0)] * (n + 1)
        for v, a in coeffs.items():
            row[index[v]] += a
        row[n] = Fraction(rhs)
        if any(row[:n]):
            rows.append(row)
    pivots = _rref(rows, n)
    pivot_set = set(pivots)
    out: dict[V, Fraction] = {}
    for i, col in enumerate(pivots):
        if all(rows[i][j] == 0 for j in range(n) if j not in pivot_set):
            out[variables[col]] = rows[i][n]
    return out


def _rref(rows: list[list[Fraction]], n: int) -> list[int]:
    """Reduce ``rows`` (augmented, ``n`` unknowns) in place; the pivot column of each leading row."""
    pivots: list[int] = []
    r = 0
    for col in range(n):
        pivot = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        inv = 1 / rows[r][col]
        rows[r] = [x * inv for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                f = rows[i][col]
                rows[i] = [x - f * y for x, y in zip(rows[i], rows[r], strict=True)]
        pivots.append(col)
        r += 1
        if r == len(rows):
            break
    return pivots
