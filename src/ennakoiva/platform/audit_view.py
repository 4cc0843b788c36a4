"""The data-protection officer's view of the audit log: the latest entries and the chain check."""

from __future__ import annotations

from typing import Any

from ennakoiva.adapters.stores import SqlAuditLog

__all__ = ["recent_entries"]


def recent_entries(audit: SqlAuditLog, limit: int = 50, *, outcome: str | None = None) -> dict[str, Any]:
    """The last ``limit`` entries (newest first): ids, roles, purposes, categories, outcomes — no values."""
    last, _ = audit.last()
    limit = max(1, min(limit, 500))
    start = max(1, last - (limit if outcome is None else limit * 20) + 1)
    entries = [e for e in audit.entries(start) if outcome is None or e.decision == outcome]
    entries = entries[-limit:][::-1]
    return {"total": last, "entries": [e.model_dump(mode="json", exclude={"prev_hash"}) for e in entries]}
