"""The demo's consent story on the synthetic city: a family lets the city check its incomes, a nurse
is refused, a guardian withdraws, the log proves every step and the resident sees it all."""

from __future__ import annotations

from pathlib import Path

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.records import Party
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.mydata import resident_view
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

__all__ = ["consent_story"]

FEE = "daycare-fee-income-check"
OFFICER = Actor(id="fee-officer-1", role="fee-officer", service="early-childhood-education")
NURSE = Actor(id="nurse-1", role="nurse", service="health-services")


def consent_story(db: Path, folder: Path) -> list[tuple[str, str]]:
    """Run the story against a fresh store in ``folder``; returns (step, outcome) lines."""
    for name in ("store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm", "checkpoints.jsonl"):
        (folder / name).unlink(missing_ok=True)
    settings = Settings(db_url=f"sqlite:///{folder / 'store.sqlite3'}", audit_key_file=folder / "audit.key",
                        audit_checkpoint_file=folder / "checkpoints.jsonl")
    lines: list[tuple[str, str]] = []
    with DuckDBEngine(db, read_only=True) as engine, open_operational(settings) as ops:
        # a child under three with two guardians: the family a daycare-fee decision is about
        row = engine.sql(
            "SELECT r.related_person_id, min(r.person_id), max(r.person_id) FROM family_relation r "
            "JOIN person c ON c.person_id = r.related_person_id WHERE r.relation = 'guardian_of' "
            "AND c.birth_date > DATE '2024-01-01' AND c.death_date IS NULL AND c.move_out_date IS NULL "
            "GROUP BY 1 HAVING count(*) = 2 ORDER BY 1 LIMIT 1").to_pylist()
        if not row:
            return [("consent story", "no two-guardian family with a small child in this city")]
        child, g1, g2 = row[0].values()

        def guardian(pid: int) -> Party:
            return Party(person_id=pid, role="guardian", auth_method="suomi.fi-strong")

        def fetch_income(who: Actor) -> str:
            """The guardians' incomes, each read decided and logged under the child's consent."""
            try:
                rows = sum(ops.gate.read(engine, who, FEE, g, ["income"], via_consent_of=child)["income"].num_rows
                           for g in (g1, g2))
                return f"permitted: {rows} monthly income rows of the two guardians read"
            except AccessDeniedError as exc:
                return f"denied ({exc.decision.reason})"

        ops.consents.give(FEE, child, guardian(g1), language="fi", required_parties=(g1, g2),
                          covered_subjects=(g1, g2))
        lines.append(("1st guardian consents to the income check", "consent pending the 2nd guardian"))
        lines.append(("fee officer fetches incomes", fetch_income(OFFICER)))
        view = ops.consents.give(FEE, child, guardian(g2), language="sv")
        lines.append(("2nd guardian consents", f"consent {view.status.state.value}, valid until "
                                               f"{view.status.valid_until:%Y-%m-%d}"))
        lines.append(("fee officer fetches incomes", fetch_income(OFFICER)))
        lines.append(("a nurse tries the same", fetch_income(NURSE)))
        ops.consents.withdraw(view.record.record_id, guardian(g1))
        lines.append(("a guardian withdraws (one call, as easy as giving)", "consent withdrawn for both"))
        lines.append(("fee officer fetches incomes again", fetch_income(OFFICER)))
        report = ops.verify_audit()
        lines.append(("audit verify", f"{'intact' if report.ok else 'BROKEN'}: {report.entries} entries"))
        mine = resident_view(child, ops.gate, ops.consents, engine, ops.purposes, include_data=False)
        theirs = resident_view(g1, ops.gate, ops.consents, engine, ops.purposes, include_data=False)
        lines.append(("the child's own view (for the guardians)",
                      f"{len(mine['consents'])} consent, {len(mine['uses'])} decisions about the child logged"))
        lines.append(("a guardian's own view", f"{len(theirs['uses'])} decisions about their data logged, "
                                               f"incl. every income check"))
    return lines
