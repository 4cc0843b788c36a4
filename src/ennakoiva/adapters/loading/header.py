"""Match a file's column names to its registry table: order may differ, names may not."""

from __future__ import annotations

from collections import Counter

from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.domain.registry import TableSpec

__all__ = ["match_header"]


def _hint(name: str, expected: tuple[str, ...]) -> str:
    folded = name.strip().lower().replace(" ", "_").replace("-", "_")
    return f" (did you mean {folded!r}?)" if folded != name and folded in expected else ""


def match_header(spec: TableSpec, header: list[str], where: str) -> tuple[dict[str, int], list[str]]:
    """Each registry column's position in ``header``, and warnings for absent nullable columns.

    A duplicated name, a missing required column or an unexpected extra column rejects the
    whole file: guessing which column was meant would load wrong data quietly. ``where`` says
    where the names are, e.g. ``"person.csv: line 1"``.
    """
    twice = sorted(name for name, n in Counter(header).items() if n > 1)
    if twice:
        raise LoadError(f"{where}: column(s) {', '.join(twice)} appear more than once", line=1,
                        column=",".join(twice))
    expected = spec.column_names
    missing = [c.name for c in spec.columns if c.name not in header and not c.nullable]
    extra = [h for h in header if h not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing required column(s) {', '.join(missing)}")
        if extra:
            parts.append("unexpected column(s) " + ", ".join(repr(h) + _hint(h, expected) for h in extra))
        raise LoadError(f"{where}: {'; '.join(parts)} — table {spec.name} has columns "
                        f"{', '.join(expected)}", line=1, column=",".join(missing + extra))
    warnings = [f"column {c.name} is absent; loaded as empty (it is optional)"
                for c in spec.columns if c.name not in header]
    return {name: header.index(name) for name in expected if name in header}, warnings
