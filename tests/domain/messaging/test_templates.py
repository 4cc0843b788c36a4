"""Templates: named fields only, unknown and missing fields refused, the parts cap enforced."""

from __future__ import annotations

import pytest

from ennakoiva.domain.messaging.templates import (
    MessageTooLongError,
    Template,
    TemplateError,
    fold_to_gsm7,
    placeholders,
)


def test_render_reports_encoding_and_parts() -> None:
    msg = Template("Hei {name}! Maksu {fee} €/kk.", max_segments=1).render({"name": "Aino", "fee": 81})
    assert (msg.text, msg.encoding, msg.segments, msg.folded) == ("Hei Aino! Maksu 81 €/kk.", "GSM-7", 1, False)


@pytest.mark.parametrize("text", ["{0}", "{}", "{a.b}", "{a[0]}", "{a!r}", "{a:>5}", "{a", "a}"])
def test_only_plain_named_fields(text: str) -> None:
    with pytest.raises(TemplateError):
        placeholders(text)


def test_literal_braces_are_allowed() -> None:
    assert Template("{{x}} {y}", 1).fields == ("y",)


def test_unknown_and_missing_fields_are_refused() -> None:
    t = Template("Hei {name}, vastaa {reply_by} mennessä", 2)
    with pytest.raises(TemplateError, match=r"unknown fields \['nmae'\]"):
        t.render({"nmae": "Aino", "reply_by": "22.1."})
    with pytest.raises(TemplateError, match=r"missing fields \['reply_by'\]"):
        t.render({"name": "Aino"})
    # a field the service declares but this template does not use is fine when allowed
    assert t.render({"name": "A", "reply_by": "1.1.", "unit": "x"}, allowed={"name", "reply_by", "unit"}).segments == 1


def test_a_value_that_forces_ucs2_past_the_cap_is_folded_to_gsm7() -> None:
    t = Template("x" * 60 + " {name}", max_segments=1)
    assert t.render({"name": "Zoë"}).encoding == "UCS-2"          # 64 units fit in one UCS-2 part
    t = Template("x" * 100 + " {name}", max_segments=1)
    msg = t.render({"name": "Zoë Šárka"})
    assert (msg.text[-9:], msg.encoding, msg.segments, msg.folded) == ("Zoe Sarka", "GSM-7", 1, True)


def test_too_long_even_after_folding_is_an_error_without_the_values() -> None:
    t = Template("{name} " + "x" * 150, max_segments=1)
    with pytest.raises(MessageTooLongError) as err:
        t.render({"name": "Secretname Person"})
    assert "Secretname" not in str(err.value)
    assert "2 GSM-7 parts" in str(err.value)


@pytest.mark.parametrize(("value", "folded"), [
    ("’‘“”–—…", "''\"\"--..."), ("Šárka Žižková", "Sarka Zizkova"), ("Zoë", "Zoe"), ("Äijälä", "Äijälä"),
    ("Ñandú", "Ñandu"), ("李", "李"),
])
def test_fold_to_gsm7(value: str, folded: str) -> None:
    assert fold_to_gsm7(value) == folded


def test_template_checks_itself() -> None:
    with pytest.raises(TemplateError, match="empty"):
        Template("  ", 1)
    with pytest.raises(TemplateError, match="at least 1"):
        Template("x", 0)
