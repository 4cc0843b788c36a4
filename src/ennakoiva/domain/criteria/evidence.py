"""Evidence as sentences a professional reads: "latest systolic 168 mm[Hg] on 2026-03-02".

The engine returns each named definition's values (``htn.count``, ``sbp_high.value`` …); this
module words them with the codes and windows of the definition itself, so the sentence cannot
drift from what was evaluated. English only for now (codes and numbers carry the meaning).

>>> from ennakoiva.domain.criteria.tree import CodeSet, HasPrescription, Named
>>> rx = Named("on_treatment", HasPrescription(CodeSet("ah", "ATC", ("C02", "C09")), Duration(months=12)))
>>> describe(rx, {"on_treatment.count": 0, "on_treatment.last_end": None})
'on_treatment: no C02, C09 prescription in the last 12 months'
"""

from __future__ import annotations

from collections.abc import Mapping

from ennakoiva.domain.criteria.durations import Duration
from ennakoiva.domain.criteria.tree import (
    AnyValue,
    Atom,
    CodeSet,
    CompiledCriterion,
    CountDays,
    HasDiagnosis,
    HasPrescription,
    LatestValue,
    Named,
    Threshold,
    atoms_of,
)

__all__ = ["describe", "evidence_lines"]

_OPS = {"lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


def _window(d: Duration | None) -> str:
    if d is None:
        return "ever"
    parts = [f"{n} {unit}{'s' if n > 1 else ''}" for n, unit in
             ((d.years, "year"), (d.months, "month"), (d.days, "day")) if n]
    return "in the last " + " ".join(parts)


def _codes(cs: CodeSet) -> str:
    text = ", ".join(cs.include)
    return text + (f" (not {', '.join(cs.exclude)})" if cs.exclude else "")


def _threshold(t: Threshold) -> str:
    return " and ".join(f"{_OPS[op]} {v:g} {t.unit}" for op, v in t.ops)


def _atom(a: Atom, v: Mapping[str, object]) -> str:
    if isinstance(a, HasDiagnosis | HasPrescription):
        noun = "diagnosis" if isinstance(a, HasDiagnosis) else "prescription"
        n = v.get("count") or 0
        if not n:
            return f"no {_codes(a.codes)} {noun} {_window(a.within)}"
        last = v.get("last_date") if isinstance(a, HasDiagnosis) else v.get("last_end")
        last_text = f"latest on {last}" if isinstance(a, HasDiagnosis) else f"last one ends {last}"
        plural = {"diagnosis": "diagnoses", "prescription": "prescriptions"}[noun] if n != 1 else noun
        return f"{n} {_codes(a.codes)} {plural} {_window(a.within)}, {last_text}"
    if isinstance(a, LatestValue):
        if v.get("value") is None:
            return f"no {_codes(a.codes)} reading {_window(a.within)}"
        day = "lowest" if a.same_day == "min" else "highest"
        return (f"latest {_codes(a.codes)} {v['value']:g} {a.threshold.unit} on {v.get('date')} "
                f"({day} of that day)")
    if isinstance(a, AnyValue):
        n = v.get("count") or 0
        what = f"{_codes(a.codes)} reading" + (f" {_threshold(a.threshold)}" if a.threshold else "")
        if not n:
            return f"no {what} {_window(a.within)}"
        return f"{n} × {what} {_window(a.within)}, first {v.get('first')}, last {v.get('last')}"
    assert isinstance(a, CountDays)
    tests = " or ".join(f"{_codes(t.codes)} {_threshold(t.threshold)}" for t in a.tests)
    return f"{v.get('days') or 0} day(s) with {tests} {_window(a.within)}"


def describe(named: Named, evidence: Mapping[str, object]) -> str:
    """One line for a named definition, from the engine's evidence values (keys ``name.key``)."""
    atoms = atoms_of(named.node)
    parts = []
    for i, atom in enumerate(atoms):
        label = named.name if len(atoms) == 1 else f"{named.name}.{i}"
        values = {k[len(label) + 1:]: v for k, v in evidence.items() if k.startswith(label + ".")}
        parts.append(_atom(atom, values))
    return f"{named.name}: " + "; ".join(parts)


def evidence_lines(criterion: CompiledCriterion, evidence: Mapping[str, object]) -> list[str]:
    """Every named definition of ``criterion``, worded."""
    return [describe(named, evidence) for named in criterion.evidence]
