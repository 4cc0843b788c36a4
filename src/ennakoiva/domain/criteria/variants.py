"""Variants of the criteria library, for the benchmark's 300 criteria.

Helsinki's analysis ran ~300 approved criteria; the library here has a few dozen. A variant keeps
a criterion's logic and changes what a local version would change — look-back windows, value
thresholds, the age band — so the benchmark evaluates 300 criteria with about as many distinct
features as 300 real ones would, not 300 copies sharing one feature set.

>>> from ennakoiva.domain.criteria.tree import CodeSet, HasDiagnosis
>>> a = HasDiagnosis(CodeSet("x", "ICD10", ("I10",)), Duration(years=5))
>>> _scale_atom(a, 0.5, 1.0).within
Duration(years=0, months=30, days=0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ennakoiva.domain.criteria.durations import Duration
from ennakoiva.domain.criteria.tree import (
    AllOf,
    AnyOf,
    AnyValue,
    Atom,
    Bonus,
    CompiledCriterion,
    CountDays,
    DayTest,
    HasDiagnosis,
    HasPrescription,
    LatestValue,
    Named,
    Node,
    NoneOf,
    Population,
    Threshold,
)

__all__ = ["criterion_variants"]

# (window factor, threshold factor, age shift) of the k-th variant of one criterion: each window
# factor is used once, so no variant repeats the original or another variant of it
_WINDOW_FACTORS = (1.0, 0.5, 1.5, 0.75, 2.0, 1.25, 0.6, 1.75, 0.9, 1.1, 0.8, 1.6, 0.7, 1.4, 1.2, 1.9, 0.55, 1.3,
                   0.65, 1.8, 0.85, 1.15, 0.95, 1.05)
_VALUE_FACTORS = (1.0, 0.95, 1.05, 0.9, 1.1)
_AGE_SHIFTS = (0, 5, -5, 10)
_DAYS_PER_MONTH = 30.4375


def _scale(d: Duration | None, factor: float) -> Duration | None:
    if d is None or factor == 1.0:
        return d
    months = d.total_months * factor
    if not d.days and months == int(months):
        return Duration(months=int(months))
    return Duration(days=max(1, round((d.total_months * _DAYS_PER_MONTH + d.days) * factor)))


def _threshold(t: Threshold, factor: float) -> Threshold:
    return Threshold(tuple((op, round(v * factor, 2)) for op, v in t.ops), t.unit)


def _scale_atom(a: Atom, w: float, v: float) -> Atom:
    if isinstance(a, HasDiagnosis | HasPrescription):
        return replace(a, within=_scale(a.within, w))
    if isinstance(a, LatestValue):
        return replace(a, within=_scale(a.within, w), threshold=_threshold(a.threshold, v))
    if isinstance(a, AnyValue):
        t = a.threshold
        return replace(a, within=_scale(a.within, w), threshold=_threshold(t, v) if t else None,
                       min_span=_scale(a.min_span, w))
    assert isinstance(a, CountDays)
    return replace(a, within=_scale(a.within, w),
                   tests=tuple(DayTest(t.codes, _threshold(t.threshold, v)) for t in a.tests))


def _map(node: Node, w: float, v: float) -> Node:
    if isinstance(node, Named):
        return Named(node.name, _map(node.node, w, v))
    if isinstance(node, AllOf | AnyOf | NoneOf):
        return type(node)(tuple(_map(c, w, v) for c in node.children))
    return _scale_atom(node, w, v)


def _age(age: int | None, shift: int) -> int | None:
    return None if age is None else min(130, max(0, age + shift))


def criterion_variants(library: Sequence[CompiledCriterion], n: int) -> list[CompiledCriterion]:
    """``n`` criteria: the library itself first, then variants ``<id>-v<k>`` round-robin over it."""
    if not library:
        raise ValueError("no criteria to vary")
    out = list(library[:n])
    k = 0
    while len(out) < n:
        base = library[k % len(library)]
        step = k // len(library) + 1
        if step >= len(_WINDOW_FACTORS):
            raise ValueError(f"at most {len(_WINDOW_FACTORS) - 1} variants per criterion: ask for fewer than "
                             f"{len(library) * len(_WINDOW_FACTORS)} criteria")
        w = _WINDOW_FACTORS[step]
        v = _VALUE_FACTORS[step % len(_VALUE_FACTORS)]
        shift = _AGE_SHIFTS[step % len(_AGE_SHIFTS)]
        pop = base.population
        lo, hi = _age(pop.min_age, shift), _age(pop.max_age, shift)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        out.append(replace(
            base, id=f"{base.id}-v{step:02d}", population=Population(lo, hi, pop.sex),
            condition=_map(base.condition, w, v),
            bonuses=tuple(Bonus(_map(b.when, w, v), b.add) for b in base.bonuses),
            evidence=tuple(Named(e.name, _map(e.node, w, v)) for e in base.evidence)))
        k += 1
    return out
