"""Messages of the pages in Finnish, Swedish and English, from ``i18n/{fi,sv,en}.yaml``.

The catalogues are nested YAML flattened to dotted keys (``overview.title``). A missing key is an
error in the tests (every catalogue has the same keys) and shows the key itself at run time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, get_args

import yaml

from ennakoiva.domain.types import Lang

__all__ = ["DEFAULT_LANG", "LANGS", "catalogue", "negotiate", "translate"]

LANGS: tuple[Lang, ...] = get_args(Lang)
DEFAULT_LANG: Lang = "fi"
_DIR = Path(__file__).with_name("i18n")


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = str(node)


@cache
def catalogue(lang: Lang) -> dict[str, str]:
    """Every message of ``lang`` by dotted key."""
    out: dict[str, str] = {}
    _flatten("", yaml.safe_load((_DIR / f"{lang}.yaml").read_text(encoding="utf-8")), out)
    return out


def translate(lang: Lang, key: str) -> str:
    return catalogue(lang).get(key, key)


def negotiate(cookie: str | None, query: str | None, accept: str | None) -> Lang:
    """The page language: ``?lang=``, then the cookie, then Accept-Language, then Finnish.

    >>> negotiate(None, None, "sv-FI,sv;q=0.9,en;q=0.8")
    'sv'
    >>> negotiate("en", None, "sv")
    'en'
    """
    for choice in (query, cookie):
        if choice in LANGS:
            return choice  # type: ignore[return-value]
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code  # type: ignore[return-value]
    return DEFAULT_LANG
