"""Read a CSV file into columns of strings, keeping every row's physical line number.

Line numbers are what a person fixing the file needs, so they must be exact: a physical line ends
at ``\\n`` and the header is line 1. When no quoted value runs past the end of its line (true of
almost every export) records and lines coincide, and pyarrow's CSV reader parses the file (about
ten million rows in a second or two); the rows it skips for a wrong field count are mapped back to
their lines and checked against the line text. Otherwise (a line break or a stray quote inside a
value, an unterminated quote) Python's ``csv`` module reads the file in strict mode: slower, but it
follows records across lines and reports malformed quoting row by row.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ennakoiva.adapters.loading.encoding import decode
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.source_rows import SourceRows, broken_rows

__all__ = ["DELIMITERS", "read_csv"]

DELIMITERS = (",", ";", "\t")
_UTF8 = {"utf-8", "utf8", "u8"}


def read_csv(path: Path, encoding: str | None = None) -> SourceRows:
    """Every row of ``path`` as strings; rows with the wrong number of fields come back in ``broken``."""
    name = path.name
    data = path.read_bytes()
    text, used = decode(data, encoding, name)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text or text.isspace():
        raise LoadError(f"{name}: the file is empty; expected a header line with the column names", line=1)
    plain_utf8 = used.replace("_", "-").lower() in _UTF8 and not data.startswith(codecs.BOM_UTF8)
    utf8 = data if plain_utf8 else text.encode("utf-8")
    del text
    lines = _lines(utf8)
    header_raw = lines[0].as_py().rstrip("\r\n")
    delimiter = sniff_delimiter(header_raw)
    header = [h.replace("\ufeff", "").strip() for h in next(csv.reader([header_raw], delimiter=delimiter))]
    rows = _split_with_arrow(utf8, lines, delimiter, len(header))
    if rows is None:
        rows = _split_with_csv_module(lines.slice(1), delimiter, len(header))
    columns, positions, raw, broken = rows
    return SourceRows(file=name, header=header, columns=columns, positions=positions, raw=raw,
                      broken=broken, header_raw=header_raw, encoding=used, delimiter=delimiter)


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most fields (``,`` on a tie).

    >>> sniff_delimiter("person_id;birth_date;sex"), sniff_delimiter("a,b"), sniff_delimiter("x")
    (';', ',', ',')
    """
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def _lines(utf8: bytes) -> pa.Array:
    """The physical lines of ``utf8`` (terminators included) as one zero-copy string array."""
    newlines = np.flatnonzero(np.frombuffer(utf8, dtype=np.uint8) == 0x0A)
    ends = newlines + 1
    if not utf8.endswith(b"\n"):
        ends = np.append(ends, len(utf8))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    return pa.Array.from_buffers(pa.large_string(), len(offsets) - 1,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(utf8)])


def _strip_terminator(values: pa.Array) -> pa.Array:
    return pc.utf8_rtrim(values, characters="\r\n")


def _field_count_reason(expected: int, found: int, delimiter: str, last_unterminated: bool) -> str:
    reason = f"expected {expected} fields separated by {delimiter!r}, found {found}"
    if last_unterminated:
        return reason + "; the file ends in the middle of this line (truncated?)"
    if found > expected:
        return reason + f"; a value containing {delimiter!r} must be in double quotes"
    return reason


_Split = tuple[list[pa.Array], pa.Array, Callable[[pa.Array], list[str]], pa.Table]


def _simple_line(delimiter: str) -> str:
    """A line whose quoting never spans lines: unquoted values, or quoted ones with "" escapes."""
    d = re.escape(delimiter)
    value = rf'("([^"]|"")*"|[^"{d}\r\n]*)'
    return rf"^{value}({d}{value})*\r?\n?$"


def _arrow_read(utf8: bytes, header_end: int, names: list[str], delimiter: str,
                skip: Callable[[pacsv.InvalidRow], str]) -> pa.Table:
    """The body of the file as string columns; rows with a wrong field count go to ``skip``."""
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(utf8).slice(header_end)),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=64 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"',
                                          double_quote=True, newlines_in_values=False,
                                          invalid_row_handler=skip),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                             strings_can_be_null=False, quoted_strings_can_be_null=False))


def _nonblank_lines(utf8: bytes, body: pa.Array, header_end: int, delimiter: str) -> np.ndarray | None:
    """Body index of every non-blank line, or None when a record might span lines.

    Records and lines coincide when no carriage return stands alone and every quoted value
    closes on its own line (checked with one regular expression over the lines).
    """
    if utf8.find(b"\r", header_end) != -1 and utf8.count(b"\r", header_end) != utf8.count(b"\r\n", header_end):
        return None
    blank = pc.binary_length(body).to_numpy() <= 2  # only "\n" or "\r\n" can be blank; check those few
    for i in np.flatnonzero(blank):
        blank[i] = body[int(i)].as_py().strip("\r\n") == ""
    nonblank = np.flatnonzero(~blank)
    if utf8.find(b'"', header_end) != -1 and len(nonblank):
        simple = pc.match_substring_regex(pc.take(body, pa.array(nonblank)), _simple_line(delimiter))
        if not pc.all(simple).as_py():
            return None
    return nonblank


