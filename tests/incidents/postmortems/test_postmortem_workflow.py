"""Post-mortems through their services: creation from an incident, the review workflow, four eyes, publication."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from console.models import AuditEntry
from incidents import services as incident_services
from incidents.models import Incident
from incidents.postmortems import services
from incidents.postmortems.models import Postmortem, PostmortemTemplate
from tests.incidents.postmortems.conftest import approved

pytestmark = pytest.mark.django_db

DEFAULT_KEYS = [
    "summary", "customer_impact", "trigger", "root_cause", "contributing_factors", "detection", "response",
    "recovery", "went_well", "went_wrong", "lessons",
]  # fmt: skip


def test_it_starts_from_the_default_template_with_the_eleven_sections_in_order(postmortem, commander, incident):
    assert [section.key for section in postmortem.sections_in_order()] == DEFAULT_KEYS
    titles = {section.key: section.title for section in postmortem.sections.all()}
    assert titles["went_well"] == "What went well"
    assert titles["went_wrong"] == "What went wrong"
    assert postmortem.status == Postmortem.Status.DRAFT
    assert postmortem.author == commander
    assert (postmortem.window_start, postmortem.window_end) == (incident.started_at, incident.resolved_at)


def test_it_copies_the_incidents_timeline_with_links_to_the_entries(postmortem, incident):
    copied = list(postmortem.timeline.all())
    originals = list(incident.timeline.exclude(kind__startswith="postmortem_"))
    assert [entry.source_id for entry in copied] == [entry.pk for entry in originals]
    assert [entry.summary for entry in copied] == [entry.summary for entry in originals]
    assert "note" in [entry.kind for entry in copied]


def test_it_records_its_creation_on_the_incident_timeline_and_the_audit_log(postmortem, incident):
    assert incident.timeline.filter(kind="postmortem_created").count() == 1
    assert AuditEntry.objects.filter(action="postmortem.created", target_id=str(postmortem.pk)).exists()


def test_an_incident_still_open_gets_no_post_mortem(commander):
    open_incident = incident_services.declare_incident(title="Deposits slow", by=commander)
    with pytest.raises(ValidationError, match="a post-mortem starts once the incident is resolved"):
        services.create_postmortem(incident=open_incident, by=commander)


def test_an_incident_gets_one_post_mortem_only(postmortem, incident, commander):
    with pytest.raises(ValidationError, match="already has a post-mortem"):
        services.create_postmortem(incident=incident, by=commander)


def test_a_new_default_template_takes_the_role_from_the_old_one(postmortem):
    PostmortemTemplate.objects.create(name="Short", sections=[{"key": "summary", "title": "Summary"}], is_default=True)
    assert list(PostmortemTemplate.objects.filter(is_default=True).values_list("name", flat=True)) == ["Short"]


def test_without_any_template_the_standard_one_is_made_again(incident, commander):
    PostmortemTemplate.objects.all().delete()
    postmortem = services.create_postmortem(incident=incident, by=commander)
    assert [section.key for section in postmortem.sections_in_order()] == DEFAULT_KEYS
    assert PostmortemTemplate.objects.get().is_default


def test_a_template_needs_sections_with_distinct_keys_and_titles():
    for sections in ([], [{"key": "a"}], [{"key": "a", "title": "A"}, {"key": "a", "title": "B"}]):
        with pytest.raises(ValidationError):
            PostmortemTemplate(name="Bad", sections=sections).clean()


@pytest.mark.parametrize("name", ["viewer", "support", "outsider"])
def test_only_commanders_create_and_write_post_mortems(request, incident, postmortem, name):
    user = request.getfixturevalue(name)
    with pytest.raises(PermissionDenied):
        services.edit_section(postmortem=postmortem, key="summary", body="x", by=user)
    with pytest.raises(PermissionDenied):
        services.submit_for_review(postmortem=postmortem, by=user)
    with pytest.raises(PermissionDenied):
        services.add_action_item(postmortem=postmortem, title="x", by=user)


def test_it_goes_from_draft_to_review_to_approved_to_published(postmortem, commander, reviewer, incident):
    # given a written post-mortem with a public summary
    services.edit_section(postmortem=postmortem, key="summary", body="A slow disk.", by=commander)
    services.set_public_summary(postmortem=postmortem, body="Orders were **slow** for 40 minutes.", by=commander)
    # when it is submitted, approved by another commander and published
    services.submit_for_review(postmortem=postmortem, by=commander)
    assert postmortem.status == Postmortem.Status.IN_REVIEW
    assert postmortem.submitted_at is not None
    services.approve(postmortem=postmortem, by=reviewer)
    assert (postmortem.status, postmortem.approved_by) == (Postmortem.Status.APPROVED, reviewer)
    services.publish(postmortem=postmortem, by=commander)
    # then it is published and the incident has reached post-mortem
    postmortem.refresh_from_db()
    incident.refresh_from_db()
    assert postmortem.status == Postmortem.Status.PUBLISHED
    assert postmortem.published_at is not None
    assert postmortem.public_summary_html == "<p>Orders were <strong>slow</strong> for 40 minutes.</p>"
    assert incident.status == Incident.Status.POSTMORTEM
    kinds = list(incident.timeline.values_list("kind", flat=True))
    steps = [kind for kind in kinds if kind.startswith("postmortem_")]
    assert steps == ["postmortem_created", "postmortem_submitted", "postmortem_approved", "postmortem_published"]
    assert kinds[-2:] == ["status_changed", "postmortem_published"]
    actions = set(AuditEntry.objects.filter(target_id=str(postmortem.pk)).values_list("action", flat=True))
    assert {"postmortem.submitted", "postmortem.approved", "postmortem.published"} <= actions


def test_its_author_may_not_approve_it_but_another_commander_may(postmortem, commander, reviewer):
    services.submit_for_review(postmortem=postmortem, by=commander)
    with pytest.raises(PermissionDenied, match="another commander must approve it"):
        services.approve(postmortem=postmortem, by=commander)
    assert Postmortem.objects.get(pk=postmortem.pk).status == Postmortem.Status.IN_REVIEW
    services.approve(postmortem=postmortem, by=reviewer)
    assert Postmortem.objects.get(pk=postmortem.pk).status == Postmortem.Status.APPROVED


def test_support_may_not_approve_even_what_it_did_not_write(postmortem, commander, support):
    services.submit_for_review(postmortem=postmortem, by=commander)
    with pytest.raises(PermissionDenied):
        services.approve(postmortem=postmortem, by=support)


def test_a_draft_cannot_be_approved_or_published(postmortem, commander, reviewer):
    with pytest.raises(ValidationError, match="Only a post-mortem in review can be approved; this one is draft"):
        services.approve(postmortem=postmortem, by=reviewer)
    with pytest.raises(ValidationError, match="Only a post-mortem approved can be published"):
        services.publish(postmortem=postmortem, by=commander)
    assert Incident.objects.get(pk=postmortem.incident_id).status == Incident.Status.RESOLVED


def test_it_is_not_published_without_a_public_summary(postmortem, commander, reviewer):
    approved(postmortem, author=commander, reviewer=reviewer, summary="   ")
    with pytest.raises(ValidationError) as refused:
        services.publish(postmortem=postmortem, by=commander)
    assert "public_summary" in refused.value.message_dict
    assert Postmortem.objects.get(pk=postmortem.pk).status == Postmortem.Status.APPROVED


def test_it_is_not_published_when_the_incident_was_reopened(postmortem, commander, reviewer, incident):
    approved(postmortem, author=commander, reviewer=reviewer)
    incident_services.post_update(incident=incident, body="It is back.", by=commander, status="investigating")
    postmortem.incident.refresh_from_db()
    with pytest.raises(ValidationError, match="cannot go from investigating to postmortem"):
        services.publish(postmortem=postmortem, by=commander)


def test_changes_requested_send_it_back_to_draft_with_the_comment(postmortem, commander, reviewer):
    services.submit_for_review(postmortem=postmortem, by=commander)
    with pytest.raises(ValidationError, match="Say what needs changing"):
        services.request_changes(postmortem=postmortem, comment=" ", by=reviewer)
    services.request_changes(postmortem=postmortem, comment="Root cause is thin.", by=reviewer)
    postmortem.refresh_from_db()
    assert (postmortem.status, postmortem.review_comment) == (Postmortem.Status.DRAFT, "Root cause is thin.")
    assert postmortem.incident.timeline.filter(kind="postmortem_changes_requested").exists()


def test_an_edit_in_review_sends_it_back_to_draft(postmortem, commander):
    services.submit_for_review(postmortem=postmortem, by=commander)
    services.edit_section(postmortem=postmortem, key="root_cause", body="A full disk.", by=commander)
    assert Postmortem.objects.get(pk=postmortem.pk).status == Postmortem.Status.DRAFT


def test_an_approved_post_mortem_is_locked_until_changes_are_requested(postmortem, commander, reviewer):
    approved(postmortem, author=commander, reviewer=reviewer)
    with pytest.raises(ValidationError, match="it cannot be edited"):
        services.edit_section(postmortem=postmortem, key="summary", body="late edit", by=commander)
    services.request_changes(postmortem=postmortem, comment="One more thing.", by=reviewer)
    services.edit_section(postmortem=postmortem, key="summary", body="late edit", by=commander)
    assert postmortem.sections.get(key="summary").body == "late edit"
    assert Postmortem.objects.get(pk=postmortem.pk).approved_by is None


def test_an_unknown_section_is_refused_with_the_known_keys(postmortem, commander):
    with pytest.raises(ValidationError, match=r"No section 'epilogue'.*summary, customer_impact"):
        services.edit_section(postmortem=postmortem, key="epilogue", body="x", by=commander)


def test_the_window_must_end_after_it_starts(postmortem, commander):
    with pytest.raises(ValidationError, match="must end after it starts"):
        services.set_window(postmortem=postmortem, start=postmortem.window_end, end=postmortem.window_start,
                            by=commander)  # fmt: skip
    later = postmortem.window_end + timedelta(minutes=10)
    services.set_window(postmortem=postmortem, start=postmortem.window_start, end=later, by=commander)
    assert Postmortem.objects.get(pk=postmortem.pk).window_end == later


def test_the_timeline_copy_is_edited_without_touching_the_incidents(postmortem, commander, incident):
    first = postmortem.timeline.first()
    services.edit_timeline_entry(entry=first, summary="Declared by the on-call commander", by=commander)
    added = services.add_timeline_entry(postmortem=postmortem, at=first.at - timedelta(minutes=3), kind="trigger",
                                        summary="Disk reached 100%", by=commander)  # fmt: skip
    assert postmortem.timeline.first() == added
    assert incident.timeline.get(pk=first.source_id).summary != "Declared by the on-call commander"
    with pytest.raises(ValidationError, match="Say what happened"):
        services.add_timeline_entry(postmortem=postmortem, at=first.at, kind="note", summary=" ", by=commander)


def test_a_refresh_adds_new_incident_entries_but_not_removed_ones(postmortem, commander, incident):
    removed = postmortem.timeline.get(kind="note")
    services.remove_timeline_entry(entry=removed, by=commander)
    incident_services.add_note(incident=incident, body="Vendor confirmed the disk fault.", by=commander)
    assert services.refresh_timeline(postmortem=postmortem, by=commander) == 1
    summaries = list(postmortem.timeline.values_list("summary", flat=True))
    assert "Vendor confirmed the disk fault." in summaries
    assert "Database team paged." not in summaries
    assert services.refresh_timeline(postmortem=postmortem, by=commander) == 0


def test_a_step_taken_on_a_stale_copy_is_refused(postmortem, commander):
    stale = Postmortem.objects.get(pk=postmortem.pk)
    services.submit_for_review(postmortem=postmortem, by=commander)
    with pytest.raises(ValidationError, match="Someone changed this post-mortem meanwhile"):
        services.submit_for_review(postmortem=stale, by=commander)
