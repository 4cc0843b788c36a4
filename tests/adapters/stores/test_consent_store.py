"""The consent store on SQLite and PostgreSQL: atomic records, chained events, one active consent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from store_support import (  # noqa: F401 - pytest fixtures
    CONSENT_PURPOSE,
    T0,
    consent,
    consents_fixture,
    engine_fixture,
    purpose,
    self_party,
    store_url_fixture,
)

from ennakoiva.adapters.stores import SqlConsentStore
from ennakoiva.adapters.stores.consent_repository import record_row
from ennakoiva.domain.consent.decision import AccessRequest, Actor, ConsentHistory, decide
from ennakoiva.domain.consent.purposes import default_purposes
from ennakoiva.domain.consent.records import ConsentError, ConsentState, event_hash, new_record, next_event

FEE_OFFICER = Actor(id="caseworker-1", role="fee-officer", service="early-childhood-education")


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(ConsentError) as caught:
        call()
    return caught.value.code


def _active_keys(engine: Engine) -> list[str | None]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT active_key FROM consent_record ORDER BY created_at")).scalars())


def test_a_record_and_its_first_event_round_trip(consents: SqlConsentStore) -> None:
    record, first = consent(101)
    consents.add(record, first)
    got_record, got_events = consents.get(record.record_id)
    assert got_record == record
    assert got_events == [first]
    assert consents.get(str(record.record_id))[0] == record
    assert consents.for_subject(101) == [(record, [first])]
    assert consents.for_subject(101, CONSENT_PURPOSE) == [(record, [first])]
    assert consents.for_subject(101, "preschool-offer") == []
    assert consents.for_subject(102) == []


def test_events_append_in_order_and_a_final_one_frees_the_slot(engine: Engine, consents: SqlConsentStore) -> None:
    record, first = consent(101)
    consents.add(record, first)
    renewed = next_event(record, [first], ConsentState.RENEWED, self_party(101), at=T0 + timedelta(days=30))
    consents.append(renewed)
    assert _active_keys(engine) == [f"101|{CONSENT_PURPOSE}"]
    withdrawn = next_event(record, [first, renewed], ConsentState.WITHDRAWN, self_party(101),
                           at=T0 + timedelta(days=40))
    consents.append(withdrawn)
    assert consents.get(record.record_id)[1] == [first, renewed, withdrawn]
    assert _active_keys(engine) == [None]
    # withdrawal is final; a new consent is a new record, and now it may exist
    again, again_first = consent(101, at=T0 + timedelta(days=41))
    consents.add(again, again_first)
    assert [r.record_id for r, _ in consents.for_subject(101)] == [record.record_id, again.record_id]
    assert _active_keys(engine) == [None, f"101|{CONSENT_PURPOSE}"]


def test_two_active_consents_for_one_subject_and_purpose_are_impossible(engine: Engine,
                                                                        consents: SqlConsentStore) -> None:
    consents.add(*consent(101))
    assert _code(lambda: consents.add(*consent(101, at=T0 + timedelta(hours=1)))) == "already_active"
    assert len(consents.for_subject(101)) == 1
    consents.add(*consent(102))  # another subject is another slot
    # the database itself refuses it, whatever code path writes
    record, _ = consent(101, at=T0 + timedelta(hours=2))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO consent_record (record_id, schema_version, subject_id, covered_subjects, "
                          "purpose_id, purpose_version, notice_version, notice_sha256, language, controller_id, "
                          "legal_basis, data_categories, required_parties, withdrawal_method, jurisdiction, "
                          "created_at, valid_until, active_key) VALUES (:record_id, :schema_version, :subject_id, "
                          "'[]', :purpose_id, 1, 1, :notice_sha256, 'fi', 'c', 'consent', '[]', '[]', 'w', 'FI', "
                          ":created_at, :valid_until, :active_key)"),
                     {k: v for k, v in record_row(record, active=True).items()
                      if k in {"record_id", "schema_version", "subject_id", "purpose_id", "notice_sha256",
                               "created_at", "valid_until", "active_key"}})


def test_the_same_record_twice_is_refused(consents: SqlConsentStore) -> None:
    record, first = consent(101)
    consents.add(record, first)
    consents.append(next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(1)))
    assert _code(lambda: consents.add(record, first)) == "duplicate_record"


def test_a_lapsed_consent_no_longer_blocks_a_new_one(consents: SqlConsentStore) -> None:
    old, first = consent(101)
    consents.add(old, first)
    later = old.valid_until + timedelta(days=1)  # expired by time, no explicit event
    new, new_first = consent(101, at=later)
    consents.add(new, new_first)
    assert [r.record_id for r, _ in consents.for_subject(101)] == [old.record_id, new.record_id]


def test_an_event_that_does_not_follow_the_last_one_is_refused(consents: SqlConsentStore) -> None:
    record, first = consent(101)
    consents.add(record, first)
    renew = next_event(record, [first], ConsentState.RENEWED, self_party(101), at=T0 + timedelta(days=1))
    withdraw = next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(days=1))
    consents.append(renew)
    # computed from the same state as the renewal: the chain has moved on
    assert _code(lambda: consents.append(withdraw)) == "concurrent_change"
    assert _code(lambda: consents.append(renew)) == "concurrent_change"  # no duplicate event
    assert consents.get(record.record_id)[1] == [first, renew]


def test_forged_or_malformed_events_are_refused(consents: SqlConsentStore) -> None:
    record, first = consent(101)
    assert _code(lambda: consents.add(record, first.model_copy(update={"hash": "f" * 64}))) == "hash_mismatch"
    assert _code(lambda: consents.add(record, first.model_copy(update={"seq": 2}))) == "bad_first_event"
    consents.add(record, first)
    event = next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(days=1))
    assert _code(lambda: consents.append(event.model_copy(update={"state": ConsentState.GIVEN}))) == "hash_mismatch"
    stranger = event.model_copy(update={"record_id": uuid4()})
    assert _code(lambda: consents.append(stranger)) in {"hash_mismatch", "unknown_record"}


def test_helsinki_times_come_back_in_utc_with_hashes_that_still_verify(consents: SqlConsentStore) -> None:
    helsinki = T0.astimezone(ZoneInfo("Europe/Helsinki"))
    record, first = new_record(purpose(), 101, self_party(101), at=helsinki, language="fi")
    consents.add(record, first)
    _, (stored,) = consents.get(record.record_id)
    assert stored.at == helsinki and stored.at.utcoffset() == timedelta(0)
    assert event_hash(stored.prev_hash, stored.payload()) == stored.hash


def test_a_withdrawn_consent_cannot_be_reactivated(consents: SqlConsentStore) -> None:
    record, first = consent(101)
    consents.add(record, first)
    withdrawn = next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(days=1))
    consents.append(withdrawn)
    stored_record, events = consents.get(record.record_id)
    assert _code(lambda: next_event(stored_record, events, ConsentState.GIVEN, self_party(101),
                                    at=T0 + timedelta(days=2))) == "final"
    assert consents.get(record.record_id)[1] == [first, withdrawn]
    # and the store refuses it too, even from a caller that skips the domain's rules
    forged = next_event(record, [first], ConsentState.RENEWED, self_party(101), at=T0 + timedelta(days=2))
    relinked = forged.model_copy(update={"seq": 3, "prev_hash": withdrawn.hash})
    relinked = relinked.model_copy(update={"hash": event_hash(relinked.prev_hash, relinked.payload())})
    assert _code(lambda: consents.append(relinked)) == "final"
    assert consents.get(record.record_id)[1] == [first, withdrawn]


@pytest.mark.parametrize("hostile", ["'; DROP TABLE consent_record; --", '{"$ne": null}', "1 OR 1=1", "\x00",
                                     "ä" * 500])
def test_hostile_identifiers_find_nothing_and_harm_nothing(consents: SqlConsentStore, hostile: str) -> None:
    consents.add(*consent(101))
    assert _code(lambda: consents.get(hostile)) == "unknown_record"
    assert consents.for_subject(101, hostile) == []
    assert consents.for_subject(hostile) == []  # type: ignore[arg-type]
    assert consents.for_subject(2**70) == []
    assert len(consents.for_subject(101)) == 1
    assert len(consents.for_subject(101, "Daycare-Fee-Income-Check")) == 1  # case variants are one purpose


def test_decisions_over_stored_consents(consents: SqlConsentStore) -> None:
    record, first = consent(101)
    consents.add(record, first)
    purposes = default_purposes()

    def outcome(at_days: float) -> str:
        histories = [ConsentHistory(record=r, events=tuple(e)) for r, e in consents.for_subject(101, CONSENT_PURPOSE)]
        request = AccessRequest(actor=FEE_OFFICER, purpose_id=CONSENT_PURPOSE, subject_id=101,
                                categories=("income",), at=T0 + timedelta(days=at_days))
        return decide(request, purposes, histories).reason

    assert outcome(1) == "consent_active"
    consents.append(next_event(record, [first], ConsentState.WITHDRAWN, self_party(101), at=T0 + timedelta(days=2)))
    assert outcome(1) == "consent_active"  # the past stays as it was
    assert outcome(3) == "consent_withdrawn"


def test_racing_grants_leave_exactly_one_active_record(engine: Engine, consents: SqlConsentStore) -> None:
    attempts = 8
    barrier = threading.Barrier(attempts)
    results: list[str] = []

    def grant(i: int) -> None:
        record, first = consent(101, at=T0 + timedelta(seconds=i))
        barrier.wait()
        try:
            consents.add(record, first)
            results.append("ok")
        except ConsentError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=grant, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already_active"] * (attempts - 1) + ["ok"]
    assert _active_keys(engine) == [f"101|{CONSENT_PURPOSE}"]
