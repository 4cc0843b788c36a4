"""Consent lifecycle, the access decision and the audit chain — the pure domain rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ennakoiva.domain.clock import HELSINKI
from ennakoiva.domain.consent.audit import (
    AuditEntry,
    AuditRecord,
    chain_hash,
    entry_from_decision,
    sign_checkpoint,
    verify_chain,
)
from ennakoiva.domain.consent.decision import AccessRequest, Actor, ConsentHistory, decide
from ennakoiva.domain.consent.purposes import CATALOGUE_DIR, LegalBasis, default_purposes, load_purposes
from ennakoiva.domain.consent.records import (
    ConsentError,
    ConsentEvent,
    ConsentState,
    Party,
    event_hash,
    new_record,
    next_event,
    status_at,
)
from ennakoiva.domain.consent.rights import rights_for
from ennakoiva.domain.yaml_source import CatalogueError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FEE = "daycare-fee-income-check"
MOTHER, FATHER, CHILD = 1001, 1002, 2001
OFFICER = Actor(id="officer-7", role="fee-officer", service="early-childhood-education")
PURPOSES = default_purposes()


def guardian(pid: int) -> Party:
    return Party(person_id=pid, role="guardian", auth_method="suomi.fi-strong")


def both_given() -> tuple:  # type: ignore[type-arg]
    record, first = new_record(PURPOSES[FEE], CHILD, guardian(MOTHER), at=T0, language="fi",
                               required_parties=(MOTHER, FATHER), covered_subjects=(MOTHER, FATHER))
    second = next_event(record, [first], ConsentState.GIVEN, guardian(FATHER), at=T0 + timedelta(hours=2))
    return record, [first, second]


def ask(subject: object = CHILD, *, at: datetime, purpose: str = FEE, categories: tuple[str, ...] = ("income",),
        actor: Actor = OFFICER) -> AccessRequest:
    return AccessRequest(actor=actor, purpose_id=purpose, subject_id=subject, categories=categories, at=at)


def decide_with(request: AccessRequest, record, events, uses: int = 0):  # type: ignore[no-untyped-def]
    return decide(request, PURPOSES, [ConsentHistory(record=record, events=tuple(events), uses_in_period=uses)])


# --- catalogue -------------------------------------------------------------------------------------
def test_catalogue_ships_the_five_purposes_with_their_bases() -> None:
    bases = {pid: p.legal_basis for pid, p in PURPOSES.items()}
    assert bases == {
        "daycare-fee-income-check": LegalBasis.CONSENT, "preschool-offer": LegalBasis.LEGAL_OBLIGATION,
        "care-gap-identification": LegalBasis.PUBLIC_TASK,
        "employment-service-recommendations": LegalBasis.PUBLIC_TASK,
        "open-data-statistics": LegalBasis.STATISTICS, "resident-own-data": LegalBasis.LEGAL_OBLIGATION,
        "ecec-fee-information": LegalBasis.LEGAL_OBLIGATION,
    }
    fee = PURPOSES[FEE]
    assert fee.both_guardians_required and fee.alternative_route and fee.consent_validity_days == 365


def _copy_purposes(tmp_path: Path) -> Path:
    target = tmp_path / "purposes"
    target.mkdir()
    for path in (CATALOGUE_DIR / "purposes").glob("*.yaml"):
        (target / path.name).write_text(path.read_text("utf-8"), "utf-8")
    return target


def test_consent_purpose_without_validity_is_rejected_with_file(tmp_path: Path) -> None:
    folder = _copy_purposes(tmp_path)
    path = folder / f"{FEE}.yaml"
    path.write_text(path.read_text("utf-8").replace("consent_validity_days: 365\n", ""), "utf-8")
    with pytest.raises(CatalogueError, match=rf"{FEE}\.yaml.*consent_validity_days"):
        load_purposes(folder)


def test_unknown_key_in_purpose_names_the_line(tmp_path: Path) -> None:
    folder = _copy_purposes(tmp_path)
    path = folder / "preschool-offer.yaml"
    path.write_text(path.read_text("utf-8").replace("version: 1\n", "version: 1\nowner: me\n", 1), "utf-8")
    with pytest.raises(CatalogueError, match=r"preschool-offer\.yaml:3: .*owner"):
        load_purposes(folder)


def test_unknown_data_category_is_rejected(tmp_path: Path) -> None:
    folder = _copy_purposes(tmp_path)
    path = folder / "preschool-offer.yaml"
    path.write_text(path.read_text("utf-8").replace("[population, family, contact, ecec]",
                                                    "[population, dna]"), "utf-8")
    with pytest.raises(CatalogueError, match=r"unknown data categories \['dna'\]"):
        load_purposes(folder)


# --- lifecycle -------------------------------------------------------------------------------------
def test_one_guardian_is_not_enough_then_both_make_it_active() -> None:
    record, first = new_record(PURPOSES[FEE], CHILD, guardian(MOTHER), at=T0, language="fi",
                               required_parties=(MOTHER, FATHER))
    pending = status_at(record, [first], T0 + timedelta(minutes=1))
    assert pending.reason == "pending_parties" and pending.waiting_for == (FATHER,)
    assert decide_with(ask(at=T0 + timedelta(minutes=1)), record, [first]).reason == "consent_pending_parties"
    record, events = both_given()
    assert status_at(record, events, T0 + timedelta(hours=3)).active


def test_a_single_guardian_cannot_start_a_two_guardian_consent_alone() -> None:
    with pytest.raises(ConsentError) as err:
        new_record(PURPOSES[FEE], CHILD, guardian(MOTHER), at=T0, language="fi")
    assert err.value.code == "guardians_missing"


def test_use_after_withdrawal_is_denied_and_withdrawal_is_final() -> None:
    record, events = both_given()
    withdraw = next_event(record, events, ConsentState.WITHDRAWN, guardian(FATHER), at=T0 + timedelta(days=10))
    events.append(withdraw)
    assert decide_with(ask(at=T0 + timedelta(days=9)), record, events).permit  # before it: lawful
    denied = decide_with(ask(at=T0 + timedelta(days=11)), record, events)
    assert (denied.permit, denied.reason) == (False, "consent_withdrawn")
    for state in (ConsentState.GIVEN, ConsentState.RENEWED):
        with pytest.raises(ConsentError) as err:
            next_event(record, events, state, guardian(MOTHER), at=T0 + timedelta(days=12))
        assert err.value.code == "final"


def test_given_twice_is_refused_without_a_duplicate_event() -> None:
    record, events = both_given()
    with pytest.raises(ConsentError) as err:
        next_event(record, events, ConsentState.GIVEN, guardian(MOTHER), at=T0 + timedelta(days=1))
    assert err.value.code == "invalid_transition"


def test_consent_expires_without_any_event_and_renewal_extends_it() -> None:
    record, events = both_given()
    after_a_year = T0 + timedelta(days=366)
    assert decide_with(ask(at=after_a_year), record, events).reason == "consent_expired"
    renewed = next_event(record, events, ConsentState.RENEWED, guardian(MOTHER), at=T0 + timedelta(days=300))
    assert decide_with(ask(at=after_a_year), record, [*events, renewed]).permit


def test_a_caseworker_can_force_revoke_but_not_give() -> None:
    record, events = both_given()
    caseworker = Party(person_id=9, role="caseworker", auth_method="staff-sso", channel="caseworker")
    with pytest.raises(ConsentError):
        next_event(record, events, ConsentState.GIVEN, caseworker, at=T0 + timedelta(days=1))
    revoke = next_event(record, events, ConsentState.WITHDRAWN, caseworker, at=T0 + timedelta(days=1))
    assert status_at(record, [*events, revoke], T0 + timedelta(days=2)).state is ConsentState.WITHDRAWN


def test_events_are_hash_chained_and_time_cannot_go_back() -> None:
    record, events = both_given()
    assert events[1].prev_hash == events[0].hash
    with pytest.raises(ConsentError) as err:
        next_event(record, events, ConsentState.WITHDRAWN, guardian(MOTHER), at=T0 - timedelta(days=1))
    assert err.value.code == "time_goes_back"


def test_statutory_purposes_cannot_take_consent() -> None:
    with pytest.raises(ConsentError) as err:
        new_record(PURPOSES["preschool-offer"], CHILD, guardian(MOTHER), at=T0, language="fi")
    assert err.value.code == "not_consent_based"


# --- the access decision ---------------------------------------------------------------------------
def test_purpose_mismatch_and_categories_outside_the_consent_are_denied() -> None:
    record, events = both_given()
    at = T0 + timedelta(days=1)
    assert decide_with(ask(at=at, purpose="housing-allowance"), record, events).reason == "unknown_purpose"
    assert decide_with(ask(at=at, categories=("health",)), record, events).reason == "category_not_in_purpose"
    narrow, first = new_record(PURPOSES[FEE], CHILD + 1, guardian(MOTHER), at=T0, language="fi",
                               required_parties=(MOTHER,), data_categories=("income",))
    request = ask(CHILD + 1, at=at, categories=("income", "family"))
    assert decide_with(request, narrow, [first]).reason == "category_not_consented"


def test_roles_and_services_outside_the_purpose_are_denied() -> None:
    record, events = both_given()
    at = T0 + timedelta(days=1)
    nurse = Actor(id="nurse-1", role="nurse", service="health-services")
    assert decide_with(ask(at=at, actor=nurse), record, events).reason == "service_not_permitted"
    teacher = Actor(id="t-1", role="teacher", service="early-childhood-education")
    assert decide_with(ask(at=at, actor=teacher), record, events).reason == "role_not_permitted"


def test_a_consent_for_one_resident_does_not_open_another() -> None:
    record, events = both_given()
    assert decide_with(ask(CHILD + 99, at=T0 + timedelta(days=1)), record, events).reason == "no_consent"


def test_periodic_use_limit() -> None:
    record, events = both_given()
    at = T0 + timedelta(days=1)
    assert decide_with(ask(at=at), record, events, uses=1).permit
    assert decide_with(ask(at=at), record, events, uses=2).reason == "use_limit_reached"


def test_changed_notice_text_stops_use_until_renewed() -> None:
    record, events = both_given()
    changed = PURPOSES[FEE].model_copy(update={"notice": PURPOSES[FEE].notice.model_copy(
        update={"text": {**PURPOSES[FEE].notice.text, "en": "New wording."}})})
    decision = decide(ask(at=T0 + timedelta(days=1)), {**PURPOSES, FEE: changed},
                      [ConsentHistory(record=record, events=tuple(events))])
    assert decision.reason == "notice_changed"


@pytest.mark.parametrize("subject", ["010190-123A", "1; DROP TABLE person", '{"$ne": null}', -5, 0, True])
def test_hostile_or_identity_code_subjects_are_denied(subject: object) -> None:
    record, events = both_given()
    assert decide_with(ask(subject, at=T0 + timedelta(days=1)), record, events).reason == "invalid_subject"


@pytest.mark.parametrize("purpose", ["daycare-fee'; --", "ｄａｙｃａｒｅ", "", "x" * 500])
def test_hostile_purpose_ids_are_denied(purpose: str) -> None:
    record, events = both_given()
    decision = decide_with(ask(at=T0 + timedelta(days=1), purpose=purpose), record, events)
    assert not decision.permit and decision.reason in ("invalid_purpose", "unknown_purpose")


def test_purpose_ids_are_canonicalised_not_treated_as_different() -> None:
    record, events = both_given()
    assert decide_with(ask(at=T0 + timedelta(days=1), purpose="Daycare-Fee-Income-Check"), record, events).permit


def test_missing_information_means_deny() -> None:
    assert decide(ask(at=T0), PURPOSES, []).reason == "no_consent"
    assert decide(ask(at=T0, categories=()), PURPOSES, []).reason == "no_categories"
    assert decide(ask(at=T0.replace(tzinfo=None)), PURPOSES, []).reason == "invalid_time"


def test_statutory_purpose_needs_only_the_right_role() -> None:
    nurse = Actor(id="nurse-1", role="nurse", service="health-services")
    ok = decide(ask(at=T0, purpose="care-gap-identification", categories=("health",), actor=nurse), PURPOSES, [])
    assert (ok.permit, ok.reason) == (True, "lawful_basis:public_task")


def test_rights_follow_the_legal_basis() -> None:
    consent = {r.id for r in rights_for(LegalBasis.CONSENT)}
    task = {r.id for r in rights_for(LegalBasis.PUBLIC_TASK)}
    obligation = {r.id for r in rights_for(LegalBasis.LEGAL_OBLIGATION)}
    assert {"erasure", "portability", "withdraw_consent"} <= consent
    assert not {"erasure", "portability"} & (task | obligation)
    assert "objection" in task and "objection" not in obligation


# --- the audit chain -------------------------------------------------------------------------------
KEY = b"test-audit-key"


def chain(n: int) -> list[AuditEntry]:
    record, events = both_given()
    out: list[AuditEntry] = []
    prev = "0" * 64
    for i in range(1, n + 1):
        request = ask(at=T0 + timedelta(days=1, minutes=i))
        rec = entry_from_decision(request, decide_with(request, record, events))
        h = chain_hash(prev, i, rec)
        out.append(AuditEntry(**rec.model_dump(), seq=i, prev_hash=prev, hash=h))
        prev = h
    return out


def test_audit_records_hold_ids_and_categories_never_values() -> None:
    entry = chain(1)[0]
    assert set(entry.model_dump()) == set(AuditRecord.model_fields) | {"seq", "prev_hash", "hash"}
    assert entry.categories == ("income",) and entry.subject_id == CHILD


def test_an_intact_chain_verifies() -> None:
    entries = chain(50)
    cp = sign_checkpoint(50, entries[-1].hash, T0, KEY)
    report = verify_chain(entries, [cp], KEY)
    assert report.ok and report.entries == 50


def test_an_edited_entry_is_named() -> None:
    entries = chain(20)
    entries[7] = entries[7].model_copy(update={"reason": "lawful_basis:public_task"})
    report = verify_chain(entries)
    assert (report.ok, report.first_bad_seq) == (False, 8)


def test_a_deleted_or_reordered_entry_is_named() -> None:
    entries = chain(20)
    assert verify_chain(entries[:5] + entries[6:]).first_bad_seq == 6
    swapped = [*entries[:3], entries[4], entries[3], *entries[5:]]
    assert verify_chain(swapped).first_bad_seq == 4


def test_truncation_after_recomputing_is_caught_by_the_signed_checkpoint() -> None:
    entries = chain(30)
    cp = sign_checkpoint(30, entries[-1].hash, T0, KEY)
    report = verify_chain(entries[:25], [cp], KEY)
    assert (report.ok, report.first_bad_seq) == (False, 26)
    assert "truncated" in (report.problem or "")


def test_a_forged_checkpoint_is_caught() -> None:
    entries = chain(5)
    cp = sign_checkpoint(5, entries[-1].hash, T0, b"wrong key")
    assert verify_chain(entries, [cp], KEY).problem == "checkpoint signature invalid"


def test_a_resident_reads_only_their_own_data() -> None:
    me = Actor(id=str(CHILD), role="resident", service="mydata")
    own = decide(ask(at=T0, purpose="resident-own-data", categories=("health",), actor=me), PURPOSES, [])
    assert own.permit
    other = decide(ask(CHILD + 1, at=T0, purpose="resident-own-data", categories=("health",), actor=me),
                   PURPOSES, [])
    assert other.reason == "not_own_data"


def test_times_are_kept_in_utc_so_hashes_survive_a_store() -> None:
    local = datetime(2026, 6, 1, 12, 0, tzinfo=HELSINKI)
    record, first = new_record(PURPOSES[FEE], CHILD, guardian(MOTHER), at=local, language="sv",
                               required_parties=(MOTHER,))
    assert first.at.utcoffset() == timedelta(0) and record.created_at.utcoffset() == timedelta(0)
    again = ConsentEvent.model_validate(first.model_dump(mode="json"))
    assert event_hash(again.prev_hash, again.payload()) == first.hash


def test_expiry_can_be_recorded_once_and_then_nothing_else() -> None:
    record, events = both_given()
    later = T0 + timedelta(days=400)
    system = Party(person_id=1, role="system", auth_method="expiry", channel="system")
    expired = next_event(record, events, ConsentState.EXPIRED, system, at=later)
    with pytest.raises(ConsentError):
        next_event(record, [*events, expired], ConsentState.EXPIRED, system, at=later)
    with pytest.raises(ConsentError):
        next_event(record, events, ConsentState.RENEWED, guardian(MOTHER), at=later)


def test_hand_built_payload_equals_the_pydantic_json_form() -> None:
    entry = chain(1)[0]
    dumped = entry.record().model_dump(mode="json")
    dumped["categories"] = list(entry.categories)
    assert entry.payload() == dumped
    assert chain_hash("0" * 64, 1, entry) == chain_hash("0" * 64, 1, entry.record()) == entry.hash


def test_ranges_verified_apart_prove_the_whole_chain() -> None:
    entries = chain(30)
    first = verify_chain(entries[:12], final=False)
    second = verify_chain(entries[12:], start_seq=13, start_hash=entries[11].hash)
    assert first.ok and second.ok and first.entries + second.entries == 30
    tampered = [*entries[:20], entries[20].model_copy(update={"purpose_id": "preschool-offer"}), *entries[21:]]
    assert verify_chain(tampered[12:], start_seq=13, start_hash=entries[11].hash).first_bad_seq == 21


def test_a_consent_covers_the_named_household_members_only() -> None:
    record, first = new_record(PURPOSES[FEE], CHILD, guardian(MOTHER), at=T0, language="fi",
                               required_parties=(MOTHER,), covered_subjects=(MOTHER, FATHER))
    at = T0 + timedelta(days=1)
    history = [ConsentHistory(record=record, events=(first,))]
    for person, expected in ((MOTHER, "consent_active"), (FATHER, "consent_active"),
                             (4242, "not_covered_by_consent")):
        request = AccessRequest(actor=OFFICER, purpose_id=FEE, subject_id=person, categories=("income",), at=at,
                                consent_subject_id=CHILD)
        assert decide(request, PURPOSES, history).reason == expected


def test_a_population_read_needs_a_statutory_purpose_and_the_right_role() -> None:
    analyst = Actor(id="analyst-1", role="care-gap-analyst", service="health-services")
    ok = decide(ask(None, at=T0, purpose="care-gap-identification", categories=("population", "health"),
                    actor=analyst), PURPOSES, [])
    assert (ok.permit, ok.subject_id) == (True, None)
    assert decide(ask(None, at=T0), PURPOSES, []).reason == "population_read_needs_statutory_basis"
    assert decide(ask(None, at=T0, purpose="care-gap-identification", categories=("health",)), PURPOSES,
                  []).reason == "service_not_permitted"
    me = Actor(id="5", role="resident", service="mydata")
    assert decide(ask(None, at=T0, purpose="resident-own-data", categories=("health",), actor=me), PURPOSES,
                  []).reason == "not_own_data"
