"""Charts as Vega-Lite specifications, rendered to SVG on the server (vl-convert) and cached.

Rendering on the server keeps the Content-Security-Policy strict (Vega's expression compiler needs
``unsafe-eval`` in the browser) and the page light. The SVG is rendered once per extract date and
language; the specification itself is served too, for anyone who wants the chart as data.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ennakoiva.domain.types import Lang
from ennakoiva.interfaces.web.i18n import translate
from ennakoiva.platform.overview import Overview

__all__ = ["trend_spec", "trend_svg"]


def trend_spec(overview: Overview, lang: Lang, figure: str = "residents") -> dict[str, Any]:
    """A line chart of one figure's monthly snapshots."""
    series = overview.figures.get(figure, {})
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "description": translate(lang, "overview.trend"),
        "width": 560, "height": 220, "background": "#ffffff",
        "data": {"values": [{"date": d, "value": v} for d, v in sorted(series.items())]},
        "mark": {"type": "line", "point": True, "color": "#0000bf"},
        "encoding": {
            "x": {"field": "date", "type": "temporal", "title": None, "axis": {"format": "%m/%Y"}},
            "y": {"field": "value", "type": "quantitative", "title": translate(lang, f"figures.{figure}"),
                  "scale": {"zero": False}},
        },
        "config": {"font": "sans-serif", "axis": {"labelColor": "#1a1a1a", "titleColor": "#1a1a1a"}},
    }


@lru_cache(maxsize=64)
def _render(spec_json: str) -> str:
    import vl_convert  # noqa: PLC0415 - the renderer loads a JS engine; only when a chart is drawn

    return str(vl_convert.vegalite_to_svg(json.loads(spec_json)))


def trend_svg(overview: Overview, lang: Lang, figure: str = "residents") -> str:
    """The SVG of :func:`trend_spec`, cached per extract date, language and figure."""
    spec = trend_spec(overview, lang, figure)
    return _render(json.dumps(spec, sort_keys=True))
