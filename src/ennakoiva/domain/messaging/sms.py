"""SMS encoding and segment counts: GSM-7 (3GPP TS 23.038 / GSM 03.38) or UCS-2.

Why it matters: one character outside the GSM-7 tables (a curly quote, an en dash, š, an emoji)
turns the *whole* message into UCS-2, which halves what fits in a part (70/67 instead of 160/153)
and doubles or triples what a campaign of thousands of texts costs. ä ö å Ä Ö Å are in the basic
table (one septet each); € and ``^ { } \\ [ ~ ] |`` and form feed are in the extension table and
cost two septets (escape + character). A concatenated part never splits an escape pair or a UTF-16
surrogate pair, as real gateways do.

>>> analyse("Vastaa A tai B. Kiitos!").encoding
'GSM-7'
>>> analyse("Maksu 81 €/kk").septets
14
>>> analyse("It’s fine").encoding
'UCS-2'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC", "GSM7_EXTENSION", "Encoding", "SmsInfo", "analyse", "encoding_of", "is_gsm7", "non_gsm7",
    "segments",
]

Encoding = Literal["GSM-7", "UCS-2"]

# The 128 positions of the GSM 03.38 basic table, in code order; 0x1B (escape) is not a character.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table reached through the escape; each costs two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SmsInfo:
    """What a text costs as an SMS.

    ``units`` are septets for GSM-7 and UTF-16 code units for UCS-2; ``segments`` the number of
    parts a gateway sends; ``non_gsm7`` the characters that forced UCS-2 (empty for GSM-7).
    """

    encoding: Encoding
    characters: int
    units: int
    segments: int
    non_gsm7: tuple[str, ...]

    @property
    def septets(self) -> int | None:
        """Septets for a GSM-7 text (None for UCS-2)."""
        return self.units if self.encoding == "GSM-7" else None


def _cost(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def is_gsm7(char: str) -> bool:
    """Whether one character can be sent in GSM-7 (basic or extension table)."""
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def non_gsm7(text: str) -> tuple[str, ...]:
    """The distinct characters of ``text`` outside GSM-7, in order of first appearance."""
    return tuple(dict.fromkeys(c for c in text if not is_gsm7(c)))


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM 03.38 tables, else UCS-2 for the whole text."""
    return "UCS-2" if non_gsm7(text) else "GSM-7"


def segments(text: str, encoding: Encoding) -> int:
    """Parts needed: one part holds 160 septets / 70 units; concatenated parts 153 / 67 each.

    A two-unit character (escape pair, surrogate pair) that would straddle a part boundary moves
    whole into the next part.
    """
    costs = [_cost(c, encoding) for c in text]
    if sum(costs) <= _SINGLE[encoding]:
        return 1
    size, parts, used = _PART[encoding], 1, 0
    for cost in costs:
        if used + cost > size:
            parts += 1
            used = 0
        used += cost
    return parts


def analyse(text: str) -> SmsInfo:
    """Encoding, length in units and parts of ``text`` as one SMS.

    >>> analyse("ä" * 160).segments, analyse("ä" * 161).segments
    (1, 2)
    >>> analyse("€" * 80).segments, analyse("€" * 81).segments
    (1, 2)
    >>> analyse("š" * 70).segments, analyse("š" * 71).segments
    (1, 2)
    """
    encoding = encoding_of(text)
    units = sum(_cost(c, encoding) for c in text)
    return SmsInfo(encoding, len(text), units, segments(text, encoding), non_gsm7(text))
