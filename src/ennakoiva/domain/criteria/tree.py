"""The engine-neutral condition tree a criterion compiles to: plain frozen dataclasses.

Atoms are values: two criteria that ask the same question (``HasDiagnosis`` of the same code set
in the same window) hold equal atoms, so an engine computes each feature once for all criteria.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ennakoiva.domain.criteria.durations import Duration

__all__ = [
    "TIE_BREAK", "AllOf", "AnyOf", "AnyValue", "Atom", "Bonus", "CodeSet", "CompiledCriterion", "CountDays",
    "DayTest", "HasDiagnosis", "HasPrescription", "LatestValue", "Named", "Node", "NoneOf", "Population",
    "Threshold", "atoms_of",
]

CodeSystem = Literal["ICD10", "ATC", "LOINC"]
Op = Literal["lt", "lte", "gt", "gte"]
Tier = Literal["info", "warning", "critical"]
#: Fixed ordering of a ranked list: tier (critical first), points (high first), then person id.
TIE_BREAK = ("tier desc", "points desc", "person_id asc")


@dataclass(frozen=True)
class CodeSet:
    """Codes matched by prefix (ICD-10 dots ignored), minus the excluded prefixes."""

    name: str
    system: CodeSystem
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Threshold:
    """Value comparisons (all must hold) in ``unit``; the engine converts other units or rejects."""

    ops: tuple[tuple[Op, float], ...]
    unit: str


@dataclass(frozen=True)
class HasDiagnosis:
    codes: CodeSet
    within: Duration | None          # None: any date up to the evaluation date
    at_least: int = 1
    at_most: int | None = None


@dataclass(frozen=True)
class HasPrescription:
    """Prescriptions overlapping ``[on - within, on]``: start <= on and end >= on - within."""

    codes: CodeSet
    within: Duration | None
    at_least: int = 1
    at_most: int | None = None


@dataclass(frozen=True)
class LatestValue:
    """The latest day with a ``day_codes`` reading in the window; that day's ``same_day`` aggregate of ``codes``.

    A day with no ``codes`` reading (or no day at all) is unknown: counted as a hit only if ``missing_is_hit``.
    """

    codes: CodeSet
    day_codes: CodeSet
    within: Duration | None
    same_day: Literal["min", "max"]
    exclude_visit_types: tuple[str, ...]
    threshold: Threshold
    missing_is_hit: bool = False


@dataclass(frozen=True)
class AnyValue:
    """Readings in the window (passing ``threshold`` if given): a count and first-to-last span."""

    codes: CodeSet
    within: Duration | None
    exclude_visit_types: tuple[str, ...]
    threshold: Threshold | None
    at_least: int = 1
    at_most: int | None = None
    min_span: Duration | None = None


@dataclass(frozen=True)
class DayTest:
    codes: CodeSet
    threshold: Threshold


@dataclass(frozen=True)
class CountDays:
    """Days in the window on which any test holds for the day's ``same_day`` aggregate."""

    within: Duration | None
    exclude_visit_types: tuple[str, ...]
    same_day: Literal["min", "max"]
    tests: tuple[DayTest, ...]
    at_least: int = 1
    at_most: int | None = None


Atom = HasDiagnosis | HasPrescription | LatestValue | AnyValue | CountDays


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class NoneOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Named:
    """A named definition (``use: htn``); transparent for evaluation, names the evidence."""

    name: str
    node: Node


Node = Atom | AllOf | AnyOf | NoneOf | Named


@dataclass(frozen=True)
class Population:
    min_age: int | None
    max_age: int | None
    sex: Literal["any", "female", "male"]


@dataclass(frozen=True)
class Bonus:
    when: Node
    add: int


@dataclass(frozen=True)
class CompiledCriterion:
    id: str
    version: int
    population: Population
    condition: Node
    tier: Tier
    points: int
    bonuses: tuple[Bonus, ...]
    action: str
    unit_type: str
    evidence: tuple[Named, ...]          # the named definitions the criterion uses, in order
    extras: tuple[str, ...] = ()         # further actions offered with ``action`` (``action.extra``)


def atoms_of(node: Node) -> list[Atom]:
    """Every atom under ``node``, depth first, without duplicates."""
    out: list[Atom] = []

    def walk(n: Node) -> None:
        if isinstance(n, Named):
            walk(n.node)
        elif isinstance(n, AllOf | AnyOf | NoneOf):
            for c in n.children:
                walk(c)
        elif n not in out:
            out.append(n)

    walk(node)
    return out
