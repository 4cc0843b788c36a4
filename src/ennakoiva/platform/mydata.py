"""The resident's own view and export (GDPR Art. 15 and 20): consents, data held, every use.

The resident reads through the same access gate as anyone else, under the purpose
``resident-own-data`` and the role ``resident``, so their own look at their data is logged too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.purposes import Purpose
from ennakoiva.domain.consent.records import validate_subject_id
from ennakoiva.domain.consent.rights import rights_for
from ennakoiva.domain.registry import Registry, default_registry
from ennakoiva.platform.access import AccessGate
from ennakoiva.platform.consents import ConsentService

__all__ = ["OWN_DATA_PURPOSE", "resident_view"]

OWN_DATA_PURPOSE = "resident-own-data"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def resident_view(subject_id: object, gate: AccessGate, consents: ConsentService, engine: DuckDBEngine | None,
                  purposes: Mapping[str, Purpose], *, include_data: bool, registry: Registry | None = None,
                  ) -> dict[str, Any]:
    """Everything a resident may see about themselves; ``include_data`` adds the copy of the data."""
    subject = validate_subject_id(subject_id)
    registry = registry or default_registry()
    me = Actor(id=str(subject), role="resident", service="mydata")
    tables = [t.name for t in registry.tables.values() if t.personal]
    held: dict[str, Any] = {}
    copy: dict[str, list[dict[str, Any]]] = {}
    decision = gate.decide(me, OWN_DATA_PURPOSE, subject, tuple(registry.categories))
    if not decision.permit:
        raise PermissionError(f"the resident's own view was refused: {decision.reason}")
    if engine is not None:
        for name in tables:
            rows = engine.read_subject(name, subject, decision)
            category = registry.tables[name].category or ""
            entry = held.setdefault(category, {"names": registry.categories[category].names, "tables": {}})
            entry["tables"][name] = rows.num_rows
            if include_data and rows.num_rows:
                copy[name] = [{k: _jsonable(v) for k, v in row.items()} for row in rows.to_pylist()]
    uses = [{
        "at": e.at.isoformat(), "by_role": e.role, "service": e.service, "purpose_id": e.purpose_id,
        "purpose": purposes[e.purpose_id].names if e.purpose_id in purposes else None,
        "categories": list(e.categories), "outcome": e.decision, "reason": e.reason,
    } for e in gate.uses_of(subject)]
    used_purposes = sorted({u["purpose_id"] for u in uses if u["purpose_id"] in purposes}
                           | {v.record.purpose_id for v in consents.views_of_person(subject)})
    view: dict[str, Any] = {
        "subject_id": subject,
        "consents": [v.as_dict(purposes) for v in consents.views_of_person(subject)],
        "data_held": held,
        "uses": uses,
        "rights": {pid: {"legal_basis": purposes[pid].legal_basis.value,
                         "legal_reference": purposes[pid].legal_reference,
                         "rights": [{"id": r.id, "article": r.article, "names": r.names}
                                    for r in rights_for(purposes[pid].legal_basis)]}
                   for pid in used_purposes if pid in purposes},
    }
    if include_data:
        view["data"] = copy
    return view
