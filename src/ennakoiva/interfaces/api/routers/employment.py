"""Employment service 2.0 over HTTP: registrations answered at once, the counsellor's queue and decisions.

API (JSON, problem documents on error):

- ``POST /api/employment/registrations`` — a resident registers themselves (``person_id`` is
  their own; it may be left out) or a counsellor registers a customer; the answer carries the
  ranked suggestions with effects and intervals, the probabilities and the cluster;
- ``GET /api/employment/registrations/{id}`` — the customer's own, or any for a counsellor;
- ``GET /api/employment/mine`` — a resident's registrations (what "My data" shows of them);
- ``GET /api/employment/queue`` and ``POST /api/employment/registrations/{id}/decision`` — the
  counsellor's queue and decision (service + reason);
- ``GET /api/employment/model`` — the promoted model's card with its fairness report.

Pages (``/employment/…``): the customer's registration form and own page in fi/sv/en, and the
counsellor's queue with the prepared suggestions, the fairness report and the decision form.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ennakoiva.adapters.ml.model_registry import ModelRegistry
from ennakoiva.adapters.stores.registration_repository import SqlRegistrationStore
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.employment import DecisionInput, RegistrationError, parse_registration
from ennakoiva.domain.employment.registration import CEFR_LEVELS, EDUCATION_LEVELS, GOALS, HEALTH_LIMITS
from ennakoiva.domain.types import Lang
from ennakoiva.interfaces.api.auth import Principal
from ennakoiva.interfaces.api.deps import require
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES, ProblemError
from ennakoiva.interfaces.web.i18n import LANGS, catalogue
from ennakoiva.interfaces.web.rendering import NAV, page, page_lang
from ennakoiva.platform.employment_service import EmploymentService, NoModelError
from ennakoiva.platform.platform import Platform

__all__ = ["EXAMPLE", "employment_service", "router"]

router = APIRouter(tags=["employment"], responses=PROBLEM_RESPONSES)
pages = APIRouter(include_in_schema=False)

Counsellor = Annotated[Principal, Depends(require("counsellor"))]
ResidentOrCounsellor = Annotated[Principal, Depends(require("resident", "counsellor"))]
ResidentOnly = Annotated[Principal, Depends(require("resident"))]

EXAMPLE: dict[str, Any] = {
    "person_id": 2001, "language": "fi", "age": 27, "sex": "female", "mother_tongue": "ar", "postal_code": "00940",
    "education_level": "basic", "finnish_skill": "A2", "swedish_skill": "none",
    "other_languages": [{"language": "en", "level": "B1"}], "work_history_years": 2.5,
    "months_unemployed_before": 14, "health_limits": [], "goals": ["improve_language", "find_work_quickly"],
    "desired_occupation": "kokki"}
_EXAMPLES = {
    "weak Finnish, long unemployed": {"summary": "A young job seeker with weak Finnish", "value": EXAMPLE},
    "graduate": {"summary": "A recent graduate", "value": {
        "person_id": 2002, "language": "en", "age": 24, "education_level": "tertiary_higher",
        "finnish_skill": "native", "swedish_skill": "B1", "work_history_years": 0.5,
        "months_unemployed_before": 0}},
}

_LOCK = threading.Lock()
_I18N = Path(__file__).resolve().parents[2] / "web" / "i18n"


async def employment_service(request: Request) -> EmploymentService:
    """The app's Employment service (built on first use, shared by all requests)."""
    service = getattr(request.app.state, "employment", None)
    if service is None:
        with _LOCK:
            service = getattr(request.app.state, "employment", None)
            if service is None:
                platform: Platform = request.app.state.platform
                ops = platform.operational
                service = EmploymentService(gate=ops.gate, store=SqlRegistrationStore(ops._engine),
                                            models=ModelRegistry(platform.settings.employment_models))
                request.app.state.employment = service
    return service  # type: ignore[no-any-return]


ServiceDep = Annotated[EmploymentService, Depends(employment_service)]


def _counsellor(user: Principal) -> Actor:
    return Actor(id=user.user_id, role="counsellor", service="employment-services")


