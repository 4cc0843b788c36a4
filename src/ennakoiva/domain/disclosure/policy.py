"""The disclosure-control policy: thresholds and rules as data (``catalogue/disclosure/*.yaml``).

>>> policy = default_policy()
>>> policy.threshold, policy.secondary_suppression, policy.area_floor
(5, True, 100)
>>> try:
...     DisclosurePolicy(id="lax", version=1, sources=["x"], threshold=2)
... except ValueError as exc:
...     print("greater than or equal to 3" in str(exc))
True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ennakoiva.domain.registry import CATALOGUE_DIR
from ennakoiva.domain.yaml_source import load_model

__all__ = ["DISCLOSURE_DIR", "MIN_THRESHOLD", "DisclosurePolicy", "DominanceRule", "default_policy", "load_policy"]

DISCLOSURE_DIR = CATALOGUE_DIR / "disclosure"
#: Statistics Finland [D2]: information on fewer than 3 units cannot be disseminated.
MIN_THRESHOLD = 3


class DominanceRule(BaseModel):
    """(n, k) dominance for magnitude tables: the n largest contributors must not exceed k % of a cell.

    Kept in the model so a policy can state it; frequency tables of persons do not use it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    n: int = Field(ge=1)
    k_percent: float = Field(gt=0, le=100)


class DisclosurePolicy(BaseModel):
    """What a published frequency table must satisfy; see ``default.yaml`` for the sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: int = Field(ge=1)
    description: str = ""
    sources: list[str] = Field(min_length=1)
    #: cells with 0 < n < threshold are suppressed (primary); never below 3 [D2], default 5 [D4].
    threshold: int = Field(default=5, ge=MIN_THRESHOLD)
    #: suppress zero cells too (group disclosure: "nobody in this area is X" / "everyone is Y").
    suppress_zeros: bool = False
    #: a row or column whose total is below the threshold is suppressed as a whole [D1].
    suppress_small_line_totals: bool = True
    #: lines of the area dimension with fewer residents than this are suppressed as a whole [D5].
    area_floor: int | None = Field(default=100, ge=1)
    #: protect primary cells against recomputation from row/column totals [D1].
    secondary_suppression: bool = True
    #: published counts are rounded to the nearest multiple of this (1 = no rounding).
    rounding_base: int = Field(default=1, ge=1)
    dominance: DominanceRule | None = None


def load_policy(path: Path) -> DisclosurePolicy:
    """Load one policy file; errors name file, line and key."""
    return load_model(path, DisclosurePolicy)


@cache
def default_policy() -> DisclosurePolicy:
    """The shipped default policy (``catalogue/disclosure/default.yaml``)."""
    return load_policy(DISCLOSURE_DIR / "default.yaml")
