"""A resident withdraws a consent through the API; the next read is denied and shown to them."""

from __future__ import annotations

from api_support import PASSWORD

from ennakoiva.platform.platform import Platform


def test_withdraw_then_read_is_denied_and_listed(platform: Platform, client, bearer) -> None:
    assert platform.demo_family is not None
    child, guardian, _ = platform.demo_family
    resident, owner = bearer("resident"), bearer("owner")
    read = f"/api/people/{guardian}/data"
    params = {"tables": ["income"], "purpose": "daycare-fee-income-check", "via_consent_of": child}
    assert client.get(read, headers=owner, params=params).status_code == 200   # consent active: permitted

    consents = client.get("/api/consents", headers=resident).json()
    fee = next(c for c in consents if c["purpose_id"] == "daycare-fee-income-check" and c["state"] == "given")
    withdrawn = client.post(f"/api/consents/{fee['record_id']}/withdraw", headers=resident)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    again = client.post(f"/api/consents/{fee['record_id']}/withdraw", headers=resident)
    assert again.status_code == 409 and again.json()["code"] in ("final", "invalid_transition")

    denied = client.get(read, headers=owner, params=params)
    assert denied.status_code == 403 and "consent_withdrawn" in denied.json()["detail"]
    uses = client.get("/api/mydata", headers=resident).json()["uses"]
    assert any(u["purpose_id"] == "daycare-fee-income-check" and u["outcome"] == "deny"
               and u["reason"] == "consent_withdrawn" for u in uses)


def test_export_is_json_with_a_copy_of_the_data(platform: Platform, client, bearer) -> None:
    response = client.get("/api/mydata/export", headers=bearer("resident"))
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    body = response.json()
    assert body["data"]["person"][0]["person_id"] == body["subject_id"]


def test_cookie_session_needs_csrf_on_forms(platform: Platform, client) -> None:
    login = client.post("/api/session", json={"username": "resident", "password": PASSWORD})
    csrf = login.json()["csrf_token"]
    try:
        without = client.post("/mydata/consents", data={"purpose_id": "daycare-fee-income-check"},
                              follow_redirects=False)
        assert without.status_code == 403 and without.json()["code"] == "csrf_failed"
        with_token = client.post("/mydata/consents", data={"purpose_id": "daycare-fee-income-check",
                                                           "csrf_token": csrf}, follow_redirects=False)
        assert with_token.status_code == 303
    finally:
        client.cookies.clear()


def test_staff_decision_is_logged(platform: Platform, client, bearer) -> None:
    assert platform.demo_family is not None
    before = platform.operational.audit.last()[0]
    body = {"purpose_id": "care-gap-identification", "subject_id": platform.demo_family[1], "categories": ["income"]}
    response = client.post("/api/decisions", headers=bearer("nurse"), json=body)
    assert response.status_code == 200
    assert response.json()["permit"] is False and response.json()["reason"] == "category_not_in_purpose"
    assert platform.operational.audit.last()[0] == before + 1
