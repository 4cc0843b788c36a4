"""Evidence as sentences a professional reads: "latest systolic 168 mm[Hg] on 2026-03-02".

The engine returns each named definition's values (``htn.count``, ``sbp_high.value`` …); this
module words them with the codes and windows of the definition itself, so the sentence cannot
drift from what was evaluated. The wordings are in fi, sv and en, in
``catalogue/phrases/criteria_evidence.yaml``; codes, numbers and units are never translated.

>>> from ennakoiva.domain.criteria.tree import CodeSet, HasPrescription, Named
>>> rx = Named("on_treatment", HasPrescription(CodeSet("ah", "ATC", ("C02", "C09")), Duration(months=12)))
>>> describe(rx, {"on_treatment.count": 0, "on_treatment.last_end": None})
'on_treatment: no C02, C09 prescription in the last 12 months'
>>> describe(rx, {"on_treatment.count": 0, "on_treatment.last_end": None}, "fi")
'on_treatment: ei lääkemääräystä C02, C09 12 kuukauden aikana'
>>> describe(rx, {"on_treatment.count": 0, "on_treatment.last_end": None}, "sv")
'on_treatment: inget recept på C02, C09 under de senaste 12 månaderna'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache

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
from ennakoiva.domain.registry import CATALOGUE_DIR
from ennakoiva.domain.types import LANGS, Lang
from ennakoiva.domain.yaml_source import CatalogueError, load_yaml

__all__ = ["PHRASES_FILE", "describe", "evidence_lines", "phrases"]

PHRASES_FILE = CATALOGUE_DIR / "phrases" / "criteria_evidence.yaml"
_OPS = {"lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


@cache
def phrases() -> dict[Lang, dict[str, str]]:
    """The phrase templates per language; every language must have the same keys."""
    data = load_yaml(PHRASES_FILE).data
    if not isinstance(data, dict) or set(data) != set(LANGS):
        raise CatalogueError(f"{PHRASES_FILE}: needs exactly the languages {', '.join(LANGS)}")
    out: dict[Lang, dict[str, str]] = {lang: {str(k): str(v) for k, v in data[lang].items()} for lang in LANGS}
    keys = set(out["en"])
    for lang in LANGS:
        if set(out[lang]) != keys:
            raise CatalogueError(f"{PHRASES_FILE}: {lang} differs in keys {sorted(set(out[lang]) ^ keys)}")
    return out


class _Words:
    """One language's templates, with its numbers and dates."""

    def __init__(self, lang: Lang) -> None:
        self.p = phrases()[lang]

    def __call__(self, key: str, **values: object) -> str:
        return self.p[key].format(**values)

    def num(self, v: object) -> str:
        text = f"{v:g}" if isinstance(v, float | int) else str(v)
        return text.replace(".", self.p["decimal"])

    def day(self, v: object) -> str:
        """An ISO date in the language's form (anything else as it is)."""
        try:
            d = date.fromisoformat(str(v)[:10]) if v is not None else None
        except ValueError:
            d = None
        if d is None:
            return str(v)
        return self("date", iso=d.isoformat(), d=d.day, m=d.month, y=d.year)

    def window(self, d: Duration | None) -> str:
        if d is None:
            return self("ever")
        parts = [(n, unit) for n, unit in ((d.years, "year"), (d.months, "month"), (d.days, "day")) if n]
        if len(parts) == 1 and parts[0][0] == 1:
            return self(f"last_one_{parts[0][1]}")
        span = self.p["span_join"].join(self(unit if n == 1 else unit + "s", n=n) for n, unit in parts)
        return self("last", span=span)

    def codes(self, cs: CodeSet) -> str:
        text = ", ".join(cs.include)
        return self("codes_excluding", codes=text, excluded=", ".join(cs.exclude)) if cs.exclude else text

    def threshold(self, t: Threshold) -> str:
        return self.p["and"].join(f"{_OPS[op]} {self.num(v)} {t.unit}" for op, v in t.ops)


def _atom(a: Atom, v: Mapping[str, object], w: _Words) -> str:
    if isinstance(a, HasDiagnosis | HasPrescription):
        kind = "diagnosis" if isinstance(a, HasDiagnosis) else "prescription"
        n = v.get("count") or 0
        codes, window = w.codes(a.codes), w.window(a.within)
        if not n:
            return w(f"{kind}_none", codes=codes, window=window)
        last = v.get("last_date") if isinstance(a, HasDiagnosis) else v.get("last_end")
        return w(f"{kind}_{'one' if n == 1 else 'many'}", n=n, codes=codes, window=window, last=w.day(last))
    if isinstance(a, LatestValue):
        if v.get("value") is None:
            return w("latest_none", codes=w.codes(a.codes), window=w.window(a.within))
        return w(f"latest_{a.same_day}", codes=w.codes(a.codes), value=w.num(v["value"]), unit=a.threshold.unit,
                 date=w.day(v.get("date")))
    if isinstance(a, AnyValue):
        n = v.get("count") or 0
        threshold = f" {w.threshold(a.threshold)}" if a.threshold else ""
        codes, window = w.codes(a.codes), w.window(a.within)
        if not n:
            return w("readings_none", codes=codes, threshold=threshold, window=window)
        return w("readings_some", n=n, codes=codes, threshold=threshold, window=window,
                 first=w.day(v.get("first")), last=w.day(v.get("last")))
    assert isinstance(a, CountDays)
    tests = w.p["or"].join(w("day_test", codes=w.codes(t.codes), threshold=w.threshold(t.threshold))
                           for t in a.tests)
    return w("count_days", n=v.get("days") or 0, tests=tests, window=w.window(a.within))


def describe(named: Named, evidence: Mapping[str, object], lang: Lang = "en") -> str:
    """One line for a named definition, from the engine's evidence values (keys ``name.key``)."""
    words = _Words(lang)
    atoms = atoms_of(named.node)
    parts = []
    for i, atom in enumerate(atoms):
        label = named.name if len(atoms) == 1 else f"{named.name}.{i}"
        values = {k[len(label) + 1:]: v for k, v in evidence.items() if k.startswith(label + ".")}
        parts.append(_atom(atom, values, words))
    return f"{named.name}: " + "; ".join(parts)


def evidence_lines(criterion: CompiledCriterion, evidence: Mapping[str, object], lang: Lang = "en") -> list[str]:
    """Every named definition of ``criterion``, worded in ``lang``."""
    return [describe(named, evidence, lang) for named in criterion.evidence]
