"""Browser tests: Debian's chromium driven by Playwright against a real uvicorn server on 127.0.0.1.

Log in per role and see that role's pages (and only those); withdraw a consent on "My data" and see
the next read denied and listed as a use attempt; switch the language. Screenshots of every page
go to ``test-artifacts/``.
"""

# ruff: noqa: F811 - pytest passes the imported fixtures (browser, live_server, new_page) as arguments
from __future__ import annotations

import re

import pytest
from web_support import LiveServer, browser, live_server, login, new_page, shot  # noqa: F401 - fixtures by name

MY_PAGES = {"/overview", "/tables", "/people", "/mydata", "/audit", "/reports", "/campaigns"}
# role -> (login name, landing path, nav links it must see, a page of another role it must not open)
ROLES = {
    "analyst": ("analyst", "/overview", {"/overview", "/tables", "/people", "/reports"}, "/audit"),
    "nurse": ("nurse", "/overview", {"/overview", "/tables", "/people"}, "/mydata"),
    "counsellor": ("counsellor", "/overview", {"/overview", "/tables", "/people"}, "/audit"),
    "service-owner": ("owner", "/overview", {"/overview", "/tables", "/people", "/campaigns"}, "/mydata"),
    "dpo": ("dpo", "/audit", {"/overview", "/tables", "/audit"}, "/people"),
    "resident": ("resident", "/mydata", {"/mydata"}, "/overview"),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_its_pages(new_page, live_server: LiveServer, role: str) -> None:
    username, landing, links, forbidden = ROLES[role]
    page = new_page("en")
    login(page, username)
    assert page.url.endswith(landing), page.url
    assert page.locator("html").get_attribute("lang") == "en"   # from the browser's Accept-Language
    nav = set(page.locator("nav.main-nav a").evaluate_all("els => els.map(e => e.getAttribute('href'))"))
    assert nav & MY_PAGES == links   # other capabilities may add their own pages to the navigation
    for link in sorted(links):
        response = page.goto(link)
        assert response is not None and response.status == 200, (role, link)
        assert page.locator("h1").count() == 1
        shot(page, f"{role}{link.replace('/', '-')}")
    response = page.goto(forbidden)
    assert response is not None and response.status == 403
    assert page.locator("[role=alert]").count() == 1
    shot(page, f"{role}-forbidden")


def test_login_page_and_wrong_password(new_page) -> None:
    page = new_page()
    page.goto("/login")
    shot(page, "login")
    page.locator("#username").fill("nurse")
    page.locator("#password").fill("wrong")
    page.locator("form button[type=submit]").click()
    assert page.locator("[role=alert]").is_visible()
    assert page.url.endswith("/login")


def test_withdraw_then_the_next_read_is_denied_and_listed(new_page, live_server: LiveServer) -> None:
    family = live_server.platform.demo_family
    assert family is not None
    child, guardian, _ = family
    resident = new_page()
    login(resident, "resident")
    row = resident.locator("#consents tr[data-state=given]")
    assert row.count() == 1
    shot(resident, "resident-mydata-before")
    row.get_by_role("button").click()
    resident.wait_for_load_state()
    assert resident.locator("#consents tr[data-state=withdrawn]").count() == 1

    owner = new_page()
    login(owner, "owner")
    response = owner.goto(f"/people?person_id={guardian}&purpose=daycare-fee-income-check&tables=income"
                          f"&via_consent_of={child}")
    assert response is not None and response.status == 403
    assert "consent_withdrawn" in owner.locator("#denied").inner_text()
    shot(owner, "owner-people-denied")

    resident.reload()
    attempt = resident.locator("#uses tr[data-outcome=deny][data-reason=consent_withdrawn]")
    assert attempt.count() >= 1
    shot(resident, "resident-mydata-after")


def test_run_the_preschool_campaign_and_answer_from_the_inbox(new_page) -> None:
    page = new_page("en")
    login(page, "owner")
    page.goto("/campaigns")
    page.locator("#service_id").select_option("preschool-offer")
    page.get_by_role("button", name="Run the campaign").click()
    page.wait_for_load_state()
    row = page.locator("#campaigns tr[data-service=preschool-offer]")
    assert row.count() == 1
    assert int(row.locator("td").nth(2).inner_text()) > 0      # offers
    shot(page, "owner-campaigns")
    page.get_by_role("link", name="SMS simulator inbox").click()
    phone = page.locator("section.phone").first
    before = phone.locator("ol.sms li").count()
    assert before >= 1
    shot(page, "owner-inbox")
    phone_id = phone.get_attribute("id")
    phone.get_by_label("Reply").fill("A")
    phone.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    after = page.locator(f"#{phone_id} ol.sms li").count()
    assert after > before, "the reply was not confirmed by SMS"
    shot(page, "owner-inbox-answered")
    page.goto("/campaigns")
    answered = page.locator("#campaigns tr[data-service=preschool-offer] td[data-metric=answered]").inner_text()
    assert int(answered) >= 1
    page.get_by_role("link", name="preschool-offer").click()
    assert page.locator("#offers tr").count() > 1
    shot(page, "owner-offers")


def test_language_switch_on_every_page(new_page) -> None:
    page = new_page()
    login(page, "dpo")
    for code, title in (("sv", "Logg"), ("en", "Audit log"), ("fi", "Lokitiedot")):
        page.get_by_role("link", name=code.upper(), exact=True).click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == code
        assert page.locator("h1").inner_text() == title
    page.goto("/overview")
    page.get_by_role("link", name="SV", exact=True).click()
    assert page.locator("h1").inner_text() == "Stadens lägesbild"
    shot(page, "dpo-overview-sv")


def test_audit_verify_with_htmx_and_keyboard(new_page) -> None:
    page = new_page()
    login(page, "dpo")
    button = page.get_by_role("button", name=re.compile("Tarkista"))
    button.focus()
    page.keyboard.press("Enter")
    page.locator("#verify-result").wait_for()
    assert "eheä" in page.locator("#verify-result").inner_text()
    shot(page, "dpo-audit-verified")


def test_skip_link_and_visible_focus(new_page) -> None:
    page = new_page()
    login(page, "analyst")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0   # shown when focused
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
