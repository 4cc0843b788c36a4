"""Turn one column of a source file into its registry type and find every bad cell.

Everything is vectorised with pyarrow.compute. A clean column is settled by one strict cast; when
that fails, regular expressions sort the texts by shape (so that each bad cell gets a precise
reason: a decimal comma, a Finnish d.m.yyyy date, a timestamp without offset), impossible dates are
found arithmetically, and any cast that still fails is narrowed down by halving, never by a
per-cell Python loop.
Code systems are checked once per distinct code with ``CodeSystem.is_valid``, the registry's own
rule, so the loader can never disagree with the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.engine.arrow_schema import ARROW_TYPES
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.domain.codes import CodeSystem
from ennakoiva.domain.registry import ColumnSpec

__all__ = ["PROBLEM_SCHEMA", "convert_column", "problems"]

# One problem of one row: the row's index in the file, the column, the value as read, and why.
PROBLEM_SCHEMA = pa.schema([("row", pa.int64()), ("column", pa.string()), ("value", pa.string()),
                            ("reason", pa.string())])

_INTEGER = r"^[+-]?[0-9]+(\.0*)?$"  # "12.0" (a pandas export of an integer column) is 12
_FRACTION = r"^[+-]?[0-9]*\.[0-9]+$"
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DECIMAL_COMMA = r"^[+-]?[0-9]*,[0-9]+$"
_NOT_FINITE = r"(?i)^[+-]?(nan|inf|infinity)$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_FINNISH_DATE = r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$"
_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
_TIMESTAMP = rf"^{_TIME}(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$"
_NAIVE_TIMESTAMP = rf"^{_TIME}$"
_TRUE = ["true", "t", "1", "yes"]
_FALSE = ["false", "f", "0", "no"]

REQUIRED = "missing value: the column is required"
NOT_INTEGER = "not an integer"
NOT_WHOLE = "not a whole number"
INTEGER_COMMA = "not an integer: decimal comma (write a whole number, e.g. 135)"
DECIMAL_COMMA = "decimal comma: write numbers with a decimal point (e.g. 135.0, not 135,0)"
NOT_NUMBER = "not a number"
NOT_FINITE = "not a finite number"
NOT_DATE = "not an ISO date YYYY-MM-DD"
FINNISH_DATE = "not an ISO date YYYY-MM-DD (this looks like d.m.yyyy)"
NO_SUCH_DATE = "no such date"
NAIVE_TIME = "timestamp without a UTC offset: add Z or an offset such as +02:00"
NOT_TIME = "not an ISO 8601 timestamp with offset (e.g. 2024-01-31T08:00:00+02:00)"
NO_SUCH_TIME = "no such date or time"
NOT_BOOLEAN = "not a boolean: use true/false or 1/0"


def problems(mask: pa.Array, column: str, shown: pa.Array, reason: str | pa.Array) -> pa.Table:
    """The rows where ``mask`` is true as problems; ``reason`` is one text or one per row."""
    rows = pc.indices_nonzero(pc.fill_null(mask, False)).cast(pa.int64())
    reasons = pa.repeat(reason, len(rows)) if isinstance(reason, str) else pc.take(reason, rows).cast(pa.string())
    return pa.table([rows, pa.repeat(column, len(rows)), pc.take(shown, rows).cast(pa.string()), reasons],
                    schema=PROBLEM_SCHEMA)


def _all(n: int, value: bool) -> pa.Array:
    return pa.repeat(value, n)


def _cast_locating(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """``values`` cast to ``target`` with null where a value cannot be cast, and that mask.

    A failing cast is split in halves until the failing values are found one by one, so a
    column with a few impossible values costs a few extra casts, not one per value.
    """
    try:
        return pc.cast(values, target), _all(len(values), False)
    except pa.ArrowInvalid:  # rare after the shape checks: halve until the culprits are alone
        if len(values) == 1:
            return pa.nulls(1, target), _all(1, True)
        half = len(values) // 2
        left, left_failed = _cast_locating(values.slice(0, half), target)
        right, right_failed = _cast_locating(values.slice(half), target)
        return pa.concat_arrays([left, right]), pa.concat_arrays([left_failed, right_failed])


@dataclass
class Converted:
    """A column in its registry type, the problems found in it, and which rows they hit."""

    values: pa.Array
    problems: list[pa.Table]
    bad: pa.Array  # rows with a problem in this column


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def _part(text: pa.Array, start: int, stop: int, after: str | None = None) -> np.ndarray:
    """The number at ``text[start:stop]`` (0 where absent, or where ``after`` does not precede it)."""
    digits = pc.utf8_slice_codeunits(text, start, stop)
    present = _matches(digits, r"^[0-9]+$")
    if after is not None:
        present = pc.and_(present, pc.equal(pc.utf8_slice_codeunits(text, start - 1, start), after))
    number = pc.cast(pc.if_else(present, digits, pa.scalar(None, digits.type)), pa.int32())
    return np.asarray(pc.fill_null(number, 0).to_numpy(zero_copy_only=False))


def _calendar_ok(text: pa.Array, *, with_time: bool) -> pa.Array:
    """Whether ISO-shaped ``text`` (YYYY-MM-DD, optionally THH:MM[:SS]) names a real moment.

    Checked arithmetically so that a file full of impossible dates (say, day and month swapped)
    is as fast to reject as a good one is to load.
    """
    year, month, day = _part(text, 0, 4), _part(text, 5, 7), _part(text, 8, 10)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
    if with_time:
        ok &= (_part(text, 11, 13) <= 23) & (_part(text, 14, 16) <= 59) & (_part(text, 17, 19, ":") <= 59)
    return pa.array(ok, pa.bool_())


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _shaped_cast(text: pa.Array, ok: pa.Array, target: pa.DataType, *, calendar: bool = False,
                 with_time: bool = False) -> tuple[pa.Array, pa.Array]:
    """Cast the texts where ``ok``; returns the typed values and where a well-shaped text failed."""
    candidates = pc.if_else(ok, text, pa.scalar(None, text.type))
    impossible = _all(len(text), False)
    if calendar:
        impossible = pc.and_(ok, pc.invert(_calendar_ok(pc.fill_null(candidates, "0000-00-00"),
                                                      with_time=with_time)))
        candidates = pc.if_else(impossible, pa.scalar(None, text.type), candidates)
    typed, failed = _cast_locating(candidates, target)
    return typed, pc.or_(impossible, failed)


def _text(values: pa.Array, col: ColumnSpec) -> tuple[pa.Array, pa.Array, list[tuple[pa.Array, str]]]:
    """Typed values, the blank (NULL) mask and (mask, reason) problems for a column read as text."""
    if col.type == "VARCHAR":
        blank = pc.fill_null(pc.equal(values, ""), True)
        return pc.if_else(blank, pa.scalar(None, pa.string()), values.cast(pa.string())), blank, []
    if col.type != "BOOLEAN":  # most files are clean: one strict cast settles the whole column
        blank = pc.fill_null(pc.equal(values, ""), True)
        try:
            return pc.cast(pc.if_else(blank, pa.scalar(None, values.type), values), ARROW_TYPES[col.type]), \
                blank, []
        except pa.ArrowInvalid:
            pass
    text = pc.utf8_trim_whitespace(values)
    blank = pc.fill_null(pc.equal(text, ""), True)
    filled = pc.invert(blank)
    found: list[tuple[pa.Array, str]] = []

    def shaped(pattern: str) -> tuple[pa.Array, pa.Array]:
        ok = pc.and_(filled, _matches(text, pattern))
        return ok, pc.and_(filled, pc.invert(ok))

    if col.type in ("BIGINT", "INTEGER"):
        ok, wrong = shaped(_INTEGER)
        digits = pc.replace_substring_regex(text, r"\.0*$", "")
        wide, failed = _shaped_cast(digits, ok, pa.int64())
        small = pa.int32() if col.type == "INTEGER" else pa.int64()
        outside = pc.fill_null(pc.or_(pc.less(wide, -(2**31)), pc.greater(wide, 2**31 - 1)), False) \
            if col.type == "INTEGER" else _all(len(wide), False)
        typed = pc.if_else(outside, pa.scalar(None, pa.int64()), wide).cast(small)
        comma = pc.and_(wrong, _matches(text, _DECIMAL_COMMA))
        fraction = pc.and_(wrong, _matches(text, _FRACTION))
        found += [(comma, INTEGER_COMMA), (fraction, NOT_WHOLE),
                  (pc.and_(wrong, pc.invert(pc.or_(comma, fraction))), NOT_INTEGER),
                  (pc.or_(failed, outside), f"integer out of range for {col.type}")]
    elif col.type == "DOUBLE":
        ok, wrong = shaped(_NUMBER)
        typed, failed = _shaped_cast(text, ok, pa.float64())
        comma = pc.and_(wrong, _matches(text, _DECIMAL_COMMA))
        infinite = pc.and_(wrong, _matches(text, _NOT_FINITE))
        found += [(comma, DECIMAL_COMMA), (infinite, NOT_FINITE),
                  (pc.and_(wrong, pc.invert(pc.or_(comma, infinite))), NOT_NUMBER), (failed, NOT_NUMBER)]
    elif col.type == "DATE":
        ok, wrong = shaped(_DATE)
        typed, failed = _shaped_cast(text, ok, pa.date32(), calendar=True)
        finnish = pc.and_(wrong, _matches(text, _FINNISH_DATE))
        found += [(finnish, FINNISH_DATE), (pc.and_(wrong, pc.invert(finnish)), NOT_DATE),
                  (failed, NO_SUCH_DATE)]
    elif col.type == "TIMESTAMPTZ":
        ok, wrong = shaped(_TIMESTAMP)
        typed, failed = _shaped_cast(text, ok, ARROW_TYPES["TIMESTAMPTZ"], calendar=True, with_time=True)
        naive = pc.and_(wrong, _matches(text, _NAIVE_TIMESTAMP))
        found += [(naive, NAIVE_TIME), (pc.and_(wrong, pc.invert(naive)), NOT_TIME), (failed, NO_SUCH_TIME)]
    else:  # BOOLEAN
        lower = pc.utf8_lower(text)
        is_true, is_false = pc.is_in(lower, pa.array(_TRUE)), pc.is_in(lower, pa.array(_FALSE))
        typed = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
        found.append((pc.and_(filled, pc.is_null(typed)), NOT_BOOLEAN))
    return typed, blank, found


_Typed = tuple[pa.Array, list[tuple[pa.Array, str]]] | None  # None: the stored type cannot hold it


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _to_integer(values: pa.Array, col: ColumnSpec) -> _Typed:
    if not _is_number(values.type):
        return None
    found: list[tuple[pa.Array, str]] = []
    if not pa.types.is_integer(values.type):
        as_float = values.cast(pa.float64())
        whole = pc.fill_null(pc.and_(pc.is_finite(as_float), pc.equal(pc.floor(as_float), as_float)), True)
        found.append((pc.invert(whole), NOT_WHOLE))
        values = pc.if_else(whole, values, pa.scalar(None, values.type))
    typed, failed = _cast_locating(values, ARROW_TYPES[col.type])
    return typed, [*found, (failed, f"integer out of range for {col.type}")]


def _to_double(values: pa.Array, col: ColumnSpec) -> _Typed:
    return (_cast_locating(values, pa.float64())[0], []) if _is_number(values.type) else None


def _to_date(values: pa.Array, col: ColumnSpec) -> _Typed:
    if not (pa.types.is_date(values.type) or pa.types.is_timestamp(values.type)):
        return None
    typed, failed = _cast_locating(values, pa.date32())
    return typed, [(failed, "a timestamp with a time of day where a date is expected")]


def _to_timestamp(values: pa.Array, col: ColumnSpec) -> _Typed:
    if not pa.types.is_timestamp(values.type) or values.type.tz is None:
        return None
    typed, failed = _cast_locating(values, ARROW_TYPES["TIMESTAMPTZ"])
    return typed, [(failed, "timestamp finer than a microsecond")]


def _to_boolean(values: pa.Array, col: ColumnSpec) -> _Typed:
    if pa.types.is_boolean(values.type):
        return values, []
    if not pa.types.is_integer(values.type):
        return None
    typed = pc.if_else(pc.equal(values, 1), True,
                       pc.if_else(pc.equal(values, 0), False, pa.scalar(None, pa.bool_())))
    return typed, [(pc.and_(pc.is_valid(values), pc.is_null(typed)), NOT_BOOLEAN)]


def _to_varchar(values: pa.Array, col: ColumnSpec) -> _Typed:
    kind = values.type
    if _is_number(kind) or pa.types.is_date(kind) or pa.types.is_boolean(kind):
        return values.cast(pa.string()), []
    return None


_FROM_TYPED = {"BIGINT": _to_integer, "INTEGER": _to_integer, "DOUBLE": _to_double, "DATE": _to_date,
               "TIMESTAMPTZ": _to_timestamp, "BOOLEAN": _to_boolean, "VARCHAR": _to_varchar}


def _typed(values: pa.Array, col: ColumnSpec, where: str) -> tuple[pa.Array, list[tuple[pa.Array, str]]]:
    """A column stored with a type (Parquet) as its registry type, with the rows that do not fit.

    A stored type that cannot hold the column at all (a date column stored as integers,
    timestamps without a time zone) rejects the file: every row would fail the same way.
    """
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), ARROW_TYPES[col.type]), []
    converted = _FROM_TYPED[col.type](values, col)
    if converted is not None:
        return converted
    hint = ("; store them as UTC-adjusted timestamps (with a time zone)"
            if pa.types.is_timestamp(values.type) and col.type == "TIMESTAMPTZ" else "")
    raise LoadError(f"{where}: column {col.name} is stored as {values.type}, which cannot hold "
                    f"{col.type} values{hint}", column=col.name)


def _code_problems(values: pa.Array, col: ColumnSpec, system: CodeSystem) -> tuple[pa.Array, pa.Array]:
    """Mask of values outside ``system`` and a reason per row, checking each distinct code once."""
    distinct = pc.unique(pc.drop_null(values)).to_pylist()
    invalid = [code for code in distinct if not system.is_valid(code)]
    if not invalid:
        return _all(len(values), False), pa.nulls(len(values), pa.string())
    reasons = pa.array([_code_reason(code, col, system) for code in invalid], pa.string())
    where = pc.index_in(values, value_set=pa.array(invalid, pa.string()))
    return pc.is_valid(where), pc.take(reasons, where)


def _code_reason(code: str, col: ColumnSpec, system: CodeSystem) -> str:
    name = col.code_system
    if system.pattern is not None and system.check and re.fullmatch(system.pattern, code):
        return f"not a valid {name} code: the {system.check.replace('_', ' ')} is wrong"
    reason = f"not a valid {name} code: expected {system.explain()}"
    for guess in (code.strip(), code.strip().upper(), code.strip().lower()):
        if guess != code and system.is_valid(guess):
            return f"{reason} (did you mean {guess!r}?)"
    return reason


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def convert_column(values: pa.Array | None, col: ColumnSpec, n: int, system: CodeSystem | None,
                   where: str) -> Converted:
    """``values`` (None when the optional column is absent) in the registry type, with every problem.

    Each cell gets at most one type problem; a well-typed cell is then checked for NULL, its code
    system and its range. ``where`` names the file for whole-column errors.
    """
    if values is None:
        return Converted(pa.nulls(n, ARROW_TYPES[col.type]), [], _all(n, False))
    found: list[tuple[pa.Array, str | pa.Array]] = []
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        typed, blank, type_found = _text(values, col)
        shown = values
    else:
        typed, type_found = _typed(values, col, where)
        blank = pc.is_null(values)
        shown = None
    found += type_found
    typed_ok = pc.is_valid(typed)
    if not col.nullable:
        found.append((blank, REQUIRED))
    if col.type == "DOUBLE":
        found.append((pc.and_(typed_ok, pc.invert(pc.is_finite(typed))), NOT_FINITE))
        typed = pc.if_else(pc.fill_null(pc.is_finite(typed), True), typed, pa.scalar(None, pa.float64()))
    if system is not None:
        mask, reasons = _code_problems(typed, col, system)
        found.append((mask, reasons))
    if col.min is not None:
        found.append((pc.less(typed, col.min), f"below the minimum {_number(col.min)}{_unit(col)}"))
    if col.max is not None:
        found.append((pc.greater(typed, col.max), f"above the maximum {_number(col.max)}{_unit(col)}"))
    if shown is None:
        shown = _as_text(values)
    tables = [problems(mask, col.name, shown, reason) for mask, reason in found]
    tables = [t for t in tables if t.num_rows]
    bad = _all(n, False)
    for mask, _reason in found:
        bad = pc.or_(bad, pc.fill_null(mask, False))
    return Converted(typed, tables, bad)


def _unit(col: ColumnSpec) -> str:
    return f" {col.unit}" if col.unit else ""


def _as_text(values: pa.Array) -> pa.Array:
    try:
        return values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())
