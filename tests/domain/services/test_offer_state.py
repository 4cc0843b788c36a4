"""The offer state machine: named transitions, guarded by the current state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennakoiva.domain.services.offer_state import (
    FINAL,
    IllegalTransition,
    IllegalTransitionError,
    OfferState,
    Transition,
    allowed,
    apply,
    sources_of,
)

S, T = OfferState, Transition


def run(*transitions: Transition, start: OfferState = S.DRAFTED) -> OfferState:
    state = start
    for t in transitions:
        state = apply(state, t)
    return state


def test_the_happy_path() -> None:
    assert run(T.SEND, T.DELIVER, T.ACCEPT, T.CONFIRM, T.DECIDE) is S.DECIDED


def test_reminders_fallback_and_expiry() -> None:
    assert run(T.SEND, T.DELIVER, T.REMIND, T.REMIND) is S.REMINDED
    assert run(T.SEND, T.DELIVERY_FAILED, T.SEND_FALLBACK, T.REMIND, T.EXPIRE) is S.EXPIRED


def test_change_of_mind_before_the_decision() -> None:
    assert run(T.SEND, T.ACCEPT, T.CONFIRM, T.DECLINE, T.CONFIRM) is S.CONFIRMED


def test_conflict_goes_to_a_caseworker_who_decides() -> None:
    held = run(T.SEND, T.DELIVER, T.ACCEPT, T.CONFIRM, T.HOLD)
    assert held is S.HELD_FOR_CASEWORKER
    assert run(T.CASEWORKER_DECLINE, T.CONFIRM, T.DECIDE, start=held) is S.DECIDED
    with pytest.raises(IllegalTransitionError):
        apply(held, T.ACCEPT)          # residents' replies do not decide a held offer


def test_resend_in_language_keeps_the_state() -> None:
    assert apply(S.REMINDED, T.RESEND_IN_LANGUAGE) is S.REMINDED
    assert apply(S.ANSWERED, T.RESEND_IN_LANGUAGE) is S.ANSWERED


@pytest.mark.parametrize(("state", "transition"), [
    (S.DELIVERED, T.DELIVER),          # a duplicated delivery report
    (S.ACCEPTED, T.DELIVER),           # a delivery report after the reply
    (S.DRAFTED, T.ACCEPT),
    (S.SENT, T.CONFIRM),
    (S.CONFIRMED, T.EXPIRE),
    (S.ACCEPTED, T.DECIDE),
])
def test_illegal_transitions_are_refused_with_their_names(state: OfferState, transition: Transition) -> None:
    with pytest.raises(IllegalTransition, match=f"'{transition.value}' is not allowed from '{state.value}'") as err:
        apply(state, transition)
    assert (err.value.state, err.value.transition) == (state, transition)


@pytest.mark.parametrize("state", sorted(FINAL))
def test_nothing_leaves_a_final_state(state: OfferState) -> None:
    assert not any(allowed(state, t) for t in Transition)


def test_every_state_is_reachable_and_every_transition_used() -> None:
    reached, frontier = {S.DRAFTED}, [S.DRAFTED]
    while frontier:
        state = frontier.pop()
        for t in Transition:
            if allowed(state, t) and (nxt := apply(state, t)) not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == set(OfferState)
    assert all(sources_of(t) for t in Transition)


@given(st.lists(st.sampled_from(list(Transition)), max_size=30))
def test_random_walks_respect_the_guards_and_final_states_stay_final(transitions: list[Transition]) -> None:
    state, final_at = S.DRAFTED, None
    for t in transitions:
        if allowed(state, t):
            state = apply(state, t)
        else:
            with pytest.raises(IllegalTransitionError):
                apply(state, t)
        if state in FINAL and final_at is None:
            final_at = state
        assert final_at is None or state is final_at
