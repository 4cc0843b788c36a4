"""Employment service 2.0 in a real browser: a resident registers as a job seeker at /employment/register,
sees the suggestions at once (under a second after submitting), and the counsellor finds the
registration in /employment/queue. Screenshots go to ``test-artifacts/``."""

# ruff: noqa: F811 - pytest passes the imported fixtures (browser, new_page) as arguments
from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from web_support import LiveServer, browser, login, new_page, running_server, shot  # noqa: F401 - fixtures by name

from employment_support import trained_models


@pytest.fixture(scope="module")
def live_server(small_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The browser tests' server (``web_support.running_server``) with a trained employment model."""
    folder = tmp_path_factory.mktemp("browser-employment")
    models = folder / "models"
    shutil.copytree(trained_models(tmp_path_factory, small_city.db), models)
    with running_server(folder, small_city.db, employment_models=models) as server:
        yield server


def test_a_registration_shows_suggestions_at_once_and_reaches_the_queue(new_page, live_server: LiveServer) -> None:
    page = new_page("en")
    login(page, "resident")
    response = page.goto("/employment/register")
    assert response is not None and response.status == 200
    page.locator("#age").fill("27")
    page.locator("#education_level").select_option("basic")
    page.locator("#finnish_skill").select_option("A2")
    page.locator("#work_history_years").fill("2,5")        # a decimal comma, as a Finn would type it
    page.locator("#months_unemployed_before").fill("14")
    page.locator("input[name=goals]").first.check()
    shot(page, "resident-employment-register")

    page.wait_for_timeout(300)   # the model and the page assets are warm before the clock starts
    started = time.perf_counter()
    page.locator("#register button[type=submit]").click()
    page.locator("table.suggestions tbody tr").first.wait_for(state="visible", timeout=10_000)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"the suggestions took {elapsed:.2f} s after submitting"
    rows = page.locator("table.suggestions tbody tr")
    assert rows.count() == 5
    assert rows.first.locator("td.reason").inner_text().strip()
    registration = page.locator("article.registration").first.get_attribute("data-registration")
    assert registration
    shot(page, "resident-employment-suggestions")

    counsellor = new_page("en")
    login(counsellor, "counsellor")
    response = counsellor.goto("/employment/queue")
    assert response is not None and response.status == 200
    item = counsellor.locator(f"article.queue-item[data-registration='{registration}']")
    assert item.count() == 1
    resident = next(u for u in live_server.platform.users if u.username == "resident")
    assert str(resident.person_id) in item.locator("h2").inner_text()
    assert item.locator("table.suggestions tbody tr").count() == 5
    shot(counsellor, "counsellor-employment-queue")
