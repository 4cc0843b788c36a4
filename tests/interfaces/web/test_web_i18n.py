"""The message catalogues: the same keys in fi, sv and en, no empty message, every key used exists."""

from __future__ import annotations

import re
from pathlib import Path

from ennakoiva.interfaces.web.i18n import LANGS, catalogue, negotiate

TEMPLATES = Path(__file__).parents[3] / "src/ennakoiva/interfaces/web/templates"


def test_same_keys_in_every_language() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGS}
    assert keys["fi"] == keys["sv"] == keys["en"], {
        lang: sorted(keys[lang] ^ keys["en"]) for lang in LANGS}


def test_no_empty_or_untranslated_messages() -> None:
    for lang in LANGS:
        assert all(v.strip() for v in catalogue(lang).values()), lang
    # a handful of messages must differ between the languages (a copied catalogue would pass the key test)
    for key in ("login.title", "mydata.title", "overview.change_day", "audit.verify"):
        assert len({catalogue(lang)[key] for lang in LANGS}) == 3, key


def test_every_key_the_templates_use_exists() -> None:
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\['([a-z_.-]+)'\]", path.read_text(encoding="utf-8")))
    assert used and not used - set(catalogue("en")), sorted(used - set(catalogue("en")))


def test_language_negotiation() -> None:
    assert negotiate(None, "en", "sv") == "en"
    assert negotiate("sv", None, "en") == "sv"
    assert negotiate(None, None, "de-DE,de;q=0.9") == "fi"
    assert negotiate("xx", "yy", None) == "fi"
