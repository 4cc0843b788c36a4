"""Message templates: named ``{fields}`` only, every field given, and a hard cap on SMS parts.

A template is checked when the catalogue loads (see :mod:`ennakoiva.domain.services.definition`,
which renders each one with the longest real values) and again on every render, because a field
value (a child's name with š or ë) can turn a GSM-7 text into UCS-2 and more than double its parts.
When that breaks the cap, the field values — never the template — are folded to their nearest GSM-7
letters (ë → e, š → s, ’ → ') and the result says so; if even that does not fit, rendering fails
rather than sending a text the gateway would split into too many parts.

>>> t = Template("Hei {name}, vastaa A tai B.", max_segments=1)
>>> t.render({"name": "Aino"}).text
'Hei Aino, vastaa A tai B.'
>>> t.render({"name": "Zoë"}).encoding
'UCS-2'
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property

from ennakoiva.domain.messaging.sms import Encoding, analyse, is_gsm7, non_gsm7

__all__ = ["MessageTooLongError", "RenderedMessage", "Template", "TemplateError", "fold_to_gsm7", "placeholders"]

FieldValue = str | int


class TemplateError(ValueError):
    """A template is malformed, or a render got unknown or missing fields."""


class MessageTooLongError(TemplateError):
    """A rendered message needs more SMS parts than the service allows (even after folding)."""


@dataclass(frozen=True)
class RenderedMessage:
    """A text ready for the gateway, with what it costs."""

    text: str
    encoding: Encoding
    segments: int
    folded: bool = False


def placeholders(text: str) -> tuple[str, ...]:
    """The distinct ``{name}`` fields of a template, in order; anything fancier is an error.

    >>> placeholders("{a} and {b} and {a}")
    ('a', 'b')
    >>> placeholders("{0}")
    Traceback (most recent call last):
    ...
    ennakoiva.domain.messaging.templates.TemplateError: placeholder {0} must be a plain name like {child_name}
    """
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"malformed template: {exc} (write {{{{ and }}}} for literal braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise TemplateError(f"placeholder {{{shown}}} must be a plain name like {{child_name}}")
        if name not in names:
            names.append(name)
    return tuple(names)


_FOLD = str.maketrans({"’": "'", "‘": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-",
                       "‐": "-", "…": "...", "\u00a0": " ", "ß": "ß"})


def fold_to_gsm7(value: str) -> str:
    """The nearest GSM-7 spelling: typographic punctuation to ASCII, accents dropped where needed.

    Letters already in GSM-7 (ä ö å é ü ñ) are kept; a character with no GSM-7 form stays as it is.

    >>> fold_to_gsm7("Zoë Šárka’s – ok")
    "Zoe Sarka's - ok"
    """
    out = []
    for char in value.translate(_FOLD):
        if is_gsm7(char):
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(is_gsm7(c) for c in base) else char)
    return "".join(out)


@dataclass(frozen=True)
class Template:
    """One message text in one language with its cap on SMS parts."""

    text: str
    max_segments: int

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise TemplateError("empty template")
        if self.max_segments < 1:
            raise TemplateError("max_segments must be at least 1")
        placeholders(self.text)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        return placeholders(self.text)

    @cached_property
    def non_gsm7(self) -> tuple[str, ...]:
        """Characters of the template's own text outside GSM-7 (a GSM-7-only service allows none)."""
        return non_gsm7(self.text)

    def _fill(self, values: Mapping[str, str]) -> str:
        return self.text.format_map(values)

    def render(self, values: Mapping[str, FieldValue], *, allowed: Collection[str] | None = None) -> RenderedMessage:
        """Fill the fields; refuse fields outside ``allowed`` (default: this template's) and missing ones.

        >>> Template("Hei {name}", 1).render({"nme": "Aino"})
        Traceback (most recent call last):
        ...
        ennakoiva.domain.messaging.templates.TemplateError: unknown fields ['nme'] (known: ['name'])
        """
        known = set(self.fields) if allowed is None else set(allowed)
        unknown = sorted(set(values) - known)
        if unknown:
            raise TemplateError(f"unknown fields {unknown} (known: {sorted(known)})")
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise TemplateError(f"missing fields {missing}")
        texts = {k: str(v) for k, v in values.items()}
        text = self._fill(texts)
        info = analyse(text)
        if info.segments <= self.max_segments:
            return RenderedMessage(text, info.encoding, info.segments)
        folded_text = self._fill({k: fold_to_gsm7(v) for k, v in texts.items()})
        folded = analyse(folded_text)
        if folded.segments <= self.max_segments:
            return RenderedMessage(folded_text, folded.encoding, folded.segments, folded=True)
        # never put field values (personal data) into the error
        raise MessageTooLongError(f"message needs {folded.segments} {folded.encoding} parts, more than the "
                             f"{self.max_segments} allowed (non-GSM-7 characters: {len(folded.non_gsm7)})")
