"""Service definitions: the shipped catalogue loads; every kind of bad file is refused with file:line."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from services_support import Edit, line_of

from ennakoiva.domain.messaging.sms import analyse
from ennakoiva.domain.messaging.templates import MessageTooLongError, TemplateError
from ennakoiva.domain.services import MessageKind, load_service, load_services
from ennakoiva.domain.services.definition import format_date
from ennakoiva.domain.yaml_source import CatalogueError

PRESCHOOL = load_service("preschool-offer")
JUSTIFICATIONS = ("statutory_service", "entitlement", "need_identification", "data_and_right", "mutual_benefit")


def test_shipped_services_load() -> None:
    services = {s.id: s for s in load_services()}
    assert {"preschool-offer", "daycare-fee-reduced", "care-gap-invitation"} <= set(services)
    assert services["preschool-offer"].purpose == "preschool-offer"
    assert services["daycare-fee-reduced"].justifications.data_and_right.consent_needed
    assert services["care-gap-invitation"].trigger.kind == "care_gap"


def _drop_block(text: str, key: str) -> str:
    """Remove ``key:`` under justifications and its indented lines."""
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith(f"  {key}:"):
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


@pytest.mark.parametrize("service_id", ["preschool-offer", "daycare-fee-reduced", "care-gap-invitation"])
@pytest.mark.parametrize("missing", JUSTIFICATIONS)
def test_a_missing_justification_is_refused_with_file_and_line(edited: Edit, service_id: str, missing: str) -> None:
    path = edited(service_id, lambda t: _drop_block(t, missing))
    with pytest.raises(CatalogueError) as err:
        load_services(path.parent)
    line = line_of(path, "justifications:")
    assert str(err.value).startswith(f"{path}:{line}: Field required at justifications.{missing}")


def test_an_empty_justification_statement_is_refused(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: re.sub(
        r"(  mutual_benefit:\n    statement: )[^\n]+", r'\1""', t))
    line = line_of(path, 'statement: ""')
    with pytest.raises(CatalogueError, match=rf"{path}:{line}: .*at least 10"):
        load_services(path.parent)


def test_unknown_key_is_an_error_at_its_line(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace("deadline: {", "dedline_typo: 3\ndeadline: {"))
    with pytest.raises(CatalogueError, match=rf"{path}:{line_of(path, 'dedline_typo')}: Extra inputs"):
        load_services(path.parent)


def test_unknown_purpose_is_refused(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace("purpose: preschool-offer", "purpose: preschool-offers"))
    with pytest.raises(CatalogueError, match=rf"{path}:{line_of(path, 'purpose: ')}: unknown purpose"):
        load_services(path.parent)


def test_consent_must_agree_with_the_purpose(edited: Edit) -> None:
    path = edited("daycare-fee-reduced", lambda t: t.replace("consent_needed: true", "consent_needed: false"))
    with pytest.raises(CatalogueError, match=rf"{path}:{line_of(path, 'consent_needed')}: .*legal basis consent"):
        load_services(path.parent)


def test_the_fee_campaign_runs_under_a_non_consent_purpose_and_consents_for_the_check() -> None:
    fee = load_service("daycare-fee-reduced")
    assert (fee.purpose, fee.consent_purpose) == ("ecec-fee-information", "daycare-fee-income-check")
    assert MessageKind.PROPOSAL in fee.templates and MessageKind.PROPOSAL not in PRESCHOOL.templates
    text = fee.render("proposal", "fi", child_name="3.4.2025", proposed_fee="145", unit_name="Päiväkoti Ruusu").text
    assert "145 €/kk" in text and "Päiväkoti Ruusu" in text


def test_a_consent_step_cannot_be_the_campaign_purpose(edited: Edit) -> None:
    path = edited("daycare-fee-reduced", lambda t: t.replace("purpose: ecec-fee-information",
                                                             "purpose: daycare-fee-income-check"))
    with pytest.raises(CatalogueError, match=r"consent_purpose: the consented step needs its own purpose"):
        load_services(path.parent)
    path = edited("daycare-fee-reduced", lambda t: t.replace("consent_purpose: daycare-fee-income-check",
                                                             "consent_purpose: preschool-offer"))
    with pytest.raises(CatalogueError, match=rf"{path}:{line_of(path, 'consent_purpose: ')}: .*not consent"):
        load_services(path.parent)


def test_unknown_table_in_the_data_justification(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace("data: [person,", "data: [persons,"))
    with pytest.raises(CatalogueError, match=r"unknown tables \['persons'\]"):
        load_services(path.parent)


def test_unknown_care_gap_criterion(edited: Edit) -> None:
    path = edited("care-gap-invitation", lambda t: t.replace("criteria: [htn-untreated,", "criteria: [htn-nope,"))
    with pytest.raises(CatalogueError, match=rf"{path}:{line_of(path, 'htn-nope')}: unknown criteria"):
        load_services(path.parent)


def test_id_must_match_the_file_name(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace("id: preschool-offer", "id: preschool-other"))
    with pytest.raises(CatalogueError, match=rf"{path}:{line_of(path, 'id: preschool-other')}: id 'preschool-other'"):
        load_services(path.parent)


def test_yaml_booleans_are_not_aliases(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace('"YES"', "YES", 1))
    with pytest.raises(CatalogueError, match=rf"{path}:\d+: Input should be a valid string at reply_options.A"):
        load_services(path.parent)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("C = på svenska, D = in English. Lisätietoa", "C = på svenska. Lisätietoa",
     r"templates.offer.fi: does not offer reply codes \['D'\]"),
    ("B = en ota. C = på", "B = en ota. E = suomeksi, C = på", r"mentions reply codes \['E'\]"),
    ("Tarjoamme lapsellenne {child_name}", "Tarjoamme lapsellenne {child}", r"unknown field \{child\}"),
    ("Tarjoamme lapsellenne", "Tarjoamme lapsellenne ’", "template itself is not GSM-7"),
    ("Lisätietoa hel.fi/esiopetus\"", "Lisätietoa hel.fi/esiopetus " + "x" * 90 + "\"", "3 GSM-7 parts"),
])
def test_templates_are_linted_at_load(edited: Edit, old: str, new: str, message: str) -> None:
    path = edited("preschool-offer", lambda t: t.replace(old, new, 1))
    with pytest.raises(CatalogueError, match=message) as err:
        load_services(path.parent)
    # the line of the offending text: templates.offer.fi
    line = line_of(path, 'fi: "Helsingin kaupunki: Tarjoamme')
    assert str(err.value).startswith(f"{path}:{line}: templates.offer.fi: ")


def test_every_template_kind_is_required(edited: Edit) -> None:
    def drop_late(text: str) -> str:
        return re.sub(r"  late:\n(    .*\n){3}", "", text)
    path = edited("preschool-offer", drop_late)
    with pytest.raises(CatalogueError, match=r"templates missing for \['late'\]"):
        load_services(path.parent)


def test_reply_options_need_one_accept_one_decline_and_distinct_aliases(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace("    action: decline", "    action: accept", 1))
    with pytest.raises(CatalogueError, match="exactly one reply option must accept"):
        load_services(path.parent)
    path = edited("preschool-offer", lambda t: t.replace('aliases: [EI, NEJ, "NO"]', 'aliases: [EI, JA]'))
    with pytest.raises(CatalogueError, match="alias 'JA' of B is already"):
        load_services(path.parent)


def test_every_option_has_a_meaning_in_every_language(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace(
        "meaning: {fi: tarjous ruotsiksi, sv: erbjudandet på svenska, en: the offer in Swedish}",
        "meaning: {fi: tarjous ruotsiksi, en: the offer in Swedish}"))
    with pytest.raises(CatalogueError, match=r"meaning: missing text in \['sv'\]"):
        load_services(path.parent)


def test_load_service_by_id() -> None:
    assert load_service("preschool-offer").id == "preschool-offer"
    with pytest.raises(CatalogueError, match="unknown service 'nope'"):
        load_service("nope")
    with pytest.raises(CatalogueError, match="not a service id"):
        load_service("../purposes/preschool-offer")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no service definitions"):
        load_services(tmp_path)


# -- rendering ------------------------------------------------------------------------------------------------
FIELDS = {"child_name": "Aino", "unit_name": "Päiväkoti Kotikallio", "reply_by": date(2027, 1, 22)}


@pytest.mark.parametrize("kind", [k for k in MessageKind if k is not MessageKind.PROPOSAL])
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_every_preschool_message_renders_gsm7_within_two_parts(kind: MessageKind, lang: str) -> None:
    msg = load_service("preschool-offer").render(kind, lang, **FIELDS)  # type: ignore[arg-type]
    assert msg.encoding == "GSM-7" and 1 <= msg.segments <= 2
    assert "{" not in msg.text


def test_render_formats_dates_per_language_and_resend_is_the_offer() -> None:
    s = load_service("preschool-offer")
    assert "Vastaa 22.1. mennessä" in s.render("offer", "fi", **FIELDS).text
    assert "Reply by 22 Jan" in s.render("offer", "en", **FIELDS).text
    assert s.render("resend", "sv", **FIELDS) == s.render("offer", "sv", **FIELDS)
    assert format_date(date(2027, 12, 3), "sv") == "3.12."


def test_render_refuses_unknown_missing_and_mistyped_fields() -> None:
    s = load_service("preschool-offer")
    with pytest.raises(TemplateError, match=r"unknown fields \['child'\]"):
        s.render("offer", "fi", child="Aino", unit_name="x", reply_by=date(2027, 1, 22))
    with pytest.raises(TemplateError, match=r"missing fields \['unit_name'\]"):
        s.render("offer", "fi", child_name="Aino", reply_by=date(2027, 1, 22))
    with pytest.raises(TemplateError, match="is a date"):
        s.render("offer", "fi", child_name="Aino", unit_name="x", reply_by="22.1.")
    with pytest.raises(TemplateError, match="field unit_name has no value"):
        s.render("offer", "fi", child_name="Aino", unit_name=None, reply_by=date(2027, 1, 22))  # type: ignore[arg-type]
    with pytest.raises(TemplateError, match="field child_name has no value"):
        s.render("offer", "fi", child_name=" ", unit_name="x", reply_by=date(2027, 1, 22))
    with pytest.raises(TemplateError, match="language"):
        s.render("offer", "de", **FIELDS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid MessageKind"):
        s.render("greeting", "fi", **FIELDS)


def test_a_name_outside_gsm7_is_folded_only_when_it_would_break_the_cap() -> None:
    s = load_service("preschool-offer")
    long_unit = "Päiväkoti Kotikallion Esiopetusryhmä"
    msg = s.render("offer", "fi", child_name="Zoë", unit_name=long_unit, reply_by=date(2027, 1, 22))
    assert (msg.encoding, msg.segments, msg.folded) == ("GSM-7", 2, True)
    assert "Zoe" in msg.text
    short = s.render("clarify", "fi")
    assert short.segments == 1


def test_a_value_that_cannot_fit_is_refused() -> None:
    s = load_service("preschool-offer")
    with pytest.raises(MessageTooLongError):
        s.render("offer", "fi", child_name="李" * 30, unit_name="x", reply_by=date(2027, 1, 22))


def test_fee_template_counts_euro_as_two_septets() -> None:
    s = load_service("daycare-fee-reduced")
    msg = s.render("confirmation_declined", "fi", max_fee="311")
    assert msg.encoding == "GSM-7"
    assert "311 €/kk" in msg.text


def test_vocabulary_comes_from_the_reply_options() -> None:
    s = load_service("preschool-offer")
    assert s.interpret("kyllä kiitos").choice == "A"
    assert s.interpret("Nej").choice == "B"
    assert s.interpret("E").choice is None


@given(st.text(min_size=1, max_size=24).filter(str.strip), st.text(min_size=1, max_size=36).filter(str.strip))
@settings(max_examples=60, deadline=None)
def test_any_name_renders_within_the_cap_or_is_refused(child: str, unit: str) -> None:
    s = PRESCHOOL
    try:
        msg = s.render("offer", "fi", child_name=child, unit_name=unit, reply_by=date(2027, 1, 22))
    except MessageTooLongError:
        return
    assert msg.segments <= s.channel.max_segments
    assert msg.encoding == analyse(msg.text).encoding


def test_a_reminder_after_the_deadline_is_refused_at_its_line(edited: Edit) -> None:
    path = edited("preschool-offer", lambda t: t.replace("- {after_days: 7}", "- {after_days: 15}"))
    line = line_of(path, "after_days: 15")
    with pytest.raises(CatalogueError, match=rf"{path}:{line}: reminders.0: falls on day 15"):
        load_services(path.parent)
