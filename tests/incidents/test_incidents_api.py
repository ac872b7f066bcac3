"""The incidents API: who may do what, the moves it refuses with a reason, and never a 500."""

from __future__ import annotations

import pytest

from incidents.models import Component, Incident
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


def post(persona, name: str, path: str, body: dict):
    return client_for(persona, name).post(path, body, content_type="application/json")


@pytest.fixture
def code(persona, trading) -> str:
    body = {"title": "Orders time out", "severity": "sev2", "message": "Investigating.",
            "components": {str(trading.pk): "major_outage"}}  # fmt: skip
    response = post(persona, COMMANDER, "/api/v1/incidents/", body)
    assert response.status_code == 201, response.content
    return response.json()["code"]


@pytest.mark.parametrize(("name", "expected"), [(ANONYMOUS, 401), (OUTSIDER, 403), (VIEWER, 403), (SUPPORT, 403)])
def test_only_commanders_declare_incidents(persona, name, expected):
    assert post(persona, name, "/api/v1/incidents/", {"title": "x"}).status_code == expected


def test_a_declared_incident_comes_back_with_its_components_impact_and_first_update(persona, code, trading):
    body = client_for(persona, VIEWER).get(f"/api/v1/incidents/{code}/").json()
    assert body["status"] == "investigating"
    assert body["impact"] == "critical"
    assert body["affected"] == [{"id": trading.pk, "name": "BTC-USD trading", "status": "major_outage"}]
    assert body["updates"][0]["body_html"] == "<p>Investigating.</p>"
    assert body["commander"] == persona(COMMANDER).username
    listed = client_for(persona, VIEWER).get("/api/v1/incidents/?open=true").json()
    assert [row["code"] for row in listed] == [code]


def test_support_posts_updates_and_notes_but_a_status_move_is_a_403(persona, code):
    assert post(persona, SUPPORT, f"/api/v1/incidents/{code}/updates/", {"body": "Still on it."}).status_code == 201
    assert post(persona, SUPPORT, f"/api/v1/incidents/{code}/notes/", {"body": "DB team paged."}).status_code == 201
    moved = post(persona, SUPPORT, f"/api/v1/incidents/{code}/updates/", {"body": "Fixed", "status": "resolved"})
    assert moved.status_code == 403
    assert post(persona, VIEWER, f"/api/v1/incidents/{code}/notes/", {"body": "hi"}).status_code == 403


def test_an_illegal_move_is_a_400_that_says_what_is_allowed(persona, code):
    assert post(persona, COMMANDER, f"/api/v1/incidents/{code}/updates/",
                {"body": "Done.", "status": "resolved"}).status_code == 201  # fmt: skip
    response = post(persona, COMMANDER, f"/api/v1/incidents/{code}/updates/", {"body": "?", "status": "monitoring"})
    assert response.status_code == 400
    assert "cannot go from resolved to monitoring" in response.json()["status"][0]
    assert Incident.objects.get(code=code).status == "resolved"


@pytest.mark.parametrize(
    "body",
    [{}, {"body": ""}, {"body": "x", "status": "exploded"}, {"body": "x", "components": {"999999": "major_outage"}},
     {"body": "x", "components": {"abc": "major_outage"}}, {"body": "x", "components": "all"}],
)  # fmt: skip
def test_bad_update_input_is_a_400_with_field_errors(persona, code, body):
    response = post(persona, COMMANDER, f"/api/v1/incidents/{code}/updates/", body)
    assert response.status_code == 400
    assert response.json()


def test_severity_and_roles_change_through_the_api_and_land_on_the_timeline(persona, code):
    severity = post(persona, COMMANDER, f"/api/v1/incidents/{code}/severity/", {"severity": "sev1"})
    assert severity.json()["severity"] == "sev1"
    lead = persona(SUPPORT).username
    roles = f"/api/v1/incidents/{code}/roles/"
    answer = post(persona, COMMANDER, roles, {"role": "communications_lead", "username": lead})
    assert answer.json()["communications_lead"] == lead
    unknown = post(persona, COMMANDER, f"/api/v1/incidents/{code}/roles/", {"role": "commander", "username": "ghost"})
    assert unknown.status_code == 400
    viewer_lead = post(persona, COMMANDER, f"/api/v1/incidents/{code}/roles/",
                       {"role": "commander", "username": persona(VIEWER).username})  # fmt: skip
    assert viewer_lead.status_code == 400
    kinds = [entry["kind"] for entry in client_for(persona, VIEWER).get(f"/api/v1/incidents/{code}/timeline/").json()]
    assert kinds[-2:] == ["severity_changed", "role_changed"]
    notes = client_for(persona, VIEWER).get(f"/api/v1/incidents/{code}/timeline/?kind=update").json()
    assert [entry["kind"] for entry in notes] == ["update"]


def test_the_timeline_downloads_as_markdown(persona, code):
    response = client_for(persona, VIEWER).get(f"/api/v1/incidents/{code}/timeline.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response.content.decode().startswith(f"# {code}: Orders time out")


def test_an_unknown_incident_is_a_404(persona):
    assert client_for(persona, ADMIN).get("/api/v1/incidents/INC-1999-0001/").status_code == 404


def test_components_are_listed_for_console_users(persona, trading):
    assert client_for(persona, ANONYMOUS).get("/api/v1/components/").status_code == 401
    assert client_for(persona, VIEWER).get("/api/v1/components/").json()[0]["name"] == "BTC-USD trading"
