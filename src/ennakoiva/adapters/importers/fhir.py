"""FHIR R4 Bundles → registry tables.

One Bundle per ``.json`` file (collection, transaction or any other type). Patient becomes a person
and a one-person household, Organization a service unit, Encounter a health visit, Condition a
diagnosis (an ICD-10 coding as is, else SNOMED CT through the mapping), Observation one measurement
per LOINC result it holds (a blood-pressure panel 85354-9 gives its 8480-6 and 8462-4 components),
and MedicationRequest a prescription (an ATC coding as is, else RxNorm through the mapping). Other
resource types are counted in the report's notes.

A rejected resource points at its file and its *entry number* in the Bundle (the ``line`` column of
the rejects file; the first entry is 1), names the resource (``Patient/abc``) in the reason, and
keeps the resource's JSON as the raw row. A file that is not valid JSON, or not a Bundle, is
rejected as a whole with the JSON line and column of the fault.

Keys are derived from the same source facts as the Synthea CSV importer's (patient, encounter and
organisation ids; for events the patient, encounter, code and moment), so a Synthea patient loaded
from CSV and from FHIR is one person with one set of rows.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ennakoiva.adapters.importers.common import (
    Problem,
    condition_code,
    date_part,
    drug_code,
    is_before,
    key_time,
    measurement,
    number_text,
    parse_moment,
)
from ennakoiva.adapters.importers.context import Context
from ennakoiva.adapters.importers.staging import Batch
from ennakoiva.adapters.loading.encoding import decode
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.staged import StagedRows

__all__ = ["Bundle", "convert_fhir", "find_bundle_files", "latest_date", "read_bundle"]

Resource = dict[str, Any]

LOINC_SYSTEMS = {"http://loinc.org", "urn:oid:2.16.840.1.113883.6.1"}
SNOMED_SYSTEMS = {"http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"}
RXNORM_SYSTEMS = {"http://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.88"}
ATC_SYSTEMS = {"http://www.whocc.no/atc", "urn:oid:2.16.840.1.113883.6.73", "urn:oid:1.2.246.537.6.32"}
UCUM = "http://unitsofmeasure.org"
_ICD10_OIDS = ("urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90", "urn:oid:1.2.246.537.6.1")
_FINLAND = {"FI", "FIN", "FINLAND", "SUOMI", "FINLAND (SUOMI)"}
_LANGUAGE = re.compile(r"([A-Za-z]{2})([-_].*)?")
_POSTAL = re.compile(r"[0-9]{5}")
_OUT_OF_USE = {"entered-in-error", "cancelled"}
_ONGOING = {"active", "on-hold", "draft", "unknown", ""}
_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7, "mo": 30, "month": 30, "months": 30}
_TABLES = ("household", "person", "service_unit", "health_visit", "diagnosis", "measurement", "prescription")
_SOURCES = {
    "person": {"person_id": "id", "birth_date": "birthDate", "sex": "gender", "death_date": "deceasedDateTime",
               "mother_tongue": "communication", "postal_code": "address.postalCode"},
    "household": {"household_id": "id"},
    "service_unit": {"unit_id": "id", "name": "name"},
    "health_visit": {"visit_id": "id", "person_id": "subject", "unit_id": "serviceProvider",
                     "visit_date": "period.start", "visit_type": "class"},
    "diagnosis": {"person_id": "subject", "visit_id": "encounter", "diagnosis_date": "onsetDateTime",
                  "icd10_code": "code"},
    "measurement": {"person_id": "subject", "visit_id": "encounter", "measured_on": "effectiveDateTime",
                    "code": "code", "value": "valueQuantity.value", "unit": "valueQuantity.unit"},
    "prescription": {"person_id": "subject", "atc_code": "medicationCodeableConcept",
                     "start_date": "authoredOn", "end_date": "dispenseRequest.validityPeriod.end"},
}
_SHOWN = {"person": ("person_id",), "household": ("household_id",), "service_unit": ("unit_id",),
          "health_visit": ("visit_id", "person_id", "unit_id"), "diagnosis": ("person_id", "visit_id"),
          "measurement": ("person_id", "visit_id"), "prescription": ("person_id",)}


@dataclass
class Bundle:
    """One Bundle file: its entries as (entry number, resource) and how its fullUrls resolve."""

    file: str
    entries: list[tuple[int, Resource]]
    full_urls: dict[str, str] = field(default_factory=dict)  # fullUrl -> resource id
    skipped: Counter[str] = field(default_factory=Counter)


def find_bundle_files(source: Path, rejects_path: Path | None = None) -> tuple[list[Path], list[str]]:
    """The Bundle files to read (``source`` itself, or the ``.json`` files of a folder) and what was skipped."""
    if not source.exists():
        raise FileNotFoundError(f"no such file or folder: {source}")
    if source.is_file():
        return [source], []
    rejects = rejects_path.resolve() if rejects_path else None
    files: list[Path] = []
    skipped: list[str] = []
    for path in sorted(source.iterdir()):
        if path.name.startswith("."):
            continue
        if path.resolve() == rejects or path.name == "rejects.csv":
            skipped.append(f"{path.name}: a rejects file")
        elif path.is_dir():
            skipped.append(f"{path.name}: a folder")
        elif path.suffix.lower() != ".json":
            skipped.append(f"{path.name}: not a .json file")
        else:
            files.append(path)
    if not files:
        raise LoadError(f"{source}: no .json file; give a FHIR Bundle file or a folder of them")
    return files, skipped


def read_bundle(path: Path, encoding: str | None = None) -> Bundle:
    """Parse one Bundle file; invalid JSON or anything but a Bundle raises LoadError naming the place."""
    text, _used = decode(path.read_bytes(), encoding, path.name)
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path.name}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                        line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise LoadError(f"{path.name}: not a FHIR Bundle (resourceType {kind!r}); give one Bundle per file")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise LoadError(f"{path.name}: Bundle.entry is not a list")
    bundle = Bundle(path.name, [])
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            bundle.skipped["entries without a resource"] += 1
            continue
        bundle.entries.append((number, resource))
        full_url, rid = entry.get("fullUrl"), resource.get("id")
        if isinstance(full_url, str) and isinstance(rid, str):
            bundle.full_urls[full_url] = rid
    return bundle


def _dates(resource: Resource) -> list[str]:
    kind = resource["resourceType"]
    picks: list[Any] = []
    if kind == "Patient":
        picks = [resource.get("deceasedDateTime")]
    elif kind == "Encounter":
        period = resource.get("period") or {}
        picks = [period.get("start"), period.get("end")]
    elif kind == "Condition":
        picks = [resource.get("onsetDateTime"), resource.get("recordedDate"), resource.get("abatementDateTime")]
    elif kind == "Observation":
        picks = [resource.get("effectiveDateTime"), (resource.get("effectivePeriod") or {}).get("start")]
    elif kind == "MedicationRequest":
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        picks = [resource.get("authoredOn"), validity.get("start"), validity.get("end")]
    return [p for p in picks if isinstance(p, str)]


def latest_date(bundles: list[Bundle]) -> date | None:
    """The latest date of any event in the Bundles: the extract date when none is given."""
    best: date | None = None
    for bundle in bundles:
        for _, resource in bundle.entries:
            for text in _dates(resource):
                moment = parse_moment(date_part(text))
                if isinstance(moment, date) and (best is None or moment > best):
                    best = moment
    return best


def _ref(reference: Any, bundle: Bundle) -> str:
    """The id a reference points at: ``Patient/x``, ``urn:uuid:x``, a fullUrl, ``Organization?identifier=s|x``."""
    text = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    text = text.strip()
    if text in bundle.full_urls:
        return bundle.full_urls[text]
    if "?identifier=" in text:
        value = text.split("?identifier=", 1)[1]
        return value.rsplit("|", 1)[-1]
    if text.startswith("urn:uuid:"):
        return text.removeprefix("urn:uuid:")
    return text.split("/_history", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _codings(concept: Any) -> list[dict[str, Any]]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _pick(concept: Any, systems: set[str]) -> tuple[str, str] | None:
    """(code, display) of the first coding in one of ``systems``."""
    for coding in _codings(concept):
        if coding.get("system") in systems and isinstance(coding.get("code"), str):
            return coding["code"].strip(), str(coding.get("display") or "")
    return None


def _is_icd10(system: Any) -> bool:
    text = str(system or "").lower()
    return "icd-10" in text or "icd10" in text or any(text.startswith(oid) for oid in _ICD10_OIDS)


def _first_code(concept: Any) -> str:
    codings = _codings(concept)
    return f"{codings[0].get('system', '')}|{codings[0].get('code', '')}" if codings else ""


def _status(resource: Resource, element: str) -> str:
    value = resource.get(element)
    if isinstance(value, dict):  # Condition.verificationStatus is a CodeableConcept
        codes = [c.get("code") for c in _codings(value)]
        return str(codes[0]) if codes else ""
    return str(value or "")


def _label(resource: Resource, number: int) -> str:
    rid = resource.get("id")
    return f"{resource['resourceType']}/{rid}" if isinstance(rid, str) and rid else \
        f"{resource['resourceType']} in entry {number}"


def _with(label: str, problem: Problem) -> Problem:
    return Problem(problem.column, problem.value, f"{label}: {problem.reason}", problem.excluded)


class _Converter:
    """Turns the resources of one Bundle into one batch per table."""

    def __init__(self, bundle: Bundle, ctx: Context) -> None:
        self.bundle, self.ctx = bundle, ctx
        self.batches = {t: Batch(t, bundle.file, sources=_SOURCES[t], unit="entry", shown=_SHOWN[t]) for t in _TABLES}
        self.raws: list[str] = []
        self.units: dict[str, tuple[int, int, str, bool]] = {}  # org id -> (entry, ref, name, from resource)
        self.reasons: dict[str, set[str]] = {}  # encounter id -> reason codes
        self.primary: dict[str, set[str]] = {}  # encounter id -> condition ids ranked 1
        self.medications: dict[str, Resource] = {}
        self.ignored: Counter[str] = Counter(bundle.skipped)

    def raw_of(self, refs: list[int]) -> list[str]:
        return [self.raws[r] for r in refs]

    def reject(self, table: str, number: int, ref: int, label: str, problem: Problem) -> None:
        self.batches[table].reject(number, ref, _with(label, problem))

    def run(self) -> list[StagedRows]:
        handlers = {"Patient": self.patient, "Organization": self.organization, "Encounter": self.encounter,
                    "Condition": self.condition, "Observation": self.observation,
                    "MedicationRequest": self.medication_request}
        for _, resource in self.bundle.entries:  # what later resources refer to
            rid = resource.get("id")
            if resource["resourceType"] == "Medication" and isinstance(rid, str):
                self.medications[rid] = resource
            if resource["resourceType"] == "Encounter" and isinstance(rid, str):
                self.reasons[rid] = {str(c.get("code")) for r in resource.get("reasonCode") or []
                                     for c in _codings(r)}
                self.primary[rid] = {_ref(d.get("condition"), self.bundle) for d in resource.get("diagnosis") or []
                                     if isinstance(d, dict) and d.get("rank") == 1}
        for number, resource in self.bundle.entries:
            handler = handlers.get(resource["resourceType"])
            if handler is None:
                if resource["resourceType"] != "Medication":
                    self.ignored[resource["resourceType"]] += 1
                continue
            self.raws.append(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
            handler(number, len(self.raws) - 1, resource)
        units = self.batches["service_unit"]
        for org, (number, ref, name, _) in self.units.items():
            units.add(number, ref, self.ctx.unit(org, name), {"unit_id": org})
        return [b.build(self.raw_of) for b in self.batches.values() if len(b)]

    def patient(self, number: int, ref: int, res: Resource) -> None:
        label, rid = _label(res, number), res.get("id")
        gender, birth_text = res.get("gender"), res.get("birthDate")
        birth = parse_moment(birth_text) if isinstance(birth_text, str) else None
        death_text = res.get("deceasedDateTime")
        death = date_part(death_text) if isinstance(death_text, str) else ""
        dead = parse_moment(death) if death else None
        problem = None
        if not isinstance(rid, str) or not rid:
            problem = Problem("id", "", "no id: a person needs one")
        elif not birth_text:
            problem = Problem("birthDate", "", "no birthDate (person.birth_date is required)")
        elif not isinstance(birth, date) or len(str(birth_text)) != 10:
            problem = Problem("birthDate", str(birth_text), f"birthDate {birth_text!r} is not a full date YYYY-MM-DD")
        elif gender not in ("female", "male"):
            shown = "no gender" if not gender else f"gender {gender!r} cannot be stored"
            problem = Problem("gender", str(gender or ""), f"{shown}: the register records sex as F or M")
        elif death and dead is None:
            problem = Problem("deceasedDateTime", str(death_text), "not an ISO date or timestamp")
        elif dead is not None and is_before(dead, birth):
            problem = Problem("deceasedDateTime", str(death_text), f"deceasedDateTime {death} is before birthDate "
                                                                   f"{birth_text}")
        if problem is not None:
            self.reject("person", number, ref, label, problem)
            return
        assert isinstance(rid, str) and isinstance(birth, date)
        if res.get("deceasedBoolean") is True and not death:
            self.ctx.counts["deceased_without_date"] += 1
        person, home = self.ctx.person(rid, birth=birth, sex="F" if gender == "female" else "M", death=death,
                                       language=_language(res), postal_code=_finnish_postal_code(res))
        self.batches["household"].add(number, ref, home, {"household_id": rid})
        self.batches["person"].add(number, ref, person, {"person_id": rid})

    def organization(self, number: int, ref: int, res: Resource) -> None:
        rid = res.get("id")
        if not isinstance(rid, str) or not rid:
            self.reject("service_unit", number, ref, _label(res, number), Problem("id", "", "no id: a unit needs one"))
            return
        self.units[rid] = (number, ref, str(res.get("name") or ""), True)

    def encounter(self, number: int, ref: int, res: Resource) -> None:
        label, rid = _label(res, number), res.get("id")
        period = res.get("period") or {}
        start, end = period.get("start"), period.get("end")
        patient = _ref(res.get("subject"), self.bundle)
        provider = res.get("serviceProvider")
        org = _ref(provider, self.bundle)
        classes = res.get("class")
        code = classes.get("code") if isinstance(classes, dict) else None
        if isinstance(classes, list) and classes:  # R5 writes a list of CodeableConcepts
            code = next((c.get("code") for c in _codings(classes[0])), None)
        visit_type = self.ctx.maps.visit_types.get(("v3-ActCode", str(code or "")))
        problem = None
        if not isinstance(rid, str) or not rid:
            problem = Problem("id", "", "no id: a visit needs one")
        elif not patient:
            problem = Problem("subject", "", "no subject (the patient)")
        elif not isinstance(start, str) or not start:
            problem = Problem("period.start", "", "no period.start (health_visit.visit_date is required)")
        elif visit_type is None:
            problem = Problem("class", str(code or ""), f"no visit_type for encounter class {code!r} in "
                                                       "encounter_class_to_visit_type.csv")
        elif not org:
            problem = Problem("serviceProvider", "", "no serviceProvider (health_visit.unit_id is required)")
        else:
            problem = _end_problem("period.end", start, end)
        if problem is not None:
            self.reject("health_visit", number, ref, label, problem)
            return
        assert isinstance(rid, str) and isinstance(start, str)
        if org not in self.units:
            display = provider.get("display") if isinstance(provider, dict) else ""
            self.units[org] = (number, ref, str(display or ""), False)
        self.batches["health_visit"].add(number, ref, {
            "visit_id": self.ctx.visit_id(rid), "person_id": self.ctx.person_id(patient),
            "unit_id": self.ctx.unit_id(org), "visit_date": date_part(start), "visit_type": visit_type},
            {"visit_id": rid, "person_id": patient, "unit_id": org})

    def condition(self, number: int, ref: int, res: Resource) -> None:
        label = _label(res, number)
        patient = _ref(res.get("subject"), self.bundle)
        encounter = _ref(res.get("encounter"), self.bundle)
        verification = _status(res, "verificationStatus")
        onset = res.get("onsetDateTime") or (res.get("onsetPeriod") or {}).get("start") or res.get("recordedDate")
        icd = next(((str(c.get("code") or "").strip(), "") for c in _codings(res.get("code"))
                    if _is_icd10(c.get("system"))), None)
        snomed = _pick(res.get("code"), SNOMED_SYSTEMS)
        kind, (code, term) = ("icd10", icd) if icd else ("snomed", snomed) if snomed else ("", ("", ""))
        problem = None
        if verification in ("refuted", "entered-in-error"):
            problem = Problem("verificationStatus", verification, f"not imported: the condition is {verification}",
                              excluded=True)
        elif not kind:
            problem = Problem("code", _first_code(res.get("code")), "no ICD-10 or SNOMED CT coding")
        icd10 = ""
        if problem is None:
            icd10, problem = condition_code(self.ctx.maps, kind, code, term, "code")
        if problem is None or not problem.excluded:
            if not isinstance(onset, str) or not onset:
                problem = Problem("onsetDateTime", "", "no onsetDateTime, onsetPeriod.start or recordedDate")
            else:
                problem = _end_problem("abatementDateTime", onset, res.get("abatementDateTime")) or problem
        if not patient and problem is None:
            problem = Problem("subject", "", "no subject (the patient)")
        if problem is not None:
            self.reject("diagnosis", number, ref, label, problem)
            return
        assert isinstance(onset, str)
        rid = res.get("id")
        primary = (code in self.reasons.get(encounter, set())) or (rid in self.primary.get(encounter, set()))
        self.batches["diagnosis"].add(number, ref, {
            "diagnosis_id": self.ctx.key("diagnosis", patient, encounter, kind, code, date_part(onset)),
            "person_id": self.ctx.person_id(patient), "visit_id": self.ctx.visit_id(encounter),
            "diagnosis_date": date_part(onset), "icd10_code": icd10, "is_primary": "true" if primary else "false"},
            {"person_id": patient, "visit_id": encounter})

    def observation(self, number: int, ref: int, res: Resource) -> None:
        label = _label(res, number)
        patient = _ref(res.get("subject"), self.bundle)
        encounter = _ref(res.get("encounter"), self.bundle)
        status = _status(res, "status")
        when = (res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start")
                or res.get("effectiveInstant") or res.get("issued"))
        top = _pick(res.get("code"), LOINC_SYSTEMS)
        parts: list[tuple[str, str, Resource]] = []
        if top and top[0] in self.ctx.maps.loinc:
            parts.append((*top, res))
        for component in res.get("component") or []:
            found = _pick(component.get("code"), LOINC_SYSTEMS) if isinstance(component, dict) else None
            if found and found[0] in self.ctx.maps.loinc:
                parts.append((*found, component))
        batch = self.batches["measurement"]
        if status in _OUT_OF_USE:
            self.reject("measurement", number, ref, label, Problem("status", status, f"not imported: the observation "
                                                                                     f"is {status}", excluded=True))
            return
        if not parts:
            code, term = top or ("", "")
            _value, _unit, problem = measurement(self.ctx.maps, code, term, "", "", code_column="code",
                                                 value_column="valueQuantity.value", unit_column="valueQuantity.unit")
            assert problem is not None
            self.reject("measurement", number, ref, label, problem)
            return
        for code, term, part in parts:
            problem = None
            if not patient:
                problem = Problem("subject", "", "no subject (the patient)")
            elif not isinstance(when, str) or not when:
                problem = Problem("effectiveDateTime", "", "no effectiveDateTime, effectivePeriod.start or issued")
            quantity = part.get("valueQuantity")
            if problem is None and not isinstance(quantity, dict):
                other = next((k for k in part if k.startswith("value")), None)
                problem = Problem(other or "valueQuantity", str(part.get(other, "")) if other else "",
                                  f"no valueQuantity for LOINC {code}" + (f" (it has {other})" if other else ""))
            if problem is not None:
                self.reject("measurement", number, ref, label, problem)
                continue
            assert isinstance(quantity, dict) and isinstance(when, str)
            raw_value = quantity.get("value")
            value = repr(float(raw_value)) if isinstance(raw_value, int | float) and not isinstance(raw_value, bool) \
                else str(raw_value if raw_value is not None else "")
            unit = str((quantity.get("code") if quantity.get("system") == UCUM and quantity.get("code")
                        else quantity.get("unit") or quantity.get("code")) or "")
            converted, registry_unit, problem = measurement(
                self.ctx.maps, code, term, value, unit, code_column="code", value_column="valueQuantity.value",
                unit_column="valueQuantity.unit")
            if problem is not None:
                self.reject("measurement", number, ref, label, problem)
                continue
            batch.add(number, ref, {
                "measurement_id": self.ctx.key("measurement", patient, encounter, key_time(when), code,
                                               number_text(value) or value.strip(), unit.strip()),
                "person_id": self.ctx.person_id(patient), "visit_id": self.ctx.visit_id(encounter),
                "measured_on": date_part(when), "code": code, "value": converted, "unit": registry_unit},
                {"person_id": patient, "visit_id": encounter})

    def _medication_concept(self, res: Resource) -> Any:
        if "medicationCodeableConcept" in res:
            return res["medicationCodeableConcept"]
        reference = res.get("medicationReference")
        text = reference.get("reference") if isinstance(reference, dict) else None
        if isinstance(text, str) and text.startswith("#"):
            contained = [c for c in res.get("contained") or [] if isinstance(c, dict) and c.get("id") == text[1:]]
            return contained[0].get("code") if contained else None
        medication = self.medications.get(_ref(reference, self.bundle))
        return medication.get("code") if medication else None

    def medication_request(self, number: int, ref: int, res: Resource) -> None:
        label = _label(res, number)
        patient = _ref(res.get("subject"), self.bundle)
        encounter = _ref(res.get("encounter"), self.bundle)
        status = _status(res, "status")
        concept = self._medication_concept(res)
        atc, rxnorm = _pick(concept, ATC_SYSTEMS), _pick(concept, RXNORM_SYSTEMS)
        kind, (code, term) = ("atc", atc) if atc else ("rxnorm", rxnorm) if rxnorm else ("", ("", ""))
        validity = (res.get("dispenseRequest") or {}).get("validityPeriod") or {}
        start = validity.get("start") or res.get("authoredOn")
        end_text = validity.get("end")
        problem = None
        target = ""
        if status in _OUT_OF_USE:
            problem = Problem("status", status, f"not imported: the request is {status}", excluded=True)
        elif not patient:
            problem = Problem("subject", "", "no subject (the patient)")
        elif not kind:
            problem = Problem("medicationCodeableConcept", _first_code(concept), "no ATC or RxNorm coding")
        elif not isinstance(start, str) or not start:
            problem = Problem("authoredOn", "", "no authoredOn or dispenseRequest.validityPeriod.start")
        else:
            problem = _end_problem("dispenseRequest.validityPeriod.end", start, end_text)
        if problem is None:
            target, problem = drug_code(self.ctx.maps, kind, code, term, "medicationCodeableConcept")
        end = date_part(end_text) if isinstance(end_text, str) else ""
        if problem is None and not end:
            assert isinstance(start, str)
            end, problem = self._open_end(res, status, start)
        if problem is not None:
            self.reject("prescription", number, ref, label, problem)
            return
        assert isinstance(start, str)
        self.batches["prescription"].add(number, ref, {
            "prescription_id": self.ctx.key("prescription", patient, encounter, kind, code, key_time(start),
                                            key_time(end_text if isinstance(end_text, str) else "")),
            "person_id": self.ctx.person_id(patient), "atc_code": target, "start_date": date_part(start),
            "end_date": end}, {"person_id": patient})

    def _open_end(self, res: Resource, status: str, start: str) -> tuple[str, Problem | None]:
        """The end of a request without validityPeriod.end: the extract date while it is ongoing, else
        start plus the expected supply duration, else the start date."""
        began = parse_moment(date_part(start))
        if not isinstance(began, date):
            return date_part(start), None  # the loader explains the start date
        if status in _ONGOING:
            if began > self.ctx.as_of:
                return "", Problem("authoredOn", start, f"ongoing (status {status or 'not given'}) but starts after "
                                                        f"the extract date {self.ctx.as_of.isoformat()}")
            self.ctx.counts["ongoing"] += 1
            return self.ctx.as_of.isoformat(), None
        supply = (res.get("dispenseRequest") or {}).get("expectedSupplyDuration") or {}
        days = _DAYS.get(str(supply.get("code") or supply.get("unit") or "").lower())
        amount = supply.get("value")
        if days and isinstance(amount, int | float) and amount >= 1:
            return (began + timedelta(days=round(amount * days) - 1)).isoformat(), None
        self.ctx.counts["ended_without_end"] += 1
        return began.isoformat(), None


def _end_problem(element: str, start: str, end: Any) -> Problem | None:
    if not isinstance(end, str) or not end.strip():
        return None
    when, began = parse_moment(end), parse_moment(start)
    if when is None:
        return Problem(element, end, "not an ISO date or timestamp")
    if began is not None and is_before(when, began):
        return Problem(element, end, f"{element} {end} is before the start {start}")
    return None


def _language(res: Resource) -> str | None:
    """The preferred (else first) communication language as ISO 639-1, or None."""
    entries = [c for c in res.get("communication") or [] if isinstance(c, dict)]
    entries.sort(key=lambda c: c.get("preferred") is not True)
    for entry in entries:
        for coding in _codings(entry.get("language")):
            match = _LANGUAGE.fullmatch(str(coding.get("code") or ""))
            if match:
                return match.group(1).lower()
    return None


def _finnish_postal_code(res: Resource) -> str | None:
    """The postal code of the home (else first) address when it is in Finland."""
    addresses = [a for a in res.get("address") or [] if isinstance(a, dict)]
    addresses.sort(key=lambda a: a.get("use") != "home")
    for address in addresses:
        code = str(address.get("postalCode") or "").strip()
        if str(address.get("country") or "").strip().upper() in _FINLAND and _POSTAL.fullmatch(code):
            return code
    return None


def convert_fhir(bundles: list[Bundle], ctx: Context) -> tuple[list[StagedRows], list[str]]:
    """Every Bundle as staged rows, and a note per file on the resources that have no table."""
    staged: list[StagedRows] = []
    notes: list[str] = []
    for bundle in bundles:
        converter = _Converter(bundle, ctx)
        staged += converter.run()
        if converter.ignored:
            listed = ", ".join(f"{kind} ×{n}" for kind, n in sorted(converter.ignored.items()))
            notes.append(f"{bundle.file}: not imported (no table in the data model): {listed}")
    return staged, notes
