"""Typed model of a proactive-service definition (``catalogue/services/<id>.yaml``); unknown keys are errors.

A definition says *why* the city may make the offer (the five justifications, each a statement
with its evidence — loading refuses a definition that lacks one), *to whom* (trigger, recipients,
their language, what happens when two guardians disagree), *how* (channel, fallback, SMS part cap,
deadline, reminders) and *what each answer does* (reply options whose codes mean the same in every
language, and the behaviour on no answer and on a late answer). Message templates in fi/sv/en are
linted when the file loads: rendered with the longest value each field may take, every text must
stay GSM-7 (when ``channel.gsm7_only``) and within ``channel.max_segments`` parts.

Used by the messaging store::

    definition = load_service("preschool-offer")
    msg = definition.render("offer", "fi", child_name="Aino", unit_name="Päiväkoti Kotikallio",
                            reply_by=date(2027, 1, 22))
    msg.text, msg.encoding, msg.segments
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ennakoiva.domain.messaging.interpret import Interpretation, Vocabulary, interpret, normalise, tokens
from ennakoiva.domain.messaging.templates import FieldValue, RenderedMessage, Template, TemplateError
from ennakoiva.domain.services.triggers import Trigger
from ennakoiva.domain.types import LANGS, Lang

__all__ = [
    "Action", "Channel", "DataJustification", "Deadline", "FieldSpec", "Justification", "Justifications",
    "LegalReference", "LocatedError", "MessageKind", "OnLateAnswer", "OnNoAnswer", "Recipients", "Reminder",
    "ReplyOption", "ServiceDefinition", "format_date",
]

Texts = dict[Lang, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _all_langs(texts: Texts, what: str) -> Texts:
    missing = [lang for lang in LANGS if not texts.get(lang, "").strip()]
    if missing:
        raise ValueError(f"{what}: missing text in {missing}")
    return texts


class LocatedError(ValueError):
    """A whole-model check that knows which key it is about, so the loader can name that key's line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc = loc


class MessageKind(StrEnum):
    """Every message a service sends; each has a template in fi, sv and en."""

    OFFER = "offer"
    REMINDER = "reminder"
    CONFIRMATION_ACCEPTED = "confirmation_accepted"
    CONFIRMATION_DECLINED = "confirmation_declined"
    CLARIFY = "clarify"
    LATE = "late"
    UNKNOWN_NUMBER = "unknown_number"
    CONFLICT_HELD = "conflict_held"
    EXPIRED = "expired"
    RESEND = "resend"   # the offer again, in the language the resident asked for (renders ``offer``)
    # The result of the consented step (e.g. the proposed fee and place), sent once the resident has
    # given consent in the e-service; only services with a ``consent_purpose`` have (and need) it.
    PROPOSAL = "proposal"


_OPTIONAL_KINDS = frozenset({MessageKind.RESEND, MessageKind.PROPOSAL})


