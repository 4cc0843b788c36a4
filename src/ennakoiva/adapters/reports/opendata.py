"""Open-data release files: protected tables as CSV plus one ``release.json`` describing them.

A release folder holds one CSV per table (suppressed cells as ``..``, as Statistics Finland marks
them) and ``release.json``: licence and attribution, the disclosure policy used, each table's
layout and published cells, the number of suppressed cells, and the differencing audit. It never
says *why* a cell is suppressed — "primary" would tell the reader the cell is below the threshold.

``release.json`` is also what the next release is audited against: :func:`read_release` rebuilds
the published tables from it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from ennakoiva.domain.disclosure import TOTAL, CellStatus, ProtectedCell, ProtectedTable

__all__ = ["LICENCE", "MARKER", "read_release", "table_csv", "table_record", "write_release"]

MARKER = ".."
LICENCE = "CC BY 4.0"


def table_csv(t: ProtectedTable, row_dimension: str, share_of: tuple[str, str] | None = None,
              col_names: dict[str, str] | None = None) -> str:
    """The CSV text of a protected table; ``share_of`` = (numerator col, denominator col) adds a share."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = col_names or {}
    header = [row_dimension, *(names.get(c, c) for c in t.ext_cols)] + (["share_pct"] if share_of else [])
    w.writerow(header)
    for r in t.ext_rows:
        vals = [t.published(r, c) for c in t.ext_cols]
        line = [r, *(MARKER if v is None else str(v) for v in vals)]
        if share_of:
            num, den = t.published(r, share_of[0]), t.published(r, share_of[1])
            line.append(f"{100 * num / den:.1f}" if num is not None and den else "")
        w.writerow(line)
    return buf.getvalue()


def table_record(t: ProtectedTable, *, name: str, file: str, title: str, row_dimension: str,
                 col_dimension: str | None) -> dict[str, Any]:
    """The table's entry in release.json: layout and published cells (None where suppressed)."""
    return {"name": name, "file": file, "title": title, "row_dimension": row_dimension,
            "col_dimension": col_dimension, "rows": list(t.rows), "cols": list(t.cols),
            "cells": [[c.row, c.col, c.published] for c in t.cells], "cells_total": len(t.cells),
            "suppressed": len(t.suppressed())}


def write_release(out: Path, files: dict[str, str], record: dict[str, Any]) -> str:
    """Write the CSVs and release.json; the release id is a hash of the content (same input, same id)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode())
    release_id = digest.hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    body = {**record, "release_id": release_id, "licence": LICENCE}
    (out / "release.json").write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return release_id


def read_release(folder: Path) -> tuple[dict[str, Any], dict[str, ProtectedTable]]:
    """A previous release: its record and its tables as released (suppressed cells carry no value)."""
    path = folder / "release.json"
    if not path.exists():
        raise FileNotFoundError(f"no release.json in {folder}")
    record = json.loads(path.read_text(encoding="utf-8"))
    tables: dict[str, ProtectedTable] = {}
    policy = record.get("policy", {})
    for t in record["tables"]:
        rows, cols = tuple(t["rows"]), tuple(t["cols"])
        ext_rows = (*rows, TOTAL) if len(rows) > 1 else rows
        ext_cols = (*cols, TOTAL) if len(cols) > 1 else cols
        cells = tuple(ProtectedCell(row=r, col=c, published=v,
                                    status=CellStatus.PUBLISHED if v is not None else CellStatus.SECONDARY)
                      for r, c, v in t["cells"])
        tables[t["name"]] = ProtectedTable(name=t["name"], policy_id=policy.get("id", "unknown"),
                                           threshold=policy.get("threshold", 5),
                                           rounding_base=policy.get("rounding_base", 1), rows=rows, cols=cols,
                                           ext_rows=ext_rows, ext_cols=ext_cols, cells=cells)
    return record, tables
