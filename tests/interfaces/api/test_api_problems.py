"""Every error is an RFC 9457 problem document; security headers on every response."""

from __future__ import annotations

from ennakoiva.interfaces.api.security import CSP


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:ennakoiva:problem:") and body["title"]
    return body


def test_unknown_route_is_a_problem(client) -> None:
    assert _is_problem(client.get("/api/no-such-thing"), 404)["code"] == "not_found"


def test_missing_credentials_is_401_with_challenge(client) -> None:
    response = client.get("/api/overview")
    assert _is_problem(response, 401)["code"] == "authentication_required"
    assert response.headers["www-authenticate"] == "Bearer"


def test_forged_token_is_401(client) -> None:
    response = client.get("/api/overview", headers={"Authorization": "Bearer eyJ1IjoibnVyc2UifQ.forged"})
    assert _is_problem(response, 401)["code"] == "invalid_token"


def test_validation_error_is_a_problem_without_the_input(client, bearer) -> None:
    response = client.post("/api/decisions", headers=bearer("nurse"),
                           json={"purpose_id": "care-gap-identification", "subject_id": -5, "categories": []})
    body = _is_problem(response, 422)
    assert body["code"] == "validation_failed" and body["errors"]
    assert "-5" not in response.text   # the offending value is not echoed


def test_wrong_method_is_a_problem(client) -> None:
    _is_problem(client.put("/api/health"), 405)


def test_wrong_password_is_401(client) -> None:
    response = client.post("/api/session", json={"username": "nurse", "password": "nope"})
    assert _is_problem(response, 401)["code"] == "login_failed"


def test_security_headers_everywhere(client) -> None:
    for path in ("/api/health", "/login", "/api/no-such-thing", "/static/app.css"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CSP
        assert "frame-ancestors 'none'" in CSP and "cdn" not in CSP.lower()
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_unknown_table_is_404(client, bearer) -> None:
    body = _is_problem(client.get("/api/tables/secrets/rows", headers=bearer("analyst")), 404)
    assert body["code"] == "unknown_table"


def test_access_decision_refusal_is_403_problem(client, bearer) -> None:
    # the nurse's purpose (care-gap identification) does not cover incomes
    body = _is_problem(client.get("/api/tables/income/rows", headers=bearer("nurse")), 403)
    assert body["code"] == "access_denied" and "category_not_in_purpose" in body["detail"]
