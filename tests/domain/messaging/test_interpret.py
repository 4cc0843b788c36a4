"""Tolerant reading of one-letter replies: every case from the issue and the reference's bad-input table."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ennakoiva.domain.messaging.interpret import Vocabulary, interpret, tokens

VOCAB = Vocabulary(aliases={"KYLLÄ": "A", "JA": "A", "YES": "A", "OK": "A", "EI": "B", "NEJ": "B", "NO": "B"})


@pytest.mark.parametrize(("text", "choice"), [
    ("A", "A"), ("a", "A"), (" A ", "A"), ("A.", "A"), ("A!", "A"), ("(a)", "A"), ("'b'", "B"), ("\tc\n", "C"),
    ("Ａ", "A"), ("ｂ", "B"), ("Ｃ！", "C"),                    # full-width letters and punctuation (NFKC)
    ("А", "A"), ("В", "B"), ("С", "C"),                        # a lone Cyrillic look-alike
    ("A kiitos", "A"), ("b, thanks", "B"), ("C tack", "C"), ("d thank you", "D"), ("Hei! A kiitos", "A"),
    ("A A", "A"),                                              # the same option twice is still one option
    ("Kyllä", "A"), ("kyllä kiitos", "A"), ("ja", "A"), ("Yes!", "A"), ("ok kiitos", "A"), ("ei", "B"),
    ("Nej tack", "B"), ("no, thanks", "B"),
])
def test_readable_replies(text: str, choice: str) -> None:
    assert interpret(text, VOCAB).choice == choice


@pytest.mark.parametrize(("text", "reason"), [
    ("A B", "several_options"), ("A tai B", "several_options"), ("a/b", "several_options"),
    ("kyllä ei", "several_options"), ("AB", "no_option"), ("E", "no_option"), ("A1", "no_option"),
    ("Voiko paikan vaihtaa?", "no_option"), ("👍", "empty"), ("", "empty"), ("?!", "empty"),
    ("a different place please", "other_words"),       # an option letter inside a sentence is not an answer
    ("A mutta toinen päiväkoti", "other_words"),
    ("kiitos", "no_option"), ("STOP PLEASE", "no_option"),
    ("Да", "no_option"),                               # Cyrillic word: the look-alike map is for lone letters
])
def test_unclear_replies_choose_nothing(text: str, reason: str) -> None:
    read = interpret(text, VOCAB)
    assert (read.choice, read.reason) == (None, reason)
    assert not read.opt_out


@pytest.mark.parametrize("text", ["STOP", "stop", " Lopeta ", "SLUTA.", "ｓｔｏｐ"])
def test_opt_out_is_an_exact_single_word(text: str) -> None:
    read = interpret(text, VOCAB)
    assert read.opt_out and read.choice is None


def test_codes_outside_the_vocabulary_are_not_options() -> None:
    assert interpret("E", Vocabulary(codes=("A", "B", "E"))).choice == "E"
    assert interpret("D", Vocabulary(codes=("A", "B"))).choice is None


def test_vocabulary_rejects_bad_codes_and_aliases() -> None:
    with pytest.raises(ValueError, match="single letters"):
        Vocabulary(codes=("AA",))
    with pytest.raises(ValueError, match="unknown option"):
        Vocabulary(aliases={"JA": "Z"})
    with pytest.raises(ValueError, match="one upper-case word"):
        Vocabulary(aliases={"ok kiitos": "A"})


_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
replies = st.sampled_from(["A", "b", "c kiitos", "D, thanks", "kyllä", "A B", "AB", "ei kiitos", "stop", "yes",
                           "Voiko paikan vaihtaa", "a different place please", "hei A"])
punctuation = st.text(alphabet=" .,!?;:-()'\"\t", max_size=4)


@given(replies, punctuation, punctuation, st.booleans(), st.booleans())
def test_reading_is_invariant_under_case_spaces_punctuation_and_full_width(
        text: str, before: str, after: str, upper: bool, full_width: bool) -> None:
    variant = text.upper() if upper else text.lower()
    if full_width:
        variant = "".join(_FULL_WIDTH.get(c, c) for c in variant)
    assert interpret(before + variant + after, VOCAB) == interpret(text, VOCAB)


@given(st.text(max_size=40))
def test_a_choice_is_always_a_code_and_comes_with_a_reason(text: str) -> None:
    read = interpret(text, VOCAB)
    assert read.choice is None or read.choice in VOCAB.codes
    assert (read.choice is None) == (read.reason not in ("option", "alias"))


@given(st.text(alphabet=st.characters(categories=("So", "Sk", "Zs", "Po")), max_size=10))
def test_emoji_and_symbols_alone_are_never_an_answer(text: str) -> None:
    # a symbol that compatibility-normalises to a letter (Ⓐ → A) is a letter written fancily, not an emoji
    assume(not any(ch.isalnum() for ch in unicodedata.normalize("NFKC", text)))
    assert interpret(text, VOCAB).choice is None


def test_a_circled_letter_reads_as_the_letter() -> None:
    assert interpret("Ⓐ", VOCAB).choice == "A"


@pytest.mark.parametrize("text", ["👍", "🙂🙂", "❤️", "✓", "…", "—"])
def test_emoji_have_no_words(text: str) -> None:
    assert tokens(text) == ()
