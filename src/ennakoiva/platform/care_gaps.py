"""Care gaps for the health stations: one run over the city, ranked lists per station, invitations.

- :meth:`CareGaps.run` evaluates every active criterion over the whole city as ONE population-level
  read under ``care-gap-identification``: decided and logged by the access gate first (no log, no
  read; a refusal raises :class:`~ennakoiva.platform.access.AccessDeniedError` and reads nothing).
  The latest result is kept in memory (a new run replaces it): the matched rows with their evidence
  and the outreach list per health station (``criteria_outreach``: last station visited, else the
  district's; ranked by tier, points, person id).
- :meth:`CareGaps.stations` gives counts per station, criterion and tier — no person in them. For a
  role without a care-gap capacity (the analyst) counts under the disclosure threshold are withheld.
- :meth:`CareGaps.station_list` is one page of a station's ranked list with each person's criteria
  and the evidence in sentences. Showing a person's evidence is a read of that person's health
  data: each person on the page is decided and logged under the same purpose; a person whose read
  is refused is listed without evidence.
- :meth:`CareGaps.invite` queues ``care-gap-invitation`` offers through the campaign machinery for the
  persons a nurse picks: the service's own trigger (narrowed to the criterion) is re-evaluated on the
  run's date, so only persons it still covers are invited (resident, 18–85, matching); one offer per
  person, never twice (the offer store adds only new subjects to a campaign, and persons with an
  earlier care-gap invitation are skipped).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.engine.criteria_outreach import outreach_lists
from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.criteria import LoadedCriterion, load_criteria
from ennakoiva.domain.criteria.evidence import evidence_lines
from ennakoiva.domain.services import load_service
from ennakoiva.domain.services.triggers import CareGap, Condition
from ennakoiva.domain.types import Lang
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.campaigns import Messaging, build_offers, find_campaign_targets
from ennakoiva.platform.operational import Operational
from ennakoiva.platform.platform import Platform
from ennakoiva.platform.roles import capacity_for

__all__ = ["INVITATION_SERVICE", "PAGE_SIZE", "PURPOSE", "SUPPRESS_BELOW", "CareGapRun", "CareGaps",
           "InviteReport", "NoRunError", "nurse_actor"]

PURPOSE = "care-gap-identification"
INVITATION_SERVICE = "care-gap-invitation"
PAGE_SIZE = 25
# catalogue/disclosure/default.yaml's threshold: counts shown to a role without a care-gap capacity
SUPPRESS_BELOW = 5
UNASSIGNED = 0          # the "station" of persons with neither a visited nor a district station
TIERS = ("critical", "warning", "info")
_POPULATION = ("population", "health")


class NoRunError(LookupError):
    """No care-gap run has been made since the service started."""


def nurse_actor(user_id: str) -> Actor:
    """The nurse's capacity under care-gap identification (``platform/roles.py``)."""
    capacity = capacity_for("nurse", PURPOSE)
    assert capacity is not None
    return Actor(id=user_id, role=capacity[1], service=capacity[0])


@dataclass(frozen=True)
class CareGapRun:
    """The latest run: its date, who ran it, persons matched per criterion, and the rows behind it."""

    on: date
    run_at: datetime
    actor_id: str
    matched: dict[str, int]             # criterion id -> persons matched
    persons: int                        # distinct persons matched
    outreach: list[dict[str, Any]]      # one row per (station, person), ranked within the station
    gaps: dict[int, list[dict[str, Any]]] = field(repr=False)   # person -> matched criteria (with evidence)

    def summary(self) -> dict[str, Any]:
        return {"on": self.on.isoformat(), "run_at": self.run_at.isoformat(), "persons": self.persons,
                "matched": self.matched}


@dataclass(frozen=True)
class InviteReport:
    campaign_id: str | None
    criterion_id: str
    requested: int
    queued: list[int]            # persons an offer was created for now
    already_invited: list[int]   # persons who had a care-gap invitation already: nothing new
    not_eligible: list[int]      # not matched by the run, or no longer covered by the service's trigger
    messages: int                # messages queued in the outbox
    sent: int                    # of them handed to the SMS gateway at once

    def as_json(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "criterion_id": self.criterion_id, "requested": self.requested,
                "queued": self.queued, "already_invited": self.already_invited, "not_eligible": self.not_eligible,
                "messages": self.messages, "sent": self.sent}


