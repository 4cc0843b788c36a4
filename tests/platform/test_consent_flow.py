"""Consent, the access gate and the resident's view end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import HELSINKI
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.records import ConsentError, ConsentState, Party
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.mydata import resident_view
from ennakoiva.platform.operational import Operational, open_operational
from ennakoiva.platform.settings import Settings

FEE = "daycare-fee-income-check"
OFFICER = Actor(id="officer-7", role="fee-officer", service="early-childhood-education")


class Clock:
    """The server clock under the test's control."""

    def __init__(self) -> None:
        self.t = datetime(2026, 3, 2, 9, 0, tzinfo=HELSINKI)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def op(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Operational, Clock]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        url = request.getfixturevalue("postgresql_schema_url")
    settings = Settings(db_url=url, audit_key_file=tmp_path / "audit.key",
                        audit_checkpoint_file=tmp_path / "checkpoints.jsonl")
    clock = Clock()
    with open_operational(settings) as ops:
        ops.consents.clock = clock
        ops.gate.clock = clock
        yield ops, clock


def guardian(pid: int) -> Party:
    return Party(person_id=pid, role="guardian", auth_method="suomi.fi-strong")


def family(ops: Operational, child: int, g1: int, g2: int) -> str:
    ops.consents.give(FEE, child, guardian(g1), language="fi", required_parties=(g1, g2))
    view = ops.consents.give(FEE, child, guardian(g2), language="sv")
    return str(view.record.record_id)


def reason(ops: Operational, child: int) -> str:
    return ops.gate.decide(OFFICER, FEE, child, ("income",)).reason


def test_two_guardians_then_one_withdraws(op: tuple[Operational, Clock]) -> None:
    ops, clock = op
    ops.consents.give(FEE, 501, guardian(11), language="fi", required_parties=(11, 12))
    assert reason(ops, 501) == "consent_pending_parties"
    record_id = str(ops.consents.give(FEE, 501, guardian(12), language="fi").record.record_id)
    clock.advance(minutes=1)
    assert reason(ops, 501) == "consent_active"
    ops.consents.withdraw(record_id, guardian(12))
    clock.advance(minutes=1)
    assert reason(ops, 501) == "consent_withdrawn"
    with pytest.raises(ConsentError) as err:
        ops.consents.change(record_id, ConsentState.RENEWED, guardian(11))
    assert err.value.code == "final"
    # giving again is a new record, allowed because the old one is final
    again = family(ops, 501, 11, 12)
    assert again != record_id
    assert reason(ops, 501) == "consent_active"


def test_two_active_consents_for_one_subject_and_purpose_are_impossible(op: tuple[Operational, Clock]) -> None:
    ops, _ = op
    family(ops, 502, 21, 22)
    with pytest.raises(ConsentError) as err:
        ops.consents.give(FEE, 502, guardian(21), language="fi", required_parties=(21, 22))
    assert err.value.code == "already_active"


def test_expired_consent_is_denied_and_can_be_given_anew(op: tuple[Operational, Clock]) -> None:
    ops, clock = op
    old = family(ops, 503, 31, 32)
    clock.advance(days=366)
    assert reason(ops, 503) == "consent_expired"
    new = family(ops, 503, 31, 32)
    assert new != old
    states = [e["state"] for e in ops.consents.views(503, FEE)[0].as_dict(ops.purposes)["history"]] + \
             [e["state"] for e in ops.consents.views(503, FEE)[1].as_dict(ops.purposes)["history"]]
    assert "expired" in states


def test_periodic_use_limit_counts_logged_permits(op: tuple[Operational, Clock]) -> None:
    ops, clock = op
    family(ops, 504, 41, 42)
    assert [reason(ops, 504) for _ in range(3)] == ["consent_active", "consent_active", "use_limit_reached"]
    clock.advance(days=300)  # renewed before it runs out …
    record = ops.consents.views(504, FEE)[0].record.record_id
    ops.consents.change(record, ConsentState.RENEWED, guardian(41))
    assert reason(ops, 504) == "use_limit_reached"
    clock.advance(days=66)   # … and once the 365-day period has slid past the first uses, allowed again
    assert reason(ops, 504) == "consent_active"


def test_every_decision_is_in_the_chain_and_the_resident_sees_exactly_their_uses(
        op: tuple[Operational, Clock]) -> None:
    ops, _ = op
    family(ops, 505, 51, 52)
    family(ops, 506, 61, 62)
    reason(ops, 505)
    reason(ops, 506)
    ops.gate.decide(Actor(id="nurse-1", role="nurse", service="health-services"), FEE, 505, ("income",))
    view = resident_view(505, ops.gate, ops.consents, None, ops.purposes, include_data=False)
    logged = ops.audit.for_subject(505)
    assert [(u["purpose_id"], u["outcome"], u["reason"]) for u in view["uses"]] == \
        [(e.purpose_id, e.decision, e.reason) for e in logged]
    assert {u["reason"] for u in view["uses"]} >= {"consent_active", "service_not_permitted"}
    assert all(e.subject_id == 505 for e in logged)
    assert "erasure" in {r["id"] for r in view["rights"][FEE]["rights"]}
    report = ops.verify_audit()
    assert report.ok and report.entries == len(list(ops.audit.entries()))


