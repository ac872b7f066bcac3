"""What people do to post-mortems and action items: every change goes through here, onto the audit log.

Who may do what is checked here, so the console pages, the API and tasks cannot disagree:
commanders write post-mortems and their action items; a commander who did not write a
post-mortem approves it; an action item's owner may move its status. The workflow is
draft -> in review -> approved -> published; an edit made in review, or a request for
changes, sends it back to draft. Workflow steps also go onto the incident's timeline.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Max, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from console import audit
from console.models import AuditEntry
from console.permissions import Capability, can
from incidents import lifecycle, publishing, timeline
from incidents.markdown import render
from incidents.models import Incident
from incidents.postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemSection,
    PostmortemTemplate,
    PostmortemTimelineEntry,
)
from incidents.services import person

logger = logging.getLogger(__name__)

CONSOLE = AuditEntry.Source.CONSOLE
Status = Postmortem.Status
# The incident timeline entries this module writes: not copied back into the post-mortem's timeline.
KIND_PREFIX = "postmortem_"
ACTION_ITEM_FIELDS = frozenset({"title", "owner", "due_on", "priority", "status", "link"})
CLOSED_STATUSES = (ActionItem.Status.DONE, ActionItem.Status.WONT_DO)


def _require(user: Any, capability: Capability) -> None:
    if user is not None and not can(user, capability):  # None: the system itself (beat, data loads)
        raise PermissionDenied(f"Your role may not {capability.label.lower()}.")


def _require_editable(postmortem: Postmortem) -> None:
    if not postmortem.is_editable():
        state = postmortem.get_status_display().lower()
        how = "ask a commander to request changes first" if postmortem.status == Status.APPROVED else "it is final"
        raise ValidationError({"status": [f"This post-mortem is {state}: it cannot be edited ({how})."]})


def _log(postmortem: Postmortem, what: str, by: Any, **detail: Any) -> None:
    """Put a workflow step on the incident's timeline."""
    summary = f"post-mortem {what.replace('_', ' ')}"
    timeline.log(incident=postmortem.incident, kind=f"{KIND_PREFIX}{what}", actor=by, summary=summary,
                 detail={"postmortem": postmortem.pk, **detail})  # fmt: skip


def _edited(postmortem: Postmortem, by: Any) -> None:
    """Stamp an edit; an edit made in review sends the post-mortem back to draft, for a fresh review."""
    fields = ["updated_at"]
    postmortem.updated_at = timezone.now()
    if postmortem.status == Status.IN_REVIEW:
        postmortem.status = Status.DRAFT
        fields.append("status")
        _log(postmortem, "back_to_draft", by, reason="edited in review")
    postmortem.save(update_fields=fields)


# -- creating and writing -------------------------------------------------------------------


@transaction.atomic
def create_postmortem(*, incident: Incident, by: Any, source: str = CONSOLE) -> Postmortem:
    """Start the post-mortem of a resolved incident: sections from the default template, its timeline copied."""
    _require(by, Capability.RUN_POSTMORTEMS)
    template = _template_for(incident)
    postmortem = Postmortem.objects.create(
        incident=incident, author=person(by), window_start=incident.started_at,
        window_end=incident.resolved_at or timezone.now(),
    )  # fmt: skip
    PostmortemSection.objects.bulk_create(
        PostmortemSection(postmortem=postmortem, key=section["key"], title=section["title"],
                          guidance=section.get("guidance", ""), position=number)
        for number, section in enumerate(template.sections)
    )  # fmt: skip
    copied = _copy_incident_timeline(postmortem)
    _log(postmortem, "created", by, template=template.name)
    audit.record(actor=by, action="postmortem.created", target=postmortem, source=source,
                 after={"template": template.name, "timeline_entries": copied})  # fmt: skip
    return postmortem


def _template_for(incident: Incident) -> PostmortemTemplate:
    """The template a post-mortem of `incident` starts from; refuse an open incident or a second post-mortem."""
    if incident.status != Incident.Status.RESOLVED:
        state = incident.get_status_display().lower()
        reason = f"{incident.code} is {state}: a post-mortem starts once the incident is resolved."
        raise ValidationError({"incident": [reason]})
    if Postmortem.objects.filter(incident=incident).exists():
        raise ValidationError({"incident": [f"{incident.code} already has a post-mortem."]})
    return PostmortemTemplate.default()


