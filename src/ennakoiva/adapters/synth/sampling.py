"""Small vectorised sampling helpers shared by the sector generators."""

from __future__ import annotations

import numpy as np

__all__ = ["allocate", "categorical", "interp_by_age", "match_sorted"]


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder).

    >>> allocate(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, dtype=np.float64)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    exact = w / w.sum() * total
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix (rows need not be normalised)."""
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), p.shape[1] - 1)


def interp_by_age(ages: np.ndarray, table: dict[int, float]) -> np.ndarray:
    """Piecewise-linear value by age from a ``{age: value}`` table, flat beyond its ends."""
    xs = np.array(sorted(table), dtype=np.float64)
    ys = np.array([table[k] for k in sorted(table)], dtype=np.float64)
    return np.interp(ages, xs, ys)


def match_sorted(pool_sorted: np.ndarray, wanted_sorted: np.ndarray) -> np.ndarray:
    """Pick distinct pool positions whose values best follow ``wanted`` (both ascending).

    Greedy monotone matching, vectorised: position j = max(searchsorted, previous + 1); when the
    pool runs out at the top, positions are pushed down. Requires len(wanted) <= len(pool).

    >>> match_sorted(np.array([20, 25, 30, 31, 40]), np.array([30, 30, 39])).tolist()
    [2, 3, 4]
    """
    m, p = len(wanted_sorted), len(pool_sorted)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if m > p:
        raise ValueError(f"cannot match {m} wanted values from a pool of {p}")
    s = np.searchsorted(pool_sorted, wanted_sorted).astype(np.int64)
    j = np.arange(m, dtype=np.int64)
    pos = np.maximum.accumulate(s - j) + j
    return np.minimum(pos, p - m + j)
