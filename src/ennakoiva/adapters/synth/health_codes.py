"""Code vocabularies of the health sector and the small date helpers its modules share.

Rows carry integer indices into a vocabulary while they are generated; the code strings are
materialised once per table through an Arrow dictionary, which is much faster than Python strings.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.frame import EPOCH

__all__ = [
    "BMI",
    "CARDIOMETABOLIC",
    "CONDITIONS",
    "DBP",
    "EGFR",
    "HBA1C_IFCC",
    "HBA1C_PCT",
    "LDL",
    "LOINC",
    "LUT_SIZE",
    "SBP",
    "UNITS",
    "UNIT_OF",
    "VISIT_TYPES",
    "Vocab",
    "Windows",
    "build_vocabs",
    "calendar_age",
    "draw_mix",
    "minus_months",
    "mix_lut",
    "repeat_index",
    "sort_order",
    "uniform_days",
]

CONDITIONS = ("htn", "t2d", "chd", "af", "stroke", "ckd", "depression", "alcohol", "asthma", "hypothyroid")
CARDIOMETABOLIC = ("htn", "t2d", "chd", "af", "stroke", "ckd")
assert CONDITIONS[: len(CARDIOMETABOLIC)] == CARDIOMETABOLIC, "matrices slice the first six conditions"
VISIT_TYPES = ("nurse", "doctor", "phone", "emergency", "inpatient")
NURSE, DOCTOR, PHONE, EMERGENCY, INPATIENT = range(5)

LOINC = ("8480-6", "8462-4", "4548-4", "59261-8", "18262-6", "33914-3", "39156-5")
SBP, DBP, HBA1C_PCT, HBA1C_IFCC, LDL, EGFR, BMI = range(7)
UNITS = ("mm[Hg]", "%", "mmol/mol", "mmol/L", "mL/min/1.73m2", "kg/m2")
# unit index of each LOINC code above
UNIT_OF = np.array([0, 0, 1, 2, 3, 4, 5], dtype=np.int8)

# ICD-10 and ATC codes the generator uses besides those named in params.yaml
_EXTRA_ICD = ("Z01.3", "Z01.7", "F10.0", "Z13.1")  # BP check, laboratory check, intoxication, diabetes screening
_EXTRA_ATC = ("A10BA02", "B01AC06", "R03AC02", "H03AA01")


@dataclass
class Vocab:
    """An ordered code list with index lookup."""

    codes: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, code: str) -> int:
        if code not in self.index:
            self.index[code] = len(self.codes)
            self.codes.append(code)
        return self.index[code]

    def ids(self, codes: Iterable[str]) -> np.ndarray:
        return np.array([self.index[c] for c in codes], dtype=np.int32)

    def prefix_mask(self, prefixes: tuple[str, ...]) -> np.ndarray:
        """Bool per vocabulary entry: the code (dot removed) starts with one of ``prefixes``."""
        return np.array([c.replace(".", "").startswith(prefixes) for c in self.codes], dtype=bool)

    def arrow(self, idx: np.ndarray) -> pa.Array:
        """Row indices -> Arrow string array."""
        dictionary = pa.array(self.codes, type=pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), dictionary).dictionary_decode()


def build_vocabs(hp: dict[str, Any]) -> tuple[Vocab, Vocab]:
    """The ICD-10 and ATC vocabularies of the codes ``params['health']`` can produce."""
    icd, atc = Vocab(), Vocab()
    for cond in CONDITIONS:
        for code in hp["conditions"][cond]["codes"]:
            icd.add(code)
    for group in hp["acute_codes"].values():
        for mix in group.values():
            for code in mix:
                icd.add(code)
    for code in _EXTRA_ICD:
        icd.add(code)
    tr = hp["treatment"]
    for key in ("htn_first", "htn_second", "htn_third", "statin", "t2d_addon", "anticoagulant", "antidepressant",
                "alcohol_drug", "asthma_controller", "hypnotic", "steroid", "bone_protection"):
        for code in tr[key]:
            atc.add(code)
    for code in _EXTRA_ATC:
        atc.add(code)
    for rule in tr["acute"].values():
        atc.add(rule[0])
    return icd, atc


LUT_SIZE = 4096   # draws from small mixes go through a quantile lookup table (weights to 1/4096)


def mix_lut(weights: Iterable[float]) -> np.ndarray:
    """Quantile lookup table of a categorical mix: ``lut[rng.integers(0, LUT_SIZE)]`` draws from it.

    >>> np.bincount(mix_lut([1, 3]), minlength=2).tolist()
    [1024, 3072]
    """
    cum = np.cumsum(np.asarray(list(weights), dtype=np.float64))
    return np.searchsorted(cum / cum[-1], (np.arange(LUT_SIZE) + 0.5) / LUT_SIZE).astype(np.int32)


def draw_mix(rng: np.random.Generator, n: int, mix: dict[str, float], vocab: Vocab) -> np.ndarray:
    """``n`` vocabulary indices drawn from a ``{code: weight}`` mix."""
    return vocab.ids(mix)[mix_lut(mix.values())[rng.integers(0, LUT_SIZE, n)]]


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One uniform day in [lo, hi] per row (hi >= lo assumed; rows with hi < lo return lo)."""
    span = np.maximum(hi - lo + 1, 1)
    return lo + np.floor(rng.random(len(lo)) * span).astype(np.int64)


