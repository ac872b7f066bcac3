"""The post-mortem pages' forms: what people type, checked for shape; the services decide the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q

from console.permissions import Role
from engine.forms import INPUT_FORMATS, UTCDateTimeInput
from incidents.postmortems.models import ActionItem, Postmortem, PostmortemTimelineEntry

MARKDOWN_HELP = "Markdown: **bold**, _italic_, lists, links, `code`."


class DateInput(forms.DateInput):
    input_type = "date"


def people() -> Any:
    """Return everyone who may own an action item: active accounts with a console role, by username."""
    with_role = Q(groups__name__in=[role.group_name for role in Role]) | Q(is_superuser=True)
    return get_user_model().objects.filter(with_role, is_active=True).distinct().order_by("username")


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its fields when it has them, else on the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class MarkdownForm(forms.Form):
    body = forms.CharField(
        required=False, help_text=MARKDOWN_HELP, widget=forms.Textarea(attrs={"rows": 6}), strip=False
    )


class WindowForm(forms.Form):
    """The window the health charts and engine figures cover."""

    window_start = forms.DateTimeField(label="From (UTC)", input_formats=INPUT_FORMATS, widget=UTCDateTimeInput)
    window_end = forms.DateTimeField(label="To (UTC)", input_formats=INPUT_FORMATS, widget=UTCDateTimeInput)


class TimelineEntryForm(forms.Form):
    """A line of the post-mortem's timeline, new or corrected."""

    at = forms.DateTimeField(label="When (UTC)", input_formats=INPUT_FORMATS, widget=UTCDateTimeInput)
    kind = forms.CharField(max_length=32, initial="note")
    summary = forms.CharField(max_length=300)

    @classmethod
    def for_entry(cls, entry: PostmortemTimelineEntry, data: Any = None) -> TimelineEntryForm:
        initial = {"at": entry.at, "kind": entry.kind, "summary": entry.summary}
        return cls(data, initial=initial, auto_id=f"entry-{entry.pk}-%s")


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody yet")
    due_on = forms.DateField(label="Due", required=False, widget=DateInput)
    priority = forms.ChoiceField(choices=ActionItem.Priority.choices, initial=ActionItem.Priority.P3)
    link = forms.URLField(required=False, assume_scheme="https")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people()


class ItemFormMixin:
    """Forms that change one action item: ids of their own, since the page lists every item's form."""

    @classmethod
    def for_item(cls, item: ActionItem, data: Any = None) -> Any:
        initial = {"owner": item.owner_id, "due_on": item.due_on, "priority": item.priority,
                   "status": item.status, "link": item.link}  # fmt: skip
        return cls(data, initial=initial, auto_id=f"item-{item.pk}-%s")


class ActionItemEditForm(ItemFormMixin, ActionItemForm):
    """What a commander changes on an action item: everything but its title, which says what was agreed."""

    status = forms.ChoiceField(choices=ActionItem.Status.choices)
    field_order = ["owner", "due_on", "priority", "status", "link"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["title"]


class ActionItemStatusForm(ItemFormMixin, forms.Form):
    """What an action item's owner changes: its status."""

    status = forms.ChoiceField(choices=ActionItem.Status.choices)


class ReviewCommentForm(forms.Form):
    comment = forms.CharField(label="What needs changing", widget=forms.Textarea(attrs={"rows": 3}))


class PostmortemFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Postmortem.Status.choices], required=False)


class ActionItemFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Open or in progress"), *ActionItem.Status.choices, ("all", "Any status")], required=False
    )
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="Anyone", to_field_name="username")
    overdue = forms.BooleanField(label="Overdue only", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people()

    def statuses(self) -> tuple[str, ...]:
        """Return the statuses asked for (call after is_valid)."""
        chosen = self.cleaned_data.get("status") or ""
        if chosen == "all":
            return tuple(ActionItem.Status.values)
        return (chosen,) if chosen else tuple(ActionItem.OPEN_STATUSES)
