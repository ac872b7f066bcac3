"""Alert rules and alerts in the API: everyone in the console reads them, admins change rules, all audited."""

from __future__ import annotations

import pytest

from console.models import AuditEntry
from incidents.models import Alert, AlertRule, Component
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, VIEWER, client_for

pytestmark = pytest.mark.django_db

RULE = {"name": "Queue over 10k", "metric": "queue_depth", "threshold": 10_000, "duration_seconds": 5,
        "severity": "sev2"}  # fmt: skip


@pytest.fixture
def rule() -> AlertRule:
    return AlertRule.objects.create(name="Heartbeat stale", metric="heartbeat_age", threshold=2, severity="sev1")


def send(persona, name: str, method: str, path: str, body: dict | None = None):
    client = client_for(persona, name)
    return getattr(client, method)(path, body or {}, content_type="application/json")


@pytest.mark.parametrize(("name", "expected"), [(ANONYMOUS, 401), (OUTSIDER, 403), (VIEWER, 403), (COMMANDER, 403)])
def test_only_admins_create_change_or_delete_rules(persona, rule, name, expected):
    assert send(persona, name, "post", "/api/v1/alert-rules/", RULE).status_code == expected
    assert send(persona, name, "patch", f"/api/v1/alert-rules/{rule.pk}/", {"threshold": 3}).status_code == expected
    assert send(persona, name, "delete", f"/api/v1/alert-rules/{rule.pk}/").status_code == expected
    assert AlertRule.objects.get(pk=rule.pk).threshold == 2


def test_an_admin_creates_a_rule_on_components_and_it_is_audited(persona):
    trading = Component.objects.create(name="BTC-USD trading")
    response = send(persona, ADMIN, "post", "/api/v1/alert-rules/", {**RULE, "components": [trading.pk]})
    assert response.status_code == 201, response.content
    assert response.json()["components"] == [trading.pk]
    assert AuditEntry.objects.filter(action="alert_rule.created").count() == 1


def test_changing_a_condition_restarts_its_duration_and_is_audited_from_old_to_new(persona, rule):
    AlertRule.objects.filter(pk=rule.pk).update(pending_since="2026-11-23T10:00:00Z")
    response = send(persona, ADMIN, "patch", f"/api/v1/alert-rules/{rule.pk}/", {"threshold": 3.5})
    assert response.status_code == 200
    assert response.json()["pending_since"] is None
    entry = AuditEntry.objects.get(action="alert_rule.changed")
    assert (entry.before["threshold"], entry.after["threshold"]) == (2.0, 3.5)


@pytest.mark.parametrize(
    "body",
    [{"metric": "mood"}, {"threshold": "high"}, {"comparison": "eq"}, {"duration_seconds": -1}, {"name": ""},
     {"name": "Heartbeat stale"}, {"components": [999_999]}],
)  # fmt: skip
def test_bad_rules_are_400s_with_field_messages(persona, rule, body):
    response = send(persona, ADMIN, "post", "/api/v1/alert-rules/", {**RULE, **body})
    assert response.status_code == 400, response.content
    assert set(response.json()) == set(body)


def test_an_admin_deletes_a_rule(persona, rule):
    assert send(persona, ADMIN, "delete", f"/api/v1/alert-rules/{rule.pk}/").status_code == 204
    assert not AlertRule.objects.exists()
    assert AuditEntry.objects.filter(action="alert_rule.deleted").count() == 1


def test_viewers_read_rules_and_open_alerts(persona, rule):
    Alert.objects.create(rule=rule, value=3, peak=4)
    Alert.objects.create(rule=rule, value=5, peak=5, resolved_at="2026-11-23T10:00:00Z")
    assert [row["name"] for row in send(persona, VIEWER, "get", "/api/v1/alert-rules/").json()] == ["Heartbeat stale"]
    open_alerts = send(persona, VIEWER, "get", "/api/v1/alerts/?open=true").json()
    assert [(row["rule"], row["peak"], row["incident"]) for row in open_alerts] == [("Heartbeat stale", 4.0, None)]
    assert len(send(persona, VIEWER, "get", "/api/v1/alerts/").json()) == 2