class CareGaps:
    """One per application: the latest run in memory, recomputed on demand."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._lock = threading.Lock()
        self._invite_lock = threading.Lock()
        self._latest: CareGapRun | None = None
        self._criteria: dict[str, LoadedCriterion] | None = None

    # ------------------------------------------------------------------ criteria and the run

    @property
    def criteria(self) -> dict[str, LoadedCriterion]:
        """The active criteria by id (drafts validate only, as in ``criteria run``)."""
        if self._criteria is None:
            self._criteria = {c.compiled.id: c for c in load_criteria() if c.spec.status == "active"}
        return self._criteria

    @property
    def latest(self) -> CareGapRun | None:
        return self._latest

    def _require(self) -> CareGapRun:
        if self._latest is None:
            raise NoRunError("no care-gap run yet: a nurse runs the criteria first")
        return self._latest

    def run(self, ops: Operational, actor: Actor, on: date) -> CareGapRun:
        """Decide and log the population read, evaluate every criterion over the city, keep the result."""
        decision = ops.gate.decide(actor, PURPOSE, None, _POPULATION)
        if not decision.permit:
            raise AccessDeniedError(decision)
        compiled = [c.compiled for c in self.criteria.values()]
        with self._lock, self.platform.city() as engine:
            result = evaluate_criteria(engine, compiled, on)
            outreach = outreach_lists(engine, result, on, compiled).to_pylist()
        gaps: dict[int, list[dict[str, Any]]] = {}
        for row in result.to_pylist():
            gaps.setdefault(int(row["person_id"]), []).append(row)
        counts = Counter(_column(result, "criterion_id"))
        for row in outreach:
            row["unit_id"] = int(row["unit_id"]) if row["unit_id"] is not None else UNASSIGNED
        run = CareGapRun(on=on, run_at=ops.gate.clock(), actor_id=actor.id,
                         matched={cid: counts.get(cid, 0) for cid in self.criteria}, persons=len(gaps),
                         outreach=outreach, gaps=gaps)
        self._latest = run
        return run

    # ------------------------------------------------------------------ counts (no person in them)

    def stations(self, *, suppress: bool = False) -> list[dict[str, Any]]:
        """Each health station with persons, persons per criterion and per top tier.

        ``suppress``: a count below :data:`SUPPRESS_BELOW` (other than 0) becomes None, and so does a
        station's total when one of its tiers is withheld. No totals over stations are given.
        """
        run = self._latest
        if run is None:
            return []
        by_unit: dict[int, dict[str, Any]] = {}
        for row in run.outreach:
            unit = by_unit.setdefault(row["unit_id"], {
                "unit_id": row["unit_id"], "unit_name": row["unit_name"], "persons": 0,
                "by_criterion": Counter(), "by_tier": Counter()})
            unit["persons"] += 1
            unit["by_tier"][row["tier"]] += 1
            for cid in str(row["criteria"]).split():
                unit["by_criterion"][cid] += 1

        def hide(n: int) -> int | None:
            return None if suppress and 0 < n < SUPPRESS_BELOW else n

        out = []
        for unit in sorted(by_unit.values(), key=lambda u: (-u["persons"], u["unit_name"])):
            tiers = {t: hide(unit["by_tier"].get(t, 0)) for t in TIERS}
            # the tiers add up to the persons: with a tier withheld, the total is withheld too (else it
            # would give the withheld tier back by subtraction)
            persons = None if any(v is None for v in tiers.values()) else hide(unit["persons"])
            out.append({"unit_id": unit["unit_id"], "unit_name": unit["unit_name"], "persons": persons,
                        "by_criterion": {cid: hide(unit["by_criterion"].get(cid, 0)) for cid in self.criteria},
                        "by_tier": tiers})
        return out

    def criterion_names(self, lang: Lang) -> dict[str, str]:
        return {cid: str(c.spec.names.professional[lang]) for cid, c in self.criteria.items()}

    # ------------------------------------------------------------------ one station's list

    def station_list(self, ops: Operational, actor: Actor, station: int, page: int = 1, lang: Lang = "en",
                     ) -> dict[str, Any]:
        """One page of a station's ranked list; each person's evidence read is decided and logged."""
        run = self._require()
        rows = [r for r in run.outreach if r["unit_id"] == station]
        if not rows:
            raise LookupError(f"no care gaps listed for station {station}")
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(max(1, page), pages)
        persons = []
        for row in rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
            pid = int(row["person_id"])
            decision = ops.gate.decide(actor, PURPOSE, pid, _POPULATION)
            entry: dict[str, Any] = {"rank": row["rank"], "person_id": pid, "district_code": row["district_code"],
                                     "tier": row["tier"], "points": row["points"],
                                     "actions": str(row["actions"]).split(),
                                     "extra_actions": [x for x in str(row["extra_actions"]).split(",") if x],
                                     "criteria": []}
            if not decision.permit:
                entry["withheld"] = decision.reason
                persons.append(entry)
                continue
            for gap in sorted(run.gaps.get(pid, []), key=lambda g: (-_tier_rank(g["tier"]), -g["points"],
                                                                     g["criterion_id"])):
                loaded = self.criteria.get(gap["criterion_id"])
                if loaded is None:
                    continue
                entry["criteria"].append({
                    "criterion_id": gap["criterion_id"], "name": str(loaded.spec.names.professional[lang]),
                    "tier": gap["tier"], "points": gap["points"], "action": gap["action"],
                    "unit_type": gap["unit_type"], "extra_actions": list(loaded.compiled.extras),
                    "evidence": evidence_lines(loaded.compiled, json.loads(gap["evidence"]), lang)})
            persons.append(entry)
        return {"unit_id": station, "unit_name": rows[0]["unit_name"], "on": run.on.isoformat(), "page": page,
                "pages": pages, "total": len(rows), "persons": persons}

    # ------------------------------------------------------------------ invitations

    def invitable_criteria(self) -> tuple[str, ...]:
        """The criteria the care-gap invitation service's trigger covers."""
        condition = load_service(INVITATION_SERVICE).trigger.condition("care_gap")
        return condition.care_gap.criteria if condition is not None and condition.care_gap is not None else ()

    def invite(self, ops: Operational, messaging: Messaging, actor: Actor, person_ids: list[int],
               criterion: str, *, send: bool = True) -> InviteReport:
        """Queue one ``care-gap-invitation`` offer per person (never twice); report what was queued."""
        run = self._require()
        if criterion not in self.invitable_criteria():
            raise ValueError(f"the service {INVITATION_SERVICE} does not invite for {criterion!r} "
                             f"(it covers {', '.join(self.invitable_criteria())})")
        wanted = list(dict.fromkeys(int(p) for p in person_ids))
        matched = [p for p in wanted if any(g["criterion_id"] == criterion for g in run.gaps.get(p, []))]
        definition = load_service(INVITATION_SERVICE)
        purpose = ops.purposes.get(definition.purpose)
        categories = tuple(purpose.data_categories) if purpose is not None else _POPULATION
        # the service's trigger, narrowed to this criterion, is a population read: decided and logged first
        decision = ops.gate.decide(actor, definition.purpose, None, categories)
        if not decision.permit:
            raise AccessDeniedError(decision)
        conditions = tuple(Condition(care_gap=CareGap(criteria=(criterion,))) if c.care_gap is not None else c
                           for c in definition.trigger.all)
        narrowed = definition.model_copy(update={"trigger": definition.trigger.model_copy(
            update={"all": conditions})})
        with self._invite_lock:
            earlier = self._invited(messaging)
            fresh = [p for p in matched if p not in earlier]
            if not fresh:
                return InviteReport(None, criterion, len(wanted), [], sorted(p for p in matched if p in earlier),
                                    sorted(set(wanted) - set(matched)), 0, 0)
            with self.platform.city() as engine:
                targets = find_campaign_targets(engine, narrowed, run.on)
            keep = pa.array(fresh, type=pa.int64())
            chosen = targets.filter(pc.is_in(pc.cast(targets["subject_id"], pa.int64()), value_set=keep))
            at = messaging.sender.clock()
            offers, _, _ = build_offers(chosen, definition, run.on, at,
                                        max_segments=messaging.settings.sms_max_segments)
            result = messaging.offers.create_campaign(definition.id, str(definition.version), run.on, actor.id,
                                                      offers, at) if offers else None
            created = sorted((self._invited(messaging) - earlier) & set(fresh)) if result is not None else []
        sent = messaging.sender.drain().sent if send and result is not None and result.queued else 0
        return InviteReport(
            campaign_id=result.campaign_id if result is not None else None, criterion_id=criterion,
            requested=len(wanted), queued=created, already_invited=sorted(p for p in matched if p in earlier),
            not_eligible=sorted((set(wanted) - set(matched)) | (set(fresh) - set(created))),
            messages=result.queued if result is not None else 0, sent=sent)

    @staticmethod
    def _invited(messaging: Messaging) -> set[int]:
        """Persons with a care-gap invitation in any campaign of the service (ids only, from the store)."""
        store = messaging.offers
        subjects: set[int] = set()
        for campaign in store.campaigns():
            if campaign["service_id"] != INVITATION_SERVICE:
                continue
            for offer_id in store.offer_ids(str(campaign["campaign_id"])):
                subjects.add(int(store.read_snapshot(offer_id).subject_id))
        return subjects


def _column(table: pa.Table, name: str) -> list[Any]:
    return list(table.column(name).to_pylist())


def _tier_rank(tier: str) -> int:
    return {"critical": 2, "warning": 1}.get(tier, 0)
