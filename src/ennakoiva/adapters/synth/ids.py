"""Pseudonymous, collision-free ids.

An id is a bijective scramble of a sequential number, so ids are unique by construction, reveal
neither order nor postal area, and are reproducible from the seed-independent sequence.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AREA_STRIDE", "scramble"]

AREA_STRIDE = 10**10            # sequential numbers are area_index * AREA_STRIDE + local index
_MASK = (1 << 48) - 1
_MULT = {                       # odd multipliers, one per id space, make x -> x*m mod 2^48 bijective
    "person": 0x5DEECE66D, "household": 0x2545F4914F, "visit": 0x9E3779B97, "event": 0xBF58476D1,
}


def scramble(seq: np.ndarray, space: str) -> np.ndarray:
    """Map sequential int64 numbers to distinct pseudonymous positive int64 ids (< 2^48)."""
    x = seq.astype(np.uint64)
    out = (x * np.uint64(_MULT[space])) & np.uint64(_MASK)
    return (out ^ np.uint64(0x5A5A5A5A5A)).astype(np.int64) + 1
