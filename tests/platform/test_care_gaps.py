"""Care gaps on the small city: the run is one logged population read, counts add up, invitations once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ennakoiva.domain.consent.decision import Actor
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.care_gaps import PAGE_SIZE, PURPOSE, CareGaps, NoRunError, nurse_actor
from ennakoiva.platform.platform import Platform, build_platform
from ennakoiva.platform.settings import Settings


@pytest.fixture(scope="module")
def platform(small_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("care-gaps")
    settings = Settings(db_url=f"sqlite:///{folder / 'store.sqlite3'}", audit_key_file=folder / "audit.key",
                        audit_checkpoint_file=folder / "checkpoints.jsonl", aggregates_file=folder / "overview.json",
                        sms_simulator_file=folder / "sms.sqlite3", demo_password="x")  # type: ignore[arg-type]
    built = build_platform(settings, city=small_city.db, seed_demo=False)
    yield built
    built.close()


@pytest.fixture(scope="module")
def gaps(platform: Platform, small_city: Any) -> CareGaps:
    care = CareGaps(platform)
    care.run(platform.operational, nurse_actor("test-nurse"), small_city.result.as_of)
    return care


def _entries_since(platform: Platform, seq: int) -> list[Any]:
    return list(platform.operational.audit.entries(seq + 1))


def test_nothing_before_a_run(platform: Platform) -> None:
    care = CareGaps(platform)
    assert care.stations() == [] and care.latest is None
    with pytest.raises(NoRunError):
        care.station_list(platform.operational, nurse_actor("n"), 1)


def test_the_run_is_one_logged_population_read(platform: Platform, small_city: Any) -> None:
    before = platform.operational.audit.last()[0]
    care = CareGaps(platform)
    run = care.run(platform.operational, nurse_actor("test-nurse"), small_city.result.as_of)
    entries = _entries_since(platform, before)
    assert [(e.purpose_id, e.subject_id, e.decision, e.actor_id) for e in entries] == [
        (PURPOSE, None, "permit", "test-nurse")]
    assert run.persons > 0 and sum(run.matched.values()) >= run.persons


def test_a_refused_run_reads_nothing(platform: Platform, small_city: Any) -> None:
    before = platform.operational.audit.last()[0]
    care = CareGaps(platform)
    outsider = Actor(id="someone", role="placement-officer", service="early-childhood-education")
    with pytest.raises(AccessDeniedError):
        care.run(platform.operational, outsider, small_city.result.as_of)
    assert care.latest is None
    assert [e.decision for e in _entries_since(platform, before)] == ["deny"]


def test_counts_per_station_sum_to_the_persons_matched(gaps: CareGaps) -> None:
    run = gaps.latest
    assert run is not None
    stations = gaps.stations()
    assert sum(s["persons"] for s in stations) == run.persons
    for cid, n in run.matched.items():
        assert sum(s["by_criterion"][cid] for s in stations) == n, cid
    for s in stations:
        assert sum(s["by_tier"].values()) == s["persons"]
    suppressed = gaps.stations(suppress=True)
    assert all(v is None or v == 0 or v >= 5 for s in suppressed for v in s["by_criterion"].values())
    for s in suppressed:
        tiers = list(s["by_tier"].values())
        assert s["persons"] is None or s["persons"] >= 5
        assert s["persons"] is None or None not in tiers      # a withheld tier cannot be subtracted back


def test_a_station_list_is_ranked_with_evidence_and_each_person_is_logged(platform: Platform, gaps: CareGaps) -> None:
    station = gaps.stations()[0]
    before = platform.operational.audit.last()[0]
    listed = gaps.station_list(platform.operational, nurse_actor("test-nurse"), station["unit_id"], 1, "en")
    persons = listed["persons"]
    assert listed["total"] == station["persons"] and persons
    assert [p["rank"] for p in persons] == list(range(1, len(persons) + 1))
    tiers = {"critical": 2, "warning": 1, "info": 0}
    keys = [(-tiers[p["tier"]], -p["points"], p["person_id"]) for p in persons]
    assert keys == sorted(keys)
    for p in persons:
        assert p["criteria"] and all(c["evidence"] and c["name"] and c["action"] for c in p["criteria"])
        assert sum(c["points"] for c in p["criteria"]) == p["points"]
    logged = _entries_since(platform, before)
    assert sorted(e.subject_id for e in logged) == sorted(p["person_id"] for p in persons)
    assert all(e.purpose_id == PURPOSE and e.decision == "permit" for e in logged)


def test_a_station_list_words_evidence_in_the_page_language_and_carries_extra_actions(
        platform: Platform, gaps: CareGaps) -> None:
    run = gaps.latest
    assert run is not None
    row = next(r for r in run.outreach if r["extra_actions"])
    page = (row["rank"] - 1) // PAGE_SIZE + 1
    nurse = nurse_actor("test-nurse")
    listed = {lang: next(p for p in gaps.station_list(platform.operational, nurse, row["unit_id"], page, lang)[
        "persons"] if p["person_id"] == row["person_id"]) for lang in ("fi", "sv", "en")}
    en = listed["en"]
    assert en["extra_actions"] == row["extra_actions"].split(",")
    assert set(en["extra_actions"]) == {x for c in en["criteria"] for x in c["extra_actions"]}
    assert set(en["extra_actions"]) <= {x for c in en["criteria"]
                                        for x in gaps.criteria[c["criterion_id"]].spec.action.extra}
    for lang in ("fi", "sv"):
        assert listed[lang]["extra_actions"] == en["extra_actions"]
        for mine, theirs in zip(listed[lang]["criteria"], en["criteria"], strict=True):
            assert mine["criterion_id"] == theirs["criterion_id"]
            assert mine["evidence"] != theirs["evidence"]
            # the definition names (and so the codes behind them) are the same in every language
            assert [e.split(":")[0] for e in mine["evidence"]] == [e.split(":")[0] for e in theirs["evidence"]]


def test_an_invitation_queues_one_offer_per_person_and_never_twice(platform: Platform, gaps: CareGaps,
                                                                  tmp_path: Path) -> None:
    run = gaps.latest
    assert run is not None
    invitable = set(gaps.invitable_criteria())
    criterion = max((c for c in run.matched if c in invitable), key=lambda c: run.matched[c])
    persons = sorted(p for p, rows in run.gaps.items() if any(r["criterion_id"] == criterion for r in rows))[:3]
    assert persons
    messaging = platform.campaigns.messaging
    not_matched = next(p for p in range(1, 10**6) if p not in run.gaps)
    first = gaps.invite(platform.operational, messaging, nurse_actor("test-nurse"), [*persons, not_matched],
                        criterion)
    assert not_matched in first.not_eligible and first.requested == len(persons) + 1
    assert first.queued and set(first.queued) | set(first.not_eligible) >= set(persons)
    offers = messaging.offers
    campaign = offers.campaign_id("care-gap-invitation", run.on)
    assert campaign == first.campaign_id
    subjects = [offers.read_snapshot(o).subject_id for o in offers.offer_ids(campaign)]
    assert sorted(subjects) == sorted(first.queued)          # exactly one offer per person
    assert first.messages >= len(first.queued)

    again = gaps.invite(platform.operational, messaging, nurse_actor("test-nurse"), persons, criterion)
    assert again.queued == [] and again.messages == 0
    assert sorted(again.already_invited) == sorted(first.queued)
    assert sorted(offers.read_snapshot(o).subject_id for o in offers.offer_ids(campaign)) == sorted(subjects)


def test_an_invitation_for_a_criterion_the_service_does_not_cover_is_refused(platform: Platform,
                                                                            gaps: CareGaps) -> None:
    others = [c for c in gaps.criteria if c not in gaps.invitable_criteria()]
    assert others
    with pytest.raises(ValueError, match="does not invite"):
        gaps.invite(platform.operational, platform.campaigns.messaging, nurse_actor("n"), [1], others[0])
