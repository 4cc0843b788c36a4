"""Dated fee parameters: the law's numbers and a municipality's choices, each with its reference.

A parameter is a mapping from the date a value takes effect to that value and its legal reference
(OpenFisca's parameter shape). The value in force on a date is the one with the latest start on or
before it. An entry whose value is ``null`` is a *known gap* (e.g. the income limits from
1.8.2026): asking for it raises :class:`MissingFeeParameterError` rather than reusing an older value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ennakoiva.domain.codes import load_code_systems
from ennakoiva.domain.registry import CATALOGUE_DIR
from ennakoiva.domain.yaml_source import CatalogueError, load_model, load_yaml, location_of

__all__ = [
    "FEES_DIR", "DatedValue", "ExcludedIncome", "FeeParameters", "FreeBasis", "HourTier", "InForce", "LawParameters",
    "MissingFeeParameterError", "MunicipalParameters", "Parameter", "load_fee_parameters",
]

FEES_DIR = CATALOGUE_DIR / "fees"

T = TypeVar("T")


class MissingFeeParameterError(LookupError):
    """No value of a required parameter is in force on the date asked for."""


class DatedValue(BaseModel, Generic[T]):
    """One value from its start date on; ``value: null`` marks a gap and needs a ``note``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: T | None
    reference: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _gap_is_explained(self) -> DatedValue[T]:
        if self.value is None and not self.note:
            raise ValueError("a value left null (a gap) needs a 'note' saying why")
        return self


@dataclass(frozen=True)
class InForce(Generic[T]):
    """The value in force on a date, with where it comes from."""

    name: str
    value: T
    valid_from: date
    reference: str


class Parameter(BaseModel, Generic[T]):
    """A parameter's dated values, keyed by the date each takes effect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    unit: str
    values: dict[date, DatedValue[T]] = Field(min_length=1)

    def entry_on(self, on: date) -> tuple[date, DatedValue[T]] | None:
        """The entry in force on ``on`` (latest start ≤ ``on``), or ``None`` before the first."""
        starts = [d for d in self.values if d <= on]
        if not starts:
            return None
        start = max(starts)
        return start, self.values[start]

    def at(self, name: str, on: date) -> InForce[T]:
        """The value in force on ``on``; raises :class:`MissingFeeParameterError` before the first date or in a gap."""
        found = self.entry_on(on)
        if found is None:
            first = min(self.values)
            raise MissingFeeParameterError(f"fee parameter '{name}' has no value before {first.isoformat()}; "
                                      f"cannot calculate a fee on {on.isoformat()}")
        start, entry = found
        if entry.value is None:
            earlier = [d for d in self.values if d < start and self.values[d].value is not None]
            last = f"; the last date with a value is {(start - timedelta(days=1)).isoformat()}" if earlier else ""
            raise MissingFeeParameterError(
                f"fee parameter '{name}' for {on.isoformat()} is not available: the entry from "
                f"{start.isoformat()} ({entry.reference}) is empty — {entry.note}; refusing to fall back "
                f"to an earlier value{last}")
        return InForce(name, entry.value, start, entry.reference)


class LawParameters(BaseModel):
    """The numbers L 1503/2016 and the OKM index notices set (``catalogue/fees/law.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    income_limits: Parameter[dict[int, Decimal]]
    income_limit_increment: Parameter[Decimal]
    percentage: Parameter[Decimal]
    max_fee: Parameter[Decimal]
    min_fee: Parameter[Decimal]
    sibling_rate_second: Parameter[Decimal]
    sibling_rate_further: Parameter[Decimal]

    @model_validator(mode="after")
    def _limits_cover_sizes_two_to_six(self) -> LawParameters:
        for start, entry in self.income_limits.values.items():
            if entry.value is not None and sorted(entry.value) != [2, 3, 4, 5, 6]:
                raise ValueError(f"income_limits from {start.isoformat()} must give family sizes 2–6, "
                                 f"got {sorted(entry.value)}")
        return self


class HourTier(BaseModel):
    """Hours per day strictly above ``over_hours_per_day`` pay ``rate`` of the full-time fee."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    over_hours_per_day: Decimal = Field(ge=0)
    rate: Decimal = Field(gt=0, le=1)


class ExcludedIncome(BaseModel):
    """An income type the municipality does not count; ``income_type`` is a registry code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    income_type: str | None
    note: str | None = None


FreeBasis = Literal["pre_primary", "age_five"]


class MunicipalParameters(BaseModel):
    """A municipality's choices within the law (``catalogue/fees/municipalities/<name>.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    municipality: str
    description: str
    hour_tiers: Parameter[list[HourTier]]
    free_hours_per_day: dict[FreeBasis, Parameter[Decimal]]
    excluded_income: Parameter[list[ExcludedIncome]]

    @model_validator(mode="after")
    def _tiers_descend_to_zero(self) -> MunicipalParameters:
        for start, entry in self.hour_tiers.values.items():
            tiers = entry.value or []
            bounds = [t.over_hours_per_day for t in tiers]
            if entry.value is not None and (not tiers or bounds != sorted(bounds, reverse=True) or bounds[-1] != 0):
                raise ValueError(f"hour_tiers from {start.isoformat()} must be ordered from the highest "
                                 "bound down and end with over_hours_per_day: 0")
        return self


@dataclass(frozen=True)
class FeeParameters:
    """Everything a fee calculation reads: the law plus one municipality."""

    law: LawParameters
    municipal: MunicipalParameters
    income_types: frozenset[str]


def _income_types(path: Path, municipal: MunicipalParameters) -> frozenset[str]:
    """The registry's ``income_type`` codes; every code the municipality excludes must be one."""
    income_type = load_code_systems(CATALOGUE_DIR / "code_systems.yaml")["income_type"]
    doc = load_yaml(path)
    for start, entry in municipal.excluded_income.values.items():
        for i, item in enumerate(entry.value or []):
            if item.income_type is not None and not income_type.is_valid(item.income_type):
                loc = location_of(doc, ("excluded_income", "values", start.isoformat(), "value", i))
                raise CatalogueError(f"{loc}: unknown income_type '{item.income_type}' "
                                     f"(expected {income_type.explain()})")
    return frozenset(income_type.values or {})


def load_fee_parameters(municipality: str = "helsinki", directory: Path = FEES_DIR) -> FeeParameters:
    """Read ``law.yaml`` and ``municipalities/<municipality>.yaml``; errors name file and line.

    >>> params = load_fee_parameters()
    >>> params.law.max_fee.at("max_fee", date(2025, 1, 1)).value
    Decimal('311')
    """
    law = load_model(directory / "law.yaml", LawParameters)
    path = directory / "municipalities" / f"{municipality}.yaml"
    if not path.is_file():
        raise CatalogueError(f"{path}: no fee parameters for municipality '{municipality}'")
    municipal = load_model(path, MunicipalParameters, stem_field="municipality")
    return FeeParameters(law, municipal, _income_types(path, municipal))
