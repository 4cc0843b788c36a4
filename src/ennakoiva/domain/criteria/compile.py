"""Compile a validated :class:`CriterionSpec` into the engine-neutral tree, checking cross-references.

Errors are :class:`CompileError` with the YAML path of the offending key, which the loader turns
into ``file:line``.
"""

from __future__ import annotations

from ennakoiva.domain.criteria.spec import (
    AnyValueSpec,
    ConditionSpec,
    CountDaysSpec,
    CriterionSpec,
    EventSpec,
    LatestValueSpec,
    ThresholdSpec,
)
from ennakoiva.domain.criteria.tree import (
    AllOf,
    AnyOf,
    AnyValue,
    Bonus,
    CodeSet,
    CodeSystem,
    CompiledCriterion,
    CountDays,
    DayTest,
    HasDiagnosis,
    HasPrescription,
    LatestValue,
    Named,
    Node,
    NoneOf,
    Op,
    Population,
    Threshold,
)

__all__ = ["CompileError", "compile_criterion"]

Loc = tuple[str | int, ...]


class CompileError(ValueError):
    """A cross-reference error at ``loc`` (the YAML path of the key)."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


class _Compiler:
    def __init__(self, spec: CriterionSpec) -> None:
        self.spec = spec
        self.defined: dict[str, Named] = {}
        self.in_progress: list[str] = []
        self.used_codesets: set[str] = set()
        self.used_defines: list[Named] = []

    def codeset(self, name: str, system: CodeSystem, loc: Loc) -> CodeSet:
        cs = self.spec.codesets.get(name)
        if cs is None:
            raise CompileError(loc, f"unknown code set '{name}' (defined: {sorted(self.spec.codesets)})")
        if cs.system != system:
            raise CompileError(loc, f"code set '{name}' is {cs.system}, this condition needs {system}")
        self.used_codesets.add(name)
        def strip(codes: list[str]) -> tuple[str, ...]:
            return tuple(c.replace(".", "") for c in codes)  # ICD-10 dots are ignored; no other system has one

        return CodeSet(name, system, strip(cs.include), strip(cs.exclude))

    def use(self, name: str, loc: Loc) -> Named:
        if name in self.defined:
            named = self.defined[name]
        else:
            if name not in self.spec.define:
                raise CompileError(loc, f"unknown definition '{name}' (defined: {sorted(self.spec.define)})")
            if name in self.in_progress:
                raise CompileError(loc, f"definition cycle: {' -> '.join([*self.in_progress, name])}")
            self.in_progress.append(name)
            named = Named(name, self.node(self.spec.define[name], ("define", name)))
            self.in_progress.pop()
            self.defined[name] = named
        if named not in self.used_defines:
            self.used_defines.append(named)
        return named

    def node(self, c: ConditionSpec, loc: Loc) -> Node:
        for key, group, items in (("all", AllOf, c.all_), ("any", AnyOf, c.any_), ("none", NoneOf, c.none)):
            if items is not None:
                return group(tuple(self.node(x, (*loc, key, i)) for i, x in enumerate(items)))
        if c.use is not None:
            return self.use(c.use, (*loc, "use"))
        if c.has_diagnosis is not None:
            return self.event(c.has_diagnosis, "ICD10", (*loc, "has_diagnosis"))
        if c.has_prescription is not None:
            return self.event(c.has_prescription, "ATC", (*loc, "has_prescription"))
        if c.latest_value is not None:
            return self.latest(c.latest_value, (*loc, "latest_value"))
        if c.any_value is not None:
            return self.any_value(c.any_value, (*loc, "any_value"))
        assert c.count_days is not None  # ConditionSpec guarantees exactly one key
        return self.count_days(c.count_days, (*loc, "count_days"))

    @staticmethod
    def counts(spec: EventSpec | AnyValueSpec | CountDaysSpec, loc: Loc) -> tuple[int, int | None]:
        at_least = spec.at_least if spec.at_least is not None else (0 if spec.at_most is not None else 1)
        if spec.at_most is not None and spec.at_most < at_least:
            raise CompileError((*loc, "at_most"), "at_most is below at_least: the condition can never hold")
        return at_least, spec.at_most

    def event(self, e: EventSpec, system: CodeSystem, loc: Loc) -> Node:
        codes = self.codeset(e.codes, system, (*loc, "codes"))
        at_least, at_most = self.counts(e, loc)
        kind = HasDiagnosis if system == "ICD10" else HasPrescription
        return kind(codes, e.within, at_least, at_most)

    @staticmethod
    def threshold(t: ThresholdSpec) -> Threshold:
        ops: list[tuple[Op, float]] = []
        for op, v in (("lt", t.lt), ("lte", t.lte), ("gt", t.gt), ("gte", t.gte)):
            if v is not None:
                ops.append((op, v))  # type: ignore[arg-type]  # op is one of the literal names above
        return Threshold(tuple(ops), t.unit)

    def latest(self, s: LatestValueSpec, loc: Loc) -> Node:
        codes = self.codeset(s.codes, "LOINC", (*loc, "codes"))
        day = self.codeset(s.day_of, "LOINC", (*loc, "day_of")) if s.day_of else codes
        return LatestValue(codes, day, s.within, s.same_day, tuple(s.exclude_visit_types),
                           self.threshold(s.value), s.missing == "hit")

    def any_value(self, s: AnyValueSpec, loc: Loc) -> Node:
        codes = self.codeset(s.codes, "LOINC", (*loc, "codes"))
        at_least, at_most = self.counts(s, loc)
        return AnyValue(codes, s.within, tuple(s.exclude_visit_types),
                        self.threshold(s.value) if s.value else None, at_least, at_most, s.min_span)

    def count_days(self, s: CountDaysSpec, loc: Loc) -> Node:
        tests = tuple(DayTest(self.codeset(t.codes, "LOINC", (*loc, "any", i, "codes")), self.threshold(t.value))
                      for i, t in enumerate(s.any))
        at_least, at_most = self.counts(s, loc)
        return CountDays(s.within, tuple(s.exclude_visit_types), s.same_day, tests, at_least, at_most)


def compile_criterion(spec: CriterionSpec) -> CompiledCriterion:
    """The criterion as a condition tree; unknown or unused code sets and definitions are errors."""
    c = _Compiler(spec)
    condition = c.node(spec.condition, ("condition",))
    if spec.gap_closed_when is not None:
        closed = Named("gap_closed_when", c.node(spec.gap_closed_when, ("gap_closed_when",)))
        c.used_defines.append(closed)
        condition = AllOf((condition, NoneOf((closed,))))
    bonuses = tuple(Bonus(c.node(b.when, ("priority", "bonus", i, "when")), b.add)
                    for i, b in enumerate(spec.priority.bonus))
    for name in spec.define:
        if name not in c.defined:
            raise CompileError(("define", name), f"definition '{name}' is never used")
    for name in spec.codesets:
        if name not in c.used_codesets:
            raise CompileError(("codesets", name), f"code set '{name}' is never used")
    p = spec.population
    return CompiledCriterion(
        id=spec.id, version=spec.version, population=Population(p.age_min, p.age_max, p.sex),
        condition=condition, tier=spec.priority.tier, points=spec.priority.points, bonuses=bonuses,
        action=spec.action.code, unit_type=spec.action.unit_type, evidence=tuple(c.used_defines),
        extras=tuple(spec.action.extra),
    )
