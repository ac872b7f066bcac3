"""Every public change is announced once, after commit; drafts, internal incidents and notes never are."""

from __future__ import annotations

import pytest
from django.db import transaction

from incidents import publishing, services
from incidents.models import Component, ComponentStatus, Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    changes: list[publishing.Change] = []
    listener = publishing.listen(changes.append)
    yield changes
    publishing.forget(listener)


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


def test_a_public_incident_is_announced_through_its_life(heard, commander, trading, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.declare_incident(title="Orders time out", by=commander, message="Investigating.",
                                             components={trading: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
        services.add_note(incident=incident, body="Paged the DB team.", by=commander)
        services.change_severity(incident=incident, to=Incident.Severity.SEV1, by=commander)
        services.post_update(incident=incident, body="Fix deployed.", status=Incident.Status.MONITORING, by=commander)
        services.post_update(incident=incident, body="Resolved.", status=Incident.Status.RESOLVED, by=commander,
                             components={trading: ComponentStatus.OPERATIONAL})  # fmt: skip
    assert [change.kind for change in heard] == [
        "component_changed", "incident_created", "incident_updated", "component_changed", "incident_resolved",
    ]  # fmt: skip
    assert {change.incident_id for change in heard if change.incident_id} == {incident.pk}


def test_drafts_and_internal_incidents_are_not_announced_until_public(heard, commander, trading,
                                                                      django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        draft = services.declare_incident(title="Heartbeat stale", by=None, draft=True,
                                          components={trading: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
        internal = services.declare_incident(title="Disk filling", by=commander,
                                             visibility=Incident.Visibility.INTERNAL)  # fmt: skip
        services.post_update(incident=internal, body="Cleaning up.", by=commander)
    assert heard == []
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_draft(incident=draft, by=commander)
    assert [change.kind for change in heard] == ["component_changed", "incident_created"]


def test_nothing_is_announced_when_the_transaction_rolls_back(heard, commander, django_capture_on_commit_callbacks):
    def declare_then_fail() -> None:
        with transaction.atomic():
            services.declare_incident(title="Never happened", by=commander, message="x")
            raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        declare_then_fail()
    assert heard == []


def test_a_failing_listener_does_not_silence_the_others(heard, commander, django_capture_on_commit_callbacks):
    def broken(change):
        raise ValueError("listener bug")

    publishing.listen(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.declare_incident(title="Orders time out", by=commander)
    finally:
        publishing.forget(broken)
    assert [change.kind for change in heard] == ["incident_created"]