class Action(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    RESEND_LANGUAGE = "resend_language"


class LegalReference(_Strict):
    act: str = Field(min_length=3)
    sections: tuple[str, ...] = Field(min_length=1)


class Justification(_Strict):
    """One justification: what is claimed and the evidence (a statute, a register, a study) for it."""

    statement: str = Field(min_length=10)
    evidence: str = Field(min_length=3)


class DataJustification(Justification):
    """Which data the city needs, its right to them, and whether consent is needed."""

    data: tuple[str, ...] = Field(min_length=1)
    consent_needed: bool


class Justifications(_Strict):
    """The five justifications; every one is required (the engine refuses a service without them)."""

    statutory_service: Justification
    entitlement: Justification
    need_identification: Justification
    data_and_right: DataJustification
    mutual_benefit: Justification


class Recipients(_Strict):
    who: Literal["guardians", "self"]
    language: Literal["register"] = "register"
    conflict_policy: Literal["hold_for_caseworker"] = "hold_for_caseworker"
    answer_policy: Literal["first_answer", "all_recipients"] = "first_answer"
    notify_other_recipients: bool = True


class Channel(_Strict):
    primary: Literal["sms"]
    fallback: tuple[Literal["suomifi_messages", "letter", "phone_call"], ...] = Field(min_length=1)
    max_segments: int = Field(ge=1, le=6)
    gsm7_only: bool = True


class Deadline(_Strict):
    """Days to answer, counted from the first successful delivery (reference §6)."""

    days_after_delivery: int = Field(ge=1, le=120)


class Reminder(_Strict):
    after_days: int | None = Field(default=None, ge=1)
    days_before_deadline: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> Reminder:
        if (self.after_days is None) == (self.days_before_deadline is None):
            raise ValueError("a reminder has exactly one of after_days, days_before_deadline")
        return self

    def day(self, deadline_days: int) -> int:
        """Days after delivery the reminder is due."""
        return self.after_days if self.after_days is not None else deadline_days - (self.days_before_deadline or 0)


class ReplyOption(_Strict):
    """What one reply code does; the code's meaning is one action, whatever the language."""

    action: Action
    language: Lang | None = None
    next_step: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    meaning: Texts
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _rules(self) -> ReplyOption:
        _all_langs(self.meaning, "meaning")
        if (self.action is Action.RESEND_LANGUAGE) != (self.language is not None):
            raise ValueError("language is given exactly when action is resend_language")
        for alias in self.aliases:
            if len(tokens(alias)) != 1:
                raise ValueError(f"alias {alias!r} must be one word")
        return self


class OnNoAnswer(_Strict):
    action: Literal["expire"]
    message: Literal[MessageKind.EXPIRED] | None = MessageKind.EXPIRED
    next_step: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


class OnLateAnswer(_Strict):
    action: Literal["inform"]
    message: Literal[MessageKind.LATE] = MessageKind.LATE
    next_step: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


class FieldSpec(_Strict):
    """A template field: text (with its longest real length) or a date (formatted per language)."""

    type: Literal["text", "date"] = "text"
    max_length: int | None = Field(default=None, ge=1, le=200)
    description: str = Field(min_length=3)

    @model_validator(mode="after")
    def _length(self) -> FieldSpec:
        if (self.type == "text") != (self.max_length is not None):
            raise ValueError("max_length is given exactly for text fields")
        return self


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(day: date, lang: Lang) -> str:
    """A short date as residents write it: 22.1. in Finnish and Swedish, 22 Jan in English.

    >>> format_date(date(2027, 1, 22), "fi"), format_date(date(2027, 1, 22), "en")
    ('22.1.', '22 Jan')
    """
    return f"{day.day} {_MONTHS_EN[day.month - 1]}" if lang == "en" else f"{day.day}.{day.month}."


_CODE_MENTION = re.compile(r"(?<![A-Za-z0-9])([A-Z]) ?=")
_LONGEST_DATE = date(2027, 12, 30)
_ANSWER_KINDS = (MessageKind.OFFER, MessageKind.REMINDER, MessageKind.CLARIFY)


class ServiceDefinition(_Strict):
    """One proactive service, validated as a whole."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,79}$")
    version: int = Field(ge=1)
    names: Texts
    purpose: str = Field(pattern=r"^[a-z][a-z0-9-]{1,79}$")
    # The purpose the campaign's population read and messages run under is ``purpose`` (never a
    # consent-based one: a population read cannot wait for consents); the step that needs the
    # resident's consent (e.g. the income check) runs under ``consent_purpose``, given in the e-service.
    consent_purpose: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{1,79}$")
    legal_basis: tuple[LegalReference, ...] = Field(min_length=1)
    justifications: Justifications
    trigger: Trigger
    recipients: Recipients
    channel: Channel
    deadline: Deadline
    reminders: tuple[Reminder, ...] = ()
    reply_options: dict[str, ReplyOption] = Field(min_length=2)
    on_no_answer: OnNoAnswer
    on_late_answer: OnLateAnswer
    default_language: Lang = "fi"
    fields: dict[str, FieldSpec]
    templates: dict[MessageKind, Texts]

    @field_validator("names")
    @classmethod
    def _names(cls, v: Texts) -> Texts:
        return _all_langs(v, "names")

    @field_validator("reply_options")
    @classmethod
    def _codes(cls, v: dict[str, ReplyOption]) -> dict[str, ReplyOption]:
        bad = [c for c in v if not re.fullmatch(r"[A-Z]", c)]
        if bad:
            raise ValueError(f"reply codes are single capital letters, not {bad}")
        actions = [o.action for o in v.values()]
        for needed in (Action.ACCEPT, Action.DECLINE):
            if actions.count(needed) != 1:
                raise ValueError(f"exactly one reply option must {needed.value}")
        langs = [o.language for o in v.values() if o.language is not None]
        if len(set(langs)) != len(langs):
            raise ValueError(f"two options resend in the same language: {langs}")
        seen: dict[str, str] = {}
        for code, option in v.items():
            for alias in option.aliases:
                word = normalise(alias)
                if word in v or word in seen:
                    raise ValueError(f"alias {alias!r} of {code} is already an option or an alias of "
                                     f"{seen.get(word, word)}")
                seen[word] = code
        return v

    @field_validator("templates")
    @classmethod
    def _template_kinds(cls, v: dict[MessageKind, Texts]) -> dict[MessageKind, Texts]:
        if MessageKind.RESEND in v:
            raise ValueError("'resend' has no template of its own: it sends the 'offer' template")
        missing = [k.value for k in MessageKind if k not in _OPTIONAL_KINDS and k not in v]
        if missing:
            raise ValueError(f"templates missing for {missing}")
        for kind, texts in v.items():
            _all_langs(texts, f"templates.{kind.value}")
        return v

    @model_validator(mode="after")
    def _proposal_with_consent_step(self) -> ServiceDefinition:
        has = MessageKind.PROPOSAL in self.templates
        if self.consent_purpose is not None and not has:
            raise LocatedError(("templates",), "a service with a consent_purpose needs a 'proposal' template "
                                               "(what the consented step results in)")
        if self.consent_purpose is None and has:
            raise LocatedError(("templates", "proposal"), "only a service with a consent_purpose sends a proposal")
        if self.consent_purpose is not None and self.consent_purpose == self.purpose:
            raise LocatedError(("consent_purpose",), "the consented step needs its own purpose, not the campaign's")
        return self

    @model_validator(mode="after")
    def _reminders_before_deadline(self) -> ServiceDefinition:
        days = self.deadline.days_after_delivery
        for i, reminder in enumerate(self.reminders):
            if not 1 <= reminder.day(days) < days:
                raise LocatedError(("reminders", i), f"falls on day {reminder.day(days)} after delivery, outside "
                                                     f"the {days} days to answer")
        return self

    @model_validator(mode="after")
    def _templates_fit(self) -> ServiceDefinition:
        for kind, texts in self.templates.items():
            for lang, text in texts.items():
                where = ("templates", kind.value, lang)
                try:
                    self.render(kind, lang, **self._longest_values(Template(text, 1).fields))
                except TemplateError as exc:
                    raise LocatedError(where, str(exc)) from None
                self._check_codes(kind, lang, text, where)
        return self

    # -- the reply options in the text ----------------------------------------------------------------
    def _check_codes(self, kind: MessageKind, lang: Lang, text: str, where: tuple[str, ...]) -> None:
        """The offer and reminder list the same codes with the same meaning in every language."""
        mentioned = set(_CODE_MENTION.findall(text))
        unknown = sorted(mentioned - set(self.reply_options))
        if unknown:
            raise LocatedError(where, f"mentions reply codes {unknown} that are not reply options")
        if kind not in _ANSWER_KINDS:
            return
        expected = {c for c, o in self.reply_options.items() if o.language != lang}
        if missing := sorted(expected - mentioned):
            raise LocatedError(where, f"does not offer reply codes {missing}")

    def _longest_values(self, names: tuple[str, ...]) -> dict[str, FieldValue | date]:
        values: dict[str, FieldValue | date] = {}
        for name in names:
            spec = self.fields.get(name)
            if spec is None:
                raise TemplateError(f"unknown field {{{name}}} (declared fields: {sorted(self.fields)})")
            values[name] = _LONGEST_DATE if spec.type == "date" else "x" * (spec.max_length or 1)
        return values

    # -- public API ------------------------------------------------------------------------------------
    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Codes and aliases as :func:`ennakoiva.domain.messaging.interpret.interpret` reads them."""
        aliases = {normalise(a): code for code, o in self.reply_options.items() for a in o.aliases}
        return Vocabulary(codes=tuple(self.reply_options), aliases=aliases)

    def interpret(self, text: str) -> Interpretation:
        """How a reply to this service is read (changes nothing)."""
        return interpret(text, self.vocabulary)

    def option(self, code: str) -> ReplyOption:
        return self.reply_options[code]

    def code_for(self, action: Action) -> str:
        """The code of the (unique) accept or decline option."""
        return next(c for c, o in self.reply_options.items() if o.action is action)

    @cached_property
    def _compiled(self) -> dict[tuple[MessageKind, Lang], Template]:
        # built once per definition: a campaign renders thousands of messages from the same templates
        return {(kind, lang): Template(text, self.channel.max_segments)
                for kind, texts in self.templates.items() for lang, text in texts.items()}

    def template(self, kind: MessageKind | str, lang: Lang) -> Template:
        """The template of ``kind`` in ``lang`` (``resend`` is the offer)."""
        kind = MessageKind(kind)
        source = MessageKind.OFFER if kind is MessageKind.RESEND else kind
        return self._compiled[(source, lang)]

    def render(self, kind: MessageKind | str, lang: Lang, /, **fields: FieldValue | date) -> RenderedMessage:
        """The message ``kind`` in ``lang`` with ``fields`` filled in; encoding and parts reported.

        Unknown fields (not declared in ``fields:``) and missing ones are errors; dates are
        formatted per language; more than ``channel.max_segments`` parts is an error
        (:class:`~ennakoiva.domain.messaging.templates.MessageTooLongError`).
        """
        if lang not in LANGS:
            raise TemplateError(f"language must be one of {list(LANGS)}, not {lang!r}")
        template = self.template(kind, lang)
        if self.channel.gsm7_only and template.non_gsm7:
            raise TemplateError(f"the template itself is not GSM-7 (characters {list(template.non_gsm7)})")
        unknown = sorted(set(fields) - set(self.fields))
        if unknown:
            raise TemplateError(f"unknown fields {unknown} (declared: {sorted(self.fields)})")
        values: dict[str, FieldValue] = {}
        for name, value in fields.items():
            if name not in template.fields:
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                # never send "None" or a blank where a name belongs
                raise TemplateError(f"field {name} has no value")
            if self.fields[name].type == "date":
                if not isinstance(value, date):
                    raise TemplateError(f"field {name} is a date, not {type(value).__name__}")
                values[name] = format_date(value, lang)
            else:
                values[name] = str(value)
        return template.render(values)