def _copy_incident_timeline(postmortem: Postmortem) -> int:
    """Copy the incident's timeline entries not copied before; return how many were."""
    entries = postmortem.incident.timeline.filter(pk__gt=postmortem.timeline_copied_through)
    latest = entries.aggregate(latest=Max("pk"))["latest"]
    if latest is None:
        return 0
    copies = PostmortemTimelineEntry.objects.bulk_create(
        PostmortemTimelineEntry(postmortem=postmortem, at=entry.at, kind=entry.kind, actor_name=entry.actor_name,
                                summary=entry.summary, source=entry)
        for entry in entries.exclude(kind__startswith=KIND_PREFIX)
    )  # fmt: skip
    postmortem.timeline_copied_through = latest
    postmortem.save(update_fields=["timeline_copied_through"])
    return len(copies)


@transaction.atomic
def edit_section(*, postmortem: Postmortem, key: str, body: str, by: Any, source: str = CONSOLE) -> PostmortemSection:
    """Write one section's Markdown."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    section = postmortem.sections.filter(key=key).first()
    if section is None:
        keys = ", ".join(postmortem.sections.values_list("key", flat=True))
        raise ValidationError({"sections": [f"No section {key!r} in this post-mortem: one of {keys}."]})
    before, section.body, section.body_html = section.body, body, render(body)
    section.save(update_fields=["body", "body_html"])
    _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.section_edited", target=postmortem, source=source,
                 before={key: before}, after={key: body})  # fmt: skip
    return section


@transaction.atomic
def set_public_summary(*, postmortem: Postmortem, body: str, by: Any, source: str = CONSOLE) -> None:
    """Write the summary customers read on the status page once the post-mortem is published."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    before = postmortem.public_summary
    postmortem.public_summary, postmortem.public_summary_html = body, render(body)
    postmortem.save(update_fields=["public_summary", "public_summary_html"])
    _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.public_summary_set", target=postmortem, source=source,
                 before={"public_summary": before}, after={"public_summary": body})  # fmt: skip


@transaction.atomic
def set_window(*, postmortem: Postmortem, start: datetime, end: datetime, by: Any, source: str = CONSOLE) -> None:
    """Set the window the health charts and engine figures cover."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    if end <= start:
        raise ValidationError({"window_end": ["The window must end after it starts."]})
    before = {"window_start": postmortem.window_start.isoformat(), "window_end": postmortem.window_end.isoformat()}
    postmortem.window_start, postmortem.window_end = start, end
    postmortem.save(update_fields=["window_start", "window_end"])
    _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.window_set", target=postmortem, source=source, before=before,
                 after={"window_start": start.isoformat(), "window_end": end.isoformat()})  # fmt: skip


# -- the post-mortem's timeline -------------------------------------------------------------


def _entry_snapshot(entry: PostmortemTimelineEntry) -> dict[str, Any]:
    return {"entry": entry.pk, "at": entry.at.isoformat(), "kind": entry.kind, "summary": entry.summary}


def _check_entry(*, kind: str, summary: str) -> None:
    errors = {}
    if not summary.strip():
        errors["summary"] = ["Say what happened."]
    elif len(summary) > 300:
        errors["summary"] = ["At most 300 characters."]
    if not kind.strip() or len(kind) > 32:
        errors["kind"] = ["A kind of at most 32 characters (note, update, alert...)."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def add_timeline_entry(
    *, postmortem: Postmortem, at: datetime, kind: str, summary: str, by: Any, source: str = CONSOLE
) -> PostmortemTimelineEntry:
    """Add a line to the post-mortem's timeline (the incident's own timeline is never changed)."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    _check_entry(kind=kind, summary=summary)
    entry = PostmortemTimelineEntry.objects.create(
        postmortem=postmortem, at=at, kind=kind.strip(), summary=summary.strip(),
        actor_name=by.get_username() if person(by) else "system",
    )  # fmt: skip
    _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.timeline_entry_added", target=postmortem, source=source,
                 after=_entry_snapshot(entry))  # fmt: skip
    return entry


