"""Build the FHIR Bundle fixtures in ``tests/fixtures/fhir/`` from the Synthea CSV sample.

Two Bundles carry exactly what ``tests/fixtures/synthea/`` holds for one patient each, in the shape
Synthea's own FHIR R4 exporter writes (blood pressure as a 85354-9 panel with 8480-6/8462-4
components, units as UCUM codes, organisations referenced by identifier): one as a *transaction*
(``urn:uuid:`` references, no Organization resources) and one as a *collection* (``Patient/id``
references, Organization resources included). A third, ``edge_cases.json``, is written by hand
here: Finnish data, direct ICD-10 and ATC codings, and resources the importer must reject or leave
out. Regenerate with ``.venv/bin/python tests/adapters/importers/fhir_fixtures.py``; a test checks the
committed files equal what this module builds.
"""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SYNTHEA = FIXTURES / "synthea"
FHIR = FIXTURES / "fhir"
TRANSACTION_PATIENT = "5a595dfb-9ecf-d4ac-2893-b3e1ced04951"  # hypertensive, last BP 148/113
COLLECTION_PATIENT = "261ad2a4"  # prefix: died as a child in 1976
SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
_CLASS = {"wellness": "AMB", "ambulatory": "AMB", "outpatient": "AMB", "emergency": "EMER", "urgentcare": "EMER",
          "inpatient": "IMP"}
Resource = dict[str, Any]


def _rows(name: str, patient: str, column: str = "PATIENT") -> list[dict[str, str]]:
    with (SYNTHEA / name).open(encoding="utf-8", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r[column].startswith(patient)]


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "ennakoiva-fixture:" + ":".join(parts)))


