"""Draft incidents (opened by alert rules) change nothing customers see until a commander publishes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from console.models import AuditEntry
from incidents import services
from incidents.models import Component, ComponentStatus, Incident
from tests.console.test_role_matrix import COMMANDER, SUPPORT, VIEWER, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def draft(trading) -> Incident:
    return services.declare_incident(
        title="Engine heartbeat stale", by=None, severity=Incident.Severity.SEV1, draft=True,
        components={trading: ComponentStatus.MAJOR_OUTAGE}, source=AuditEntry.Source.SYSTEM,
    )  # fmt: skip


def test_a_draft_proposes_component_statuses_without_applying_them(draft, trading):
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.OPERATIONAL
    assert not draft.is_public()


def test_publishing_a_draft_applies_its_component_statuses_and_posts_the_first_update(draft, trading, commander):
    services.publish_draft(incident=draft, by=commander, message="We are looking into stalled order entry.")
    draft.refresh_from_db()
    trading.refresh_from_db()
    assert not draft.draft
    assert draft.is_public()
    assert trading.status == ComponentStatus.MAJOR_OUTAGE
    [update] = draft.updates.all()
    assert update.component_changes == [
        {"component": trading.name, "previous": "operational", "status": "major_outage"}
    ]
    assert "published" in [entry.kind for entry in draft.timeline.all()]
    assert AuditEntry.objects.filter(action="incident.published").count() == 1


def test_support_cannot_publish_a_draft_and_nobody_publishes_twice(draft, support, commander):
    with pytest.raises(PermissionDenied):
        services.publish_draft(incident=draft, by=support)
    services.publish_draft(incident=draft, by=commander)
    with pytest.raises(ValidationError, match="already published"):
        services.publish_draft(incident=draft, by=commander)


def test_the_api_publishes_for_commanders_only(persona, draft):
    path = f"/api/v1/incidents/{draft.code}/publish/"
    assert client_for(persona, SUPPORT).post(path, {}, content_type="application/json").status_code == 403
    response = client_for(persona, COMMANDER).post(path, {"message": ""}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["draft"] is False
    again = client_for(persona, COMMANDER).post(path, {}, content_type="application/json")
    assert again.status_code == 400
    assert "already published" in again.json()["draft"][0]


def test_the_start_moves_back_in_time_but_not_into_the_future_or_past_the_resolution(persona, draft, commander):
    earlier = draft.started_at - timedelta(minutes=7)
    services.set_started_at(incident=draft, at=earlier, by=commander)
    assert Incident.objects.get(pk=draft.pk).started_at == earlier
    with pytest.raises(ValidationError, match="future"):
        services.set_started_at(incident=draft, at=timezone.now() + timedelta(minutes=1), by=commander)
    path = f"/api/v1/incidents/{draft.code}/started/"
    refused = client_for(persona, VIEWER).post(
        path, {"started_at": earlier.isoformat()}, content_type="application/json"
    )
    assert refused.status_code == 403
    bad = client_for(persona, COMMANDER).post(path, {"started_at": "yesterday"}, content_type="application/json")
    assert bad.status_code == 400
    assert "started_at" in bad.json()


def test_visibility_changes_are_on_the_timeline(persona, draft):
    path = f"/api/v1/incidents/{draft.code}/visibility/"
    response = client_for(persona, COMMANDER).post(path, {"visibility": "internal"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["visibility"] == "internal"
    assert draft.timeline.filter(kind="visibility_changed").count() == 1
    wrong = client_for(persona, COMMANDER).post(path, {"visibility": "secret"}, content_type="application/json")
    assert wrong.status_code == 400
