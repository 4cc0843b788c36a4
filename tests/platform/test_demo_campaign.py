"""The demo's campaign story on the small city: end to end with the simulator, configurable families."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ennakoiva.adapters.channels import SmsSimulator
from ennakoiva.adapters.channels.simulator import FamilyBehaviour
from ennakoiva.platform.demo_campaign import campaign_story
from ennakoiva.platform.settings import Settings


def test_the_preschool_story_runs_end_to_end_with_configured_families(small_city: Any, tmp_path: Path) -> None:
    on = small_city.result.as_of
    settings = Settings(sms_demo_answer_rate=0.8, sms_demo_accept_rate=0.5)
    story = campaign_story(small_city.db, tmp_path, on, settings=settings)
    total = story.total
    assert total["offers"] > 50 and total["sent"] >= 0.95 * total["offers"]
    assert total["delivered"] == total["sent"]
    # the configured behaviour shows in the outcome (binomial noise over ~100 families, not fixed figures)
    assert 0.6 <= total["answer_rate"] <= 0.95
    assert 0.3 <= total["accepted"] / max(1, total["accepted"] + total["declined"]) <= 0.7
    assert total["accepted"] + total["declined"] + total["held"] <= total["answered"]
    assert total["confirmation_seconds"]["n"] > 0 and total["confirmation_seconds"]["p95"] < 1.0
    assert sum(v["offers"] for v in story.by_language.values()) == total["offers"]
    assert sum(v["offers"] for v in story.by_district.values()) == total["offers"]
    sim = SmsSimulator(tmp_path / "campaign-sms.sqlite3")
    assert sim.submissions()[1] == 0          # nothing was handed over twice
    sim.close()

    # other families, other results: nothing is hard-coded
    eager = campaign_story(small_city.db, tmp_path, on, behaviour=FamilyBehaviour(answer_rate=1.0, accept_rate=1.0,
                                                                                    unclear_rate=0.0, seed=5))
    assert eager.total["offers"] == total["offers"]          # a fresh store and simulator each run
    assert eager.total["answered"] > total["answered"] and eager.total["declined"] <= eager.total["held"] + 1
