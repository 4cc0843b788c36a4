"""The demo's consent story runs on a synthetic city and tells the truth about each step."""

from __future__ import annotations

from pathlib import Path

from ennakoiva.platform.demo_consent import consent_story


def test_consent_story_on_the_small_city(small_city, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outcomes = [outcome for _step, outcome in consent_story(small_city.db, tmp_path)]
    assert outcomes[1] == "denied (consent_pending_parties)"
    assert outcomes[3].startswith("permitted: ") and not outcomes[3].startswith("permitted: 0 ")
    assert outcomes[4] == "denied (service_not_permitted)"
    assert outcomes[6] == "denied (consent_withdrawn)"
    assert outcomes[7].startswith("intact: ")
    again = [outcome for _step, outcome in consent_story(small_city.db, tmp_path)]
    assert again == outcomes  # a fresh store each run: the demo can be repeated
