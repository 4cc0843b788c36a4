"""Render the registry as Markdown: docs/data-model.md is generated from this, never by hand."""

from __future__ import annotations

from ennakoiva.domain.registry import Registry

__all__ = ["render_data_model"]

_HEADER = """# Data model

Generated from the table registry (`src/ennakoiva/catalogue/`) by `scripts/gen_data_model.py`;
a test fails when this file and the registry disagree. Every table is keyed by pseudonymous ids:
`person_id` is a stable pseudonym, never a personal identity code. Dates are calendar dates in
Europe/Helsinki; `TIMESTAMPTZ` values are stored in UTC.

Personal tables hold personal data: every read for a purpose goes through the access decision.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_data_model(registry: Registry) -> str:
    """Markdown with one section per table (grouped by sector) and the code systems."""
    lines = [_HEADER]
    sectors: dict[str, list[str]] = {}
    for name, table in registry.tables.items():
        sectors.setdefault(table.sector, []).append(name)
    lines.append("## Tables\n")
    lines.append("| sector | table | key | data category | description |")
    lines.append("|---|---|---|---|---|")
    for sector, names in sectors.items():
        for name in sorted(names):
            t = registry.tables[name]
            lines.append(f"| {sector} | [`{name}`](#{name}) | {', '.join(t.primary_key)} | "
                         f"{t.category or 'not personal'} | {_cell(t.description)} |")
    for sector, names in sectors.items():
        lines.append(f"\n## Sector: {sector}\n")
        for name in sorted(names):
            t = registry.tables[name]
            lines.append(f"### {name}\n")
            lines.append(_cell(t.description) + "\n")
            personal = f"yes, category `{t.category}`" if t.personal else "no"
            lines.append(f"Primary key: `{', '.join(t.primary_key)}`. Personal data: {personal}.\n")
            lines.append("| column | type | null | code system / reference | range / unit | meaning |")
            lines.append("|---|---|---|---|---|---|")
            for c in t.columns:
                ref = f"→ `{c.references}`" if c.references else ""
                code = f"[{c.code_system}](#code-system-{c.code_system})" if c.code_system else ""
                rng = " – ".join(str(v) for v in (c.min, c.max) if v is not None)
                if c.min is not None and c.max is None:
                    rng = f"≥ {c.min}"
                if c.max is not None and c.min is None:
                    rng = f"≤ {c.max}"
                unit = f"{rng} {c.unit or ''}".strip()
                lines.append(f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | "
                             f"{' '.join(p for p in (code, ref) if p)} | {unit} | {_cell(c.description)} |")
            lines.append("")
    lines.append("## Data categories\n")
    lines.append("| category | fi | sv | en | special | tables |")
    lines.append("|---|---|---|---|---|---|")
    for name, cat in registry.categories.items():
        tables = ", ".join(f"`{t}`" for t in registry.tables_in_category(name))
        lines.append(f"| `{name}` | {cat.names['fi']} | {cat.names['sv']} | {cat.names['en']} | "
                     f"{'yes' if cat.special else 'no'} | {tables} |")
    lines.append("")
    lines.append("## Code systems\n")
    for name, cs in registry.code_systems.items():
        lines.append(f"### code system: {name}\n")
        lines.append(_cell(cs.description) + "\n")
        if cs.values:
            lines.append("| code | meaning |")
            lines.append("|---|---|")
            lines.extend(f"| `{k}` | {_cell(v)} |" for k, v in cs.values.items())
        else:
            lines.append(f"Pattern: `{cs.pattern}`" + (f"; check: {cs.check}" if cs.check else ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
