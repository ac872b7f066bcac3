"""The history page's window: which shard, from when to when (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.utils import timezone

MAX_WINDOW = timedelta(days=90)  # what the per-minute roll-ups keep (HealthMinute)
AROUND = timedelta(minutes=10)  # either side of a moment given as ?around=
DEFAULT_WINDOW = timedelta(hours=1)
INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class UTCDateTimeInput(forms.DateTimeInput):
    """A `datetime-local` input whose value is shown in UTC, the console's time."""

    input_type = "datetime-local"

    def format_value(self, value: object) -> str | None:
        if isinstance(value, datetime):
            # Django hands over aware values made naive in the current time zone, the console's UTC.
            utc = timezone.localtime(value, UTC) if timezone.is_aware(value) else value
            return utc.strftime("%Y-%m-%dT%H:%M:%S")
        return super().format_value(value)


class HistoryForm(forms.Form):
    shard = forms.ChoiceField()
    since = forms.DateTimeField(
        label="From (UTC)", required=False, input_formats=INPUT_FORMATS, widget=UTCDateTimeInput
    )
    until = forms.DateTimeField(label="To (UTC)", required=False, input_formats=INPUT_FORMATS, widget=UTCDateTimeInput)
    around = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, shards: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shard"].choices = [(shard, shard) for shard in shards]

    def clean(self) -> dict:
        data = super().clean()
        since, until = self.window_of(data)
        if until <= since:
            raise forms.ValidationError("The window must end after it starts.")
        if until - since > MAX_WINDOW:
            raise forms.ValidationError(f"Pick at most {MAX_WINDOW.days} days: older health is not kept.")
        data["since"], data["until"] = since, until
        return data

    @staticmethod
    def window_of(data: dict) -> tuple[datetime, datetime]:
        """The window asked for: around a moment, or from `since` to `until`, an hour by default."""
        if data.get("around"):
            return data["around"] - AROUND, data["around"] + AROUND
        until = data.get("until") or timezone.now()
        since = data.get("since") or until - DEFAULT_WINDOW
        return since, until
