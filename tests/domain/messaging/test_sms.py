"""GSM-7 / UCS-2 detection and segment counts against the GSM 03.38 table and the reference's drafts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennakoiva.domain.messaging.sms import GSM7_BASIC, GSM7_EXTENSION, analyse, encoding_of, segments

# The reference's draft texts (proactive-and-sms.md §7) with the septet counts it gives.
DRAFTS = [
    ("Helsingin kaupunki: Tarjoamme Ainolle esiopetuspaikkaa: Päiväkoti Kotikallio, Esimerkkitie 1. Vastaa "
     "22.1. mennessä: A = otan vastaan, B = en ota. C = på svenska, D = in English. Lisätietoa hel.fi/esiopetus",
     206),
    ("Helsingfors stad: Vi erbjuder Aino en förskoleplats: Daghemmet Hemberget, Exempelvägen 1. Svara senast "
     "22.1.: A = jag tar emot, B = nej tack. D = in English, E = suomeksi. Mer info hel.fi/forskola", 196),
    ("City of Helsinki: We offer Aino a pre-primary place: Kotikallio daycare, Esimerkkitie 1. Reply by 22 Jan: "
     "A = accept, B = decline. C = på svenska, E = suomeksi. More info hel.fi/preschool", 187),
    ("Helsingin kaupunki: Ainon varhaiskasvatusmaksu olisi 81 €/kk 1.8. alkaen (perhe 3 hlöä, tulot "
     "tulorekisteristä). A = hyväksyn, B = haluan tarkistuksen. Laskelma hel.fi/maksu", 174),
]


@pytest.mark.parametrize(("text", "septets"), DRAFTS)
def test_reference_drafts_are_gsm7_in_two_parts_with_the_given_septets(text: str, septets: int) -> None:
    info = analyse(text)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", septets, 2)


@pytest.mark.parametrize("char", list("äöåÄÖÅÜüÑñéàØøÆæß@£$¥èùìòÇΔ_ΦΓΛΩΠΨΣΘΞ¤§¿¡\n\r"))
def test_basic_table_letters_cost_one_septet(char: str) -> None:
    info = analyse(char * 10)
    assert (info.encoding, info.units) == ("GSM-7", 10)


@pytest.mark.parametrize("char", list("€[]{}~|\\^\f"))
def test_extension_table_characters_cost_two_septets(char: str) -> None:
    info = analyse("a" + char)
    assert (info.encoding, info.units) == ("GSM-7", 3)


@pytest.mark.parametrize("char", ["’", "‘", "“", "”", "–", "—", "š", "ž", "õ", "ë", "👍", "…", "€\u0301", "`"])
def test_one_character_outside_gsm7_turns_the_whole_text_ucs2(char: str) -> None:
    text = "Vastaa A tai B " + char
    info = analyse(text)
    assert info.encoding == "UCS-2"
    assert char[0] in info.non_gsm7 or char[-1] in info.non_gsm7


def test_tables_have_the_standard_sizes() -> None:
    assert len(GSM7_BASIC) == 127          # 128 positions less the escape
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(("text", "parts"), [
    ("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),
    ("š" * 70, 1), ("š" * 71, 2), ("š" * 134, 2), ("š" * 135, 3),
    ("👍" * 35, 1), ("👍" * 36, 2),
])
def test_segment_limits(text: str, parts: int) -> None:
    assert analyse(text).segments == parts


def test_an_escape_pair_never_straddles_two_parts() -> None:
    # 152 septets then € (2 septets): the pair does not fit in part one's 153 and moves whole
    text = "a" * 152 + "€" + "a" * 152
    assert analyse(text).units == 306
    assert segments(text, "GSM-7") == 3          # 152 | 2 + 151 | 1
    assert segments("a" * 151 + "€" + "a" * 153, "GSM-7") == 2


def test_a_surrogate_pair_never_straddles_two_parts() -> None:
    text = "š" * 66 + "👍" + "š" * 66      # 66 + 2 + 66 = 134 units = exactly 2 × 67 if split were allowed
    assert analyse(text).units == 134
    assert analyse(text).segments == 3


@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=500))
def test_basic_only_text_is_gsm7_with_one_septet_per_character(text: str) -> None:
    info = analyse(text)
    assert encoding_of(text) == "GSM-7"
    assert info.units == len(text)
    assert info.segments == (1 if len(text) <= 160 else -(-len(text) // 153))


@given(st.text(max_size=300))
def test_parts_always_hold_the_whole_text(text: str) -> None:
    info = analyse(text)
    single, part = (160, 153) if info.encoding == "GSM-7" else (70, 67)
    assert info.units <= (single if info.segments == 1 else info.segments * part)
    if info.segments > 1:
        assert info.units > single