def test_a_resident_cannot_read_another_residents_data(op: tuple[Operational, Clock]) -> None:
    ops, _ = op
    neighbour = Actor(id="507", role="resident", service="mydata")
    assert ops.gate.decide(neighbour, "resident-own-data", 508, ("health",)).reason == "not_own_data"


def test_withdrawal_racing_an_in_flight_read_discards_the_result(op: tuple[Operational, Clock],
                                                                 small_city) -> None:  # type: ignore[no-untyped-def]
    ops, clock = op
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        child, g1, g2 = engine.sql(
            "SELECT related_person_id, min(person_id), max(person_id) FROM family_relation "
            "WHERE relation = 'guardian_of' GROUP BY 1 HAVING count(*) = 2 LIMIT 1").to_pylist()[0].values()
        record_id = family(ops, child, g1, g2)
        real_read = engine.read_subject

        def read_while_a_guardian_withdraws(table, subject, decision):  # type: ignore[no-untyped-def]
            rows = real_read(table, subject, decision)
            if table == "family_relation":
                clock.advance(seconds=1)
                ops.consents.withdraw(record_id, guardian(g1))   # commits while the read is in flight
            return rows

        engine.read_subject = read_while_a_guardian_withdraws  # type: ignore[method-assign]
        with pytest.raises(AccessDeniedError) as err:
            ops.gate.read(engine, OFFICER, FEE, child, ["family_relation", "income"])
        assert err.value.decision.reason == "discarded_after_withdrawal"
    reasons = [e.reason for e in ops.audit.for_subject(child)]
    assert reasons[-2:] == ["consent_active", "discarded_after_withdrawal"]


def test_no_read_without_a_log_entry(op: tuple[Operational, Clock], small_city) -> None:  # type: ignore[no-untyped-def]
    ops, _ = op
    family(ops, 509, 91, 92)
    read = []

    class Broken:
        def count_permits(self, *args):  # type: ignore[no-untyped-def]
            return 0

        def append(self, record):  # type: ignore[no-untyped-def]
            raise OSError("audit storage unavailable")

    ops.gate.audit = Broken()  # type: ignore[assignment]
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        engine.read_subject = lambda *a: read.append(a)  # type: ignore[method-assign,assignment]
        with pytest.raises(OSError, match="audit storage unavailable"):
            ops.gate.read(engine, OFFICER, FEE, 509, ["income"])
    assert read == []


def test_purpose_mismatch_is_denied_and_logged(op: tuple[Operational, Clock]) -> None:
    ops, _ = op
    family(ops, 510, 101, 102)
    assert ops.gate.decide(OFFICER, "housing-allowance", 510, ("income",)).reason == "unknown_purpose"
    counsellor = Actor(id="c-1", role="counsellor", service="employment-services")
    assert ops.gate.decide(counsellor, "employment-service-recommendations", 510, ("income",)).reason == \
        "category_not_in_purpose"
    assert [e.reason for e in ops.audit.for_subject(510)] == ["unknown_purpose", "category_not_in_purpose"]


def test_a_changed_notice_stops_use_until_consent_is_given_again(op: tuple[Operational, Clock]) -> None:
    ops, _ = op
    family(ops, 511, 111, 112)
    fee = ops.purposes[FEE]
    new_notice = fee.notice.model_copy(update={"version": 2, "text": {**fee.notice.text, "en": "New wording."}})
    ops.gate.purposes = {**ops.purposes, FEE: fee.model_copy(update={"notice": new_notice})}
    assert reason(ops, 511) == "notice_changed"


@pytest.mark.parametrize("hostile", ["1 OR 1=1", "'; DROP TABLE consent_record; --", '{"$gt": ""}', "010190-123A"])
def test_hostile_identifiers_change_nothing(op: tuple[Operational, Clock], hostile: str) -> None:
    ops, _ = op
    with pytest.raises(ValueError):
        ops.consents.give(FEE, hostile, guardian(1), language="fi", required_parties=(1, 2))
    with pytest.raises(ConsentError):
        ops.consents.give(hostile, 512, guardian(1), language="fi", required_parties=(1, 2))
    with pytest.raises(ConsentError):
        ops.consents.withdraw(hostile, guardian(1))
    assert ops.gate.decide(OFFICER, FEE, hostile, ("income",)).reason == "invalid_subject"
    assert ops.gate.decide(OFFICER, hostile, 512, ("income",)).reason == "invalid_purpose"
    assert ops.consents.views(512) == []
    assert ops.verify_audit().ok


def test_a_guardian_finds_the_consent_they_gave_and_the_one_covering_them(op: tuple[Operational, Clock]) -> None:
    ops, _ = op
    ops.consents.give(FEE, 520, guardian(121), language="fi", required_parties=(121, 122),
                      covered_subjects=(121, 122, 123))
    assert [v.record.subject_id for v in ops.consents.views_of_person(121)] == [520]
    assert [v.record.subject_id for v in ops.consents.views_of_person(123)] == [520]   # covered adult
    assert ops.consents.views_of_person(124) == []
    view = resident_view(122, ops.gate, ops.consents, None, ops.purposes, include_data=False)
    assert [c["purpose_id"] for c in view["consents"]] == [FEE]
