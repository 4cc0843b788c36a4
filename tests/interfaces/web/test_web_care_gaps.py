"""Care gaps in a real browser: the nurse runs the criteria, opens a station, reads a person's evidence
and invites them; the analyst sees the counts only. Screenshots go to ``test-artifacts/``."""

# ruff: noqa: F811 - pytest passes the imported fixtures (browser, live_server, new_page) as arguments
from __future__ import annotations

from web_support import LiveServer, browser, live_server, login, new_page, shot  # noqa: F401 - fixtures by name


def _run_criteria(page) -> None:
    page.goto("/care-gaps")
    if page.locator("#stations").count() == 0:
        page.locator("#run button[type=submit]").click()
        page.wait_for_load_state()
    assert page.locator("#stations tbody tr").count() > 0


def test_nurse_opens_a_station_reads_evidence_and_invites(new_page, live_server: LiveServer) -> None:
    page = new_page("en")
    login(page, "nurse")
    nav = page.locator("nav.main-nav a[href='/care-gaps']")
    assert nav.count() == 1
    nav.click()
    page.wait_for_load_state()
    assert page.url.endswith("/care-gaps")
    _run_criteria(page)
    assert page.locator("#last-run").is_visible()
    assert page.locator("figure svg rect").count() > 0       # the bar chart, drawn on the server
    shot(page, "nurse-care-gaps")

    stations = page.locator("#stations tbody th a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert stations
    invited = None
    for href in stations:
        page.goto(href)
        assert page.locator("h1").count() == 1
        evidence = page.locator("article.care-gap-person ul.evidence li")
        assert evidence.count() > 0 and evidence.first.inner_text().strip()
        forms = page.locator("form.invite-form")
        if forms.count() == 0:
            continue
        shot(page, "nurse-care-gaps-station")
        person = forms.first.locator("input[name=person_id]").get_attribute("value")
        criterion = forms.first.locator("input[name=criterion_id]").get_attribute("value")
        article = page.locator(f"#person-{person}")
        assert article.locator("ul.evidence li").count() > 0          # the person's evidence is on the page
        forms.first.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().strip() == "Invitation result"
        invited = (int(person), criterion, page.locator("#queued").inner_text(),
                   page.locator("#not-eligible").inner_text())
        shot(page, "nurse-care-gaps-invited")
        if invited[2].startswith("1"):
            break
    assert invited is not None, "no station lists a person the invitation service covers"
    person_id, criterion, queued, _ = invited
    assert queued.startswith("1") and str(person_id) in queued
    assert page.locator("[role=status]").inner_text().endswith("1")

    # the offer is in the campaign store, once; inviting again queues nothing
    messaging = live_server.platform.campaigns.messaging
    campaign = messaging.offers.campaign_id("care-gap-invitation")
    subjects = [messaging.offers.read_snapshot(o).subject_id for o in messaging.offers.offer_ids(campaign)]
    assert subjects.count(person_id) == 1
    page.go_back()
    page.wait_for_load_state()
    page.locator(f"#person-{person_id} form.invite-form input[name=criterion_id][value='{criterion}']").locator(
        "xpath=..").locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#queued").inner_text().startswith("0")
    assert page.locator("#already").inner_text().startswith("1")
    subjects = [messaging.offers.read_snapshot(o).subject_id for o in messaging.offers.offer_ids(campaign)]
    assert subjects.count(person_id) == 1


def test_analyst_sees_counts_only(new_page, live_server: LiveServer) -> None:
    nurse = new_page("en")
    login(nurse, "nurse")
    _run_criteria(nurse)
    page = new_page("fi")
    login(page, "analyst")
    response = page.goto("/care-gaps")
    assert response is not None and response.status == 200
    assert page.locator("#counts-only").is_visible()
    assert page.locator("#stations tbody tr").count() > 0
    assert page.locator("#stations a").count() == 0            # no way into a station's list
    assert page.locator("#run").count() == 0
    shot(page, "analyst-care-gaps")
    unit = page.locator("#stations tbody tr").first.get_attribute("data-unit")
    denied = page.goto(f"/care-gaps/stations/{unit}")
    assert denied is not None and denied.status == 403
