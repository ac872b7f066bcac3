"""The maintenance pages' forms: what people type, checked for shape; `incidents.maintenance.services` decides the rest.

Times are typed in UTC (`datetime-local` inputs, the console's time zone). A service's
`ValidationError` comes back onto these forms with `add_errors`, on the field it names.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from engine.forms import INPUT_FORMATS, UTCDateTimeInput
from engine.models import Market
from incidents.maintenance.models import DEFAULT_NOTICE_HOURS, MaintenanceWindow, MarketAction
from incidents.models import Component

Status = MaintenanceWindow.Status
ACTION_PREFIX = "action_"
MARKDOWN_HELP = "Markdown: **bold**, _italic_, lists, links, `code`."
MESSAGE_HELP = "Optional; customers get a standard message when you leave it empty."
# The list's filter: every status, and the two groups the list shows.
STATUS_FILTERS = [("", "Any status"), ("open", "Upcoming or active"), ("past", "Completed or cancelled"),
                  *Status.choices]  # fmt: skip


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its fields when it has them, else on the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    aliases = getattr(form, "error_aliases", {})
    for field, messages in error.message_dict.items():
        field = aliases.get(field, field)
        form.add_error(field if field in form.fields else None, messages)


def utc_field(label: str, **kwargs: Any) -> forms.DateTimeField:
    return forms.DateTimeField(label=f"{label} (UTC)", input_formats=INPUT_FORMATS, widget=UTCDateTimeInput, **kwargs)


def message_field(label: str = "Message to customers (Markdown)") -> forms.CharField:
    return forms.CharField(label=label, required=False, help_text=MESSAGE_HELP,
                           widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class FilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False)


class NoticeHoursField(forms.CharField):
    """Hours before the start, comma-separated ("72, 24, 1"); empty for no advance notice."""

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)  # the text's own checks first (length, NUL)
        return [part.strip() for part in text.split(",") if part.strip()]


class ScheduleForm(forms.Form):
    """A new window: what, when, which components, what the engine does per market, notices, the first message."""

    title = forms.CharField(max_length=200, help_text="What customers read, e.g. “BTC-USD matching engine upgrade”.")
    description = forms.CharField(
        label="Description (Markdown)", required=False, strip=False, help_text=f"What customers should expect. "
        f"{MARKDOWN_HELP}", widget=forms.Textarea(attrs={"rows": 5}),
    )  # fmt: skip
    scheduled_for = utc_field("Starts")
    scheduled_until = utc_field("Ends")
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Affected components",
    )  # fmt: skip
    auto_start = forms.BooleanField(label="Start automatically at the scheduled time", required=False, initial=True)
    auto_complete = forms.BooleanField(
        label="End automatically at the scheduled time (completes once engine health confirms recovery)",
        required=False, initial=True,
    )  # fmt: skip
    notice_hours = NoticeHoursField(
        label="Advance notices (hours before the start)", required=False, max_length=200,
        initial=", ".join(str(hours) for hours in DEFAULT_NOTICE_HOURS),
        help_text="Comma-separated whole hours; empty for none.",
    )  # fmt: skip
    message = message_field("First message to customers (Markdown)")
    confirm = forms.BooleanField(label="Schedule anyway", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = Component.objects.select_related("group")
        self.markets = list(Market.objects.all())
        for market in self.markets:
            self.fields[f"{ACTION_PREFIX}{market.pk}"] = forms.ChoiceField(
                label=market.symbol, choices=MarketAction.Action.choices, initial=MarketAction.Action.NONE,
                required=False,
            )  # fmt: skip

    def action_fields(self) -> list[tuple[Market, forms.BoundField]]:
        return [(market, self[f"{ACTION_PREFIX}{market.pk}"]) for market in self.markets]

    def actions(self) -> dict[Market, str]:
        """The engine action of each market (call after is_valid), `none` included: the window shows them all."""
        return {market: self.cleaned_data.get(f"{ACTION_PREFIX}{market.pk}") or MarketAction.Action.NONE
                for market in self.markets}  # fmt: skip

    def driven(self) -> dict[Market, str]:
        """Only the markets the window puts in another mode."""
        return {market: action for market, action in self.actions().items() if action != MarketAction.Action.NONE}

    def schedule_arguments(self) -> dict[str, Any]:
        """What `services.schedule_window` takes, from the cleaned data."""
        data = self.cleaned_data
        return {
            "title": data["title"], "description": data["description"], "scheduled_for": data["scheduled_for"],
            "scheduled_until": data["scheduled_until"], "components": list(data["components"]),
            "actions": self.driven(), "auto_start": data["auto_start"], "auto_complete": data["auto_complete"],
            "notice_hours": data["notice_hours"], "message": data["message"],
        }  # fmt: skip


# -- the detail page's actions -----------------------------------------------------------------------


class StartForm(forms.Form):
    message = message_field()


class RescheduleForm(forms.Form):
    scheduled_for = utc_field("Starts")
    scheduled_until = utc_field("Ends")
    message = message_field()

    @classmethod
    def for_window(cls, window: MaintenanceWindow, data: Any = None) -> RescheduleForm:
        initial = {"scheduled_for": window.scheduled_for, "scheduled_until": window.scheduled_until}
        return cls(data, initial=initial, auto_id="reschedule-%s")


class ExtendForm(forms.Form):
    error_aliases = {"scheduled_until": "until"}  # the services name the window's field

    until = utc_field("New end")
    message = message_field()

    @classmethod
    def for_window(cls, window: MaintenanceWindow, data: Any = None) -> ExtendForm:
        return cls(data, initial={"until": window.scheduled_until}, auto_id="extend-%s")


class CompleteForm(forms.Form):
    reason = forms.CharField(
        label="Why complete without confirmed recovery", required=False, max_length=500,
        help_text="Required while verification holds; goes to the audit log and the window's log, not to customers.",
    )  # fmt: skip
    message = message_field()


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason (internal)", required=False, max_length=500)
    message = message_field()
