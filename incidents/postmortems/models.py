"""Post-mortems of resolved incidents: sections from a template, an editable timeline, action items, review."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

USER = settings.AUTH_USER_MODEL

# The template of issue 6: the eleven sections every post-mortem starts with unless an admin
# makes another template the default.
STANDARD_TEMPLATE = "Standard post-mortem"
STANDARD_SECTIONS = [
    {"key": "summary", "title": "Summary",
     "guidance": "What happened, in three or four sentences a newcomer understands."},
    {"key": "customer_impact", "title": "Customer impact",
     "guidance": "Who was affected, how, and for how long: markets, order types, rejected orders, balances."},
    {"key": "trigger", "title": "Trigger",
     "guidance": "The change or event that set the incident off."},
    {"key": "root_cause", "title": "Root cause",
     "guidance": "Why the trigger could cause this: keep asking why until the answer is something we can change."},
    {"key": "contributing_factors", "title": "Contributing factors",
     "guidance": "What made it worse, longer or harder to see."},
    {"key": "detection", "title": "Detection",
     "guidance": "How we found out (alert, customer, colleague) and how long it took."},
    {"key": "response", "title": "Response",
     "guidance": "Who did what, and when: the decisions taken and why."},
    {"key": "recovery", "title": "Recovery",
     "guidance": "How service came back, and how we knew it had."},
    {"key": "went_well", "title": "What went well",
     "guidance": "What helped: keep doing it."},
    {"key": "went_wrong", "title": "What went wrong",
     "guidance": "What slowed us down or made things worse."},
    {"key": "lessons", "title": "Lessons",
     "guidance": "What we learnt; each lesson worth acting on becomes an action item."},
]  # fmt: skip


class PostmortemTemplate(models.Model):
    """The sections a new post-mortem starts with; one template is the default (admins edit it)."""

    name = models.CharField(max_length=100, unique=True)
    sections = models.JSONField(default=list, help_text='A list of {"key", "title", "guidance"}, in order.')
    is_default = models.BooleanField(default=False, help_text="New post-mortems start from the default template.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_template")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a template made the default takes that role from the previous one."""
        with transaction.atomic():
            if self.is_default:
                PostmortemTemplate.objects.filter(is_default=True).exclude(pk=self.pk).update(is_default=False)
            super().save(*args, **kwargs)

    def clean(self) -> None:
        """Refuse sections that are not a list of {key, title, guidance} with distinct keys."""
        if not isinstance(self.sections, list) or not self.sections:
            raise ValidationError({"sections": ['A non-empty list of {"key", "title", "guidance"}.']})
        keys = []
        for number, section in enumerate(self.sections, start=1):
            if not isinstance(section, dict) or not section.get("key") or not section.get("title"):
                raise ValidationError({"sections": [f"Section {number} needs a key and a title."]})
            keys.append(section["key"])
        if len(set(keys)) != len(keys):
            raise ValidationError({"sections": ["Each section needs its own key."]})

    @classmethod
    def default(cls) -> PostmortemTemplate:
        """The default template, else the oldest one; the standard one is made again when there is none."""
        found = cls.objects.filter(is_default=True).first() or cls.objects.order_by("pk").first()
        return found or cls.objects.create(name=STANDARD_TEMPLATE, sections=STANDARD_SECTIONS, is_default=True)


class Postmortem(models.Model):
    """The review of one incident, written after it is resolved and published once approved."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="postmortem")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateTimeField(help_text="Start of the window the charts and engine figures cover.")
    window_end = models.DateTimeField(help_text="End of that window.")
    public_summary = models.TextField(blank=True, help_text="Markdown; shown on the status page once published.")
    public_summary_html = models.TextField(blank=True, help_text="The public summary rendered and sanitized.")
    review_comment = models.TextField(blank=True, help_text="The last review's request for changes.")
    # The highest incident timeline entry id copied so far: a refresh adds only newer entries,
    # so entries people removed from the copy stay removed.
    timeline_copied_through = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Post-mortem of {self.incident.code}"

    def is_editable(self) -> bool:
        """Sections, summary, window and timeline change in draft and in review (an edit in review reopens it)."""
        return self.status in (self.Status.DRAFT, self.Status.IN_REVIEW)

    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def sections_in_order(self) -> models.QuerySet[PostmortemSection]:
        return self.sections.order_by("position", "id")


class PostmortemSection(models.Model):
    """One section of a post-mortem (summary, root cause...), copied from the template when it was created."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="sections")
    key = models.SlugField(max_length=50)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    body = models.TextField(blank=True, help_text="Markdown.")
    body_html = models.TextField(blank=True, help_text="The body rendered and sanitized: safe to show as is.")

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["postmortem", "key"], name="one_section_per_key")]

    def __str__(self) -> str:
        return self.title


class PostmortemTimelineEntry(models.Model):
    """A line of the post-mortem's timeline: a copy of an incident entry, or one written for the post-mortem."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    actor_name = models.CharField(max_length=150, blank=True)
    summary = models.CharField(max_length=300)
    source = models.ForeignKey(
        "incidents.TimelineEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "post-mortem timeline entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.summary}"


class ActionItem(models.Model):
    """Something to do so the incident does not happen again, with an owner and a due date."""

    class Priority(models.TextChoices):
        P1 = "p1", "P1 – urgent"  # noqa: RUF001 (an en dash, as in the console)
        P2 = "p2", "P2 – high"  # noqa: RUF001 (an en dash, as in the console)
        P3 = "p3", "P3 – normal"  # noqa: RUF001 (an en dash, as in the console)
        P4 = "p4", "P4 – low"  # noqa: RUF001 (an en dash, as in the console)

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="postmortem_action_items"
    )
    due_on = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    link = models.URLField(max_length=500, blank=True, help_text="A ticket or pull request tracking the work.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When its owner was told it is overdue.")

    class Meta:
        ordering = [F("due_on").asc(nulls_last=True), "priority", "id"]

    def __str__(self) -> str:
        return self.title

    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, today: date | None = None) -> bool:
        """Open and past its due date (an item due today is not overdue yet)."""
        today = today or timezone.localdate()
        return self.is_open() and self.due_on is not None and self.due_on < today