def _registration(data: Any, user: Principal) -> Any:
    if user.role == "resident":
        if not isinstance(data, dict):
            raise RegistrationError([("registration", "must be a JSON object")])
        own = user.person_id
        if data.get("person_id") not in (None, own):
            raise ProblemError(403, "not_own_registration", "a resident registers only themselves")
        data = {**data, "person_id": own}
    return parse_registration(data)


def _invalid(exc: RegistrationError, request: Request) -> JSONResponse:
    body = {"type": "urn:ennakoiva:problem:invalid_registration", "title": "Unprocessable content", "status": 422,
            "detail": "the registration has errors; each is listed with its field", "instance": request.url.path,
            "code": "invalid_registration", "errors": [{"field": f, "msg": m} for f, m in exc.errors]}
    return JSONResponse(body, status_code=422, media_type="application/problem+json")


def _no_model(exc: NoModelError) -> ProblemError:
    return ProblemError(503, "no_model", str(exc))


# --------------------------------------------------------------------------- API

@router.post("/api/employment/registrations", status_code=201,
             summary="Register a job seeker and get personal service suggestions at once")
async def register(request: Request, user: ResidentOrCounsellor, service: ServiceDep,
                   body: Annotated[dict[str, Any], Body(openapi_examples=_EXAMPLES)]) -> Response:
    """Ranked suggestions (effect on employment within 6 months with a 95 % interval and a reason in
    fi/sv/en), P(employment within 6 months) without a service and with the top one, and the
    cluster with its typical risks and effective measures. Decided and logged under
    ``employment-service-recommendations``; the counsellor decides."""
    try:
        registration = _registration(body, user)
    except RegistrationError as exc:
        return _invalid(exc, request)
    try:
        result = await service.register_async(registration)
    except NoModelError as exc:
        raise _no_model(exc) from None
    return JSONResponse(result.as_json(), status_code=201,
                        headers={"Location": f"/api/employment/registrations/{result.registration_id}"})


@router.get("/api/employment/registrations/{registration_id}", summary="One registration and its suggestions")
def get_registration(registration_id: str, user: ResidentOrCounsellor, service: ServiceDep) -> dict[str, Any]:
    actor = _counsellor(user) if user.role == "counsellor" else \
        Actor(id=str(user.person_id), role="resident", service="mydata")
    stored = service.read(actor, registration_id)
    if stored is None:
        raise ProblemError(404, "not_found", "no such registration")
    return {"registration_id": stored.registration_id, "created_at": stored.created_at.isoformat(),
            "result": stored.result.as_json(),
            "decision": stored.decision.model_dump(mode="json") if stored.decision else None}


@router.get("/api/employment/mine", summary="My registrations, the suggestions made and from which data")
def mine(user: ResidentOnly, service: ServiceDep) -> list[dict[str, Any]]:
    assert user.person_id is not None
    return service.customer_view(user.person_id)


@router.get("/api/employment/queue", summary="New registrations waiting for a counsellor, with suggestions")
def queue(user: Counsellor, service: ServiceDep, limit: int = 50) -> list[dict[str, Any]]:
    waiting = service.queue(_counsellor(user), max(1, min(limit, 500)))
    return [{"registration_id": w.registration_id, "person_id": w.person_id, "created_at": w.created_at.isoformat(),
             "background": w.background, "result": w.result.as_json()} for w in waiting]


@router.post("/api/employment/registrations/{registration_id}/decision", status_code=201,
             summary="The counsellor's choice of service and the reason")
def decide(registration_id: str, choice: DecisionInput, user: Counsellor, service: ServiceDep) -> dict[str, Any]:
    try:
        record = service.decide(_counsellor(user), registration_id, choice)
    except KeyError:
        raise ProblemError(404, "not_found", "no such registration") from None
    return record.model_dump(mode="json")


@router.get("/api/employment/model", summary="The promoted model's card: window, features, metrics, fairness")
def model_card(user: Counsellor, service: ServiceDep) -> dict[str, Any]:
    try:
        return service.model_card()
    except NoModelError as exc:
        raise _no_model(exc) from None


# --------------------------------------------------------------------------- pages

