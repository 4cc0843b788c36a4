"""A versioned model store on disk, and the input-drift report.

Layout under the registry root::

    versions/0001/artefacts.joblib   the fitted models (one joblib file)
    versions/0001/model_card.json    training window, features, metrics, fairness report, limits
    promoted                         the promoted version id (one line)

A version is written into a hidden temporary folder and renamed into place only when complete,
so a half-written version is never listed. Version numbers are claimed with ``mkdir`` (atomic), so
two trainings never take the same number. ``promote`` writes the pointer to a temporary file and
``os.replace``-s it over ``promoted``: a reader sees the old version or the new one, never a
partial file, and a service keeps answering from the version it has loaded while a retrain runs.
:class:`PromotedModel` reloads when the pointer changes (one ``stat`` per call).

Drift: :func:`reference_profile` keeps, per input feature, the training data's bins and shares
(decile edges for numbers, the categories for codes); :func:`drift_report` compares recent
registrations with it by the population stability index, PSI = Σ (a − e) ln(a / e), read
conventionally: below 0.1 stable, 0.1–0.25 moderate shift, above 0.25 major shift.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import joblib
import numpy as np
import pandas as pd

__all__ = [
    "PSI_MAJOR",
    "PSI_MODERATE",
    "ModelRegistry",
    "PromotedModel",
    "VersionInfo",
    "drift_report",
    "psi",
    "reference_profile",
]

PSI_MODERATE, PSI_MAJOR = 0.1, 0.25
_ARTEFACTS, _CARD, _POINTER = "artefacts.joblib", "model_card.json", "promoted"
_EPS = 1e-4


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: str
    promoted: bool
    card: dict[str, Any]


class ModelRegistry:
    """Versions of a model family in folders under ``root``; one of them promoted."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    # -- writing ---------------------------------------------------------------------------------

    def save(self, artefacts: Any, card: Mapping[str, Any]) -> str:
        """Store a new version (artefacts + model card); returns its id. Not promoted."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        version = self._claim()
        tmp = self.versions_dir / f".tmp-{version}-{uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            joblib.dump(artefacts, tmp / _ARTEFACTS, compress=3)
            full = {"version": version, "created_at": datetime.now(UTC).isoformat(timespec="seconds"), **card}
            (tmp / _CARD).write_text(json.dumps(full, indent=2, ensure_ascii=False, default=_json_default),
                                     encoding="utf-8")
            final = self.versions_dir / version
            final.rmdir()                      # the claim placeholder
            tmp.replace(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return version

    def _claim(self) -> str:
        existing = [int(p.name) for p in self.versions_dir.iterdir() if p.name.isdigit()]
        n = max(existing, default=0) + 1
        while True:
            candidate = self.versions_dir / f"{n:04d}"
            try:
                candidate.mkdir()
            except FileExistsError:
                n += 1
                continue
            return candidate.name

    def promote(self, version: str) -> None:
        """Point the service at ``version`` (atomic replace of the pointer file)."""
        if not (self.versions_dir / version / _CARD).is_file():
            raise ValueError(f"no model version {version!r} in {self.root}")
        tmp = self.root / f".promoted-{uuid4().hex[:8]}"
        tmp.write_text(version + "\n", encoding="ascii")
        tmp.replace(self.root / _POINTER)

    def update_card(self, version: str, **fields: Any) -> dict[str, Any]:
        """Add fields to a version's model card (e.g. an evaluation), atomically."""
        card = self.card(version) | fields
        path = self.versions_dir / version / _CARD
        tmp = path.with_name(f".card-{uuid4().hex[:8]}")
        tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8")
        tmp.replace(path)
        return card

    # -- reading ---------------------------------------------------------------------------------

    def promoted(self) -> str | None:
        try:
            return (self.root / _POINTER).read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None

    def card(self, version: str) -> dict[str, Any]:
        path = self.versions_dir / version / _CARD
        if not path.is_file():
            raise ValueError(f"no model version {version!r} in {self.root}")
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def load(self, version: str) -> Any:
        path = self.versions_dir / version / _ARTEFACTS
        if not path.is_file():
            raise ValueError(f"no model version {version!r} in {self.root}")
        return joblib.load(path)

    def list(self) -> list[VersionInfo]:
        if not self.versions_dir.is_dir():
            return []
        current = self.promoted()
        out = []
        for p in sorted(self.versions_dir.iterdir()):
            if p.name.isdigit() and (p / _CARD).is_file():
                card = self.card(p.name)
                out.append(VersionInfo(p.name, str(card.get("created_at", "")), p.name == current, card))
        return out

    def latest(self) -> str | None:
        versions = self.list()
        return versions[-1].version if versions else None

    def pointer_stamp(self) -> tuple[int, int] | None:
        """(inode, mtime_ns) of the pointer file: changes whenever a promotion replaces it."""
        try:
            st = (self.root / _POINTER).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)


