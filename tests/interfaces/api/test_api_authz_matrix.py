"""Authorisation matrix: every route × every role (and no login), expected status asserted.

The expectations are a table written by hand; the routes come from the application itself, so a
route added without an expectation fails ``test_every_route_has_an_expectation``.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_support import PASSWORD

from ennakoiva.interfaces.api import create_app
from ennakoiva.platform.platform import Platform
from ennakoiva.platform.roles import ROLES

PUBLIC = "public"
STAFF = {"analyst", "nurse", "counsellor", "service-owner", "dpo"}
READERS = STAFF - {"dpo"}
EVERYONE = set(ROLES)

# (method, path) -> (who may call it, the status they get with the sample request)
# None: the request may fail for its own reasons (4xx), but never 401/403 for an allowed role nor a 5xx
EXPECTED: dict[tuple[str, str], tuple[set[str] | str, int | None]] = {
    ("GET", "/api/health"): (PUBLIC, 200),
    ("POST", "/api/session"): (PUBLIC, 200),
    ("DELETE", "/api/session"): (EVERYONE, 204),
    ("GET", "/api/me"): (EVERYONE, 200),
    ("GET", "/api/purposes"): (EVERYONE, 200),
    ("GET", "/api/overview"): (STAFF, 200),
    ("GET", "/api/tables"): (EVERYONE, 200),
    ("GET", "/api/tables/{table}/rows"): (READERS, 200),
    ("GET", "/api/people/{person_id}/data"): (READERS, 200),
    ("POST", "/api/decisions"): (READERS, 200),
    ("GET", "/api/consents"): ({"resident"}, 200),
    ("POST", "/api/consents"): ({"resident"}, 201),
    ("POST", "/api/consents/{record_id}/withdraw"): ({"resident"}, 200),
    ("GET", "/api/consents/{record_id}/receipt"): ({"resident"}, 200),
    ("GET", "/api/mydata"): ({"resident"}, 200),
    ("GET", "/api/mydata/export"): ({"resident"}, 200),
    ("GET", "/api/audit/entries"): ({"dpo"}, 200),
    ("GET", "/api/audit/verify"): ({"dpo"}, 200),
    ("GET", "/api/reports"): ({"analyst"}, 200),
    ("GET", "/api/reports/{spec}/drilldown"): ({"analyst"}, 200),
    # pages
    ("GET", "/"): (PUBLIC, 303),
    ("GET", "/login"): (PUBLIC, 200),
    ("POST", "/login"): (PUBLIC, 403),          # no login CSRF cookie in this request: refused
    ("POST", "/logout"): (PUBLIC, 303),
    ("GET", "/lang/{code}"): (PUBLIC, 303),
    ("GET", "/overview"): (STAFF, 200),
    ("GET", "/charts/overview-trend.svg"): (STAFF, 200),
    ("GET", "/tables"): (STAFF, 200),
    ("GET", "/people"): (READERS, 200),
    ("GET", "/mydata"): ({"resident"}, 200),
    ("POST", "/mydata/consents"): ({"resident"}, 303),
    ("POST", "/mydata/consents/{record_id}/withdraw"): ({"resident"}, 303),
    ("GET", "/mydata/export"): ({"resident"}, 200),
    ("GET", "/audit"): ({"dpo"}, 200),
    ("GET", "/audit/verify"): ({"dpo"}, 200),
    ("GET", "/reports"): ({"analyst"}, 200),
    ("GET", "/charts/report-map.svg"): ({"analyst"}, 200),
    ("GET", "/charts/overview-map.svg"): (STAFF, 200),
    ("GET", "/api/campaigns"): ({"service-owner"}, 200),
    ("POST", "/api/campaigns"): ({"service-owner"}, 201),
    ("GET", "/api/campaigns/{campaign_id}/offers"): ({"service-owner"}, 404),   # no such campaign
    ("GET", "/api/sms-simulator/inbox"): ({"service-owner"}, 200),
    ("POST", "/api/sms-simulator/replies"): ({"service-owner"}, 404),          # no such phone
    ("GET", "/campaigns"): ({"service-owner"}, 200),
    ("GET", "/campaigns/live"): ({"service-owner"}, 200),
    ("POST", "/campaigns/run"): ({"service-owner"}, 303),
    ("GET", "/campaigns/inbox"): ({"service-owner"}, 200),
    ("POST", "/campaigns/inbox/reply"): ({"service-owner"}, 404),
    ("GET", "/campaigns/{campaign_id}"): ({"service-owner"}, 404),
}
# other capabilities' routes (their own tests cover the content; here only who may call them). They
# may not all be mounted yet, so only the check "every mounted route has an expectation" covers them.
OTHERS: dict[tuple[str, str], tuple[set[str] | str, int | None]] = {
    ("POST", "/api/webhooks/sms/inbound"): (PUBLIC, None),
    ("POST", "/api/webhooks/sms/delivery"): (PUBLIC, None),
    ("POST", "/api/employment/registrations"): ({"resident", "counsellor"}, None),
    ("GET", "/api/employment/registrations/{registration_id}"): ({"resident", "counsellor"}, None),
    ("GET", "/api/employment/mine"): ({"resident"}, None),
    ("GET", "/api/employment/queue"): ({"counsellor"}, None),
    ("POST", "/api/employment/registrations/{registration_id}/decision"): ({"counsellor"}, None),
    ("GET", "/api/employment/model"): ({"counsellor"}, None),
    ("GET", "/employment/register"): ({"resident"}, None),
    ("POST", "/employment/register"): ({"resident"}, None),
    ("GET", "/employment/mine"): ({"resident"}, None),
    ("GET", "/employment/queue"): ({"counsellor"}, None),
    ("POST", "/employment/queue/{registration_id}/decision"): ({"counsellor"}, None),
    # care gaps: the nurse runs, lists and invites; the analyst sees the counts only (small ones withheld)
    ("GET", "/api/care-gaps"): ({"nurse", "analyst"}, None),
    ("POST", "/api/care-gaps/runs"): ({"nurse"}, None),
    ("GET", "/api/care-gaps/stations/{unit_id}"): ({"nurse"}, None),
    ("POST", "/api/care-gaps/invitations"): ({"nurse"}, None),
    ("GET", "/care-gaps"): ({"nurse", "analyst"}, None),
    ("POST", "/care-gaps/run"): ({"nurse"}, None),
    ("GET", "/care-gaps/stations/{unit_id}"): ({"nurse"}, None),
    ("POST", "/care-gaps/invite"): ({"nurse"}, None),
    # the pages' OpenID Connect login (404 in demo mode; test_oidc_login.py covers the flow)
    ("GET", "/login/oidc"): (PUBLIC, None),
    ("GET", "/auth/callback"): (PUBLIC, None),
}
ALL = {**EXPECTED, **OTHERS}
SKIP = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _routes(platform: Platform) -> list[tuple[str, str]]:
    routes = create_app(platform).state.route_table
    assert len(routes) > 20
    return [(m, p) for m, p in routes if p not in SKIP]


def test_every_route_has_an_expectation(platform: Platform) -> None:
    routes = set(_routes(platform))
    assert not routes - ALL.keys(), f"routes without an authorisation expectation: {routes - ALL.keys()}"
    assert not EXPECTED.keys() - routes, f"expectations for routes that do not exist: {EXPECTED.keys() - routes}"


def _sample(platform: Platform, method: str, path: str) -> dict[str, Any]:
    """A request that the allowed role can complete (path values from the demo family)."""
    child, guardian, _ = platform.demo_family or (0, 0, 0)
    record = str(platform.operational.consents.views(child)[0].record.record_id)
    url = (path.replace("{table}", "person").replace("{person_id}", str(guardian))
           .replace("{record_id}", record).replace("{code}", "sv").replace("{spec}", "residents")
           .replace("{registration_id}", "00000000-0000-0000-0000-000000000000")
           .replace("{campaign_id}", "no-such-campaign"))
    kwargs: dict[str, Any] = {}
    if path == "/api/people/{person_id}/data":
        kwargs["params"] = {"tables": ["person"]}
    if path == "/api/session" and method == "POST":
        kwargs["json"] = {"username": "dpo", "password": PASSWORD}
    if path == "/api/decisions":
        kwargs["json"] = {"purpose_id": "care-gap-identification", "subject_id": guardian, "categories": ["population"]}
    if path == "/api/consents" and method == "POST":
        kwargs["json"] = {"purpose_id": "daycare-fee-income-check"}   # for oneself: a new record
    if path == "/mydata/consents":
        kwargs["data"] = {"purpose_id": "daycare-fee-income-check"}
    if path in ("/api/campaigns", "/campaigns/run") and method == "POST":
        key = "json" if path.startswith("/api") else "data"
        kwargs[key] = {"service_id": "preschool-offer"}
    if path in ("/api/sms-simulator/replies", "/campaigns/inbox/reply"):
        key = "json" if path.startswith("/api") else "data"
        kwargs[key] = {"phone": "+358000000000", "text": "A"}
    if path == "/login" and method == "POST":
        kwargs["data"] = {"username": "nurse", "password": "x", "csrf_token": "y"}
    return {"method": method, "url": url, **kwargs}


@pytest.mark.parametrize("who", [*ROLES, None])
def test_matrix(platform: Platform, client, bearer, who: str | None) -> None:
    user = {"service-owner": "owner"}.get(who or "", who)
    headers = bearer(user) if user else {}
    failures = []
    for method, path in _routes(platform):
        allowed, status = ALL[(method, path)]
        request = _sample(platform, method, path)
        client.cookies.clear()   # bearer tokens only: a cookie set by one request must not carry over
        response = client.request(**request, headers=headers, follow_redirects=False)
        if allowed == PUBLIC or (who is not None and who in allowed):
            if status is None:   # any answer but a refusal of the caller or a server error
                # 503: the capability is not configured on this platform (e.g. no trained model)
                bad = response.status_code in (500, 502, 504) or (
                    allowed != PUBLIC and response.status_code in (401, 403))
                if bad:
                    failures.append(f"{method} {path} as {who}: {response.status_code} {response.text[:160]}")
                continue
            expected = status
        elif who is None:
            expected = 401
        else:
            expected = 403
        if response.status_code != expected:
            failures.append(f"{method} {path} as {who}: {response.status_code} (expected {expected}) "
                            f"{response.text[:160]}")
        if response.status_code in (401, 403):
            assert response.headers["content-type"].startswith("application/problem+json"), (method, path)
    assert not failures, "\n".join(failures)


def test_forbidden_attempt_is_audited(platform: Platform, client, bearer) -> None:
    before = platform.operational.audit.last()[0]
    assert client.get("/api/audit/entries", headers=bearer("nurse")).status_code == 403
    entries = list(platform.operational.audit.entries(before + 1))
    assert any(e.reason == "role_not_allowed" and e.actor_id == "demo-nurse" and e.decision == "deny"
               and e.request_id == "GET /api/audit/entries" for e in entries)


def test_resident_cannot_reach_another_residents_consent(platform: Platform, client, bearer) -> None:
    """resident2's own consent is invisible to resident: the same 404 as a record that does not exist."""
    mine = client.post("/api/consents", headers=bearer("resident2"), json={"purpose_id": "daycare-fee-income-check"})
    assert mine.status_code == 201, mine.text
    record = mine.json()["record_id"]
    assert client.get(f"/api/consents/{record}/receipt", headers=bearer("resident2")).status_code == 200
    other = bearer("resident")
    assert client.get(f"/api/consents/{record}/receipt", headers=other).status_code == 404
    assert client.post(f"/api/consents/{record}/withdraw", headers=other).status_code == 404
    assert all(c["record_id"] != record for c in client.get("/api/consents", headers=other).json())