@cache
def messages(lang: Lang) -> dict[str, str]:
    """The page catalogue of ``lang`` plus this capability's own strings under ``employment.``."""
    out: dict[str, str] = {}

    def flatten(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                flatten(f"{prefix}.{k}", v)
        else:
            out[prefix] = str(node)

    flatten("employment", yaml.safe_load((_I18N / f"employment.{lang}.yaml").read_text(encoding="utf-8")))
    return out


def _page(request: Request, template: str, user: Principal, **context: Any) -> HTMLResponse:
    lang = page_lang(request)
    return page(request, template, user, e=messages(lang), **context)


def _choices(lang: Lang) -> dict[str, Any]:
    return {"cefr": CEFR_LEVELS, "education": EDUCATION_LEVELS, "health": HEALTH_LIMITS, "goals": GOALS,
            "lang": lang}


@pages.get("/employment/register")
def register_page(request: Request, user: ResidentOnly) -> HTMLResponse:
    return _page(request, "employment/register.html", user, choices=_choices(page_lang(request)), errors=[],
                 form={})


@pages.post("/employment/register")
async def register_form(request: Request, user: ResidentOnly, service: ServiceDep) -> Response:
    form = await request.form()
    data: dict[str, Any] = {"language": page_lang(request)}
    for key in ("age", "months_unemployed_before"):
        if form.get(key):
            data[key] = form.get(key)
    if form.get("work_history_years"):
        data["work_history_years"] = str(form.get("work_history_years")).replace(",", ".")
    for key in ("sex", "mother_tongue", "postal_code", "education_level", "finnish_skill", "swedish_skill",
                "desired_occupation"):
        value = str(form.get(key) or "").strip()
        if value:
            data[key] = value
    data["health_limits"] = [str(v) for v in form.getlist("health_limits")]
    data["goals"] = [str(v) for v in form.getlist("goals")]
    try:
        registration = _registration(data, user)
    except RegistrationError as exc:
        return _page(request, "employment/register.html", user, choices=_choices(page_lang(request)),
                     errors=exc.errors, form=dict(form))
    try:
        result = await service.register_async(registration)
    except NoModelError as exc:
        raise _no_model(exc) from None
    return _page(request, "employment/mine.html", user, entries=[{"result": result.as_json(), "decision": None,
                                                                  "created_at": result.created_at.isoformat()}],
                 just_registered=True)


@pages.get("/employment/mine")
def mine_page(request: Request, user: ResidentOnly, service: ServiceDep) -> HTMLResponse:
    assert user.person_id is not None
    return _page(request, "employment/mine.html", user, entries=service.customer_view(user.person_id),
                 just_registered=False)


@pages.get("/employment/queue")
def queue_page(request: Request, user: Counsellor, service: ServiceDep, saved: int = 0) -> HTMLResponse:
    try:
        card = service.model_card()
    except NoModelError:
        card = None
    waiting = service.queue(_counsellor(user), 50) if card is not None else []
    return _page(request, "employment/queue.html", user, waiting=waiting, card=card, saved=bool(saved),
                 services=card.get("services", []) if card else [])


@pages.post("/employment/queue/{registration_id}/decision")
def decide_form(registration_id: str, user: Counsellor, service: ServiceDep,
                chosen: Annotated[str, Form(alias="service", max_length=64)],
                reason: Annotated[str, Form(max_length=1000)]) -> Response:
    try:
        choice = DecisionInput(service=chosen, reason=reason)
    except ValueError as exc:
        raise ProblemError(422, "invalid_decision", str(exc).splitlines()[0]) from None
    try:
        service.decide(_counsellor(user), registration_id, choice)
    except KeyError:
        raise ProblemError(404, "not_found", "no such registration") from None
    return RedirectResponse("/employment/queue?saved=1", status_code=303)


router.include_router(pages)

# The counsellor's and the customer's pages in the navigation, labelled from the page catalogue.
for _lang in LANGS:
    catalogue(_lang).setdefault("employment.nav", messages(_lang)["employment.nav"])
    catalogue(_lang).setdefault("employment.nav_mine", messages(_lang)["employment.mine.title"])
if not any(href == "/employment/queue" for _, href, _ in NAV):
    NAV.append(("employment.nav", "/employment/queue", ("counsellor",)))
    NAV.append(("employment.nav_mine", "/employment/mine", ("resident",)))
