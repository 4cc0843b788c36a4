"""One router per resource; ``ROUTERS`` is the order they are mounted in."""

from __future__ import annotations

from ennakoiva.interfaces.api.routers import (
    audit,
    campaigns,
    consents,
    decisions,
    health,
    mydata,
    overview,
    people,
    purposes,
    reports,
    session,
    tables,
)

__all__ = ["ROUTERS"]

ROUTERS = [health.router, session.router, purposes.router, overview.router, tables.router, people.router,
           decisions.router, consents.router, mydata.router, audit.router, reports.router,
           campaigns.router]