def _skipped_lines(invalid: list[tuple[int | None, str]], nonblank: np.ndarray) -> np.ndarray | None:
    """Body index of each row the reader skipped (numbered among non-blank rows from 1)."""
    if any(number is None for number, _ in invalid):
        return None
    bad = np.array([number for number, _ in invalid], dtype=np.int64) - 1
    if len(bad) and (bad.min() < 0 or bad.max() >= len(nonblank) or (np.diff(bad) <= 0).any()):
        return None
    return nonblank[bad]


def _split_with_arrow(utf8: bytes, lines: pa.Array, delimiter: str, ncols: int) -> _Split | None:
    """Parse with pyarrow's CSV reader when every record is one line; None when one may not be.

    The reader's rows are then the non-blank lines in order, and the rows it skips for a wrong
    field count, numbered among them, are mapped back to their lines and checked by their text.
    """
    header_end = len(lines[0].as_py().encode("utf-8"))
    body = lines.slice(1)
    nonblank = _nonblank_lines(utf8, body, header_end, delimiter)
    if nonblank is None:
        return None
    invalid: list[tuple[int | None, str]] = []

    def skip(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    names = [f"c{i}" for i in range(ncols)]
    try:
        table = _arrow_read(utf8, header_end, names, delimiter, skip) if len(nonblank) else \
            pa.table({n: pa.array([], pa.string()) for n in names})  # pyarrow refuses empty input
    except pa.ArrowInvalid:  # anything the reader cannot take is the csv module's to judge
        return None
    bad_index = _skipped_lines(invalid, nonblank)
    if bad_index is None:
        return None
    good_index = np.setdiff1d(nonblank, bad_index, assume_unique=True)

    def content(index: pa.Array | np.ndarray) -> list[str]:
        return list(_strip_terminator(pc.take(body, index)).to_pylist())

    if table.num_rows != len(good_index) or content(bad_index) != [text for _, text in invalid]:
        return None  # the reader and the line split disagree: let the csv module decide
    reasons = [_field_count_reason(ncols, _count_fields(text, delimiter), delimiter,
                                   int(i) == len(body) - 1 and not utf8.endswith(b"\n"))
               for i, (_, text) in zip(bad_index, invalid, strict=True)]
    broken = broken_rows((bad_index + 2).tolist(), reasons, [text for _, text in invalid])
    good_lines = pa.array(good_index, pa.int64())

    def raw(rows: pa.Array) -> list[str]:
        return content(pc.take(good_lines, rows))

    return [_combine(table.column(i)) for i in range(ncols)], pa.array(good_index + 2, pa.int64()), raw, broken


def _count_fields(text: str, delimiter: str) -> int:
    return len(next(csv.reader([text], delimiter=delimiter), []))


def _combine(column: pa.ChunkedArray) -> pa.Array:
    try:
        return column.combine_chunks()
    except pa.ArrowInvalid:  # over 2 GiB of text in one column
        return column.cast(pa.large_string()).combine_chunks()


def _records(lines: list[str], delimiter: str) -> Iterator[tuple[int, int, list[str] | None, str]]:
    """(first line index, last line index, fields or None, csv error) for every record of ``lines``.

    After an unterminated quote only the line it opens on is broken: parsing resumes on the next
    line, so rows the stray quote would have swallowed are still read (and counted).
    """
    start = 0
    while start < len(lines):
        reader = csv.reader(iter(lines[start:]), delimiter=delimiter, strict=True)
        done = start
        restart = None
        while True:
            try:
                row: list[str] | None = next(reader)
                error = ""
            except StopIteration:
                break
            except csv.Error as exc:
                row, error = None, str(exc)
            first, last = done, start + reader.line_num - 1
            done = last + 1
            if row is None and error == "unexpected end of data" and last > first:
                yield first, first, None, error
                restart = first + 1
                break
            yield first, last, row, error
        start = restart if restart is not None else len(lines)


def _csv_error_reason(error: str) -> str:
    if error == "unexpected end of data":
        return "unterminated quote: the quoted value that starts on this line is never closed"
    if "new-line character seen in unquoted field" in error:
        return "a line break (carriage return) inside a value that is not in double quotes"
    return f"malformed quoting: {error}"


def _split_with_csv_module(body: pa.Array, delimiter: str, ncols: int) -> _Split:
    lines: list[str] = body.to_pylist()
    values: list[list[str]] = [[] for _ in range(ncols)]
    firsts: list[int] = []
    lasts: list[int] = []
    bad_lines: list[int] = []
    reasons: list[str] = []
    raws: list[str] = []
    for first, last, row, error in _records(lines, delimiter):
        if row is not None and not row:
            continue  # a blank line is not a row
        if row is not None and len(row) == ncols:
            for column, value in zip(values, row, strict=True):
                column.append(value)
            firsts.append(first)
            lasts.append(last)
            continue
        text = "".join(lines[first:last + 1]).rstrip("\r\n")
        if row is None:
            reason = _csv_error_reason(error)
        else:
            reason = _field_count_reason(ncols, len(row), delimiter,
                                         last == len(lines) - 1 and not lines[-1].endswith("\n"))
        bad_lines.append(first + 2)
        reasons.append(reason)
        raws.append(text)
    columns = [pa.array(v, pa.large_string()) for v in values]
    positions = pa.array([f + 2 for f in firsts], pa.int64())

    def raw(rows: pa.Array) -> list[str]:
        return ["".join(lines[firsts[i]:lasts[i] + 1]).rstrip("\r\n") for i in rows.to_pylist()]

    return columns, positions, raw, broken_rows(bad_lines, reasons, raws)
