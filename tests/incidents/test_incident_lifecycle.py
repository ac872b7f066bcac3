"""Incidents through their lifecycle: the moves table, timestamps, roles, components, the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from console.models import AuditEntry
from incidents import lifecycle, services, timeline
from incidents.models import Component, ComponentStatus, ComponentStatusChange, Incident

pytestmark = pytest.mark.django_db
Status = Incident.Status


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def incident(commander, trading) -> Incident:
    return services.declare_incident(
        title="Orders to BTC-USD time out", by=commander, severity=Incident.Severity.SEV2,
        components={trading: ComponentStatus.PARTIAL_OUTAGE}, message="We are **investigating** timeouts.",
    )  # fmt: skip


def test_declaring_an_incident_gives_it_a_code_a_commander_components_and_a_first_update(incident, commander):
    year = timezone.now().year
    assert incident.code == f"INC-{year}-0001"
    assert incident.status == Status.INVESTIGATING
    assert incident.commander == commander
    assert incident.impact == Incident.Impact.MAJOR  # derived from the partial outage
    [update] = incident.updates.all()
    assert update.body_html == "<p>We are <strong>investigating</strong> timeouts.</p>"
    assert [entry.kind for entry in incident.timeline.all()] == ["declared", "component_changed", "update"]
    assert AuditEntry.objects.filter(action="incident.declared").count() == 1


def test_codes_count_up_within_a_year(commander):
    first = services.declare_incident(title="one", by=commander)
    second = services.declare_incident(title="two", by=commander)
    assert int(second.code[-4:]) == int(first.code[-4:]) + 1


def test_every_allowed_move_is_accepted_and_every_other_is_a_validation_error_naming_the_way(incident):
    for current, allowed in lifecycle.MOVES.items():
        for target in Status.values:
            incident.status = current
            if target in allowed and target != Status.POSTMORTEM:
                lifecycle.check_move(incident, target)
            elif target != current:
                with pytest.raises(ValidationError):
                    lifecycle.check_move(incident, target)


def test_an_illegal_move_says_what_is_allowed(incident, commander):
    services.post_update(incident=incident, body="Fixed.", by=commander, status=Status.RESOLVED)
    with pytest.raises(lifecycle.IllegalMove) as error:
        services.post_update(incident=incident, body="Watching.", by=commander, status=Status.MONITORING)
    assert "cannot go from resolved to monitoring" in str(error.value)
    assert "investigating" in str(error.value)


def test_post_mortem_status_is_reached_only_by_publishing_a_post_mortem(incident, commander):
    services.post_update(incident=incident, body="Fixed.", by=commander, status=Status.RESOLVED)
    with pytest.raises(lifecycle.IllegalMove, match="published"):
        lifecycle.check_move(incident, Status.POSTMORTEM)
    lifecycle.check_move(incident, Status.POSTMORTEM, via_postmortem=True)


def test_moves_stamp_acknowledged_mitigated_and_resolved_once_and_mtta_mttr_follow(incident, commander):
    incident.started_at = incident.detected_at - timedelta(minutes=10)
    incident.save()
    services.post_update(incident=incident, body="Found it.", by=commander, status=Status.IDENTIFIED)
    acknowledged = incident.acknowledged_at
    services.post_update(incident=incident, body="Fix deployed.", by=commander, status=Status.MONITORING)
    services.post_update(incident=incident, body="All good.", by=commander, status=Status.RESOLVED)
    incident.refresh_from_db()
    assert incident.acknowledged_at == acknowledged
    assert incident.mitigated_at is not None
    assert incident.time_to_acknowledge() == acknowledged - incident.detected_at
    assert incident.time_to_resolve() >= timedelta(minutes=10)
    assert not incident.is_open()


def test_resolving_straight_away_stamps_everything_and_reopening_clears_resolved(incident, commander):
    services.post_update(incident=incident, body="It was a blip.", by=commander, status=Status.RESOLVED)
    assert None not in (incident.acknowledged_at, incident.mitigated_at, incident.resolved_at)
    services.post_update(incident=incident, body="It is back.", by=commander, status=Status.INVESTIGATING)
    assert incident.resolved_at is None
    assert incident.is_open()


def test_a_status_update_carries_old_and_new_status_and_component_changes(incident, commander, trading):
    update = services.post_update(
        incident=incident, body="Recovering.", by=commander, status=Status.MONITORING,
        components={trading: ComponentStatus.DEGRADED_PERFORMANCE},
    )  # fmt: skip
    assert (update.previous_status, update.status) == (Status.INVESTIGATING, Status.MONITORING)
    assert update.component_changes == [
        {"component": "BTC-USD trading", "previous": "partial_outage", "status": "degraded_performance"}
    ]
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.DEGRADED_PERFORMANCE
    history = ComponentStatusChange.objects.filter(component=trading).values_list("previous", "status")
    assert list(history) == [("operational", "partial_outage"), ("partial_outage", "degraded_performance")]


def test_support_posts_updates_and_notes_but_cannot_change_status_severity_or_roles(incident, support, commander):
    services.post_update(incident=incident, body="Still looking.", by=support)
    services.add_note(incident=incident, body="Paged the DB team.", by=support)
    with pytest.raises(PermissionDenied):
        services.post_update(incident=incident, body="Done.", by=support, status=Status.RESOLVED)
    with pytest.raises(PermissionDenied):
        services.change_severity(incident=incident, to=Incident.Severity.SEV1, by=support)
    with pytest.raises(PermissionDenied):
        services.assign_role(incident=incident, role="commander", user=support, by=support)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING


def test_viewers_post_nothing(incident, viewer):
    with pytest.raises(PermissionDenied):
        services.post_update(incident=incident, body="hello", by=viewer)
    with pytest.raises(PermissionDenied):
        services.add_note(incident=incident, body="hello", by=viewer)


def test_internal_notes_stay_internal(incident, support):
    note = services.add_note(incident=incident, body="Customer X is <b>angry</b>", by=support)
    assert note.internal
    assert note.body_html == "<p>Customer X is angry</p>"  # raw HTML tags are dropped, the text kept


def test_update_markdown_is_sanitized(incident, commander):
    body = 'Look <script>alert(1)</script>[here](javascript:alert(1)) <img src=x onerror="alert(1)">'
    update = services.post_update(incident=incident, body=body, by=commander)
    assert "<script" not in update.body_html
    assert "javascript:" not in update.body_html
    assert "onerror" not in update.body_html


def test_role_and_severity_changes_are_on_the_timeline_and_audited(incident, commander, support):
    services.assign_role(incident=incident, role="communications_lead", user=support, by=commander)
    services.change_severity(incident=incident, to=Incident.Severity.SEV1, by=commander)
    kinds = [entry.kind for entry in incident.timeline.all()]
    assert kinds[-2:] == ["role_changed", "severity_changed"]
    assert incident.communications_lead == support
    entry = AuditEntry.objects.get(action="incident.role_changed")
    assert entry.after == {"communications_lead": support.username}


def test_a_role_goes_only_to_someone_who_may_run_an_incident(incident, commander, viewer):
    with pytest.raises(ValidationError):
        services.assign_role(incident=incident, role="commander", user=viewer, by=commander)


def test_an_incident_cannot_start_in_the_future(commander):
    with pytest.raises(ValidationError):
        services.declare_incident(title="later", by=commander, started_at=timezone.now() + timedelta(hours=1))


def test_the_system_may_open_a_draft_for_a_person_to_publish(trading):
    draft = services.declare_incident(title="p99 latency high", by=None, draft=True,
                                      components={trading: ComponentStatus.DEGRADED_PERFORMANCE})  # fmt: skip
    assert draft.draft
    assert not draft.is_public()
    assert draft.commander is None
    assert draft.timeline.first().actor_name == "system"


def test_the_timeline_exports_as_markdown(incident):
    text = timeline.as_markdown(incident)
    assert text.startswith(f"# {incident.code}: Orders to BTC-USD time out\n")
    assert "(declared, " in text
    assert text.count("\n- **") == 3


def test_an_admin_changing_a_component_status_leaves_it_in_the_history(admin, trading):
    from django.test import Client

    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/admin/incidents/component/{trading.pk}/change/",
        {"name": trading.name, "description": "", "position": 0, "status": ComponentStatus.MAJOR_OUTAGE},
    )
    assert response.status_code == 302, response.content[:2000]
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.MAJOR_OUTAGE
    [change] = ComponentStatusChange.objects.filter(component=trading)
    assert (change.previous, change.status, change.actor) == ("operational", "major_outage", admin)
    entry = AuditEntry.objects.get(action="admin.change", target_type="incidents.component")
    assert (entry.before["status"], entry.after["status"]) == ("operational", "major_outage")


def test_a_blank_first_message_declares_the_incident_without_an_update(commander):
    incident = services.declare_incident(title="Quiet start", by=commander, message="   \n  ")
    assert not incident.updates.exists()
