"""Composition of the operational side: store, audit log, consent use cases and the access gate.

Nothing is built at import time; ``open_operational(settings)`` migrates the store to the latest
schema (idempotent) and wires everything to one SQLAlchemy engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ennakoiva.adapters.stores import SqlAuditLog, SqlConsentStore, create_engine, upgrade
from ennakoiva.domain.consent.audit import VerifyReport
from ennakoiva.domain.consent.purposes import Purpose, default_purposes
from ennakoiva.platform.access import AccessGate
from ennakoiva.platform.audit_verification import verify_audit
from ennakoiva.platform.consents import ConsentService
from ennakoiva.platform.settings import Settings

__all__ = ["Operational", "open_operational"]


@dataclass
class Operational:
    """The wired operational services; ``close()`` releases the database connections."""

    settings: Settings
    store: SqlConsentStore
    audit: SqlAuditLog
    purposes: dict[str, Purpose]
    consents: ConsentService
    gate: AccessGate
    _engine: Any

    def verify_audit(self, workers: int | None = None) -> VerifyReport:
        """Walk the whole audit chain (in parallel ranges when long) against the signed checkpoints."""
        return verify_audit(self.settings, workers=workers)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Operational:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_operational(settings: Settings | None = None, *, migrate: bool = True) -> Operational:
    """Open (and migrate) the store named by ``settings.db_url`` and wire the use cases to it."""
    settings = settings or Settings()
    engine = create_engine(settings.db_url)
    if migrate:
        upgrade(engine)
    purposes = default_purposes()
    store = SqlConsentStore(engine)
    audit = SqlAuditLog(engine, key=settings.audit_key(), checkpoint_file=settings.audit_checkpoint_file,
                        checkpoint_every=settings.audit_checkpoint_every)
    return Operational(settings=settings, store=store, audit=audit, purposes=purposes,
                       consents=ConsentService(store, purposes), gate=AccessGate(store, audit, purposes),
                       _engine=engine)
