"""Hourly energy and indoor-air readings of city buildings (placeholder until the readings sector lands)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

__all__ = ["generate_readings"]


def generate_readings(buildings: pa.Table, window_start: int, as_of: int,
                      rng: np.random.Generator) -> Iterator[tuple[dict[str, pa.Table], dict[str, pa.Table]]]:
    """Yield (tables, truth) chunks of building readings."""
    yield from ()
