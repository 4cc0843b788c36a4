"""The people who use the web service, and in which capacity each reads personal data.

A web role is what a person logs in as; a *capacity* is the (service, actor role) the purposes
catalogue names among a purpose's data users. Keeping the mapping here, in one table, means the
access decision — not the web layer — says what a role may read: a nurse's capacity is the health
services' nurse under care-gap identification and nothing else.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CAPACITIES", "ROLES", "STAFF_ROLES", "Capacity", "Role", "capacity_for"]

Role = Literal["analyst", "nurse", "counsellor", "service-owner", "dpo", "resident"]
ROLES: tuple[Role, ...] = ("analyst", "nurse", "counsellor", "service-owner", "dpo", "resident")
STAFF_ROLES: tuple[Role, ...] = ("analyst", "nurse", "counsellor", "service-owner", "dpo")

Capacity = tuple[str, str]   # (service, actor role) as in the purposes catalogue

CAPACITIES: dict[Role, dict[str, Capacity]] = {
    "analyst": {"open-data-statistics": ("city-statistics", "statistician")},
    "nurse": {"care-gap-identification": ("health-services", "nurse")},
    "counsellor": {"employment-service-recommendations": ("employment-services", "counsellor")},
    "service-owner": {"preschool-offer": ("early-childhood-education", "placement-officer"),
                      "daycare-fee-income-check": ("early-childhood-education", "fee-officer")},
    "dpo": {},   # reads the audit log (ids and categories), never personal data
    "resident": {"resident-own-data": ("mydata", "resident")},
}


def capacity_for(role: Role, purpose_id: str) -> Capacity | None:
    """The (service, actor role) a web role acts in under a purpose, or None when it has none.

    >>> capacity_for("nurse", "care-gap-identification")
    ('health-services', 'nurse')
    >>> capacity_for("nurse", "daycare-fee-income-check") is None
    True
    """
    return CAPACITIES.get(role, {}).get(purpose_id)
