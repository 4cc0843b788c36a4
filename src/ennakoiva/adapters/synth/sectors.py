"""The sector generators, in the order they run for each postal area.

A sector sees the outputs of the sectors before it (e.g. incomes read the job-seeker spells), so
the order is part of the story: health, then employment, incomes, early education, social care.
Each entry is ``(name, generate)`` with ``generate(ctx: SectorContext) -> SectorOutput``.
"""

from __future__ import annotations

from collections.abc import Callable

from ennakoiva.adapters.synth import ecec, employment, health, incomes, social
from ennakoiva.adapters.synth.frame import SectorContext, SectorOutput

__all__ = ["SECTORS"]

SECTORS: tuple[tuple[str, Callable[[SectorContext], SectorOutput]], ...] = (
    ("health", health.generate),
    ("employment", employment.generate),
    ("incomes", incomes.generate),
    ("ecec", ecec.generate),
    ("social", social.generate),
)
