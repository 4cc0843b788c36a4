"""The family a fee is decided for: who lives in the household, the children in ECEC, the incomes.

Income is tri-state per item (``known`` / ``missing`` / ``refused``): a missing or refused item is
never guessed; the law's answer to it is the maximum fee (L 1503/2016 § 7(3)).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ennakoiva.domain.fees.parameters import FreeBasis

__all__ = ["FeeChild", "FeeFamily", "IncomeItem", "IncomeStatus"]

IncomeStatus = Literal["known", "missing", "refused"]


class IncomeItem(BaseModel):
    """One monthly income item of a household member (a registry ``income_type`` code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person: str
    income_type: str
    status: IncomeStatus = "known"
    amount_per_month: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _amount_iff_known(self) -> IncomeItem:
        if (self.status == "known") != (self.amount_per_month is not None):
            raise ValueError("a known income item needs amount_per_month; a missing or refused one has none")
        return self


class FeeChild(BaseModel):
    """A child in ECEC: birth date (orders siblings), care hours per day and any free-hours basis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    birth_date: date
    hours_per_day: Decimal = Field(gt=0, le=24)
    free_hours: FreeBasis | None = None


class FeeFamily(BaseModel):
    """The law's family (L 1503/2016 § 5): adults of the joint household plus its minor children.

    ``minor_children`` counts every minor in the household, also those not in ECEC. With no income
    items the income is unreported (→ maximum fee); a family with no income reports an item of 0.

    >>> fam = FeeFamily(adults=2, minor_children=1,
    ...     children=[FeeChild(name="a", birth_date=date(2021, 5, 1), hours_per_day=Decimal(8))])
    >>> fam.size
    3
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    adults: int = Field(ge=1, le=2)
    minor_children: int = Field(ge=1)
    children: list[FeeChild] = Field(min_length=1)
    incomes: list[IncomeItem] = Field(default_factory=list)
    accepts_maximum_fee: bool = False

    @model_validator(mode="after")
    def _children_are_household_minors(self) -> FeeFamily:
        if self.minor_children < len(self.children):
            raise ValueError(f"minor_children ({self.minor_children}) is less than the children in ECEC "
                             f"({len(self.children)})")
        names = [c.name for c in self.children]
        if len(set(names)) != len(names):
            raise ValueError("child names must be unique within the family")
        return self

    @property
    def size(self) -> int:
        """Family size for the income limit: adults plus minor children."""
        return self.adults + self.minor_children