@transaction.atomic
def edit_timeline_entry(
    *, entry: PostmortemTimelineEntry, by: Any, at: datetime | None = None, summary: str | None = None,
    kind: str | None = None, source: str = CONSOLE,
) -> PostmortemTimelineEntry:  # fmt: skip
    """Correct a line of the post-mortem's timeline: its time, kind or summary."""
    postmortem = entry.postmortem
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    before = _entry_snapshot(entry)
    _check_entry(kind=entry.kind if kind is None else kind, summary=entry.summary if summary is None else summary)
    entry.at = entry.at if at is None else at
    entry.kind = entry.kind if kind is None else kind.strip()
    entry.summary = entry.summary if summary is None else summary.strip()
    entry.save(update_fields=["at", "kind", "summary"])
    _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.timeline_entry_edited", target=postmortem, source=source,
                 before=before, after=_entry_snapshot(entry))  # fmt: skip
    return entry


@transaction.atomic
def remove_timeline_entry(*, entry: PostmortemTimelineEntry, by: Any, source: str = CONSOLE) -> None:
    """Remove a line from the post-mortem's timeline (a refresh does not bring a copied one back)."""
    postmortem = entry.postmortem
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    before = _entry_snapshot(entry)
    entry.delete()
    _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.timeline_entry_removed", target=postmortem, source=source,
                 before=before)  # fmt: skip


@transaction.atomic
def refresh_timeline(*, postmortem: Postmortem, by: Any, source: str = CONSOLE) -> int:
    """Copy the incident timeline entries written since the last copy; return how many were added."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_editable(postmortem)
    added = _copy_incident_timeline(postmortem)
    if added:
        _edited(postmortem, by)
    audit.record(actor=by, action="postmortem.timeline_refreshed", target=postmortem, source=source,
                 after={"added": added})  # fmt: skip
    return added


# -- action items ---------------------------------------------------------------------------


def _check_owner(owner: Any) -> None:
    if owner is not None and not (owner.is_active and can(owner, Capability.VIEW_CONSOLE)):
        raise ValidationError({"owner": [f"{owner.get_username()} has no console role: pick someone who does."]})


def _check_item(item: ActionItem) -> None:
    """Validate the item's fields (title, choices, link, lengths) as the model declares them."""
    if not item.title.strip():
        raise ValidationError({"title": ["Say what needs doing."]})
    item.full_clean(exclude=["postmortem", "owner"])


