"""Registrations, suggestions and counsellors' decisions in the operational store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from store_support import engine_fixture, store_url_fixture  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.stores.registration_repository import SqlRegistrationStore
from ennakoiva.domain.employment.decision import CounsellorDecision
from ennakoiva.domain.employment.views import ClusterView, RecommendationResult, Suggestion

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TEXT = {"fi": "x", "sv": "x", "en": "x"}


def result(i: int, *, person: int = 5000, at: datetime | None = None) -> RecommendationResult:
    cluster = ClusterView(id=1, names=TEXT, profile=TEXT, size_share=0.2, risks=(), effective_measures=())
    sug = tuple(Suggestion(rank=k + 1, service=s, names=TEXT, effect=0.1 - k / 100, effect_low=0.0,
                           effect_high=0.2, p_with=0.5, reasons=TEXT)
                for k, s in enumerate(("coaching", "language_course")))
    return RecommendationResult(registration_id=f"00000000-0000-0000-0000-{i:012d}", person_id=person,
                                created_at=at or T0 + timedelta(minutes=i), language="fi", model_version="0001",
                                suggestions=sug, p_without=0.4, p_with_top=0.5, cluster=cluster,
                                categories_used=("population", "employment"))


def decision(reg: RecommendationResult, service: str, *, minutes: int = 0) -> CounsellorDecision:
    return CounsellorDecision(decision_id=f"d-{reg.registration_id[-4:]}-{minutes}",
                              registration_id=reg.registration_id,
                              counsellor_id="counsellor-1", service=service, reason="talked it through",
                              top_suggestion="coaching", followed_suggestion=service == "coaching",
                              decided_at=T0 + timedelta(hours=1, minutes=minutes))


def test_a_registration_round_trips_with_its_suggestions(engine: Engine) -> None:
    store = SqlRegistrationStore(engine)
    r = result(1)
    store.add(r, {"age": 30})
    got = store.get(r.registration_id)
    assert got is not None and got.result == r and got.background == {"age": 30} and got.decision is None
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT rank, service FROM employment_suggestion ORDER BY rank")).all()
    assert [tuple(x) for x in rows] == [(1, "coaching"), (2, "language_course")]
    assert store.get("nope") is None


def test_queue_holds_undecided_registrations_oldest_first(engine: Engine) -> None:
    store = SqlRegistrationStore(engine)
    regs = [result(i, person=5000 + i) for i in (3, 1, 2)]
    for r in regs:
        store.add(r, {})
    assert [q.registration_id for q in store.queue()] == [result(i).registration_id for i in (1, 2, 3)]
    store.decide(decision(regs[1], "coaching"))
    assert [q.registration_id for q in store.queue()] == [result(i).registration_id for i in (2, 3)]
    assert store.count() == 3 and store.count(undecided=True) == 2


def test_the_latest_decision_is_in_force_and_the_history_is_kept(engine: Engine) -> None:
    store = SqlRegistrationStore(engine)
    r = result(1)
    store.add(r, {})
    store.decide(decision(r, "coaching"))
    store.decide(decision(r, "language_course", minutes=5))
    got = store.get(r.registration_id)
    assert got is not None and got.decision is not None and got.decision.service == "language_course"
    assert [d.service for d in store.decisions(r.registration_id)] == ["coaching", "language_course"]
    assert store.feedback() == [{"registration_id": r.registration_id, "model_version": "0001", "cluster_id": 1,
                                 "top_suggestion": "coaching", "chosen_service": "language_course",
                                 "reason": "talked it through", "followed_suggestion": False,
                                 "decided_at": (T0 + timedelta(hours=1, minutes=5)).isoformat()}]


def test_decisions_are_append_only_and_need_a_registration(engine: Engine) -> None:
    store = SqlRegistrationStore(engine)
    r = result(1)
    store.add(r, {})
    store.decide(decision(r, "coaching"))
    with pytest.raises(KeyError):
        store.decide(decision(result(9), "coaching"))
    for sql in ("UPDATE employment_decision SET service = 'none'", "DELETE FROM employment_decision"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))


def test_a_customer_sees_their_own_registrations_newest_first(engine: Engine) -> None:
    store = SqlRegistrationStore(engine)
    for i in (1, 2):
        store.add(result(i, person=77), {"age": 30 + i})
    store.add(result(3, person=78), {"age": 40})
    mine = store.for_person(77)
    assert [m.registration_id for m in mine] == [result(2).registration_id, result(1).registration_id]
    assert [b["age"] for b in store.recent_backgrounds()] == [40, 32, 31]
    assert len(store.recent_backgrounds(since=T0 + timedelta(minutes=2))) == 2
