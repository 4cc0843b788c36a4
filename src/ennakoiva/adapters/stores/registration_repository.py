"""Job seekers' registrations, the suggestions made and the counsellors' decisions (revision 0004).

A registration and its suggestions are written in one transaction; decisions are appended (the
table refuses UPDATE and DELETE), the latest one for a registration is in force. The queue is the
registrations without a decision, oldest first. :meth:`SqlRegistrationStore.feedback` hands the
next training run what was suggested and what the counsellor chose, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, func, insert, select

from ennakoiva.adapters.stores.database import reader, write_transaction
from ennakoiva.adapters.stores.schema import EmploymentDecisionRow, EmploymentRegistrationRow, EmploymentSuggestionRow
from ennakoiva.domain.employment.decision import CounsellorDecision
from ennakoiva.domain.employment.views import RecommendationResult

__all__ = ["SqlRegistrationStore", "StoredRegistration"]

REG = cast(Table, EmploymentRegistrationRow.__table__)
SUG = cast(Table, EmploymentSuggestionRow.__table__)
DEC = cast(Table, EmploymentDecisionRow.__table__)


@dataclass(frozen=True)
class StoredRegistration:
    """A registration with the answer it got and the counsellor's decision in force (if any)."""

    registration_id: str
    person_id: int
    created_at: datetime
    background: dict[str, Any]
    result: RecommendationResult
    decision: CounsellorDecision | None


def _decision(row: Any) -> CounsellorDecision:
    return CounsellorDecision(decision_id=row.decision_id, registration_id=row.registration_id,
                              counsellor_id=row.counsellor_id, service=row.service, reason=row.reason,
                              top_suggestion=row.top_suggestion, followed_suggestion=bool(row.followed_suggestion),
                              decided_at=row.decided_at)


class SqlRegistrationStore:
    """Registrations, suggestions and decisions in the operational store (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = reader(engine)

    def add(self, result: RecommendationResult, background: dict[str, Any]) -> None:
        """Store a registration, its answer and one row per suggestion, atomically."""
        self.add_many([(result, background)])

    def add_many(self, items: list[tuple[RecommendationResult, dict[str, Any]]]) -> None:
        """Store registrations with their answers and suggestions in one transaction (group commit)."""
        if not items:
            return
        regs, sugs = [], []
        for result, background in items:
            regs.append({
                "registration_id": result.registration_id, "person_id": result.person_id,
                "created_at": result.created_at, "language": result.language, "background": background,
                "categories": list(result.categories_used), "model_version": result.model_version,
                "cluster_id": result.cluster.id,
                "top_service": result.suggestions[0].service if result.suggestions else None,
                "p_without": result.p_without, "result": result.as_json()})
            sugs += [{"registration_id": result.registration_id, "rank": s.rank, "service": s.service,
                      "effect": s.effect, "effect_low": s.effect_low, "effect_high": s.effect_high,
                      "p_with": s.p_with} for s in result.suggestions]
        with write_transaction(self.engine) as conn:
            conn.execute(insert(REG), regs)
            if sugs:
                conn.execute(insert(SUG), sugs)

    def decide(self, decision: CounsellorDecision) -> None:
        """Append a counsellor's decision; the registration must exist."""
        with write_transaction(self.engine) as conn:
            found = conn.execute(select(REG.c.registration_id).where(
                REG.c.registration_id == decision.registration_id)).first()
            if found is None:
                raise KeyError(f"no registration {decision.registration_id}")
            conn.execute(insert(DEC), [decision.model_dump()])

    # -- reading ---------------------------------------------------------------------------------

    def _latest_decisions(self, ids: list[str]) -> dict[str, CounsellorDecision]:
        if not ids:
            return {}
        with self._read.connect() as conn:
            rows = conn.execute(select(DEC).where(DEC.c.registration_id.in_(ids))
                                .order_by(DEC.c.decided_at, DEC.c.decision_id)).all()
        return {r.registration_id: _decision(r) for r in rows}   # later rows overwrite earlier ones

    def _stored(self, rows: list[Any]) -> list[StoredRegistration]:
        latest = self._latest_decisions([r.registration_id for r in rows])
        return [StoredRegistration(registration_id=r.registration_id, person_id=r.person_id,
                                   created_at=r.created_at, background=dict(r.background),
                                   result=RecommendationResult.model_validate(r.result),
                                   decision=latest.get(r.registration_id)) for r in rows]

    def get(self, registration_id: str) -> StoredRegistration | None:
        with self._read.connect() as conn:
            rows = conn.execute(select(REG).where(REG.c.registration_id == registration_id)).all()
        found = self._stored(list(rows))
        return found[0] if found else None

    def for_person(self, person_id: int) -> list[StoredRegistration]:
        """A customer's own registrations, newest first."""
        with self._read.connect() as conn:
            rows = conn.execute(select(REG).where(REG.c.person_id == person_id)
                                .order_by(REG.c.created_at.desc())).all()
        return self._stored(list(rows))

    def queue(self, limit: int = 50) -> list[StoredRegistration]:
        """Registrations no counsellor has decided on yet, oldest first."""
        undecided = ~select(DEC.c.decision_id).where(DEC.c.registration_id == REG.c.registration_id).exists()
        with self._read.connect() as conn:
            rows = conn.execute(select(REG).where(undecided).order_by(REG.c.created_at, REG.c.registration_id)
                                .limit(limit)).all()
        return self._stored(list(rows))

    def count(self, *, undecided: bool = False) -> int:
        query = select(func.count()).select_from(REG)
        if undecided:
            query = query.where(~select(DEC.c.decision_id).where(
                DEC.c.registration_id == REG.c.registration_id).exists())
        with self._read.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def decisions(self, registration_id: str) -> list[CounsellorDecision]:
        with self._read.connect() as conn:
            rows = conn.execute(select(DEC).where(DEC.c.registration_id == registration_id)
                                .order_by(DEC.c.decided_at, DEC.c.decision_id)).all()
        return [_decision(r) for r in rows]

    def recent_backgrounds(self, since: datetime | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        """The backgrounds of the latest registrations (for the drift report)."""
        query = select(REG.c.background).order_by(REG.c.created_at.desc()).limit(limit)
        if since is not None:
            query = query.where(REG.c.created_at >= since)
        with self._read.connect() as conn:
            return [dict(r.background) for r in conn.execute(query)]

    def feedback(self) -> list[dict[str, Any]]:
        """Per decided registration: the model version, the top suggestion, the choice and the reason."""
        with self._read.connect() as conn:
            rows = conn.execute(
                select(REG.c.registration_id, REG.c.model_version, REG.c.cluster_id, REG.c.top_service,
                       DEC.c.service, DEC.c.reason, DEC.c.followed_suggestion, DEC.c.decided_at)
                .join(DEC, and_(DEC.c.registration_id == REG.c.registration_id))
                .order_by(DEC.c.decided_at)).all()
        latest: dict[str, dict[str, Any]] = {}
        for r in rows:
            latest[r.registration_id] = {
                "registration_id": r.registration_id, "model_version": r.model_version, "cluster_id": r.cluster_id,
                "top_suggestion": r.top_service, "chosen_service": r.service, "reason": r.reason,
                "followed_suggestion": bool(r.followed_suggestion), "decided_at": r.decided_at.isoformat()}
        return list(latest.values())
