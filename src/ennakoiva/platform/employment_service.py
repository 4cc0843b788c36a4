"""Employment service 2.0: a job seeker registers and at once gets personal service suggestions.

The flow of :meth:`EmploymentService.register`:

1. the registration is validated (``domain.employment``) — it carries the background the customer
   gives; mother tongue and sex may be given but are never model inputs, health-related limits are
   kept only if the purpose covers health data;
2. the **access decision** is made and **logged** under ``employment-service-recommendations``
   (categories: population and employment data) before anything is computed — no log, no answer;
3. the promoted model answers: the analytics predictor's P(employed within 6 months) without a
   service, the analytics recommender's per-person effect of each service with its 95 % interval,
   and the cluster (``adapters/ml/clusters.py``) with its typical risks and effective measures;
4. suggestions are the services ranked by estimated effect, each with a plain-language reason in
   fi/sv/en; the registration, the answer and each suggestion are stored, so the counsellor's queue
   shows them and the resident's "My data" shows that a recommendation was made and from which
   categories of data (the audit entry and :meth:`EmploymentService.customer_view`).

The model suggests; the counsellor decides (:meth:`EmploymentService.decide`, also decided and
logged, kept with its reason as feedback for the next model).

Throughput: concurrent registrations share one model call (:class:`MicroBatcher`): the recommender's
cost is mostly per call, not per row, so a handful of registrations arriving within a couple of
milliseconds cost about as much as one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from uuid import uuid4

import numpy as np
import pandas as pd

from ennakoiva.adapters.ml.clusters import ClusterModel, service_names
from ennakoiva.adapters.ml.model_registry import ModelRegistry, PromotedModel, drift_report
from ennakoiva.adapters.stores.registration_repository import SqlRegistrationStore, StoredRegistration
from ennakoiva.domain.clock import now
from ennakoiva.domain.consent.audit import entry_from_decision
from ennakoiva.domain.consent.decision import AccessRequest, Actor, Decision, decide
from ennakoiva.domain.employment.decision import CounsellorDecision, DecisionInput
from ennakoiva.domain.employment.registration import CEFR_LEVELS, EDUCATION_LEVELS, Registration
from ennakoiva.domain.employment.views import (
    ClusterView,
    RecommendationResult,
    Suggestion,
    Texts,
)
from ennakoiva.platform.access import AccessDeniedError, AccessGate
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

__all__ = [
    "PURPOSE",
    "RECOMMENDER_ACTOR",
    "AsyncBatcher",
    "EmploymentModel",
    "EmploymentService",
    "Estimates",
    "MicroBatcher",
    "NoModelError",
    "employment_service_for",
    "open_employment_service",
]

PURPOSE = "employment-service-recommendations"
# The service account that prepares suggestions for the counsellors (the purpose's data user).
RECOMMENDER_ACTOR = Actor(id="svc:employment-recommender", role="counsellor", service="employment-services")
MODEL_INPUT_CATEGORIES = ("population", "employment")
OWN_DATA_PURPOSE = "resident-own-data"
_PENDING = RuntimeError("not answered")   # a placeholder; never handed out


class NoModelError(LookupError):
    """No model version is promoted yet."""


@dataclass(frozen=True)
class Estimates:
    """Model outputs for n registrations: P(employed within 6 months) without a service, effects."""

    p0: np.ndarray                  # (n,)
    effect: np.ndarray              # (n, services)
    low: np.ndarray                 # (n, services) 95 % interval
    high: np.ndarray
    drivers: list[dict[str, Texts]] = field(default_factory=list)   # per row: service -> explanation


@dataclass
class EmploymentModel:
    """The artefacts of one model version (what ``model_registry`` stores with joblib).

    ``estimator`` is a callable ``frame -> Estimates`` that wraps the analytics predictor and
    recommender fitted on the same training window; ``area_unemployment`` maps postal codes to
    the labour-market indicator the models use (the city's mean when a code is unknown).
    """

    services: tuple[str, ...]
    covariates: tuple[str, ...]
    estimator: Any
    clusters: ClusterModel
    area_unemployment: dict[str, float]
    default_area: float
    drift_profile: dict[str, Any]

    def frame(self, registrations: Sequence[Registration]) -> pd.DataFrame:
        """The model-input frame of registrations (no mother tongue, no sex)."""
        rows = []
        for r in registrations:
            row = r.model_inputs()
            row["age_at_start"] = float(row.pop("age"))
            row["area_unemployment"] = self.area_unemployment.get(r.postal_code or "", self.default_area)
            # only when the fairness rule made them inputs (see the model card's sensitive_inputs)
            row["sex"] = {"female": "F", "male": "M"}.get(r.sex or "", "missing")
            row["mother_tongue"] = r.mother_tongue or "missing"
            rows.append(row)
        return pd.DataFrame(rows, columns=list(self.covariates))

    def estimate(self, frame: pd.DataFrame) -> Estimates:
        result = self.estimator(frame)
        assert isinstance(result, Estimates)
        return result


T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[R]):
    __slots__ = ("error", "event", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: R | None = None
        self.error: BaseException | None = None


class MicroBatcher(Generic[T, R]):
    """Coalesce concurrent single calls into batch calls of ``fn(list[T]) -> list[R]``.

    The first caller to arrive becomes the leader: it waits ``wait_s`` for company, runs the batch
    and hands every caller its own result; later callers only wait for theirs.
    """

    def __init__(self, fn: Callable[[list[T]], list[R]], *, max_batch: int = 64, wait_s: float = 0.002) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._pending: list[tuple[T, _Slot[R]]] = []
        self._leading = False

    def __call__(self, item: T) -> R:
        slot: _Slot[R] = _Slot()
        with self._lock:
            self._pending.append((item, slot))
            lead = not self._leading
            if lead:
                self._leading = True
        if lead:
            if self.wait_s > 0:
                time.sleep(self.wait_s)
            self._drain()
        slot.event.wait()
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[return-value]

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._pending[:self.max_batch]
                del self._pending[:self.max_batch]
                if not batch:
                    self._leading = False
                    return
            try:
                results = self.fn([item for item, _ in batch])
                for (_, s), r in zip(batch, results, strict=True):
                    s.value = r
            except BaseException as exc:  # handed to every caller of the batch
                for _, s in batch:
                    s.error = exc
            for _, s in batch:
                s.event.set()


class AsyncBatcher(Generic[T, R]):
    """The same coalescing for asyncio callers, run on the event loop itself.

    The first caller waits ``wait_s`` for company, then runs ``fn`` on everything waiting (up to
    ``max_batch``) and keeps going while more has arrived; the others only await their futures.
    Why on the loop and not in a worker thread: the model is CPU work under the GIL, and a worker
    thread would make the loop wait for the GIL at every step of every request (a convoy that
    collapsed throughput to tens of requests a second); here the loop is busy for one batch at a
    time and requests that arrive meanwhile simply form the next batch.
    """

    def __init__(self, fn: Callable[[list[T]], list[R]], *, max_batch: int = 128, wait_s: float = 0.002) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if not self._running:
            # a task of its own, so that a caller who goes away does not take the batch with it
            self._running = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(self.wait_s)
            while self._pending:
                batch = self._pending[:self.max_batch]
                del self._pending[:self.max_batch]
                try:
                    results: list[Any] = list(self.fn([i for i, _ in batch]))
                except Exception as exc:  # handed to every caller of the batch
                    results = [exc] * len(batch)
                for (_, f), r in zip(batch, results, strict=True):
                    if not f.done():
                        f.set_result(r)
                # let the loop take in the requests that queued up while the batch ran: they need a
                # few loop turns (parsing, authentication) before they reach the batcher
                await asyncio.sleep(self.wait_s)
        finally:
            self._running = False


# --------------------------------------------------------------------------- texts

def _pp(x: float) -> str:
    return f"{x * 100:+.0f}"


def _reason(service: str, effect: float, low: float, high: float, p0: float, driver: Texts | None,
            capped: bool = False) -> Texts:
    pct0, pct1 = round(p0 * 100), round(min(max(p0 + effect, 0.0), 1.0) * 100)
    base: Texts = {
        "fi": (f"Arvioitu vaikutus työllistymiseen 6 kuukaudessa {_pp(effect)} %-yks. "
               f"(95 %: {_pp(low)}…{_pp(high)}): {pct0} % → {pct1} %."),
        "sv": (f"Uppskattad effekt på sysselsättning inom 6 månader {_pp(effect)} procentenheter "
               f"(95 %: {_pp(low)}…{_pp(high)}): {pct0} % → {pct1} %."),
        "en": (f"Estimated effect on employment within 6 months {_pp(effect)} pp "
               f"(95 %: {_pp(low)} to {_pp(high)}): {pct0} % → {pct1} %."),
    }
    if low <= 0 <= high:
        base = {"fi": base["fi"] + " Vaikutus voi olla myös nolla.",
                "sv": base["sv"] + " Effekten kan också vara noll.",
                "en": base["en"] + " The effect may also be zero."}
    if capped:
        base = {"fi": base["fi"] + (" Aineistossa on vähän tällaisia asiakkaita: mallin arvio ylitti mahdollisen "
                                    "ja on rajattu siihen, joten se on hyvin epävarma."),
                "sv": base["sv"] + (" Det finns få sådana kunder i materialet: modellens uppskattning gick utöver det "
                                    "möjliga och har begränsats, så den är mycket osäker."),
                "en": base["en"] + (" Few customers like this are in the data: the model's estimate went beyond what "
                                    "is possible and has been capped, so it is very uncertain.")}
    if driver:
        base = {lang: f"{base[lang]} {driver.get(lang, driver.get('en', ''))}".strip() for lang in base}  # type: ignore[misc]
    return base


_CEFR_RANK = {v: i for i, v in enumerate(CEFR_LEVELS)}
_EDU_RANK = {v: i for i, v in enumerate(EDUCATION_LEVELS)}


def _encoded(batch: Sequence[Registration]) -> np.ndarray:
    """The clusters' feature matrix of registrations (as :func:`encode_features`, without pandas)."""
    return np.array([[float(r.age), _EDU_RANK[r.education_level], _CEFR_RANK[r.finnish_skill], r.work_history_years,
                      r.months_unemployed_before] for r in batch], dtype=np.float64)


def _cluster_view(model: ClusterModel, cluster_id: int) -> ClusterView:
    return ClusterView.model_validate(model.view(cluster_id))


# --------------------------------------------------------------------------- the service

@dataclass
class EmploymentService:
    """Registrations, suggestions, the counsellor's queue and decisions, answered from the promoted model."""

    gate: AccessGate
    store: SqlRegistrationStore
    models: ModelRegistry
    batch_wait_s: float = 0.002
    _promoted: PromotedModel | None = None
    _batcher: MicroBatcher[Registration, RecommendationResult | BaseException] | None = None
    _async_batcher: AsyncBatcher[Registration, RecommendationResult | BaseException] | None = None

    def __post_init__(self) -> None:
        self._promoted = PromotedModel(self.models)
        self._batcher = MicroBatcher(self._register_batch, wait_s=self.batch_wait_s)
        self._async_batcher = AsyncBatcher(self._register_batch, max_batch=32, wait_s=max(self.batch_wait_s, 0.003))

    # -- the model ---------------------------------------------------------------------------------

    def model(self) -> tuple[str, EmploymentModel, dict[str, Any]]:
        assert self._promoted is not None
        try:
            version, artefacts, card = self._promoted.get()
        except LookupError as exc:
            raise NoModelError(str(exc)) from None
        return version, artefacts, card

    def _decide_all(self, requests: list[tuple[int, tuple[str, ...], str]]) -> list[Decision]:
        """Decide (subject, categories, request id) for the recommender, logging all in one append.

        The same decision and the same audit entries as ``AccessGate.decide`` one by one, with one
        write to the log for a batch. A consent-based purpose would need each subject's consents:
        it goes through the gate one by one.
        """
        purpose = self.gate.purposes.get(PURPOSE)
        if purpose is None or purpose.needs_consent:
            return [self.gate.decide(RECOMMENDER_ACTOR, PURPOSE, subject, cats, request_id=rid)
                    for subject, cats, rid in requests]
        at = self.gate.clock()
        reqs = [AccessRequest(actor=RECOMMENDER_ACTOR, purpose_id=PURPOSE, subject_id=subject, categories=cats,
                              at=at, request_id=rid) for subject, cats, rid in requests]
        decisions = [decide(q, self.gate.purposes, []) for q in reqs]
        # The web platform wraps the log in a group-commit serialiser whose append_many appends one
        # record per transaction; a batch goes to the store's own append_many (one transaction,
        # the chain head locked in the store, so it is safe beside the serialiser's appends).
        log = getattr(self.gate.audit, "_inner", self.gate.audit)
        log.append_many([entry_from_decision(q, d) for q, d in zip(reqs, decisions, strict=True)])
        return decisions

    def _register_batch(self, items: list[Registration]) -> list[RecommendationResult | BaseException]:
        """Decide and log every registration of the batch, then answer the permitted ones at once."""
        ids = [str(uuid4()) for _ in items]
        requests = [(r.person_id, MODEL_INPUT_CATEGORIES, f"employment-registration:{rid}")
                    for r, rid in zip(items, ids, strict=True)]
        health_at = [i for i, r in enumerate(items) if r.health_limits]
        requests += [(items[i].person_id, ("health",), f"employment-registration:{ids[i]}:health") for i in health_at]
        decisions = self._decide_all(requests)
        health = dict(zip(health_at, decisions[len(items):], strict=True))
        out: list[RecommendationResult | BaseException] = [
            AccessDeniedError(d) if not d.permit else _PENDING for d in decisions[:len(items)]]
        todo = [i for i, o in enumerate(out) if o is _PENDING]
        if not todo:
            return out
        try:
            version, model, _ = self.model()
            batch = [items[i] for i in todo]
            est = model.estimate(model.frame(batch))
            x = _encoded(batch)
        except BaseException as exc:  # the whole batch fails alike (no model, a broken artefact)
            for i in todo:
                out[i] = exc
            return out
        created = now()
        stored: list[tuple[RecommendationResult, dict[str, Any]]] = []
        for k, i in enumerate(todo):
            r = items[i]
            categories = list(MODEL_INPUT_CATEGORIES)
            notes: list[str] = []
            background = r.model_dump(mode="json")
            if i in health:
                if health[i].permit:
                    categories.append("health")
                else:   # fail closed: what the purpose does not cover is neither used nor kept
                    background["health_limits"] = []
                    notes.append(f"health_limits_not_recorded:{health[i].reason}")
            result = self._result(ids[i], r, version, model, created, float(est.p0[k]), est.effect[k], est.low[k],
                                  est.high[k], est.drivers[k] if est.drivers else {},
                                  model.clusters.assign_one(x[k].tolist()), categories, notes)
            stored.append((result, background))
            out[i] = result
        try:
            self.store.add_many(stored)
        except BaseException as exc:
            for i in todo:
                out[i] = exc
        return out

    @staticmethod
    def _result(registration_id: str, r: Registration, version: str, model: EmploymentModel, created: datetime,
                p0: float, eff: np.ndarray, low: np.ndarray, high: np.ndarray, drivers: Mapping[str, Texts],
                cluster_id: int, categories: list[str], notes: list[str]) -> RecommendationResult:
        # An effect on a probability can only move it within [0, 1]: a linear model's estimate outside
        # [-p0, 1 - p0] (a profile rare in the training data) is capped there, and said to be.
        p0 = min(max(p0, 0.0), 1.0)
        raw = np.asarray(eff, dtype=np.float64)
        feasible, lows, highs = (np.clip(np.asarray(a, dtype=np.float64), -p0, 1.0 - p0) for a in (raw, low, high))
        order = np.argsort(-feasible, kind="stable")
        suggestions = []
        for rank, j in enumerate(order, start=1):
            service = model.services[int(j)]
            e, lo, hi = float(feasible[j]), float(lows[j]), float(highs[j])
            capped = bool(raw[j] != feasible[j])
            suggestions.append(Suggestion(
                rank=rank, service=service, names=service_names(service), effect=round(e, 4),
                effect_low=round(lo, 4), effect_high=round(hi, 4), p_with=round(p0 + e, 4),
                capped=capped, reasons=_reason(service, e, lo, hi, p0, drivers.get(service), capped)))
        p_without = round(p0, 4)
        return RecommendationResult(
            registration_id=registration_id, person_id=r.person_id, created_at=created, language=r.language,
            model_version=version, suggestions=tuple(suggestions), p_without=p_without,
            p_with_top=suggestions[0].p_with if suggestions else p_without,
            cluster=_cluster_view(model.clusters, cluster_id), categories_used=tuple(categories), notes=tuple(notes))

    # -- registering ------------------------------------------------------------------------------

    def register(self, registration: Registration) -> RecommendationResult:
        """Decide and log, answer at once with ranked suggestions and the cluster, store it all.

        Concurrent calls (API worker threads) are answered together: one log append, one model call
        and one store transaction per batch.
        """
        assert self._batcher is not None
        result = self._batcher(registration)
        if isinstance(result, BaseException):
            raise result
        return result

    async def register_async(self, registration: Registration) -> RecommendationResult:
        """:meth:`register` for an event loop (the API): awaits the batch instead of blocking a thread."""
        assert self._async_batcher is not None
        result = await self._async_batcher(registration)
        if isinstance(result, BaseException):
            raise result
        return result

    def register_many(self, registrations: Sequence[Registration]) -> list[RecommendationResult | BaseException]:
        """A whole batch at once (loads, tests); failures are returned in place, not raised."""
        out: list[RecommendationResult | BaseException] = []
        for start in range(0, len(registrations), 256):
            out += self._register_batch(list(registrations[start:start + 256]))
        return out

    # -- the counsellor ---------------------------------------------------------------------------

    def queue(self, counsellor: Actor, limit: int = 50) -> list[StoredRegistration]:
        """New registrations with their prepared suggestions (one population-level decision, logged)."""
        decision = self.gate.decide(counsellor, PURPOSE, None, MODEL_INPUT_CATEGORIES)
        if not decision.permit:
            raise AccessDeniedError(decision)
        return self.store.queue(limit)

    def decide(self, counsellor: Actor, registration_id: str, choice: DecisionInput) -> CounsellorDecision:
        """Record the counsellor's choice and reason (decided and logged for that customer)."""
        stored = self.store.get(registration_id)
        if stored is None:
            raise KeyError(f"no registration {registration_id}")
        decision = self.gate.decide(counsellor, PURPOSE, stored.person_id, ("employment",),
                                    request_id=f"employment-decision:{registration_id}")
        if not decision.permit:
            raise AccessDeniedError(decision)
        top = stored.result.suggestions[0].service if stored.result.suggestions else None
        record = CounsellorDecision(decision_id=str(uuid4()), registration_id=registration_id,
                                    counsellor_id=counsellor.id, service=choice.service, reason=choice.reason,
                                    top_suggestion=top, followed_suggestion=choice.followed_suggestion(top),
                                    decided_at=now())
        self.store.decide(record)
        return record

    def read(self, actor: Actor, registration_id: str) -> StoredRegistration | None:
        """One registration for a counsellor (logged under this purpose) or its own customer (under
        ``resident-own-data``); None when it does not exist or is not the resident's own."""
        stored = self.store.get(registration_id)
        if stored is None:
            return None
        if actor.role == "resident":
            if actor.id != str(stored.person_id):
                return None
            decision = self.gate.decide(actor, OWN_DATA_PURPOSE, stored.person_id, ("employment",))
        else:
            decision = self.gate.decide(actor, PURPOSE, stored.person_id, ("employment",),
                                        request_id=f"employment-read:{registration_id}")
        if not decision.permit:
            raise AccessDeniedError(decision)
        return stored

    # -- the customer -----------------------------------------------------------------------------

    def customer_view(self, person_id: int) -> list[dict[str, Any]]:
        """The customer's own registrations and suggestions (for their page and "My data").

        Read as the resident themselves under ``resident-own-data`` (decided and logged); each entry
        says that a recommendation was made, when, by which model version and from which categories
        of data.
        """
        me = Actor(id=str(person_id), role="resident", service="mydata")
        decision = self.gate.decide(me, OWN_DATA_PURPOSE, person_id, ("employment",))
        if not decision.permit:
            raise AccessDeniedError(decision)
        return [{"registration_id": s.registration_id, "created_at": s.created_at.isoformat(),
                 "model_version": s.result.model_version, "categories_used": list(s.result.categories_used),
                 "result": s.result.as_json(),
                 "decision": s.decision.model_dump(mode="json", exclude={"counsellor_id"}) if s.decision else None}
                for s in self.store.for_person(person_id)]

    # -- lifecycle ----------------------------------------------------------------------------------

    def model_card(self) -> dict[str, Any]:
        return self.model()[2]

    def drift(self, since: datetime | None = None) -> dict[str, Any]:
        """Input drift of recent registrations against the promoted model's training data."""
        _, model, _ = self.model()
        rows = self.store.recent_backgrounds(since)
        if not rows:
            return {"n_recent": 0, "features": {}, "max_psi": 0.0, "drift": False}
        recent = pd.DataFrame(rows).rename(columns={"age": "age_at_start"})
        return drift_report(model.drift_profile, recent)


def open_employment_service(gate: AccessGate, engine: Any, models_dir: Path | str,
                            **kwargs: Any) -> EmploymentService:
    """Wire the service to an operational store engine and a model registry folder."""
    return EmploymentService(gate=gate, store=SqlRegistrationStore(engine), models=ModelRegistry(models_dir), **kwargs)


def frame_rows(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A stored background as model-input columns (for drift and feedback)."""
    row = dict(mapping)
    row["age_at_start"] = row.pop("age", None)
    return row


@contextmanager
def employment_service_for(settings: Settings, models_dir: Path | None = None, **kwargs: Any,
                           ) -> Iterator[EmploymentService]:
    """The service wired to the operational store and model registry the settings name (for the CLI)."""
    with open_operational(settings) as ops:
        yield EmploymentService(gate=ops.gate, store=SqlRegistrationStore(ops._engine),
                                models=ModelRegistry(models_dir or settings.employment_models), **kwargs)