class PromotedModel:
    """The promoted version held in memory; reloaded when the pointer changes, old one kept meanwhile."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._version: str | None = None
        self._artefacts: Any = None
        self._card: dict[str, Any] = {}

    def get(self) -> tuple[str, Any, dict[str, Any]]:
        """(version, artefacts, card) of the promoted model; raises LookupError when none is promoted."""
        stamp = self.registry.pointer_stamp()
        if stamp != self._stamp or self._artefacts is None:
            with self._lock:
                if stamp != self._stamp or self._artefacts is None:
                    version = self.registry.promoted()
                    if version is None:
                        raise LookupError(f"no promoted model in {self.registry.root}; run `ennakoiva model train` "
                                          "and `ennakoiva model promote`")
                    if version != self._version:
                        self._artefacts = self.registry.load(version)
                        self._card = self.registry.card(version)
                        self._version = version
                    self._stamp = stamp
        assert self._version is not None
        return self._version, self._artefacts, self._card


# --------------------------------------------------------------------------- drift

def reference_profile(frame: pd.DataFrame, numeric: list[str], categorical: list[str],
                      bins: int = 10) -> dict[str, Any]:
    """Per feature, the training data's bins and shares (to compare recent inputs with)."""
    out: dict[str, Any] = {}
    for col in numeric:
        values = frame[col].to_numpy(dtype=np.float64)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        out[col] = {"kind": "numeric", "edges": edges.tolist(), "shares": (counts / counts.sum()).tolist()}
    for col in categorical:
        shares = frame[col].astype(str).value_counts(normalize=True).sort_index()
        out[col] = {"kind": "categorical", "categories": shares.index.tolist(), "shares": shares.tolist()}
    return out


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins.

    >>> round(psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])), 6)
    0.0
    >>> psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])) > PSI_MAJOR
    True
    """
    e = np.clip(np.asarray(expected, dtype=np.float64), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _actual_shares(spec: Mapping[str, Any], values: pd.Series) -> np.ndarray:
    if spec["kind"] == "numeric":
        edges = np.asarray(spec["edges"], dtype=np.float64)
        counts = np.bincount(np.searchsorted(edges, values.to_numpy(dtype=np.float64), side="right"),
                             minlength=len(edges) + 1)
    else:
        cats = list(spec["categories"])
        text = values.astype(str)
        counts = np.array([(text == c).sum() for c in cats] + [(~text.isin(cats)).sum()], dtype=np.float64)
    return counts / max(counts.sum(), 1)


def drift_report(profile: Mapping[str, Any], recent: pd.DataFrame) -> dict[str, Any]:
    """PSI per feature between the training profile and ``recent`` inputs, with a verdict."""
    features: dict[str, Any] = {}
    for col, spec in profile.items():
        if col not in recent.columns:
            continue
        actual = _actual_shares(spec, recent[col])
        expected = np.asarray(spec["shares"], dtype=np.float64)
        if spec["kind"] == "categorical":
            expected = np.append(expected, 0.0)     # categories never seen in training
        value = psi(expected, actual)
        verdict = "major" if value > PSI_MAJOR else "moderate" if value > PSI_MODERATE else "stable"
        features[col] = {"psi": round(value, 4), "verdict": verdict}
    worst = max((f["psi"] for f in features.values()), default=0.0)
    return {"n_recent": len(recent), "features": features, "max_psi": worst,
            "drift": worst > PSI_MODERATE, "thresholds": {"moderate": PSI_MODERATE, "major": PSI_MAJOR}}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
