"""The offer state machine: named transitions, each allowed only from named states.

An offer is one service offered for one subject (a child, a patient) to its recipients. Every change
of state is a named :class:`Transition`; :func:`apply` refuses a transition the current state does
not allow (:class:`IllegalTransitionError`), so a stale delivery report or a reply after the decision can
never move an offer backwards. The store records every transition it applies, append-only, with the
time and an idempotency key (reference §6).

::

    drafted ─send→ sent ─deliver→ delivered ─remind→ reminded
       sent/delivered ─delivery_failed→ delivery_failed ─send_fallback→ fallback_sent
    open (sent, delivered, reminded, fallback_sent, answered) ─accept→ accepted ─confirm→ confirmed
                                                               ─decline→ declined ─confirm→ confirmed
    open ─record_answer→ answered            (one guardian answered, the policy waits for all)
    open ─resend_in_language→ (same state)   (C/D: the deadline is not restarted)
    accepted/declined/confirmed ─accept|decline→ …   (change of mind before the decision)
    open/answered/accepted/declined/confirmed ─hold→ held_for_caseworker
    held_for_caseworker ─caseworker_accept→ accepted · ─caseworker_decline→ declined
    open ─expire→ expired · confirmed ─decide→ decided · any non-final ─withdraw→ withdrawn

>>> apply(OfferState.SENT, Transition.ACCEPT)
<OfferState.ACCEPTED: 'accepted'>
>>> apply(OfferState.EXPIRED, Transition.ACCEPT)
Traceback (most recent call last):
...
ennakoiva.domain.services.offer_state.IllegalTransitionError: transition 'accept' is not allowed from 'expired'
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ANSWERABLE", "FINAL", "OPEN", "IllegalTransition", "IllegalTransitionError", "OfferState", "Transition",
           "allowed", "apply", "sources_of", "target_of"]


class OfferState(StrEnum):
    DRAFTED = "drafted"
    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    FALLBACK_SENT = "fallback_sent"
    REMINDED = "reminded"
    ANSWERED = "answered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CONFIRMED = "confirmed"
    HELD_FOR_CASEWORKER = "held_for_caseworker"
    EXPIRED = "expired"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


class Transition(StrEnum):
    SEND = "send"
    DELIVER = "deliver"
    DELIVERY_FAILED = "delivery_failed"
    SEND_FALLBACK = "send_fallback"
    REMIND = "remind"
    RESEND_IN_LANGUAGE = "resend_in_language"
    RECORD_ANSWER = "record_answer"
    ACCEPT = "accept"
    DECLINE = "decline"
    CONFIRM = "confirm"
    HOLD = "hold"
    CASEWORKER_ACCEPT = "caseworker_accept"
    CASEWORKER_DECLINE = "caseworker_decline"
    EXPIRE = "expire"
    DECIDE = "decide"
    WITHDRAW = "withdraw"


S = OfferState
# Waiting for an answer: the offer went out (or its fallback did) and nobody has decided yet.
OPEN: frozenset[OfferState] = frozenset({S.SENT, S.DELIVERED, S.REMINDED, S.FALLBACK_SENT, S.DELIVERY_FAILED})
# An answer may still change the outcome: open, one answer waiting for the others, or answered but
# the official decision not yet issued (change of mind; latest valid reply wins).
ANSWERABLE: frozenset[OfferState] = OPEN | {S.ANSWERED, S.ACCEPTED, S.DECLINED, S.CONFIRMED}
FINAL: frozenset[OfferState] = frozenset({S.EXPIRED, S.DECIDED, S.WITHDRAWN})

# transition -> (states it may start from, target; None = the state does not change)
_RULES: dict[Transition, tuple[frozenset[OfferState], OfferState | None]] = {
    Transition.SEND: (frozenset({S.DRAFTED}), S.SENT),
    Transition.DELIVER: (frozenset({S.SENT}), S.DELIVERED),
    Transition.DELIVERY_FAILED: (frozenset({S.SENT}), S.DELIVERY_FAILED),
    Transition.SEND_FALLBACK: (frozenset({S.DELIVERY_FAILED}), S.FALLBACK_SENT),
    Transition.REMIND: (frozenset({S.SENT, S.DELIVERED, S.REMINDED, S.FALLBACK_SENT, S.ANSWERED}), S.REMINDED),
    Transition.RESEND_IN_LANGUAGE: (OPEN | {S.ANSWERED}, None),
    Transition.RECORD_ANSWER: (OPEN | {S.ANSWERED}, S.ANSWERED),
    Transition.ACCEPT: (ANSWERABLE, S.ACCEPTED),
    Transition.DECLINE: (ANSWERABLE, S.DECLINED),
    Transition.CONFIRM: (frozenset({S.ACCEPTED, S.DECLINED}), S.CONFIRMED),
    Transition.HOLD: (ANSWERABLE, S.HELD_FOR_CASEWORKER),
    Transition.CASEWORKER_ACCEPT: (frozenset({S.HELD_FOR_CASEWORKER}), S.ACCEPTED),
    Transition.CASEWORKER_DECLINE: (frozenset({S.HELD_FOR_CASEWORKER}), S.DECLINED),
    Transition.EXPIRE: (OPEN | {S.ANSWERED, S.DRAFTED}, S.EXPIRED),
    Transition.DECIDE: (frozenset({S.CONFIRMED}), S.DECIDED),
    Transition.WITHDRAW: (frozenset(OfferState) - FINAL, S.WITHDRAWN),
}


class IllegalTransitionError(ValueError):
    """A transition the offer's current state does not allow."""

    def __init__(self, state: OfferState, transition: Transition) -> None:
        super().__init__(f"transition '{transition.value}' is not allowed from '{state.value}'")
        self.state = state
        self.transition = transition


IllegalTransition = IllegalTransitionError   # the name the issue uses


def sources_of(transition: Transition) -> frozenset[OfferState]:
    """The states ``transition`` may start from."""
    return _RULES[transition][0]


def target_of(transition: Transition, state: OfferState) -> OfferState:
    """Where ``transition`` leads from ``state`` (itself for a transition that keeps the state)."""
    target = _RULES[transition][1]
    return state if target is None else target


def allowed(state: OfferState, transition: Transition) -> bool:
    """Whether ``transition`` may be applied in ``state``."""
    return state in _RULES[transition][0]


def apply(state: OfferState, transition: Transition) -> OfferState:
    """The state after ``transition``; :class:`IllegalTransitionError` when the state does not allow it."""
    if not allowed(state, transition):
        raise IllegalTransitionError(state, transition)
    return target_of(transition, state)
