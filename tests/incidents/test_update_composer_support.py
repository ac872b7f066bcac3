"""What the update composer leans on: templates with placeholders, and a preview that sanitizes."""

from __future__ import annotations

import pytest

from incidents import services
from incidents.models import Component, ComponentStatus, Incident, UpdateTemplate
from tests.console.test_role_matrix import ANONYMOUS, SUPPORT, VIEWER, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(commander) -> Incident:
    components = {
        Component.objects.create(name="BTC-USD trading"): ComponentStatus.MAJOR_OUTAGE,
        Component.objects.create(name="ETH-USD trading"): ComponentStatus.DEGRADED_PERFORMANCE,
    }
    return services.declare_incident(title="Orders time out", by=commander, components=components)


def test_a_template_is_filled_with_the_incidents_facts_and_unknown_placeholders_are_left_alone(incident):
    template = UpdateTemplate.objects.create(
        name="Custom", status="identified", body="{code}: {components} are {status}; {commander} leads. {eta}"
    )
    filled = services.fill_template(template=template, incident=incident)
    assert filled == (
        f"{incident.code}: BTC-USD trading and ETH-USD trading are identified; "
        f"{incident.commander.username} leads. {{eta}}"
    )


def test_an_incident_without_components_reads_our_services(commander):
    bare = services.declare_incident(title="Slow logins", by=commander)
    template = UpdateTemplate(name="Any", body="Problems with {components}.")
    assert services.fill_template(template=template, incident=bare) == "Problems with our services."


def test_the_migration_provides_a_template_for_every_status_an_update_moves_to():
    statuses = set(UpdateTemplate.objects.values_list("status", flat=True))
    assert {"investigating", "identified", "monitoring", "resolved"} <= statuses


def test_the_api_offers_the_templates_of_a_status_filled_in_for_an_incident(persona, incident):
    path = f"/api/v1/update-templates/?status=monitoring&incident={incident.code}"
    rows = client_for(persona, VIEWER).get(path).json()
    assert {row["status"] for row in rows} == {"monitoring", ""}
    monitoring = next(row for row in rows if row["status"] == "monitoring")
    assert "BTC-USD trading and ETH-USD trading" in monitoring["filled"]
    assert "{components}" in monitoring["body"]


@pytest.mark.parametrize(
    "payload",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
     '<a href="#" onclick="alert(1)">x</a>'],
)  # fmt: skip
def test_the_preview_renders_markdown_and_drops_anything_executable(persona, payload):
    response = client_for(persona, SUPPORT).post(
        "/api/v1/markdown/preview/", {"body": f"**Bold** {payload}"}, content_type="application/json"
    )
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<strong>Bold</strong>" in html
    for dangerous in ("<script", "onerror", "onclick", "javascript:"):
        assert dangerous not in html


@pytest.mark.parametrize(("name", "expected"), [(ANONYMOUS, 401), (VIEWER, 403)])
def test_only_people_who_write_updates_can_preview_them(persona, name, expected):
    response = client_for(persona, name).post(
        "/api/v1/markdown/preview/", {"body": "x"}, content_type="application/json"
    )
    assert response.status_code == expected
