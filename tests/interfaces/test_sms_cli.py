"""``ennakoiva sms interpret|encode``: read a reply as the service would; count a text's parts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ennakoiva.interfaces.cli.main import app


def _json(args: list[str]) -> dict[str, object]:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("text", "choice"), [
    ("A", "A"), (" a. ", "A"), ("Ａ kiitos", "A"), ("b, thanks", "B"), ("c", "C"), ("D!", "D"), ("Kyllä", "A"),
    ("A B", None), ("AB", None), ("👍", None), ("Voiko paikan vaihtaa?", None), ("STOP", None),
])
def test_interpret_json_choice(text: str, choice: str | None) -> None:
    out = _json(["sms", "interpret", text, "--service", "preschool-offer", "--json"])
    assert out["choice"] == choice
    assert out["service"] == "preschool-offer"


def test_interpret_gives_the_meaning_in_three_languages() -> None:
    out = _json(["sms", "interpret", "c", "--service", "preschool-offer", "--json"])
    assert out["action"] == "resend_language" and out["language"] == "sv"
    assert set(out["meaning"]) == {"fi", "sv", "en"}  # type: ignore[arg-type]
    assert _json(["sms", "interpret", "stop", "--service", "preschool-offer", "--json"])["opt_out"] is True


def test_interpret_text_output() -> None:
    result = CliRunner().invoke(app, ["sms", "interpret", "a kiitos", "--service", "preschool-offer"])
    assert result.exit_code == 0 and "A = accept" in result.output and "otan paikan vastaan" in result.output
    result = CliRunner().invoke(app, ["sms", "interpret", "A tai B", "--service", "preschool-offer"])
    assert result.exit_code == 0 and "clarifying" in result.output


def test_interpret_unknown_service_is_a_clean_error() -> None:
    result = CliRunner().invoke(app, ["sms", "interpret", "A", "--service", "nope"])
    assert result.exit_code == 2
    assert "unknown service 'nope'" in result.output


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("Vastaa A tai B", "GSM-7", 14, 1), ("Maksu 81 €/kk", "GSM-7", 14, 1), ("äöå" * 54, "GSM-7", 162, 2),
    ("It’s fine", "UCS-2", 9, 1), ("👍", "UCS-2", 2, 1), ("š" * 71, "UCS-2", 71, 2),
])
def test_encode(text: str, encoding: str, units: int, segments: int) -> None:
    out = _json(["sms", "encode", text, "--json"])
    assert (out["encoding"], out["units"], out["segments"]) == (encoding, units, segments)


def test_encode_names_the_characters_that_forced_ucs2() -> None:
    assert _json(["sms", "encode", "Hei “Aino” 👍", "--json"])["non_gsm7"] == ["“", "”", "👍"]
    result = CliRunner().invoke(app, ["sms", "encode", "Hei ’"])
    assert result.exit_code == 0 and "UCS-2" in result.output and "’" in result.output
