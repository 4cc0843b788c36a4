"""Reply handling: each bad reply from the issue, two guardians disagreeing, late, duplicate, unknown number."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennakoiva.domain.clock import HELSINKI
from ennakoiva.domain.services import MessageKind, OfferState, Transition, load_service
from ennakoiva.domain.services.definition import ServiceDefinition
from ennakoiva.domain.services.offer_state import apply
from ennakoiva.domain.services.reply_handling import (
    OfferView,
    OutgoingMessage,
    RecipientView,
    deadline_for,
    decide_reply,
    decide_timeout,
    decide_unknown_number,
)

S, T, K = OfferState, Transition, MessageKind
DELIVERED_AT = datetime(2027, 1, 7, 9, 0, tzinfo=HELSINKI)
NOW = datetime(2027, 1, 8, 12, 0, tzinfo=HELSINKI)


PRESCHOOL = load_service("preschool-offer")


@pytest.fixture(scope="module")
def preschool() -> ServiceDefinition:
    return PRESCHOOL


def offer(definition: ServiceDefinition, state: OfferState = S.DELIVERED, *, respondent: str = "g1",
          g1: str | None = None, g2: str | None = None, clarified: int = 0, late_sent: int = 0,
          seen: frozenset[str] = frozenset()) -> OfferView:
    return OfferView(state, respondent, (RecipientView("g1", "fi", g1, clarified, late_sent),
                                         RecipientView("g2", "sv", g2)),
                     deadline=deadline_for(DELIVERED_AT, definition), seen_message_ids=seen)


def test_deadline_counts_from_delivery_to_the_end_of_the_day_in_helsinki(preschool: ServiceDefinition) -> None:
    assert deadline_for(DELIVERED_AT, preschool) == datetime(2027, 1, 22, 23, 59, 59, tzinfo=HELSINKI)
    with pytest.raises(ValueError, match="timezone"):
        deadline_for(datetime(2027, 1, 7), preschool)  # noqa: DTZ001 - the naive datetime is the point


@pytest.mark.parametrize("text", ["A", "a", " A ", "A.", "A!", "Ａ", "A kiitos", "a, thanks", "Kyllä", "yes"])
def test_accept_is_confirmed_to_both_guardians(preschool: ServiceDefinition, text: str) -> None:
    out = decide_reply(offer(preschool), text, NOW, preschool)
    assert (out.outcome, out.choice, out.transitions, out.state_after) == (
        "accepted", "A", (T.ACCEPT, T.CONFIRM), S.CONFIRMED)
    assert out.messages == (OutgoingMessage("g1", "respondent", K.CONFIRMATION_ACCEPTED, "fi"),
                            OutgoingMessage("g2", "other_recipient", K.CONFIRMATION_ACCEPTED, "sv"))
    assert out.record_answer == "A" and not (out.duplicate or out.unclear or out.late)


def test_decline(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, S.REMINDED), "b, thanks", NOW, preschool)
    assert (out.outcome, out.transitions, out.messages[0].kind) == (
        "declined", (T.DECLINE, T.CONFIRM), K.CONFIRMATION_DECLINED)


@pytest.mark.parametrize(("text", "lang"), [("C", "sv"), ("d", "en"), ("Ｄ kiitos", "en")])
def test_c_and_d_resend_the_offer_in_swedish_or_english(preschool: ServiceDefinition, text: str, lang: str) -> None:
    out = decide_reply(offer(preschool), text, NOW, preschool)
    assert out.outcome == "resend" and out.language == lang
    assert out.transitions == (T.RESEND_IN_LANGUAGE,) and out.state_after is S.DELIVERED   # deadline not restarted
    assert out.messages == (OutgoingMessage("g1", "respondent", K.RESEND, lang),)        # type: ignore[arg-type]
    assert out.record_answer is None


@pytest.mark.parametrize("text", ["A B", "AB", "A tai B", "Voiko paikan vaihtaa?", "👍", "", "E"])
def test_an_unclear_reply_gets_one_clarifying_message_then_nothing_more(preschool: ServiceDefinition,
                                                                        text: str) -> None:
    first = decide_reply(offer(preschool), text, NOW, preschool)
    assert (first.outcome, first.choice, first.transitions, first.unclear) == ("clarify", None, (), True)
    assert first.messages == (OutgoingMessage("g1", "respondent", K.CLARIFY, "fi"),)
    assert first.state_after is S.DELIVERED
    second = decide_reply(offer(preschool, clarified=1), text, NOW, preschool)
    assert (second.outcome, second.messages, second.transitions) == ("unclear_again", (), ())
    assert second.for_caseworker


def test_a_clear_reply_after_a_clarification_is_handled_normally(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, clarified=1), "A", NOW, preschool)
    assert out.outcome == "accepted"


def test_two_guardians_answering_differently_are_held_for_a_caseworker(preschool: ServiceDefinition) -> None:
    first = decide_reply(offer(preschool), "A", NOW, preschool)
    state = S.DELIVERED
    for t in first.transitions:
        state = apply(state, t)
    second = decide_reply(offer(preschool, state, respondent="g2", g1="A"), "B", NOW, preschool)
    assert (second.outcome, second.transitions, second.state_after) == (
        "held_for_caseworker", (T.HOLD,), S.HELD_FOR_CASEWORKER)
    assert {(m.recipient_id, m.kind, m.lang) for m in second.messages} == {
        ("g2", K.CONFLICT_HELD, "sv"), ("g1", K.CONFLICT_HELD, "fi")}
    assert second.for_caseworker and second.record_answer == "B"
    # further answers are recorded for the caseworker and decide nothing
    third = decide_reply(offer(preschool, S.HELD_FOR_CASEWORKER, respondent="g2", g1="A", g2="B"), "A", NOW, preschool)
    assert (third.outcome, third.transitions, third.messages, third.record_answer) == (
        "recorded_while_held", (), (), "A")


def test_two_guardians_agreeing_confirm_again_without_conflict(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, S.CONFIRMED, respondent="g2", g1="A"), "kyllä", NOW, preschool)
    assert out.outcome == "accepted" and out.transitions == (T.ACCEPT, T.CONFIRM)


def test_change_of_mind_by_the_only_answering_guardian(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, S.CONFIRMED, g1="A"), "B", NOW, preschool)
    assert (out.outcome, out.transitions, out.state_after) == ("declined", (T.DECLINE, T.CONFIRM), S.CONFIRMED)


def test_the_same_answer_again_is_a_duplicate(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, S.CONFIRMED, g1="A"), "a kiitos", NOW, preschool)
    assert out.duplicate and (out.transitions, out.messages, out.record_answer) == ((), (), None)
    assert out.state_after is S.CONFIRMED


def test_the_same_provider_message_again_is_a_duplicate(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, seen=frozenset({"msg-1"})), "A", NOW, preschool, message_id="msg-1")
    assert out.duplicate and out.choice is None and (out.transitions, out.messages) == ((), ())
    assert decide_reply(offer(preschool, seen=frozenset({"msg-1"})), "A", NOW, preschool,
                        message_id="msg-2").outcome == "accepted"


@pytest.mark.parametrize("state", [S.EXPIRED, S.DECIDED, S.WITHDRAWN])
def test_a_reply_after_the_offer_closed_gets_one_informative_message(preschool: ServiceDefinition,
                                                                     state: OfferState) -> None:
    out = decide_reply(offer(preschool, state), "A", NOW, preschool)
    assert (out.outcome, out.late, out.transitions) == ("late", True, ())
    assert out.messages == (OutgoingMessage("g1", "respondent", K.LATE, "fi"),)
    again = decide_reply(offer(preschool, state, late_sent=1), "A", NOW, preschool)
    assert (again.outcome, again.messages) == ("late", ())


def test_a_reply_after_the_deadline_is_late_even_before_expiry_ran(preschool: ServiceDefinition) -> None:
    after = deadline_for(DELIVERED_AT, preschool) + timedelta(seconds=1)
    out = decide_reply(offer(preschool, S.REMINDED), "A", after, preschool)
    assert out.late and out.transitions == () and out.messages[0].kind is K.LATE
    just_in_time = decide_reply(offer(preschool, S.REMINDED), "A", after - timedelta(seconds=1), preschool)
    assert just_in_time.outcome == "accepted"


@pytest.mark.parametrize("text", ["STOP", "lopeta", "Sluta"])
def test_opt_out_changes_no_state_and_sends_nothing(preschool: ServiceDefinition, text: str) -> None:
    out = decide_reply(offer(preschool), text, NOW, preschool)
    assert out.opt_out and (out.transitions, out.messages) == ((), ())


def test_unknown_number_gets_a_reply_without_personal_data(preschool: ServiceDefinition) -> None:
    out = decide_unknown_number(preschool)
    assert out.outcome == "unknown_number" and out.messages[0].kind is K.UNKNOWN_NUMBER
    text = preschool.render(out.messages[0].kind, out.messages[0].lang).text
    assert "{" not in text and preschool.templates[K.UNKNOWN_NUMBER]["fi"] == text   # no fields at all


def test_a_reply_before_the_offer_went_out_changes_nothing(preschool: ServiceDefinition) -> None:
    out = decide_reply(offer(preschool, S.DRAFTED), "A", NOW, preschool)
    assert (out.outcome, out.transitions, out.state_after) == ("unknown_number", (), S.DRAFTED)
    assert out.messages == (OutgoingMessage("g1", "respondent", K.UNKNOWN_NUMBER, "fi"),)


def test_view_is_checked(preschool: ServiceDefinition) -> None:
    with pytest.raises(ValueError, match="not a recipient"):
        offer(preschool, respondent="g9")
    with pytest.raises(ValueError, match="timezone"):
        decide_reply(offer(preschool), "A", datetime(2027, 1, 8), preschool)  # noqa: DTZ001


def test_all_recipients_policy_waits_for_every_guardian(preschool: ServiceDefinition) -> None:
    recipients = preschool.recipients.model_copy(update={"answer_policy": "all_recipients"})
    strict = preschool.model_copy(update={"recipients": recipients})
    first = decide_reply(offer(strict), "A", NOW, strict)
    assert (first.outcome, first.transitions, first.state_after, first.messages) == (
        "answer_recorded", (T.RECORD_ANSWER,), S.ANSWERED, ())
    second = decide_reply(offer(strict, S.ANSWERED, respondent="g2", g1="A"), "A", NOW, strict)
    assert (second.outcome, second.state_after) == ("accepted", S.CONFIRMED)


def test_self_recipient_service_confirms_only_to_the_person() -> None:
    care = load_service("care-gap-invitation")
    view = OfferView(S.DELIVERED, "p1", (RecipientView("p1", "en"),), deadline=deadline_for(DELIVERED_AT, care))
    out = decide_reply(view, "yes please", NOW, care)
    assert out.outcome == "accepted"
    assert out.messages == (OutgoingMessage("p1", "respondent", K.CONFIRMATION_ACCEPTED, "en"),)


@given(st.text(max_size=30), st.sampled_from(sorted(S)))
def test_outcomes_only_use_transitions_the_state_allows(text: str, state: OfferState) -> None:
    definition = PRESCHOOL
    view = offer(definition, state, g1=None, g2="A")
    out = decide_reply(view, text, NOW, definition)
    current = state
    for t in out.transitions:
        current = apply(current, t)        # raises if the decision proposed an illegal transition
    assert out.state_after is current
    assert len(out.messages) <= 2


# -- reminders and no answer ------------------------------------------------------------------------------------
def test_reminders_fall_due_on_their_days_and_only_for_the_silent(preschool: ServiceDefinition) -> None:
    people = (RecipientView("g1", "fi", "A"), RecipientView("g2", "sv"))
    at = [DELIVERED_AT + timedelta(days=d) for d in (6, 7, 13)]
    assert decide_timeout(S.ANSWERED, people, DELIVERED_AT, 0, at[0], preschool).transitions == ()
    due = decide_timeout(S.DELIVERED, people, DELIVERED_AT, 0, at[1], preschool)
    assert (due.transitions, due.reminder_number) == ((T.REMIND,), 1)
    assert [(m.recipient_id, m.kind, m.lang) for m in due.messages] == [("g2", K.REMINDER, "sv")]
    assert decide_timeout(S.REMINDED, people, DELIVERED_AT, 1, at[1], preschool).transitions == ()
    assert decide_timeout(S.REMINDED, people, DELIVERED_AT, 1, at[2], preschool).reminder_number == 2


def test_no_answer_by_the_deadline_expires_with_a_message_to_everyone(preschool: ServiceDefinition) -> None:
    people = (RecipientView("g1", "fi"), RecipientView("g2", "sv"))
    after = deadline_for(DELIVERED_AT, preschool) + timedelta(minutes=1)
    out = decide_timeout(S.REMINDED, people, DELIVERED_AT, 2, after, preschool)
    assert out.expired and out.transitions == (T.EXPIRE,)
    assert {(m.recipient_id, m.kind) for m in out.messages} == {("g1", K.EXPIRED), ("g2", K.EXPIRED)}
    assert decide_timeout(S.CONFIRMED, people, DELIVERED_AT, 2, after, preschool) == decide_timeout(
        S.SENT, people, None, 0, after, preschool)          # answered, or never delivered: nothing to do


# -- a store in miniature: apply every outcome as the operational store would ------------------------------------
texts = st.sampled_from(["A", "b", "C", "d", "A B", "kyllä", "ei kiitos", "👍", "Voiko vaihtaa?", "stop", "a kiitos"])


@given(st.lists(st.tuples(st.sampled_from(["g1", "g2"]), texts, st.booleans()), max_size=12))
def test_any_sequence_of_replies_keeps_the_rules(events: list[tuple[str, str, bool]]) -> None:
    definition = PRESCHOOL
    state = S.DELIVERED
    people = {"g1": RecipientView("g1", "fi"), "g2": RecipientView("g2", "sv")}
    sent: dict[tuple[str, MessageKind], int] = {}
    deadline = deadline_for(DELIVERED_AT, definition)
    for who, text, late in events:
        at = deadline + timedelta(hours=1) if late else NOW
        view = OfferView(state, who, (people["g1"], people["g2"]), deadline=deadline)
        out = decide_reply(view, text, at, definition)
        for t in out.transitions:
            state = apply(state, t)                            # every proposed transition is legal
        assert out.state_after is state
        for m in out.messages:
            sent[(m.recipient_id, m.kind)] = sent.get((m.recipient_id, m.kind), 0) + 1
            assert m.lang == people[m.recipient_id].lang or m.kind is K.RESEND
        me = people[who]
        if out.record_answer:
            me = RecipientView(me.id, me.lang, out.record_answer, me.clarifications_sent, me.late_notices_sent)
        if out.language:
            me = RecipientView(me.id, out.language, me.answer, me.clarifications_sent, me.late_notices_sent)
        clar = sum(1 for m in out.messages if m.kind is K.CLARIFY)
        late_n = sum(1 for m in out.messages if m.kind is K.LATE)
        people[who] = RecipientView(me.id, me.lang, me.answer, me.clarifications_sent + clar,
                                    me.late_notices_sent + late_n)
        if late:
            assert out.transitions == ()                        # nothing changes after the deadline
    for who in ("g1", "g2"):
        assert sent.get((who, K.CLARIFY), 0) <= 1               # one clarifying message, then nothing more
        assert sent.get((who, K.LATE), 0) <= 1
    a1, a2 = people["g1"].answer, people["g2"].answer
    if a1 and a2 and a1 != a2:
        assert state is S.HELD_FOR_CASEWORKER                  # two guardians disagreeing are never decided
    if state in (S.ACCEPTED, S.DECLINED, S.CONFIRMED):
        assert not (a1 and a2 and a1 != a2)
