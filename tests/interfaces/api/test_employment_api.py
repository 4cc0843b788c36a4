"""Employment service 2.0 over HTTP: a registration answered at once, the queue, the decision, the pages."""

from __future__ import annotations

import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import PASSWORD, platform_settings

from employment_support import REGISTRATION, trained_models
from ennakoiva.platform.platform import Platform, build_platform

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

URL = "/api/employment/registrations"


@pytest.fixture(scope="module")
def platform(small_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("employment-web")
    models = folder / "models"
    shutil.copytree(trained_models(tmp_path_factory, small_city.db), models)
    built = build_platform(platform_settings(folder, employment_models=models), city=small_city.db)
    yield built
    built.close()   # `client` and `bearer` (conftest.py) are built on this module's platform


def test_a_resident_registers_and_gets_suggestions_at_once(client: TestClient, bearer: Callable[[str], Any],
                                                          platform: Platform) -> None:
    me = bearer("resident")
    started = time.perf_counter()
    response = client.post(URL, json={k: v for k, v in REGISTRATION.items() if k != "person_id"}, headers=me)
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    body = response.json()
    resident = next(u for u in platform.users if u.username == "resident")
    assert body["person_id"] == resident.person_id
    assert len(body["suggestions"]) == 5 and body["suggestions"][0]["reasons"]["fi"]
    assert {"p_without", "p_with_top", "cluster", "model_version"} <= set(body)
    assert response.headers["location"] == f"{URL}/{body['registration_id']}"
    assert elapsed < 1.0                      # the first suggestion is there in under a second
    again = client.get(f"{URL}/{body['registration_id']}", headers=me)
    assert again.status_code == 200 and again.json()["result"] == body
    mine = client.get("/api/employment/mine", headers=me).json()
    assert mine[0]["registration_id"] == body["registration_id"]
    assert mine[0]["categories_used"] == ["population", "employment"]
    uses = client.get("/api/mydata", headers=me).json()["uses"]
    assert any(u["purpose_id"] == "employment-service-recommendations" and u["categories"] ==
               ["population", "employment"] for u in uses)


def test_a_resident_registers_only_themselves_and_sees_only_their_own(client: TestClient,
                                                                     bearer: Callable[[str], Any]) -> None:
    other = client.post(URL, json=REGISTRATION | {"person_id": 123456}, headers=bearer("resident"))
    assert other.status_code == 403 and other.json()["code"] == "not_own_registration"
    created = client.post(URL, json=REGISTRATION, headers=bearer("counsellor")).json()
    hidden = client.get(f"{URL}/{created['registration_id']}", headers=bearer("resident"))
    assert hidden.status_code == 404
    assert client.post(URL, json=REGISTRATION).status_code == 401
    assert client.post(URL, json=REGISTRATION, headers=bearer("nurse")).status_code == 403


def test_an_invalid_registration_is_a_problem_document_listing_every_field(client: TestClient,
                                                                           bearer: Callable[[str], Any]) -> None:
    response = client.post(URL, json=REGISTRATION | {"age": 12, "finnish_skill": "B3", "extra": 1},
                           headers=bearer("counsellor"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_registration"
    assert {e["field"] for e in body["errors"]} == {"age", "finnish_skill", "extra"}


def test_the_counsellor_queue_decision_and_model_card(client: TestClient, bearer: Callable[[str], Any]) -> None:
    staff = bearer("counsellor")
    created = client.post(URL, json=REGISTRATION | {"person_id": 777}, headers=staff).json()
    queue = client.get("/api/employment/queue", headers=staff).json()
    assert created["registration_id"] in [q["registration_id"] for q in queue]
    decided = client.post(f"{URL}/{created['registration_id']}/decision",
                          json={"service": "coaching", "reason": "Starts next week"}, headers=staff)
    assert decided.status_code == 201, decided.text
    assert decided.json()["followed_suggestion"] == (created["suggestions"][0]["service"] == "coaching")
    queue = client.get("/api/employment/queue", headers=staff).json()
    assert created["registration_id"] not in [q["registration_id"] for q in queue]
    wrong = client.post(f"{URL}/{created['registration_id']}/decision", json={"service": "x", "reason": "y"},
                        headers=staff)
    assert wrong.status_code == 422
    missing = client.post(f"{URL}/nope/decision", json={"service": "none", "reason": "y"}, headers=staff)
    assert missing.status_code == 404
    card = client.get("/api/employment/model", headers=staff).json()
    assert set(card["fairness"]) == {"mother_tongue", "sex", "age_band"}
    assert client.get("/api/employment/queue", headers=bearer("resident")).status_code == 403


def test_openapi_shows_the_registration_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"][URL]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert "graduate" in examples and examples["graduate"]["value"]["education_level"] == "tertiary_higher"


def _login_browser(client: TestClient, username: str) -> None:
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token.group(1)}, follow_redirects=False)
    assert response.status_code == 303, response.text


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_in_the_browser_a_registration_shows_suggestions_and_reaches_the_queue(client: TestClient) -> None:
    _login_browser(client, "resident")
    form = client.get("/employment/register?lang=sv")
    assert form.status_code == 200 and "Anmäl dig som arbetssökande" in form.text
    started = time.perf_counter()
    page = client.post("/employment/register", data={
        "csrf_token": _csrf(form.text), "age": "31", "education_level": "upper_secondary", "finnish_skill": "B1",
        "swedish_skill": "none", "work_history_years": "4,5", "months_unemployed_before": "3",
        "goals": ["find_work_quickly"]})
    assert page.status_code == 200 and time.perf_counter() - started < 1.0
    assert "Tjänsteförslag" in page.text and 'data-rank="1"' in page.text
    registration = re.search(r'data-registration="([^"]+)"', page.text)
    assert registration is not None
    bad = client.post("/employment/register", data={"csrf_token": _csrf(form.text), "age": "12"})
    assert bad.status_code == 200 and "must be at least 17" in bad.text
    mine = client.get("/employment/mine?lang=en")
    assert registration.group(1) in mine.text and "Service suggestions" in mine.text
    _login_browser(client, "counsellor")
    queue = client.get("/employment/queue?lang=fi")
    assert queue.status_code == 200 and registration.group(1) in queue.text
    assert "Mallin oikeudenmukaisuusraportti" in queue.text and "mother_tongue" in queue.text
    saved = client.post(f"/employment/queue/{registration.group(1)}/decision",
                        data={"csrf_token": _csrf(queue.text), "service": "coaching", "reason": "Sopii hyvin"},
                        follow_redirects=False)
    assert saved.status_code == 303
    after = client.get("/employment/queue?saved=1")
    assert registration.group(1) not in after.text
    client.cookies.clear()


def test_the_employment_pages_speak_three_languages_with_the_same_keys() -> None:
    from ennakoiva.interfaces.api.routers.employment import messages  # noqa: PLC0415 - only here

    keys = {lang: set(messages(lang)) for lang in ("fi", "sv", "en")}
    assert keys["fi"] == keys["sv"] == keys["en"]
    assert all(v.strip() for lang in keys for v in messages(lang).values())   # type: ignore[arg-type]
    folder = Path(__file__).resolve().parents[3] / "src/ennakoiva/interfaces/web/templates/employment"
    used = set()
    for path in folder.glob("*.html"):
        used |= set(re.findall(r"e\['([a-z_.-]+)'\]", path.read_text(encoding="utf-8")))
    assert used and not used - keys["en"], sorted(used - keys["en"])
    assert len({messages(lang)["employment.register.title"] for lang in ("fi", "sv", "en")}) == 3  # type: ignore[arg-type]
