"""Named demo users for the embedded default login: one per staff role, and residents of the city.

The residents are real person ids of the synthetic city — two guardians of a small child — so
"My data" shows their actual data, a consent for the daycare-fee income check they both gave, and
every use of it. Seeding is idempotent: a store that already holds the family's consent is left alone.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.records import Party
from ennakoiva.platform.access import AccessDeniedError, AccessGate
from ennakoiva.platform.consents import ConsentService
from ennakoiva.platform.roles import Role

__all__ = ["DEMO_FEE_PURPOSE", "DemoUser", "demo_residents", "demo_users", "seed_demo_consents"]

DEMO_FEE_PURPOSE = "daycare-fee-income-check"


@dataclass(frozen=True)
class DemoUser:
    """A login name, the role it acts in, a display name and, for residents, the person id."""

    username: str
    role: Role
    display_name: str
    person_id: int | None = None


_STAFF: tuple[DemoUser, ...] = (
    DemoUser("analyst", "analyst", "Aino Analyytikko"),
    DemoUser("nurse", "nurse", "Hanna Hoitaja"),
    DemoUser("counsellor", "counsellor", "Tuomas Työvalmentaja"),
    DemoUser("owner", "service-owner", "Petra Palveluomistaja"),
    DemoUser("dpo", "dpo", "Sanna Suojavastaava"),
)


def demo_residents(engine: DuckDBEngine) -> tuple[int, int, int] | None:
    """(child, guardian 1, guardian 2) of the first small child with two guardians, or None."""
    rows = engine.sql(
        "SELECT r.related_person_id AS child, min(r.person_id) AS g1, max(r.person_id) AS g2 "
        "FROM family_relation r JOIN person c ON c.person_id = r.related_person_id "
        "WHERE r.relation = 'guardian_of' AND c.death_date IS NULL AND c.move_out_date IS NULL "
        "AND c.birth_date > (SELECT max(birth_date) FROM person) - INTERVAL 3 YEAR "
        "GROUP BY 1 HAVING count(*) = 2 ORDER BY 1 LIMIT 1").to_pylist()
    if not rows:
        return None
    return int(rows[0]["child"]), int(rows[0]["g1"]), int(rows[0]["g2"])


def demo_users(family: tuple[int, int, int] | None) -> list[DemoUser]:
    """The staff users, plus the two guardians of ``family`` as residents."""
    users = list(_STAFF)
    if family is not None:
        _, g1, g2 = family
        users += [DemoUser("resident", "resident", "Maija Meikäläinen", g1),
                  DemoUser("resident2", "resident", "Matti Meikäläinen", g2)]
    return users


def seed_demo_consents(engine: DuckDBEngine, consents: ConsentService, gate: AccessGate,
                       family: tuple[int, int, int]) -> bool:
    """Both guardians consent to the income check and the fee office reads once; False if already there."""
    child, g1, g2 = family
    if consents.views(child, DEMO_FEE_PURPOSE):
        return False
    for guardian in (g1, g2):
        party = Party(person_id=guardian, role="guardian", auth_method="suomi.fi-strong")
        consents.give(DEMO_FEE_PURPOSE, child, party, language="fi", required_parties=(g1, g2),
                      covered_subjects=(g1, g2))
    officer = Actor(id="fee-office", role="fee-officer", service="early-childhood-education")
    with suppress(AccessDeniedError):   # a fresh consent permits; a denial would be logged all the same
        gate.read(engine, officer, DEMO_FEE_PURPOSE, g1, ["income"], via_consent_of=child)
    return True
