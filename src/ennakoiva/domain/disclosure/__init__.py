"""Disclosure control: every published count passes ``protect`` under a policy from the catalogue."""

from ennakoiva.domain.disclosure.audit import Leak, LeakKind, ReleaseAudit, audit_overlap, audit_release, protect_nested
from ennakoiva.domain.disclosure.policy import DisclosurePolicy, default_policy, load_policy
from ennakoiva.domain.disclosure.protect import check_protection, exposed_cells, protect
from ennakoiva.domain.disclosure.table import (
    TOTAL,
    CellStatus,
    FrequencyTable,
    ProtectedCell,
    ProtectedTable,
    SuppressionReason,
)

__all__ = [
    "TOTAL", "CellStatus", "DisclosurePolicy", "FrequencyTable", "Leak", "LeakKind", "ProtectedCell",
    "ProtectedTable", "ReleaseAudit", "SuppressionReason", "audit_overlap", "audit_release", "check_protection",
    "default_policy", "exposed_cells", "load_policy", "protect", "protect_nested",
]
