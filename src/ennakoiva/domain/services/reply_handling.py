"""What a reply means and what to do about it: a pure decision, applied and recorded by the store.

:func:`decide_reply` takes what the store knows about the offer (an :class:`OfferView`: its state,
who the recipients are, their last valid answers, how many clarifications and late notices each
already got, the deadline), the reply text and when it arrived, and returns a :class:`ReplyOutcome`:
the interpreted ``choice``, the named ``transitions`` to apply in order, the ``messages`` to queue
(each to one recipient, a kind and a language) and flags. It never sends or stores anything.

The rules (reference §9):

- the same provider message id again, or the same guardian repeating the same answer → ``duplicate``,
  nothing changes and nothing is sent;
- A / B (accept / decline) → ``accept``/``decline`` then ``confirm``, a confirmation to the
  respondent (and to the other recipients when the service says so); a change of mind before the
  decision is the latest valid answer and is confirmed again;
- two guardians answering differently → ``hold`` (held for a caseworker) and a message to both;
  nothing is decided automatically;
- C / D → the offer again in Swedish / English; the deadline is not restarted;
- an unclear reply → ONE clarifying message; a second unclear reply from the same person → nothing
  more is sent, it is flagged for staff;
- a reply after the deadline or after the offer closed → ONE informative ``late`` message, no change;
- STOP / LOPETA / SLUTA → ``opt_out`` (the store moves the person to the fallback channel);
- a reply from a number with no offer → :func:`decide_unknown_number`: a generic reply with no
  personal data.

:func:`decide_timeout` says which reminder is due or whether the offer expires at a given moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Literal

from ennakoiva.domain.clock import HELSINKI
from ennakoiva.domain.messaging.interpret import Reason
from ennakoiva.domain.services.definition import Action, MessageKind, ServiceDefinition
from ennakoiva.domain.services.offer_state import (
    FINAL,
    OPEN,
    OfferState,
    Transition,
    allowed,
    apply,
)
from ennakoiva.domain.types import Lang

__all__ = [
    "OfferView", "Outcome", "OutgoingMessage", "RecipientView", "ReplyOutcome", "TimeoutOutcome", "deadline_for",
    "decide_reply", "decide_timeout", "decide_unknown_number",
]

Outcome = Literal["accepted", "declined", "held_for_caseworker", "answer_recorded", "resend", "clarify",
                  "unclear_again", "late", "duplicate", "opt_out", "recorded_while_held", "unknown_number"]
Role = Literal["respondent", "other_recipient"]


@dataclass(frozen=True)
class RecipientView:
    """One recipient of an offer as the store knows them (``id`` is the store's key, e.g. a person id)."""

    id: str
    lang: Lang
    answer: str | None = None          # latest valid accept/decline code from this recipient
    clarifications_sent: int = 0
    late_notices_sent: int = 0


@dataclass(frozen=True)
class OfferView:
    """What :func:`decide_reply` needs to know about an offer and the reply's sender."""

    state: OfferState
    respondent: str                     # recipient id the reply came from (by phone number)
    recipients: tuple[RecipientView, ...]
    deadline: datetime | None = None    # None until the first successful delivery
    seen_message_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.deadline is not None and self.deadline.tzinfo is None:
            raise ValueError("deadline must be timezone-aware")
        ids = [r.id for r in self.recipients]
        if len(set(ids)) != len(ids):
            raise ValueError("recipient ids must be unique")
        if self.respondent not in ids:
            raise ValueError("the respondent is not a recipient of this offer")

    def recipient(self, recipient_id: str) -> RecipientView:
        return next(r for r in self.recipients if r.id == recipient_id)


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to queue: to whom, which template kind, in which language."""

    recipient_id: str
    role: Role
    kind: MessageKind
    lang: Lang


@dataclass(frozen=True)
class ReplyOutcome:
    """The decision on one reply; the store applies ``transitions`` in order and queues ``messages``."""

    outcome: Outcome
    choice: str | None
    reason: Reason | None
    action: Action | None = None
    transitions: tuple[Transition, ...] = ()
    state_after: OfferState | None = None
    messages: tuple[OutgoingMessage, ...] = ()
    record_answer: str | None = None       # the respondent's new latest valid answer
    language: Lang | None = None           # the respondent asked for this language from now on
    duplicate: bool = False
    unclear: bool = False
    late: bool = False
    opt_out: bool = False
    for_caseworker: bool = False
    notes: tuple[str, ...] = field(default=())


def _to(recipients: Iterable[RecipientView], kind: MessageKind, respondent: str) -> tuple[OutgoingMessage, ...]:
    return tuple(OutgoingMessage(r.id, "respondent" if r.id == respondent else "other_recipient", kind, r.lang)
                 for r in recipients)


def _after(state: OfferState, transitions: tuple[Transition, ...]) -> OfferState:
    for t in transitions:
        state = apply(state, t)
    return state


def deadline_for(delivered_at: datetime, definition: ServiceDefinition) -> datetime:
    """End of the last day to answer, in Helsinki: the delivery day plus ``deadline.days_after_delivery``."""
    if delivered_at.tzinfo is None:
        raise ValueError("delivered_at must be timezone-aware")
    last_day = delivered_at.astimezone(HELSINKI).date() + timedelta(days=definition.deadline.days_after_delivery)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=HELSINKI)


def decide_unknown_number(definition: ServiceDefinition, lang: Lang | None = None) -> ReplyOutcome:
    """A reply from a number with no offer: one generic message, no personal data, nothing recorded."""
    msg = OutgoingMessage("", "respondent", MessageKind.UNKNOWN_NUMBER, lang or definition.default_language)
    return ReplyOutcome("unknown_number", None, None, messages=(msg,))


def decide_reply(offer: OfferView, reply_text: str, received_at: datetime, definition: ServiceDefinition,
                 *, message_id: str | None = None) -> ReplyOutcome:
    """The outcome of ``reply_text`` from ``offer.respondent`` received at ``received_at``.

    ``state_after`` is always set (the current state when nothing changes).
    """
    outcome = _decide(offer, reply_text, received_at, definition, message_id)
    return outcome if outcome.state_after is not None else replace(outcome, state_after=offer.state)


def _decide(offer: OfferView, reply_text: str, received_at: datetime, definition: ServiceDefinition,
            message_id: str | None) -> ReplyOutcome:
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    if message_id is not None and message_id in offer.seen_message_ids:
        return ReplyOutcome("duplicate", None, None, duplicate=True, notes=("same provider message id",))
    me = offer.recipient(offer.respondent)
    read = definition.interpret(reply_text)
    state = offer.state

    if state is OfferState.DRAFTED:
        # the offer has not gone out yet: nothing in the reply can refer to it, so answer as for a
        # number without an offer (no personal data) and keep the offer untouched
        msgs = _to([me], MessageKind.UNKNOWN_NUMBER, me.id) if me.late_notices_sent == 0 else ()
        return ReplyOutcome("unknown_number", read.choice, read.reason, messages=msgs, opt_out=read.opt_out)
    if state in FINAL or (offer.deadline is not None and received_at > offer.deadline):
        if read.opt_out:
            return ReplyOutcome("opt_out", None, read.reason, opt_out=True, late=True)
        msgs = _to([me], MessageKind.LATE, me.id) if me.late_notices_sent == 0 else ()
        return ReplyOutcome("late", read.choice, read.reason, messages=msgs, late=True)
    if read.opt_out:
        return ReplyOutcome("opt_out", None, read.reason, opt_out=True)
    if read.choice is None:
        if me.clarifications_sent == 0:
            return ReplyOutcome("clarify", None, read.reason, messages=_to([me], MessageKind.CLARIFY, me.id),
                                unclear=True)
        return ReplyOutcome("unclear_again", None, read.reason, unclear=True, for_caseworker=True)

    return _decide_choice(offer, me, read.choice, read.reason, definition)


def _decide_choice(offer: OfferView, me: RecipientView, choice: str, reason: Reason | None,
                   definition: ServiceDefinition) -> ReplyOutcome:
    """A clear choice from a recipient of an open offer: resend, accept/decline, conflict or record."""
    state = offer.state
    option = definition.option(choice)
    if option.action is Action.RESEND_LANGUAGE:
        lang = option.language
        assert lang is not None  # the model guarantees a language for resend_language
        ts = (Transition.RESEND_IN_LANGUAGE,) if allowed(state, Transition.RESEND_IN_LANGUAGE) else ()
        msg = OutgoingMessage(me.id, "respondent", MessageKind.RESEND, lang)
        return ReplyOutcome("resend", choice, reason, option.action, ts, _after(state, ts), (msg,),
                            language=lang)

    if me.answer == choice:
        return ReplyOutcome("duplicate", choice, reason, option.action, duplicate=True,
                            notes=("same answer again from the same recipient",))
    if state is OfferState.HELD_FOR_CASEWORKER:
        return ReplyOutcome("recorded_while_held", choice, reason, option.action,
                            record_answer=choice, for_caseworker=True)

    others = [r for r in offer.recipients if r.id != me.id]
    answered = [r for r in others if r.answer is not None]
    differ = [r for r in answered if definition.option(r.answer or "").action is not option.action]
    if differ:   # conflict_policy: hold_for_caseworker (the only policy the model allows)
        ts = (Transition.HOLD,)
        return ReplyOutcome("held_for_caseworker", choice, reason, option.action, ts, _after(state, ts),
                            _to([me, *differ], MessageKind.CONFLICT_HELD, me.id), record_answer=choice,
                            for_caseworker=True)
    if definition.recipients.answer_policy == "all_recipients" and len(answered) < len(others):
        ts = (Transition.RECORD_ANSWER,) if state in OPEN or state is OfferState.ANSWERED else ()
        return ReplyOutcome("answer_recorded", choice, reason, option.action, ts, _after(state, ts),
                            record_answer=choice)

    accept = option.action is Action.ACCEPT
    ts = (Transition.ACCEPT if accept else Transition.DECLINE, Transition.CONFIRM)  # type: ignore[assignment]
    kind = MessageKind.CONFIRMATION_ACCEPTED if accept else MessageKind.CONFIRMATION_DECLINED
    told = [me, *others] if definition.recipients.notify_other_recipients else [me]
    return ReplyOutcome("accepted" if accept else "declined", choice, reason, option.action, ts,
                        _after(state, ts), _to(told, kind, me.id), record_answer=choice)


@dataclass(frozen=True)
class TimeoutOutcome:
    """Reminders due or expiry at a moment; ``reminder_number`` counts from 1."""

    transitions: tuple[Transition, ...] = ()
    messages: tuple[OutgoingMessage, ...] = ()
    reminder_number: int | None = None
    expired: bool = False


def decide_timeout(state: OfferState, recipients: tuple[RecipientView, ...], delivered_at: datetime | None,
                   reminders_sent: int, now: datetime, definition: ServiceDefinition) -> TimeoutOutcome:
    """At ``now``: the offer expires (past the deadline, no decisive answer) or its next reminder is due.

    Reminders go only to recipients who have not answered; an offer not yet delivered has no clock.
    """
    if delivered_at is None or state not in OPEN | {OfferState.ANSWERED}:
        return TimeoutOutcome()
    if now > deadline_for(delivered_at, definition):
        kind = definition.on_no_answer.message
        msgs = _to(recipients, kind, "") if kind is not None else ()
        return TimeoutOutcome((Transition.EXPIRE,), msgs, expired=True)
    days = sorted(r.day(definition.deadline.days_after_delivery) for r in definition.reminders)
    elapsed = (now.astimezone(HELSINKI).date() - delivered_at.astimezone(HELSINKI).date()).days
    due = sum(1 for d in days if d <= elapsed)
    if due > reminders_sent:
        silent = [r for r in recipients if r.answer is None]
        return TimeoutOutcome((Transition.REMIND,), _to(silent, MessageKind.REMINDER, ""), reminder_number=due)
    return TimeoutOutcome()