def repeat_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and within-owner rank for ``counts`` rows per owner.

    >>> [a.tolist() for a in repeat_index(np.array([2, 0, 1]))]
    [[0, 0, 2], [0, 1, 0]]
    """
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - starts[owner]


def sort_order(*keys: np.ndarray) -> np.ndarray:
    """Row order by ``keys`` (most significant first), ties in row order: a stable lexsort.

    Non-negative integer keys are packed into one int64 and sorted with a single (SIMD) argsort,
    ten times faster than ``np.lexsort``; falls back to lexsort if the packed key would overflow.

    >>> sort_order(np.array([1, 0, 1, 0]), np.array([5, 7, 2, 7])).tolist()
    [1, 3, 2, 0]
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cols = [*keys, np.arange(n)]
    lows = [int(k.min()) for k in cols]
    spans = [int(k.max()) - lo + 1 for k, lo in zip(cols, lows, strict=True)]
    if float(np.prod(np.array(spans, dtype=np.float64))) >= 2.0**62:
        return np.lexsort(tuple(reversed(cols)))
    packed = np.zeros(n, dtype=np.int64)
    for k, lo, span in zip(cols, lows, spans, strict=True):
        packed = packed * span + (k.astype(np.int64) - lo)
    return np.argsort(packed)


def minus_months(on_day: int, months: int) -> int:
    """Calendar arithmetic: the same day ``months`` earlier (clamped to the month's last day).

    >>> from ennakoiva.adapters.synth.frame import day
    >>> from datetime import date
    >>> minus_months(day(date(2026, 11, 1)), 12) == day(date(2025, 11, 1))
    True
    >>> minus_months(day(date(2024, 3, 31)), 1) == day(date(2024, 2, 29))
    True
    """
    d = EPOCH + timedelta(days=on_day)
    total = d.year * 12 + d.month - 1 - months
    year, month = divmod(total, 12)
    dom = min(d.day, calendar.monthrange(year, month + 1)[1])
    return (d.replace(year=year, month=month + 1, day=dom) - EPOCH).days


def calendar_age(birth: np.ndarray, on_day: int) -> np.ndarray:
    """Completed years on ``on_day`` by the calendar (a birthday counts from its own date)."""
    b = birth.astype("datetime64[D]")
    year = b.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = b.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    dom = (b - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    d = EPOCH + timedelta(days=on_day)
    before = (month > d.month) | ((month == d.month) & (dom > d.day))
    return (d.year - year - before).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """The look-back boundaries of the care-gap criteria, all relative to the extract date."""

    window_start: int
    as_of: int
    w12: int          # as_of minus 12 calendar months
    w24: int          # as_of minus 24 calendar months
    w5y: int          # as_of minus 5 calendar years

    @classmethod
    def of(cls, window_start: int, as_of: int) -> Windows:
        return cls(window_start, as_of, minus_months(as_of, 12), minus_months(as_of, 24), minus_months(as_of, 60))
