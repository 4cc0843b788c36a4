"""Read a one-letter SMS reply the way a person meant it, and refuse to guess when it is unclear.

Residents answer "a", " A ", "A.", "Ａ" (a full-width letter from a CJK keyboard), "A kiitos",
"b, thanks" or "Kyllä". All of these are read tolerantly: Unicode NFKC (full-width → ASCII), case,
spaces and punctuation do not matter, a few courtesy words (kiitos, tack, thanks, hei …) may stand
around the answer, and each option may have whole-word aliases (KYLLÄ, JA, YES → A). A lone Cyrillic
or Greek look-alike letter (А, В, С, Α, Β) counts as the Latin one.

Anything else is *unclear* and never read as an answer: two options ("A B", "A tai B"), "AB", a
question, an emoji, or an option letter inside other words ("a different place please") — the
caller then asks once for clarification. A reply that is exactly STOP / LOPETA / SLUTA is an SMS
opt-out, not an answer.

>>> interpret(" ａ kiitos! ").choice
'A'
>>> interpret("b, thanks").choice
'B'
>>> interpret("A B").choice is None
True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_CODES", "DEFAULT_COURTESY", "OPT_OUT_WORDS", "Interpretation", "Reason", "Vocabulary", "interpret",
    "normalise", "tokens",
]

Reason = Literal["option", "alias", "empty", "no_option", "several_options", "other_words", "opt_out"]

DEFAULT_CODES: tuple[str, ...] = ("A", "B", "C", "D")
# Words people add to an answer that change nothing (fi, sv, en, as written after NFKC + upper case).
DEFAULT_COURTESY: frozenset[str] = frozenset({
    "KIITOS", "KIITTI", "KIITOKSIA", "KIITOKSET", "HEI", "MOI", "TERVEISIN",
    "TACK", "HEJ", "HALLÅ", "HÄLSNINGAR", "MVH",
    "THANKS", "THANK", "YOU", "THX", "TY", "PLEASE", "PLS", "HI", "HELLO", "REGARDS",
})
# An exact single-word reply in this set is an opt-out from the SMS channel (reference §8.4).
OPT_OUT_WORDS: frozenset[str] = frozenset({"STOP", "LOPETA", "SLUTA"})

# Look-alike letters that NFKC leaves alone; only applied to one-letter words.
_CONFUSABLES = str.maketrans({"А": "A", "а": "A", "В": "B", "в": "B", "С": "C", "с": "C", "Α": "A", "α": "A",
                              "Β": "B", "β": "B"})
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Vocabulary:
    """What counts as an answer for one service: option codes, whole-word aliases, courtesy words."""

    codes: tuple[str, ...] = DEFAULT_CODES
    aliases: Mapping[str, str] = field(default_factory=dict)
    courtesy: frozenset[str] = DEFAULT_COURTESY
    opt_out: frozenset[str] = OPT_OUT_WORDS

    def __post_init__(self) -> None:
        bad = [c for c in self.codes if len(c) != 1 or not ("A" <= c <= "Z")]
        if bad:
            raise ValueError(f"option codes must be single letters A-Z, not {bad}")
        for word, code in self.aliases.items():
            if code not in self.codes:
                raise ValueError(f"alias {word!r} points to unknown option {code!r}")
            if normalise(word) != word or len(tokens(word)) != 1:
                raise ValueError(f"alias {word!r} must be one upper-case word")


@dataclass(frozen=True)
class Interpretation:
    """The option a reply chooses (None when unclear) and why."""

    choice: str | None
    reason: Reason

    @property
    def opt_out(self) -> bool:
        return self.reason == "opt_out"


def normalise(text: str) -> str:
    """NFKC, upper case, trimmed: the form every comparison is made in.

    >>> normalise(" Ｋyllä ")
    'KYLLÄ'
    """
    return unicodedata.normalize("NFKC", text).upper().strip()


def tokens(text: str) -> tuple[str, ...]:
    """Words of the normalised text: letters and digits; spaces, punctuation and emoji separate them."""
    words = _WORD.findall(normalise(text))
    return tuple(w.translate(_CONFUSABLES) if len(w) == 1 else w for w in words)


def _options(words: Iterable[str], vocab: Vocabulary) -> list[tuple[str, Reason]]:
    found: list[tuple[str, Reason]] = []
    for word in words:
        if word in vocab.codes:
            found.append((word, "option"))
        elif word in vocab.aliases:
            found.append((vocab.aliases[word], "alias"))
    return found


def interpret(text: str, vocabulary: Vocabulary | None = None) -> Interpretation:
    """The chosen option of a reply, or None with the reason it is unclear.

    >>> interpret("Kyllä", Vocabulary(aliases={"KYLLÄ": "A"}))
    Interpretation(choice='A', reason='alias')
    >>> interpret("AB")
    Interpretation(choice=None, reason='no_option')
    >>> interpret("stop").opt_out
    True
    """
    vocab = vocabulary or Vocabulary()
    words = tokens(text)
    if not words:
        return Interpretation(None, "empty")
    if len(words) == 1 and words[0] in vocab.opt_out:
        return Interpretation(None, "opt_out")
    found = _options(words, vocab)
    if not found:
        return Interpretation(None, "no_option")
    if len({code for code, _ in found}) > 1:
        return Interpretation(None, "several_options")
    others = [w for w in words if w not in vocab.codes and w not in vocab.aliases and w not in vocab.courtesy]
    if others:
        return Interpretation(None, "other_words")
    code, reason = found[0]
    return Interpretation(code, reason)