@transaction.atomic
def add_action_item(
    *, postmortem: Postmortem, title: str, by: Any, owner: Any = None, due_on: date | None = None,
    priority: str = ActionItem.Priority.P3, link: str = "", source: str = CONSOLE,
) -> ActionItem:  # fmt: skip
    """Add a follow-up to a post-mortem (also once it is published: the work goes on)."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _check_owner(owner)
    item = ActionItem(postmortem=postmortem, title=title.strip(), owner=owner, due_on=due_on, priority=priority,
                      link=link)  # fmt: skip
    _check_item(item)
    item.save()
    audit.record(actor=by, action="postmortem.action_item_added", target=item, source=source,
                 after=audit.snapshot(item))  # fmt: skip
    return item


@transaction.atomic
def update_action_item(*, item: ActionItem, by: Any, source: str = CONSOLE, **changes: Any) -> ActionItem:
    """Change an action item: commanders anything, its owner its status."""
    unknown = set(changes) - ACTION_ITEM_FIELDS
    if unknown:
        raise TypeError(f"update_action_item() cannot change {', '.join(sorted(unknown))}")
    changes = _actual_changes(item, changes)
    _require_item_rights(item, by, changes)
    if "owner" in changes:
        _check_owner(changes["owner"])
    before = audit.snapshot(item)
    _apply_item_changes(item, changes)
    _check_item(item)
    item.save()
    audit.record(actor=by, action="postmortem.action_item_updated", target=item, source=source, before=before,
                 after=audit.snapshot(item))  # fmt: skip
    return item


def _actual_changes(item: ActionItem, changes: dict[str, Any]) -> dict[str, Any]:
    """Keep the fields whose value differs: a form sent back whole changes only what its user changed."""

    def differs(name: str, value: Any) -> bool:
        if name == "owner":
            return item.owner_id != (value.pk if value is not None else None)
        return getattr(item, name) != value

    return {name: value for name, value in changes.items() if differs(name, value)}


def _require_item_rights(item: ActionItem, by: Any, changes: dict[str, Any]) -> None:
    if by is None or can(by, Capability.RUN_POSTMORTEMS):
        return
    is_owner = person(by) is not None and item.owner_id == by.pk and can(by, Capability.VIEW_CONSOLE)
    if not is_owner:
        raise PermissionDenied("Only commanders change action items, and owners the status of their own.")
    if set(changes) - {"status"}:
        raise PermissionDenied("As its owner you may change this action item's status; a commander changes the rest.")


def _apply_item_changes(item: ActionItem, changes: dict[str, Any]) -> None:
    """Set the fields; closing stamps completed_at, reopening clears it; a new due date earns a new reminder."""
    if "due_on" in changes and changes["due_on"] != item.due_on:
        item.reminded_at = None
    if "status" in changes and changes["status"] != item.status:
        item.completed_at = timezone.now() if changes["status"] in CLOSED_STATUSES else None
    for name, value in changes.items():
        setattr(item, name, value.strip() if name == "title" and isinstance(value, str) else value)
    item.updated_at = timezone.now()


# -- review and publication -----------------------------------------------------------------


def _require_status(postmortem: Postmortem, *allowed: str, doing: str) -> None:
    if postmortem.status not in allowed:
        state = postmortem.get_status_display().lower()
        wanted = " or ".join(Status(status).label.lower() for status in allowed)
        raise ValidationError({"status": [f"Only a post-mortem {wanted} can be {doing}; this one is {state}."]})


@transaction.atomic
def submit_for_review(*, postmortem: Postmortem, by: Any, source: str = CONSOLE) -> None:
    """Ask another commander to review the draft."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_status(postmortem, Status.DRAFT, doing="submitted for review")
    _move(postmortem, Status.IN_REVIEW, by, source=source, submitted_at=timezone.now())


@transaction.atomic
def request_changes(*, postmortem: Postmortem, comment: str, by: Any, source: str = CONSOLE) -> None:
    """Send the post-mortem back to draft, saying what needs changing."""
    _require(by, Capability.APPROVE_POSTMORTEMS)
    _require_status(postmortem, Status.IN_REVIEW, Status.APPROVED, doing="sent back for changes")
    if not comment.strip():
        raise ValidationError({"comment": ["Say what needs changing."]})
    _move(postmortem, Status.DRAFT, by, source=source, review_comment=comment.strip(), approved_by=None,
          approved_at=None)  # fmt: skip


@transaction.atomic
def approve(*, postmortem: Postmortem, by: Any, source: str = CONSOLE) -> None:
    """Approve the post-mortem in review; its author may not (four eyes)."""
    _require(by, Capability.APPROVE_POSTMORTEMS)
    if person(by) is None:
        raise PermissionDenied("A commander approves a post-mortem, not the system.")
    if postmortem.author_id is not None and postmortem.author_id == by.pk:
        raise PermissionDenied("You wrote this post-mortem; another commander must approve it.")
    _require_status(postmortem, Status.IN_REVIEW, doing="approved")
    _move(postmortem, Status.APPROVED, by, source=source, approved_by=by, approved_at=timezone.now(),
          review_comment="")  # fmt: skip


