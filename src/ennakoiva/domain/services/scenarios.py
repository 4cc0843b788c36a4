"""Executable scenarios for proactive services: residents in, offers and recipients out.

A scenario (``catalogue/services/scenarios/<name>.yaml``) is a tiny hand-written city — people with
birth dates, phones and languages, guardianships, ECEC placements, diagnoses, prescriptions, visits —
a run date, and the exact (subject, recipient) rows the service's trigger must produce. A domain
expert can read and extend it without Python; a test builds each one into an empty database and runs
the trigger's SQL over it. A new service is one definition YAML, its templates and one scenario.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ennakoiva.domain.services.catalogue import SERVICES_DIR
from ennakoiva.domain.types import Lang
from ennakoiva.domain.yaml_source import CatalogueError, load_yaml, location_of

__all__ = [
    "SCENARIOS_DIR", "Expected", "ScenarioDiagnosis", "ScenarioPerson", "ScenarioPlacement", "ScenarioPrescription",
    "ScenarioUnit", "ScenarioVisit", "ServiceScenario", "load_scenario", "load_scenarios",
]

SCENARIOS_DIR = SERVICES_DIR / "scenarios"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioUnit(_Strict):
    id: int = Field(ge=1)
    type: Literal["daycare", "health_station", "family_centre", "employment_office"]
    name: str = Field(min_length=2)
    district: str = Field(default="101", pattern=r"^[0-9]{3}$")
    languages: str = "fi"


class ScenarioPerson(_Strict):
    """A resident (or a former one); ``phone`` and ``language`` make a registered SMS channel."""

    id: int = Field(ge=1)
    born: date
    municipality: str = Field(default="091", pattern=r"^[0-9]{3}$")
    tongue: str = Field(default="fi", pattern=r"^[a-z]{2}$")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    language: Lang | None = None
    district: str = Field(default="101", pattern=r"^[0-9]{3}$")
    postal: str = Field(default="00100", pattern=r"^[0-9]{5}$")
    moved_in: date | None = None
    moved_out: date | None = None
    died: date | None = None

    @model_validator(mode="after")
    def _channel(self) -> ScenarioPerson:
        if (self.phone is None) != (self.language is None):
            raise ValueError("phone and language go together (a registered SMS channel has both)")
        return self


class Guardianship(_Strict):
    guardian: int
    child: int
    since: date | None = None      # default: the child's birth
    until: date | None = None


class ScenarioPlacement(_Strict):
    child: int
    type: Literal["daycare", "family_daycare", "preschool"]
    start: date
    end: date | None = None
    unit: int
    hours_per_week: int = Field(default=40, ge=1, le=60)


class ScenarioDiagnosis(_Strict):
    person: int
    code: str = Field(pattern=r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,3})?$")
    on: date


class ScenarioPrescription(_Strict):
    person: int
    code: str = Field(pattern=r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")
    start: date
    end: date


class ScenarioVisit(_Strict):
    person: int
    unit: int
    on: date
    type: Literal["nurse", "doctor", "phone", "emergency", "inpatient"] = "nurse"


class Expected(_Strict):
    """One row the trigger must produce; ``language``, ``phone`` and ``unit`` are checked when given."""

    subject: int
    recipient: int
    language: Lang | None = None
    phone: str | None = None
    no_phone: bool = False
    unit: str | None = None


class ServiceScenario(_Strict):
    service: str = Field(pattern=r"^[a-z][a-z0-9-]{1,79}$")
    description: str = Field(min_length=10)
    on: date
    units: tuple[ScenarioUnit, ...] = Field(min_length=1)
    people: tuple[ScenarioPerson, ...] = Field(min_length=1)
    guardians: tuple[Guardianship, ...] = ()
    placements: tuple[ScenarioPlacement, ...] = ()
    diagnoses: tuple[ScenarioDiagnosis, ...] = ()
    prescriptions: tuple[ScenarioPrescription, ...] = ()
    visits: tuple[ScenarioVisit, ...] = ()
    expect: tuple[Expected, ...]

    @model_validator(mode="after")
    def _references(self) -> ServiceScenario:
        ids = [p.id for p in self.people]
        if len(set(ids)) != len(ids):
            raise ValueError("people ids must be unique")
        units = {u.id for u in self.units}
        known = set(ids)
        refs = [("guardians", g.guardian) for g in self.guardians] + [("guardians", g.child) for g in self.guardians]
        refs += [("placements", p.child) for p in self.placements]
        refs += [("diagnoses", d.person) for d in self.diagnoses]
        refs += [("prescriptions", r.person) for r in self.prescriptions]
        refs += [("visits", v.person) for v in self.visits]
        refs += [("expect", e.subject) for e in self.expect] + [("expect", e.recipient) for e in self.expect]
        bad = sorted({f"{where}: {pid}" for where, pid in refs if pid not in known})
        if bad:
            raise ValueError(f"unknown people {bad}")
        used = [x.unit for x in self.placements] + [v.unit for v in self.visits]
        bad_units = sorted({u for u in used if u not in units})
        if bad_units:
            raise ValueError(f"unknown units {bad_units}")
        return self

    def person(self, pid: int) -> ScenarioPerson:
        return next(p for p in self.people if p.id == pid)


def load_scenario(path: Path) -> ServiceScenario:
    """One scenario file; errors name file and line."""
    doc = load_yaml(path)
    try:
        return ServiceScenario.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise CatalogueError(f"{location_of(doc, loc)}: {err['msg']} at {'.'.join(map(str, loc))}") from exc


def load_scenarios(directory: Path = SCENARIOS_DIR) -> list[tuple[Path, ServiceScenario]]:
    """Every ``*.yaml`` scenario in ``directory``, sorted by file name."""
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise CatalogueError(f"{directory}: no scenarios (*.yaml)")
    return [(p, load_scenario(p)) for p in paths]
