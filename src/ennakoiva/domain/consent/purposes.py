"""The purposes catalogue: why the city may use personal data, on what legal basis, by whom.

One YAML per purpose in ``catalogue/purposes``. A consent-based purpose must say how long a consent
lasts, how to withdraw it and what the resident can do instead (a public authority always offers
an alternative route); loading fails with file and line otherwise.
"""

from __future__ import annotations

import hashlib
import unicodedata
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ennakoiva.domain.registry import CATALOGUE_DIR, Registry, default_registry
from ennakoiva.domain.types import LANGS, Lang
from ennakoiva.domain.yaml_source import CatalogueError, load_model, load_yaml, location_of

__all__ = [
    "AccessMode", "DataUser", "LegalBasis", "Notice", "Purpose", "canonical_purpose_id", "default_purposes",
    "load_purposes",
]

Texts = dict[Lang, str]


class LegalBasis(StrEnum):
    """GDPR Art. 6 bases the city uses (DPV codes in ``gdpr_code``)."""

    CONSENT = "consent"
    LEGAL_OBLIGATION = "legal_obligation"
    PUBLIC_TASK = "public_task"
    VITAL_INTEREST = "vital_interest"
    SECONDARY_USE_PERMIT = "secondary_use_permit"
    STATISTICS = "statistics"

    @property
    def gdpr_code(self) -> str:
        """DPV legal-basis code (A6-1-a …) the basis rests on."""
        return {
            "consent": "A6-1-a", "legal_obligation": "A6-1-c", "vital_interest": "A6-1-d",
            "public_task": "A6-1-e", "secondary_use_permit": "A6-1-e", "statistics": "A6-1-e",
        }[self.value]


class AccessMode(StrEnum):
    ONE_TIME = "one_time"
    PERIODIC = "periodic"
    CONTINUOUS = "continuous"


def _all_langs(texts: Texts, what: str) -> Texts:
    missing = [lang for lang in LANGS if not texts.get(lang, "").strip()]
    if missing:
        raise ValueError(f"{what}: missing text in {missing}")
    return texts


def canonical_purpose_id(raw: str) -> str:
    """Purpose ids compare after NFKC folding and lower-casing; anything else is not an id.

    >>> canonical_purpose_id("Daycare-Fee-Income-Check")
    'daycare-fee-income-check'
    >>> canonical_purpose_id("daycare'; DROP TABLE x;--")
    Traceback (most recent call last):
    ...
    ValueError: not a purpose id: "daycare'; DROP TABLE x;--"
    """
    folded = unicodedata.normalize("NFKC", raw).strip().lower()
    if not (folded.isascii() and folded.replace("-", "").isalnum() and folded[:1].isalpha() and len(folded) <= 80):
        raise ValueError(f"not a purpose id: {raw!r}")
    return folded


class Controller(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str
    contact: str


class DataUser(BaseModel):
    """A service and the roles in it that may use the data for this purpose."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    service: str
    roles: tuple[str, ...] = Field(min_length=1)


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    days: int = Field(gt=0)
    description: Texts


class Notice(BaseModel):
    """The privacy notice a resident consents to; its hash pins the exact wording."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = Field(ge=1)
    text: Texts

    @property
    def sha256(self) -> str:
        """Hash over the texts of all three languages, in a fixed order."""
        joined = "\n\x1f".join(f"{lang}:{self.text[lang]}" for lang in LANGS)
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()


class Purpose(BaseModel):
    """One purpose of processing from the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,79}$")
    version: int = Field(ge=1)
    names: Texts
    descriptions: Texts
    controller: Controller
    legal_basis: LegalBasis
    legal_reference: str
    dpv_purpose: str | None = None
    data_sources: tuple[str, ...] = Field(min_length=1)
    data_categories: tuple[str, ...] = Field(min_length=1)
    data_users: tuple[DataUser, ...] = Field(min_length=1)
    access_mode: AccessMode
    max_uses_per_period: int | None = Field(default=None, gt=0)
    period_days: int | None = Field(default=None, gt=0)
    retention: Retention
    consent_validity_days: int | None = Field(default=None, gt=0, le=3650)
    alternative_route: Texts | None = None
    withdrawal_method: Texts | None = None
    both_guardians_required: bool = False
    notice: Notice

    @model_validator(mode="after")
    def _rules(self) -> Purpose:
        _all_langs(self.names, "names")
        _all_langs(self.descriptions, "descriptions")
        _all_langs(self.retention.description, "retention.description")
        _all_langs(self.notice.text, "notice.text")
        if self.legal_basis is LegalBasis.CONSENT:
            for field in ("consent_validity_days", "alternative_route", "withdrawal_method"):
                if getattr(self, field) is None:
                    raise ValueError(f"a consent-based purpose needs {field} (no endless consent, Art. 7(3))")
            _all_langs(self.alternative_route or {}, "alternative_route")
            _all_langs(self.withdrawal_method or {}, "withdrawal_method")
        if (self.access_mode is AccessMode.PERIODIC) != (self.max_uses_per_period is not None):
            raise ValueError("max_uses_per_period is given exactly when access_mode is periodic")
        if (self.max_uses_per_period is None) != (self.period_days is None):
            raise ValueError("max_uses_per_period and period_days go together")
        if len(set(self.data_categories)) != len(self.data_categories):
            raise ValueError("data_categories has duplicates")
        return self

    @property
    def needs_consent(self) -> bool:
        return self.legal_basis is LegalBasis.CONSENT

    def allows(self, service: str, role: str) -> bool:
        """Whether a role in a service is among this purpose's data users."""
        return any(u.service == service and role in u.roles for u in self.data_users)


def load_purposes(directory: Path = CATALOGUE_DIR / "purposes", registry: Registry | None = None,
                  ) -> dict[str, Purpose]:
    """Every ``*.yaml`` in ``directory``; categories must exist in the registry; ids are unique."""
    registry = registry or default_registry()
    purposes: dict[str, Purpose] = {}
    for path in sorted(directory.glob("*.yaml")):
        purpose = load_model(path, Purpose, stem_field="id")
        unknown = [c for c in purpose.data_categories if c not in registry.categories]
        if unknown:
            line = location_of(load_yaml(path), ("data_categories",))
            raise CatalogueError(f"{line}: unknown data categories {unknown} (known: {sorted(registry.categories)})")
        purposes[purpose.id] = purpose
    if not purposes:
        raise CatalogueError(f"{directory}: no purposes")
    return purposes


@cache
def default_purposes() -> dict[str, Purpose]:
    """The shipped purposes catalogue, loaded once."""
    return load_purposes()

