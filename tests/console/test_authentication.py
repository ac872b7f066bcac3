"""Logging in and out, API tokens, lockout after repeated failures, CSRF."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from console.permissions import Role
from tests.conftest import make_persona

PASSWORD = "a-long-and-unusual-passphrase"


@pytest.fixture
def cora(db):
    return make_persona("cora", Role.COMMANDER, password=PASSWORD)


def test_a_commander_logs_in_and_lands_on_the_console(cora):
    client = Client()
    response = client.post("/accounts/login/", {"username": "cora", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/console/"
    assert b"Overview" in response.content


def test_logging_out_needs_a_post_and_ends_the_session(cora):
    client = Client()
    client.force_login(cora)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/console/").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failed_logins_lock_the_account_out_even_with_the_right_password(cora):
    client = Client()
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "cora", "password": "wrong"})
    assert response.status_code == 429
    locked = client.post("/accounts/login/", {"username": "cora", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failed_token_requests_lock_the_api_login_out_with_a_429(cora):
    client = APIClient()
    for _ in range(3):
        client.post("/api/v1/auth/token/", {"username": "cora", "password": "wrong"}, format="json")
    response = client.post("/api/v1/auth/token/", {"username": "cora", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert "Too many failed logins" in response.json()["detail"]


def test_an_api_token_is_issued_for_a_correct_password_and_opens_the_api(cora):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": "cora", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/me/").json()["role"] == "commander"


def test_a_wrong_password_gets_no_token_and_a_clear_error(cora):
    response = APIClient().post("/api/v1/auth/token/", {"username": "cora", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "Unable to log in" in str(response.json())


def test_an_unknown_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert client.get("/api/v1/me/").status_code == 401


def test_the_login_form_refuses_a_post_without_its_csrf_token(cora):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "cora", "password": PASSWORD})
    assert response.status_code == 403


def test_a_session_authenticated_api_change_needs_the_csrf_token(admin, viewer):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.patch(f"/api/v1/users/{viewer.pk}/", {"role": "admin"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_session_cookies_are_http_only_and_same_site(cora):
    client = Client()
    client.post("/accounts/login/", {"username": "cora", "password": PASSWORD})
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