def _coding(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _quantity(value: str, unit: str) -> Resource:
    return {"value": float(value), "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def synthea_bundle(patient_prefix: str, kind: str) -> Resource:
    """One patient's Synthea rows as a FHIR R4 Bundle of ``kind`` (transaction or collection)."""
    patient = _rows("patients.csv", patient_prefix, "Id")[0]
    pid = patient["Id"]
    transaction = kind == "transaction"

    def ref(resource_type: str, rid: str) -> Resource:
        return {"reference": f"urn:uuid:{rid}" if transaction else f"{resource_type}/{rid}"}

    resources: list[Resource] = [{
        "resourceType": "Patient", "id": pid, "gender": {"M": "male", "F": "female"}[patient["GENDER"]],
        "birthDate": patient["BIRTHDATE"],
        **({"deceasedDateTime": patient["DEATHDATE"]} if patient["DEATHDATE"] else {}),
        "name": [{"use": "official", "family": patient["LAST"], "given": [patient["FIRST"]]}],
        "address": [{"line": [patient["ADDRESS"]], "city": patient["CITY"], "state": patient["STATE"],
                     "postalCode": patient["ZIP"], "country": "US"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US",
                                                    "display": "English (United States)"}]}}],
    }]
    encounters = _rows("encounters.csv", pid)
    organizations = {o["Id"]: o for o in _rows("organizations.csv", "", "Id")}
    if not transaction:
        for org in sorted({e["ORGANIZATION"] for e in encounters}):
            resources.append({"resourceType": "Organization", "id": org,
                              "identifier": [{"system": SYNTHEA_SYSTEM, "value": org}],
                              "name": organizations[org]["NAME"]})
    for e in encounters:
        provider = ({"reference": f"Organization?identifier={SYNTHEA_SYSTEM}|{e['ORGANIZATION']}"} if transaction
                    else {"reference": f"Organization/{e['ORGANIZATION']}"})
        resources.append({
            "resourceType": "Encounter", "id": e["Id"], "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": _CLASS[e["ENCOUNTERCLASS"]]},
            "type": [_coding("http://snomed.info/sct", e["CODE"], e["DESCRIPTION"])],
            "subject": ref("Patient", pid), "period": {"start": e["START"], "end": e["STOP"]},
            "serviceProvider": {**provider, "display": organizations[e["ORGANIZATION"]]["NAME"]},
            **({"reasonCode": [_coding("http://snomed.info/sct", e["REASONCODE"], e["REASONDESCRIPTION"])]}
               if e["REASONCODE"] else {}),
        })
    for c in _rows("conditions.csv", pid):
        resources.append({
            "resourceType": "Condition", "id": _id("condition", *c.values()),
            "clinicalStatus": _coding("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                      "resolved" if c["STOP"] else "active", ""),
            "verificationStatus": _coding("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                          "confirmed", ""),
            "code": _coding("http://snomed.info/sct", c["CODE"], c["DESCRIPTION"]),
            "subject": ref("Patient", pid), "encounter": ref("Encounter", c["ENCOUNTER"]),
            "onsetDateTime": c["START"], **({"abatementDateTime": c["STOP"]} if c["STOP"] else {}),
            "recordedDate": c["START"],
        })
    observations = [o for o in _rows("observations.csv", pid) if o["CODE"][:1].isdigit()]
    pressures = [o for o in observations if o["CODE"] in ("8480-6", "8462-4")]
    for (encounter, when) in sorted({(o["ENCOUNTER"], o["DATE"]) for o in pressures}):
        parts = sorted((o for o in pressures if (o["ENCOUNTER"], o["DATE"]) == (encounter, when)),
                       key=lambda o: o["CODE"] != "8480-6")
        resources.append({
            "resourceType": "Observation", "id": _id("bp", encounter, when), "status": "final",
            "category": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "")],
            "code": _coding("http://loinc.org", "85354-9", "Blood pressure panel with all children optional"),
            "subject": ref("Patient", pid), "encounter": ref("Encounter", encounter), "effectiveDateTime": when,
            "component": [{"code": _coding("http://loinc.org", o["CODE"], o["DESCRIPTION"]),
                           "valueQuantity": _quantity(o["VALUE"], o["UNITS"])} for o in parts],
        })
    for o in observations:
        if o in pressures:
            continue
        value = ({"valueQuantity": _quantity(o["VALUE"], o["UNITS"])} if o["TYPE"] == "numeric"
                 else {"valueString": o["VALUE"]})
        resources.append({
            "resourceType": "Observation", "id": _id("observation", *o.values()), "status": "final",
            "code": _coding("http://loinc.org", o["CODE"], o["DESCRIPTION"]), "subject": ref("Patient", pid),
            "encounter": ref("Encounter", o["ENCOUNTER"]), "effectiveDateTime": o["DATE"], **value,
        })
    for m in _rows("medications.csv", pid):
        validity = {"start": m["START"], **({"end": m["STOP"]} if m["STOP"] else {})}
        resources.append({
            "resourceType": "MedicationRequest", "id": _id("medication", *m.values()),
            "status": "stopped" if m["STOP"] else "active", "intent": "order",
            "medicationCodeableConcept": _coding("http://www.nlm.nih.gov/research/umls/rxnorm", m["CODE"],
                                                 m["DESCRIPTION"]),
            "subject": ref("Patient", pid), "encounter": ref("Encounter", m["ENCOUNTER"]), "authoredOn": m["START"],
            "dispenseRequest": {"validityPeriod": validity},
        })
    entries = []
    for r in resources:
        entry: Resource = {"fullUrl": f"urn:uuid:{r['id']}", "resource": r}
        if transaction:
            entry["request"] = {"method": "POST", "url": r["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def edge_case_bundle() -> Resource:
    """A small hand-written Bundle: Finnish codes and the resources that must be rejected or left out.

    Entries, in order: 1 Patient fi-1 (Finnish address and language), 2 Organization, 3 Encounter,
    4 Condition E11.9 (ICD-10 coding), 5 Condition refuted (left out), 6 Observation BP panel in
    mmHg, 7 Observation LDL 116 mg/dL (3.0001 mmol/L), 8 Observation HbA1c 58 mmol/mol,
    9 Observation without a value (rejected), 10 MedicationRequest ATC C09AA05, 11 MedicationRequest
    stopped with a 90-day supply, 12 Claim (no table), 13 Patient without birthDate (rejected),
    14 Patient with gender other (rejected), 15 Encounter without serviceProvider (rejected),
    16 Condition with an unmapped SNOMED code (rejected), 17 MedicationRequest with an unmapped
    RxNorm code (rejected), 18 Observation with SBP 400 mm[Hg] (rejected).
    """
    patient = {"reference": "Patient/fi-1"}
    encounter = {"reference": "Encounter/fi-enc-1"}
    loinc, snomed = "http://loinc.org", "http://snomed.info/sct"
    resources: list[Resource] = [
        {"resourceType": "Patient", "id": "fi-1", "gender": "female", "birthDate": "1950-03-01",
         "address": [{"use": "home", "postalCode": "00530", "city": "Helsinki", "country": "FI"}],
         "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "fi"}]}, "preferred": True}]},
        {"resourceType": "Organization", "id": "fi-org-1", "name": "Kallion terveysasema"},
        {"resourceType": "Encounter", "id": "fi-enc-1", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": patient, "period": {"start": "2024-03-04T09:00:00+02:00", "end": "2024-03-04T09:20:00+02:00"},
         "serviceProvider": {"reference": "Organization/fi-org-1"},
         "diagnosis": [{"condition": {"reference": "Condition/fi-cond-1"}, "rank": 1}]},
        {"resourceType": "Condition", "id": "fi-cond-1",
         "code": _coding("http://hl7.org/fhir/sid/icd-10", "E11.9", "Type 2 diabetes mellitus without complications"),
         "subject": patient, "encounter": encounter, "recordedDate": "2024-03-04"},
        {"resourceType": "Condition", "id": "fi-cond-2",
         "verificationStatus": _coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted", ""),
         "code": _coding(snomed, "59621000", "Hypertension"), "subject": patient, "onsetDateTime": "2024-03-04"},
        {"resourceType": "Observation", "id": "fi-bp-1", "status": "final",
         "code": _coding(loinc, "85354-9", "Blood pressure panel"), "subject": patient, "encounter": encounter,
         "effectiveDateTime": "2024-03-04T09:05:00+02:00",
         "component": [
             {"code": _coding(loinc, "8480-6", "Systolic blood pressure"),
              "valueQuantity": {"value": 152, "unit": "mmHg"}},
             {"code": _coding(loinc, "8462-4", "Diastolic blood pressure"),
              "valueQuantity": {"value": 94, "unit": "mmHg"}}]},
        {"resourceType": "Observation", "id": "fi-ldl-1", "status": "final",
         "code": _coding(loinc, "18262-6", "LDL cholesterol"), "subject": patient, "encounter": encounter,
         "effectiveDateTime": "2024-03-04", "valueQuantity": _quantity("116", "mg/dL")},
        {"resourceType": "Observation", "id": "fi-a1c-1", "status": "final",
         "code": _coding(loinc, "59261-8", "HbA1c (IFCC)"), "subject": patient, "encounter": encounter,
         "effectiveDateTime": "2024-03-04", "valueQuantity": _quantity("58", "mmol/mol")},
        {"resourceType": "Observation", "id": "fi-egfr-1", "status": "final",
         "code": _coding(loinc, "33914-3", "eGFR"), "subject": patient, "effectiveDateTime": "2024-03-04",
         "dataAbsentReason": {"text": "sample haemolysed"}},
        {"resourceType": "MedicationRequest", "id": "fi-med-1", "status": "active", "intent": "order",
         "medicationCodeableConcept": _coding("http://www.whocc.no/atc", "C09AA05", "ramipril"),
         "subject": patient, "authoredOn": "2024-03-04"},
        {"resourceType": "MedicationRequest", "id": "fi-med-2", "status": "stopped", "intent": "order",
         "medicationCodeableConcept": _coding("http://www.whocc.no/atc", "A10BA02", "metformin"),
         "subject": patient, "authoredOn": "2023-01-10",
         "dispenseRequest": {"expectedSupplyDuration": {"value": 90, "unit": "days", "code": "d"}}},
        {"resourceType": "Claim", "id": "fi-claim-1", "status": "active", "patient": patient},
        {"resourceType": "Patient", "id": "fi-2", "gender": "male"},
        {"resourceType": "Patient", "id": "fi-3", "gender": "other", "birthDate": "1990-01-01"},
        {"resourceType": "Encounter", "id": "fi-enc-2", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": patient, "period": {"start": "2024-03-05"}},
        {"resourceType": "Condition", "id": "fi-cond-3", "code": _coding(snomed, "12345", "Made-up finding"),
         "subject": patient, "onsetDateTime": "2024-03-04"},
        {"resourceType": "MedicationRequest", "id": "fi-med-3", "status": "active", "intent": "order",
         "medicationCodeableConcept": _coding("http://www.nlm.nih.gov/research/umls/rxnorm", "857005",
                                              "Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet"),
         "subject": patient, "authoredOn": "2024-03-04"},
        {"resourceType": "Observation", "id": "fi-bp-2", "status": "final",
         "code": _coding(loinc, "8480-6", "Systolic blood pressure"), "subject": patient,
         "effectiveDateTime": "2024-03-04T10:00:00+02:00", "valueQuantity": _quantity("400", "mm[Hg]")},
    ]
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"https://fhir.example.fi/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}


def fixtures() -> dict[str, Resource]:
    """Every fixture file's name and content."""
    return {"synthea_5a595dfb_transaction.json": synthea_bundle(TRANSACTION_PATIENT, "transaction"),
            "synthea_261ad2a4_collection.json": synthea_bundle(COLLECTION_PATIENT, "collection"),
            "edge_cases.json": edge_case_bundle()}


def write_fixtures(folder: Path = FHIR) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, bundle in fixtures().items():
        (folder / name).write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_fixtures()
