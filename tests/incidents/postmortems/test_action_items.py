"""Action items: who changes what, their life from open to done, and the overdue reminder sent once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from console.models import AuditEntry
from incidents.postmortems import services
from incidents.postmortems.models import ActionItem
from incidents.postmortems.tasks import send_action_item_reminders_task

pytestmark = pytest.mark.django_db

TODAY = date(2026, 5, 20)


@pytest.fixture
def owner(viewer):
    viewer.email = "vera@example.com"
    viewer.save(update_fields=["email"])
    return viewer


def item(postmortem, commander, owner, *, due_on: date | None, **extra) -> ActionItem:
    return services.add_action_item(postmortem=postmortem, title="Alert on disk at 80%", owner=owner, due_on=due_on,
                                    by=commander, **extra)  # fmt: skip


def test_an_overdue_items_owner_is_reminded_once(postmortem, commander, owner):
    overdue = item(postmortem, commander, owner, due_on=TODAY - timedelta(days=2), link="https://t.example/OPS-7")
    assert services.send_overdue_reminders(today=TODAY) == 1
    assert services.send_overdue_reminders(today=TODAY) == 0
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["vera@example.com"]
    assert sent.subject == f"Overdue action item from {postmortem.incident.code}: Alert on disk at 80%"
    assert "2 days ago" in sent.body
    assert "https://t.example/OPS-7" in sent.body
    assert sent.alternatives[0][1] == "text/html"
    assert "<strong>" + postmortem.incident.code + "</strong>" in sent.alternatives[0][0]
    overdue.refresh_from_db()
    assert overdue.reminded_at is not None
    assert AuditEntry.objects.filter(action="postmortem.action_item_reminded", target_id=str(overdue.pk)).exists()


def test_no_reminder_for_items_done_or_not_yet_due(postmortem, commander, owner):
    done = item(postmortem, commander, owner, due_on=TODAY - timedelta(days=5))
    services.update_action_item(item=done, status=ActionItem.Status.DONE, by=commander)
    item(postmortem, commander, owner, due_on=TODAY)  # due today: not overdue yet
    item(postmortem, commander, owner, due_on=TODAY + timedelta(days=3))
    item(postmortem, commander, owner, due_on=None)
    assert services.send_overdue_reminders(today=TODAY) == 0
    assert mail.outbox == []


def test_owners_without_an_email_address_are_skipped(postmortem, commander, support):
    item(postmortem, commander, support, due_on=TODAY - timedelta(days=1))
    item(postmortem, commander, None, due_on=TODAY - timedelta(days=1))
    assert services.send_overdue_reminders(today=TODAY) == 0


def test_a_new_due_date_earns_a_new_reminder(postmortem, commander, owner):
    late = item(postmortem, commander, owner, due_on=TODAY - timedelta(days=1))
    services.send_overdue_reminders(today=TODAY)
    services.update_action_item(item=late, due_on=TODAY + timedelta(days=7), by=commander)
    assert services.send_overdue_reminders(today=TODAY + timedelta(days=8)) == 1
    assert len(mail.outbox) == 2


def test_the_beat_task_sends_the_reminders(postmortem, commander, owner):
    item(postmortem, commander, owner, due_on=date.today() - timedelta(days=3))
    assert send_action_item_reminders_task() == 1
    assert len(mail.outbox) == 1


def test_overdue_items_are_open_items_past_their_due_date(postmortem, commander, owner):
    late = item(postmortem, commander, owner, due_on=TODAY - timedelta(days=1))
    item(postmortem, commander, owner, due_on=TODAY)
    assert list(services.overdue_action_items(TODAY)) == [late]
    assert late.is_overdue(TODAY)
    assert not late.is_overdue(TODAY - timedelta(days=1))


def test_closing_stamps_completion_and_reopening_clears_it(postmortem, commander, owner):
    work = item(postmortem, commander, owner, due_on=None)
    services.update_action_item(item=work, status=ActionItem.Status.WONT_DO, by=commander)
    assert work.completed_at is not None
    assert not work.is_open()
    services.update_action_item(item=work, status=ActionItem.Status.IN_PROGRESS, by=commander)
    assert work.completed_at is None
    assert work.is_open()


def test_its_owner_changes_its_status_but_nothing_else(postmortem, commander, owner):
    work = item(postmortem, commander, owner, due_on=None)
    services.update_action_item(item=work, status=ActionItem.Status.DONE, by=owner)
    assert ActionItem.objects.get(pk=work.pk).status == ActionItem.Status.DONE
    with pytest.raises(PermissionDenied, match="a commander changes the rest"):
        services.update_action_item(item=work, due_on=TODAY, by=owner)
    # the whole form sent back, with only the status changed, is the owner's to send
    services.update_action_item(item=work, status=ActionItem.Status.OPEN, owner=owner, due_on=None, priority="p3",
                                link="", by=owner)  # fmt: skip
    assert ActionItem.objects.get(pk=work.pk).status == ActionItem.Status.OPEN


def test_others_below_commander_change_nothing(postmortem, commander, owner, support):
    work = item(postmortem, commander, owner, due_on=None)
    with pytest.raises(PermissionDenied):
        services.update_action_item(item=work, status=ActionItem.Status.DONE, by=support)


def test_bad_fields_are_refused_with_messages(postmortem, commander, outsider):
    with pytest.raises(ValidationError, match="Say what needs doing"):
        services.add_action_item(postmortem=postmortem, title="  ", by=commander)
    with pytest.raises(ValidationError) as bad_link:
        services.add_action_item(postmortem=postmortem, title="x", link="javascript:alert(1)", by=commander)
    assert "link" in bad_link.value.message_dict
    with pytest.raises(ValidationError) as bad_priority:
        services.add_action_item(postmortem=postmortem, title="x", priority="p9", by=commander)
    assert "priority" in bad_priority.value.message_dict
    with pytest.raises(ValidationError, match="has no console role"):
        services.add_action_item(postmortem=postmortem, title="x", owner=outsider, by=commander)
