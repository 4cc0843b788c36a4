"""A grant and a withdrawal racing on PostgreSQL: real threads, real connections, serialised."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Engine, text
from store_support import CONSENT_PURPOSE, T0, consent, pg_engine_fixture, pg_url_fixture, self_party  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.stores import SqlConsentStore
from ennakoiva.domain.consent.records import GENESIS_HASH, ConsentError, ConsentEvent, ConsentState, next_event


def _chain_is_whole(events: list[ConsentEvent]) -> bool:
    prev = GENESIS_HASH
    for i, e in enumerate(events, start=1):
        if e.seq != i or e.prev_hash != prev:
            return False
        prev = e.hash
    return True


def test_a_withdrawal_waits_for_a_grant_holding_the_record_and_then_sees_it_moved_on(pg_engine: Engine) -> None:
    store = SqlConsentStore(pg_engine)
    record, first = consent(101)
    store.add(record, first)
    renew = next_event(record, [first], ConsentState.RENEWED, self_party(101), at=T0 + timedelta(days=1))
    withdraw = next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(days=1))
    outcome: list[str] = []

    def withdraw_now() -> None:
        try:
            store.append(withdraw)
            outcome.append("stored")
        except ConsentError as exc:
            outcome.append(exc.code)

    with pg_engine.connect() as holder, holder.begin():
        # A grant in flight: it holds the record row, as SqlConsentStore.append does.
        holder.execute(text("SELECT 1 FROM consent_record WHERE record_id = :r FOR UPDATE"),
                       {"r": str(record.record_id)})
        racer = threading.Thread(target=withdraw_now)
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive() and outcome == []  # blocked on the row lock, not failed, not written
        holder.execute(text("INSERT INTO consent_event (record_id, seq, state, party_id, party_role, auth_method, "
                            "channel, at, valid_until, prev_hash, hash) VALUES (:record_id, :seq, :state, :party_id, "
                            ":party_role, :auth_method, :channel, :at, :valid_until, :prev_hash, :hash)"),
                       {"record_id": str(renew.record_id), "seq": renew.seq, "state": renew.state.value,
                        "party_id": 101, "party_role": "self", "auth_method": renew.party.auth_method,
                        "channel": renew.party.channel, "at": renew.at, "valid_until": renew.valid_until,
                        "prev_hash": renew.prev_hash, "hash": renew.hash})
    racer.join(timeout=10)
    assert outcome == ["concurrent_change"]
    _, events = store.get(record.record_id)
    assert [e.state for e in events] == [ConsentState.GIVEN, ConsentState.RENEWED]
    assert _chain_is_whole(events)


def _race(store: SqlConsentStore, events: list[ConsentEvent]) -> dict[ConsentState, str]:
    """Append the events from one thread each, released at the same instant."""
    barrier = threading.Barrier(len(events))
    results: dict[ConsentState, str] = {}

    def run(event: ConsentEvent) -> None:
        barrier.wait()
        try:
            store.append(event)
            results[event.state] = "stored"
        except ConsentError as exc:
            results[event.state] = exc.code

    threads = [threading.Thread(target=run, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_grant_and_withdraw_racing_many_times_never_fork_the_chain(pg_engine: Engine) -> None:
    store = SqlConsentStore(pg_engine)
    for subject in range(201, 221):
        record, first = consent(subject)
        store.add(record, first)
        at = T0 + timedelta(days=1)
        racing = [next_event(record, [first], ConsentState.RENEWED, self_party(subject), at=at),
                  next_event(record, [first], ConsentState.WITHDRAWN, self_party(subject), at=at)]
        results = _race(store, racing)
        assert sorted(results.values()) == ["concurrent_change", "stored"]
        _, events = store.get(record.record_id)
        assert len(events) == 2 and _chain_is_whole(events)
        winner = events[1].state
        assert results[winner] == "stored"
        with pg_engine.connect() as conn:
            key = conn.execute(text("SELECT active_key FROM consent_record WHERE record_id = :r"),
                               {"r": str(record.record_id)}).scalar()
        assert key == (None if winner is ConsentState.WITHDRAWN else f"{subject}|{CONSENT_PURPOSE}")


def test_a_new_grant_racing_the_withdrawal_of_the_old_one_never_makes_two_active(pg_engine: Engine) -> None:
    store = SqlConsentStore(pg_engine)
    record, first = consent(101)
    store.add(record, first)
    withdraw = next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(days=1))
    fresh, fresh_first = consent(101, at=T0 + timedelta(days=1, seconds=1))
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def run(name: str, action: object) -> None:
        barrier.wait()
        try:
            action()  # type: ignore[operator]
            results[name] = "stored"
        except ConsentError as exc:
            results[name] = exc.code

    threads = [threading.Thread(target=run, args=("withdraw", lambda: store.append(withdraw))),
               threading.Thread(target=run, args=("grant", lambda: store.add(fresh, fresh_first)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["withdraw"] == "stored"
    assert results["grant"] in {"stored", "already_active"}  # depends on who came first; never both active
    with pg_engine.connect() as conn:
        keys = conn.execute(text("SELECT active_key FROM consent_record WHERE active_key IS NOT NULL")).scalars().all()
    assert len(keys) == (1 if results["grant"] == "stored" else 0)
