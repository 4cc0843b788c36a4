"""Conversions both importers share: dates, keys, and the code and unit mappings applied to one row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ennakoiva.adapters.importers.mappings import CodeMaps

__all__ = ["Problem", "condition_code", "date_part", "drug_code", "is_before", "key_time", "measurement",
           "number_text", "parse_moment"]

_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LOINC = re.compile(r"[0-9]{1,7}-[0-9]")


@dataclass(frozen=True)
class Problem:
    """Why a source row is not loaded: the source field, its value and the reason.

    ``excluded`` marks a row left out by a documented rule (out of the data model's scope) rather
    than for a problem in the data.
    """

    column: str
    value: str
    reason: str
    excluded: bool = False


def date_part(text: str | None) -> str:
    """The calendar date of an ISO date or timestamp as written (``2023-01-27T16:17:47Z`` → ``2023-01-27``).

    Anything else is returned stripped, for the loader to explain.

    >>> date_part("2023-01-27T16:17:47Z"), date_part(" 2023-01-27 "), date_part("27.1.2023"), date_part(None)
    ('2023-01-27', '2023-01-27', '27.1.2023', '')
    """
    text = (text or "").strip()
    if len(text) > 10 and _ISO_DATE.fullmatch(text[:10]) and text[10] in "T ":
        return text[:10]
    return text


def parse_moment(text: str | None) -> date | datetime | None:
    """An ISO date (a ``date``) or timestamp (a ``datetime``, naive taken as UTC); None if neither.

    >>> parse_moment("2023-01-27"), parse_moment("2023-01-27T16:17:47Z").hour, parse_moment("x")
    (datetime.date(2023, 1, 27), 16, None)
    """
    text = (text or "").strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_before(stop: date | datetime, start: date | datetime) -> bool:
    """Whether ``stop`` is earlier than ``start``; by date when either has no time of day.

    >>> from datetime import date
    >>> is_before(date(2023, 2, 1), date(2023, 2, 9)), is_before(date(2023, 2, 9), parse_moment("2023-02-09T10:00Z"))
    (True, False)
    """
    if isinstance(stop, datetime) and isinstance(start, datetime):
        return stop < start
    as_date = [m.date() if isinstance(m, datetime) else m for m in (stop, start)]
    return as_date[0] < as_date[1]


def key_time(text: str | None) -> str:
    """A moment written one way, for keys: timestamps in UTC to the second, dates as dates.

    Synthea CSV writes ``2023-10-10T04:17:47Z`` where a FHIR Bundle of the same data writes
    ``2023-10-10T04:17:47+00:00``; both give one key.

    >>> key_time("2023-10-10T04:17:47+00:00"), key_time("2023-10-10T06:17:47+02:00"), key_time("2023-10-10")
    ('2023-10-10T04:17:47Z', '2023-10-10T04:17:47Z', '2023-10-10')
    """
    moment = parse_moment(text)
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(moment, date):
        return moment.isoformat()
    return (text or "").strip()


def number_text(text: str | None) -> str | None:
    """A decimal number written canonically (``"127.90"`` → ``"127.9"``), or None if not a plain number.

    >>> number_text("127.90"), number_text("148"), number_text("1,5"), number_text("nan")
    ('127.9', '148.0', None, None)
    """
    text = (text or "").strip()
    return repr(float(text)) if _NUMBER.fullmatch(text) else None


def condition_code(maps: CodeMaps, kind: str, code: str, term: str, column: str) -> tuple[str, Problem | None]:
    """The ICD-10 code of a condition coded in ``kind`` (``icd10`` or ``snomed``), or why there is none."""
    if kind == "icd10":
        return code, None
    found = maps.snomed.get(code)
    if found is None:
        return "", Problem(column, code, f"no ICD-10 mapping for SNOMED {code}" + (f" ({term})" if term else "")
                           + " in snomed_to_icd10.csv")
    if not found.icd10:
        return "", Problem(column, code, f"not imported: SNOMED {code} ({found.term}) is not a diagnosis: "
                                         f"{found.rationale} (snomed_to_icd10.csv)", excluded=True)
    return found.icd10, None


def drug_code(maps: CodeMaps, kind: str, code: str, term: str, column: str) -> tuple[str, Problem | None]:
    """The ATC code of a drug coded in ``kind`` (``atc`` or ``rxnorm``), or why there is none."""
    if kind == "atc":
        return code, None
    found = maps.rxnorm.get(code)
    if found is None:
        return "", Problem(column, code, f"no ATC mapping for RxNorm {code}" + (f" ({term})" if term else "")
                           + " in rxnorm_to_atc.csv")
    return found.atc, None


def measurement(maps: CodeMaps, code: str, term: str, value: str, unit: str, *, code_column: str,
                value_column: str, unit_column: str) -> tuple[str, str, Problem | None]:
    """(value, registry unit) of a LOINC result, converted as ``loinc_measurements.csv`` says, or why not.

    A value that is not a plain number is passed on unchanged, for the loader to explain (decimal
    comma, text, not finite).
    """
    rules = maps.loinc.get(code)
    if rules is None:
        what = (f"LOINC {code}" if _LOINC.fullmatch(code) else f"code {code!r}" if code
                else "an observation without a code")
        return "", "", Problem(code_column, code, f"not imported: {what}" + (f" ({term})" if term else "")
                               + " is not a measurement the data model holds (loinc_measurements.csv)",
                               excluded=True)
    unit = unit.strip()
    rule = rules.get(unit)
    if rule is None:
        first = next(iter(rules.values()))
        why = "missing unit" if not unit else f"unit {unit!r} cannot be converted to {first.unit}"
        return "", "", Problem(unit_column, unit, f"{why} for LOINC {code} ({first.description}); "
                                                  f"known units: {maps.loinc_units(code)}")
    number = number_text(value)
    if number is None:
        return value.strip(), rule.unit, None
    converted = float(number) if rule.factor == 1 else round(float(number) * rule.factor, 4)
    if not rule.min <= converted <= rule.max:
        shown = f"{converted:g} {rule.unit}" + (f" (from {value.strip()} {unit})" if rule.factor != 1 else "")
        return "", "", Problem(value_column, value.strip(), f"{shown} is outside the plausible range "
                                                            f"{rule.min:g}–{rule.max:g} {rule.unit} for LOINC {code}")
    return repr(converted), rule.unit, None
