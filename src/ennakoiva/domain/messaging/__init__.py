"""Messaging rules that hold for any service: SMS encoding and segments, reply interpretation, templates."""

from ennakoiva.domain.messaging.interpret import Interpretation, Vocabulary, interpret, normalise, tokens
from ennakoiva.domain.messaging.sms import Encoding, SmsInfo, analyse, encoding_of
from ennakoiva.domain.messaging.templates import (
    MessageTooLongError,
    RenderedMessage,
    Template,
    TemplateError,
    fold_to_gsm7,
    placeholders,
)

__all__ = [
    "Encoding", "Interpretation", "MessageTooLongError", "RenderedMessage", "SmsInfo", "Template", "TemplateError",
    "Vocabulary", "analyse", "encoding_of", "fold_to_gsm7", "interpret", "normalise", "placeholders", "tokens",
]
