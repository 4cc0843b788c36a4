"""Frequency tables with their margins, and what was published of them.

A table has rows and columns (a one-dimensional table has a single column, ``count``). Its
*extended* form adds the margins: a ``Total`` column when there is more than one column, a
``Total`` row when there is more than one row, and the grand total when both exist. Every cell of
the extended table is a published number, so every one of them passes disclosure control.

>>> t = FrequencyTable(name="t", row_dimension="area", col_dimension="sex",
...                    rows=("A", "B"), cols=("m", "f"), counts=((3, 7), (10, 12)))
>>> t.value("A", TOTAL), t.value(TOTAL, "f"), t.value(TOTAL, TOTAL)
(10, 19, 32)
>>> [c for c in t.extended_cells()][:3]
[('A', 'm'), ('A', 'f'), ('A', 'Total')]
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TOTAL", "CellKey", "CellStatus", "FrequencyTable", "ProtectedCell", "ProtectedTable", "SuppressionReason"]

TOTAL = "Total"
CellKey = tuple[str, str]


class FrequencyTable(BaseModel):
    """Counts of units by one (``cols == ("count",)``) or two dimensions; margins are derived."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    row_dimension: str
    col_dimension: str | None = None
    rows: tuple[str, ...] = Field(min_length=1)
    cols: tuple[str, ...] = ("count",)
    counts: tuple[tuple[int, ...], ...]
    #: which axis holds areas (postal areas, districts); the policy's area floor applies to it.
    area_axis: Literal["rows", "cols"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> FrequencyTable:
        for what, labels in (("rows", self.rows), ("cols", self.cols)):
            if len(set(labels)) != len(labels):
                raise ValueError(f"duplicate labels in {what}")
            if TOTAL in labels:
                raise ValueError(f"'{TOTAL}' is reserved for margins ({what})")
        if len(self.counts) != len(self.rows) or any(len(r) != len(self.cols) for r in self.counts):
            raise ValueError(f"counts must be {len(self.rows)} x {len(self.cols)}")
        if any(v < 0 for r in self.counts for v in r):
            raise ValueError("counts must be non-negative")
        return self

    @property
    def has_total_row(self) -> bool:
        return len(self.rows) > 1

    @property
    def has_total_col(self) -> bool:
        return len(self.cols) > 1

    @property
    def ext_rows(self) -> tuple[str, ...]:
        return (*self.rows, TOTAL) if self.has_total_row else self.rows

    @property
    def ext_cols(self) -> tuple[str, ...]:
        return (*self.cols, TOTAL) if self.has_total_col else self.cols

    def value(self, row: str, col: str) -> int:
        """Count of an interior or margin cell."""
        rows = self.rows if row == TOTAL else (row,)
        cols = self.cols if col == TOTAL else (col,)
        ri = [self.rows.index(r) for r in rows]
        ci = [self.cols.index(c) for c in cols]
        return sum(self.counts[i][j] for i in ri for j in ci)

    def extended_cells(self) -> Iterator[CellKey]:
        """Every published cell, margins included, row by row."""
        for r in self.ext_rows:
            for c in self.ext_cols:
                yield (r, c)

    def lines(self) -> list[list[CellKey]]:
        """Each additive line of the extended table: its cells, the margin last.

        A row is a line when there is a total column; a column is a line when there is a total row.
        """
        out: list[list[CellKey]] = []
        if self.has_total_col:
            out.extend([(r, c) for c in self.ext_cols] for r in self.ext_rows)
        if self.has_total_row:
            out.extend([(r, c) for r in self.ext_rows] for c in self.ext_cols)
        return out


class CellStatus(StrEnum):
    PUBLISHED = "published"
    PRIMARY = "primary"
    SECONDARY = "secondary"


class SuppressionReason(StrEnum):
    BELOW_THRESHOLD = "below_threshold"
    ZERO = "zero"
    SMALL_LINE_TOTAL = "small_line_total"
    AREA_FLOOR = "area_floor"
    COMPLEMENTARY = "complementary"
    LINKED = "linked_table"


class ProtectedCell(BaseModel):
    """One cell as released: its published value, or ``None`` and why it was suppressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    row: str
    col: str
    status: CellStatus
    reason: SuppressionReason | None = None
    published: int | None = None


class ProtectedTable(BaseModel):
    """The released form of a frequency table; suppressed cells carry no value.

    ``reason`` is for the audit trail of the producer; a public file shows only a marker.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    policy_id: str
    threshold: int
    rounding_base: int
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    ext_rows: tuple[str, ...]
    ext_cols: tuple[str, ...]
    cells: tuple[ProtectedCell, ...]

    def cell(self, row: str, col: str) -> ProtectedCell:
        return self._index[(row, col)]

    def published(self, row: str, col: str) -> int | None:
        return self.cell(row, col).published

    def suppressed(self, status: CellStatus | None = None) -> list[CellKey]:
        return [(c.row, c.col) for c in self.cells
                if c.status is not CellStatus.PUBLISHED and (status is None or c.status is status)]

    def public_rows(self, marker: str = "..") -> list[list[str]]:
        """The table as it goes out: header row, then each row with values or the marker."""
        out = [["", *self.ext_cols]]
        for r in self.ext_rows:
            vals = [self.published(r, c) for c in self.ext_cols]
            out.append([r, *(marker if v is None else str(v) for v in vals)])
        return out

    @cached_property
    def _index(self) -> dict[CellKey, ProtectedCell]:
        return {(c.row, c.col): c for c in self.cells}

    def as_table_shape(self) -> FrequencyTable:
        """An empty table of the same shape (labels only), for the line structure."""
        return FrequencyTable(name=self.name, row_dimension="rows", rows=self.rows, cols=self.cols,
                              counts=tuple(tuple(0 for _ in self.cols) for _ in self.rows))
