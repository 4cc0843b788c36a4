"""What a conversion needs besides the source: the salt for keys, the mappings, the extract date, and
counts of everything filled in or assumed, which the load report lists as notes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from ennakoiva.adapters.importers.ids import stable_id
from ennakoiva.adapters.importers.mappings import CodeMaps
from ennakoiva.adapters.importers.placeholders import (
    PLACEHOLDER_LANGUAGE,
    PLACEHOLDER_MUNICIPALITY,
    district_of,
    household_type,
    placeholder_area,
)

__all__ = ["Context", "Values"]

Values = dict[str, str | None]


@dataclass
class Context:
    salt: str
    maps: CodeMaps
    as_of: date
    counts: Counter[str] = field(default_factory=Counter)

    def key(self, kind: str, *parts: str) -> str:
        """A record key as text, for a BIGINT column."""
        return str(stable_id(self.salt, kind, *parts))

    def person_id(self, patient: str) -> str:
        return self.key("patient", patient) if patient else ""

    def visit_id(self, encounter: str) -> str:
        return self.key("encounter", encounter) if encounter else ""

    def unit_id(self, organization: str) -> str:
        return str(stable_id(self.salt, "organization", organization, bits=31)) if organization else ""

    def person(self, patient: str, *, birth: date, sex: str, death: str, language: str | None,
               postal_code: str | None) -> tuple[Values, Values]:
        """The person row and its one-person household, filling in what the source lacks."""
        district = district_of(postal_code) if postal_code else None
        if postal_code is None:
            postal_code, district = placeholder_area(self.salt, f"patient {patient}")
            self.counts["placeholder_area"] += 1
        elif district is None:
            district = placeholder_area(self.salt, f"patient {patient}")[1]
            self.counts["placeholder_district"] += 1
        if language is None:
            language = PLACEHOLDER_LANGUAGE
            self.counts["placeholder_language"] += 1
        household = self.key("household", patient)
        person: Values = {
            "person_id": self.person_id(patient), "birth_date": birth.isoformat(), "sex": sex,
            "mother_tongue": language, "municipality_code": PLACEHOLDER_MUNICIPALITY, "district_code": district,
            "postal_code": postal_code, "household_id": household, "moved_in_date": None, "death_date": death,
            "move_out_date": None,
        }
        home: Values = {"household_id": household, "household_type": household_type(birth, self.as_of),
                        "postal_code": postal_code, "district_code": district, "floor_area_m2": None}
        return person, home

    def unit(self, organization: str, name: str) -> Values:
        """A health station for a Synthea/FHIR organisation (area a placeholder, capacity unknown: 0)."""
        postal_code, district = placeholder_area(self.salt, f"organization {organization}")
        self.counts["units"] += 1
        return {"unit_id": self.unit_id(organization), "unit_type": "health_station",
                "name": name.strip() or f"organisation {organization}", "district_code": district,
                "postal_code": postal_code, "languages": "fi", "capacity": "0", "building_id": None}

    def notes(self) -> list[str]:
        """What the report should say about keys and filled-in values."""
        c = self.counts
        notes = [f"keys are pseudonymous: sha256 of the id salt, the record kind and the source id (see "
                 f"ennakoiva.adapters.importers.ids); the extract date is {self.as_of.isoformat()}"]
        if c["placeholder_area"] or c["placeholder_district"]:
            notes.append(f"synthetic placeholders: {c['placeholder_area']} person(s) without a Finnish address "
                         f"got municipality {PLACEHOLDER_MUNICIPALITY} and a Helsinki postal area and district "
                         f"chosen by a hash of their id; {c['placeholder_district']} with a postal code "
                         "outside Helsinki's areas got a placeholder district")
        if c["placeholder_language"]:
            notes.append(f"synthetic placeholders: {c['placeholder_language']} person(s) without a stated "
                         f"language got mother tongue '{PLACEHOLDER_LANGUAGE}'")
        if c["units"]:
            notes.append(f"{c['units']} organisation row(s) became health-station units with a placeholder "
                         "Helsinki area, service language 'fi' and capacity 0 (unknown)")
        if c["ongoing"]:
            notes.append(f"{c['ongoing']} ongoing medication(s) (no stop date) end on the extract date "
                         f"{self.as_of.isoformat()}")
        if c["ended_without_end"]:
            notes.append(f"{c['ended_without_end']} ended medication request(s) without an end date or "
                         "supply duration end on their start date")
        if c["deceased_without_date"]:
            notes.append(f"{c['deceased_without_date']} patient(s) marked deceased without a date are "
                         "loaded without a death date")
        return notes