@transaction.atomic
def publish(*, postmortem: Postmortem, by: Any, source: str = CONSOLE) -> None:
    """Publish the approved post-mortem: the public summary goes on the status page, the incident to post-mortem."""
    _require(by, Capability.RUN_POSTMORTEMS)
    _require_status(postmortem, Status.APPROVED, doing="published")
    if not postmortem.public_summary.strip():
        raise ValidationError({"public_summary": ["Write the public summary customers will read before publishing."]})
    incident = postmortem.incident
    previous = incident.status
    lifecycle.check_move(incident, Incident.Status.POSTMORTEM, via_postmortem=True)
    incident.save(update_fields=lifecycle.apply_move(incident, Incident.Status.POSTMORTEM))
    timeline.log(incident=incident, kind="status_changed", actor=by, summary=f"status {previous} -> {incident.status}",
                 detail={"previous": previous, "status": incident.status, "postmortem": postmortem.pk})  # fmt: skip
    _move(postmortem, Status.PUBLISHED, by, source=source, published_at=timezone.now())
    if incident.is_public():
        publishing.changed("postmortem_published", incident_id=incident.pk, postmortem_id=postmortem.pk)


def _move(postmortem: Postmortem, to: str, by: Any, *, source: str, **fields: Any) -> None:
    """Move the post-mortem to `to`, setting `fields`; on the incident's timeline and the audit log."""
    previous, fields = postmortem.status, {"status": to, "updated_at": timezone.now(), **fields}
    # Conditional on the status read: of two people taking the same step at once, one wins.
    if not Postmortem.objects.filter(pk=postmortem.pk, status=previous).update(**fields):
        raise ValidationError({"status": ["Someone changed this post-mortem meanwhile: reload it and try again."]})
    for name, value in fields.items():
        setattr(postmortem, name, value)
    what = {Status.DRAFT: "changes_requested", Status.IN_REVIEW: "submitted", Status.APPROVED: "approved",
            Status.PUBLISHED: "published"}[to]  # fmt: skip
    after = {"status": to, **({"comment": fields["review_comment"]} if fields.get("review_comment") else {})}
    _log(postmortem, what, by, previous=previous, **after)
    audit.record(actor=by, action=f"postmortem.{what}", target=postmortem, source=source,
                 before={"status": previous}, after=after)  # fmt: skip


# -- overdue reminders ----------------------------------------------------------------------


def overdue_action_items(today: date | None = None) -> QuerySet[ActionItem]:
    """Open action items whose due date has passed."""
    today = today or timezone.localdate()
    return ActionItem.objects.filter(status__in=ActionItem.OPEN_STATUSES, due_on__lt=today)


def send_overdue_reminders(*, today: date | None = None) -> int:
    """Email each overdue item's owner once; return how many reminders went out."""
    today = today or timezone.localdate()
    due = (
        overdue_action_items(today).filter(reminded_at=None, owner__isnull=False, owner__is_active=True)
        .exclude(owner__email="").select_related("owner", "postmortem__incident")
    )  # fmt: skip
    return sum(_remind(item, today) for item in due)


def _remind(item: ActionItem, today: date) -> bool:
    """Claim the item, then send; a failed send releases the claim so the next run tries again."""
    # The conditional update is the claim: two beat runs overlapping cannot both send.
    if not ActionItem.objects.filter(pk=item.pk, reminded_at=None).update(reminded_at=timezone.now()):
        return False
    try:
        _reminder_email(item, today).send()
    except OSError:  # SMTP errors are OSErrors too
        ActionItem.objects.filter(pk=item.pk).update(reminded_at=None)
        logger.exception("action item %s: the overdue reminder to %s failed", item.pk, item.owner.email)
        return False
    audit.record(actor=None, action="postmortem.action_item_reminded", target=item, source=AuditEntry.Source.SYSTEM,
                 after={"owner": item.owner.get_username(), "due_on": item.due_on.isoformat()})  # fmt: skip
    return True


def _reminder_email(item: ActionItem, today: date) -> EmailMultiAlternatives:
    context = {"item": item, "incident": item.postmortem.incident, "owner": item.owner,
               "days_overdue": (today - item.due_on).days}  # fmt: skip
    subject = render_to_string("postmortems/emails/action_item_overdue_subject.txt", context)
    text = render_to_string("postmortems/emails/action_item_overdue.txt", context)
    html = render_to_string("postmortems/emails/action_item_overdue.html", context)
    message = EmailMultiAlternatives(" ".join(subject.split()), text, to=[item.owner.email])
    message.attach_alternative(html, "text/html")
    return message
