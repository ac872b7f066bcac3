"""The console's incident forms: list filters, declaring, the update composer and the commander's small actions.

Forms only parse what people typed; `incidents.services` decides what is allowed (roles,
status moves) and its `ValidationError`s come back onto these forms via `add_service_errors`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from console.permissions import Role
from engine.forms import INPUT_FORMATS, UTCDateTimeInput
from incidents import lifecycle, services
from incidents.models import Component, ComponentStatus, Incident

Status = Incident.Status

ANY = [("", "Any")]
OPEN_CHOICES = [("all", "All"), ("open", "Open"), ("resolved", "Resolved")]
DRAFT_CHOICES = [("", "Any"), ("yes", "Drafts only"), ("no", "Published only")]
COMPONENT_PREFIX = "component_"


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's errors on the form: on the field they name, else on the form itself."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class DateInput(forms.DateInput):
    input_type = "date"


class IncidentFilterForm(forms.Form):
    """The incident list's filters, all optional, read from the query string."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(choices=OPEN_CHOICES, required=False)
    severity = forms.ChoiceField(choices=ANY + Incident.Severity.choices, required=False)
    impact = forms.ChoiceField(choices=ANY + Incident.Impact.choices, required=False)
    component = forms.ModelChoiceField(queryset=Component.objects.all(), required=False, empty_label="Any")
    visibility = forms.ChoiceField(choices=ANY + Incident.Visibility.choices, required=False)
    draft = forms.ChoiceField(choices=DRAFT_CHOICES, required=False)
    since = forms.DateField(label="Started from", required=False, widget=DateInput)
    until = forms.DateField(label="Started until", required=False, widget=DateInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise ValidationError("The date range must end on or after its start.")
        return data


def offered_moves(incident: Incident) -> frozenset[str]:
    """The statuses the composer offers: the table's moves, except post-mortem (reached by publishing one)."""
    return lifecycle.MOVES[incident.status] - {Status.POSTMORTEM}


def component_status_field(component: Component, *, empty: str) -> forms.ChoiceField:
    """A select of statuses for one component; the empty choice means `empty` (not affected, unchanged)."""
    return forms.ChoiceField(label=component.name, required=False, choices=[("", empty), *ComponentStatus.choices])


class ComponentStatusesMixin:
    """One optional status select per component (`component_<id>`), grouped for the template."""

    components: list[Component]

    def add_component_fields(self, *, empty: str) -> None:
        self.components = list(Component.objects.select_related("group"))
        for component in self.components:
            self.fields[f"{COMPONENT_PREFIX}{component.pk}"] = component_status_field(component, empty=empty)

    def component_groups(self) -> list[tuple[str, list[tuple[Component, forms.BoundField]]]]:
        """The component selects by group, in the groups' order (ungrouped ones last)."""
        groups: dict[str, list[tuple[Component, forms.BoundField]]] = {}
        for component in self.components:
            name = component.group.name if component.group else "Other"
            groups.setdefault(name, []).append((component, self[f"{COMPONENT_PREFIX}{component.pk}"]))
        return list(groups.items())

    def chosen_components(self) -> dict[Component, str]:
        """The components given a status, as the services take them."""
        chosen = {}
        for component in self.components:
            status = self.cleaned_data.get(f"{COMPONENT_PREFIX}{component.pk}")
            if status:
                chosen[component] = status
        return chosen


class DeclareForm(ComponentStatusesMixin, forms.Form):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Incident.Severity.choices, initial=Incident.Severity.SEV3)
    visibility = forms.ChoiceField(choices=Incident.Visibility.choices, initial=Incident.Visibility.PUBLIC)
    message = forms.CharField(
        label="First public update (Markdown)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    started_at = forms.DateTimeField(
        label="Started (UTC)", required=False, input_formats=INPUT_FORMATS, widget=UTCDateTimeInput,
        help_text="Leave empty for now; set it back when the impact began earlier.",
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_component_fields(empty="Not affected")

    def main_fields(self) -> list[forms.BoundField]:
        """The fields above the components, in the order the page shows them."""
        return [self[name] for name in ("title", "severity", "visibility", "started_at")]


class ComposerForm(ComponentStatusesMixin, forms.Form):
    """A public update or an internal note; commanders may carry a status move, components, severity."""

    KIND_CHOICES = [("update", "Public update"), ("note", "Internal note")]

    kind = forms.ChoiceField(choices=KIND_CHOICES, initial="update", widget=forms.RadioSelect)
    body = forms.CharField(label="Message (Markdown)", required=False, widget=forms.Textarea(attrs={"rows": 6}))
    status = forms.ChoiceField(label="Move status to", required=False, choices=[("", ""), *Status.choices])
    severity = forms.ChoiceField(label="Severity", required=False, choices=[("", ""), *Incident.Severity.choices])
    visibility = forms.ChoiceField(label="Visibility", required=False, choices=[("", ""), *Incident.Visibility.choices])

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.add_component_fields(empty="Unchanged")
        # Validation takes any status (a refused move gets the lifecycle's message); the select offers the legal ones.
        moves = [(status, Status(status).label) for status in Status.values if status in self.moves()]
        self.offer("status", incident.get_status_display().lower(), moves)
        self.offer("severity", incident.get_severity_display(), Incident.Severity.choices)
        self.offer("visibility", incident.get_visibility_display().lower(), Incident.Visibility.choices)

    def offer(self, name: str, current: str, choices: list[tuple[str, str]]) -> None:
        """Show `choices` in the field's select, after an empty "Keep <current>" that changes nothing."""
        self.fields[name].widget.choices = [("", f"Keep {current}"), *choices]

    def commander_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("status", "severity", "visibility")]

    def moves(self) -> frozenset[str]:
        return offered_moves(self.incident)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") == "note" and (data.get("status") or self.chosen_components() or self.changes()):
            raise ValidationError("An internal note cannot carry a status, component or other change: post an update.")
        return data

    def changes(self) -> dict[str, str]:
        """The severity and visibility asked for that differ from the incident's."""
        wanted = {name: self.cleaned_data.get(name) for name in ("severity", "visibility")}
        return {name: value for name, value in wanted.items() if value and value != getattr(self.incident, name)}


class ManageForm(forms.Form):
    """A small form of the detail page's side bar; its ids are its own (the composer has a severity field too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{type(self).__name__.lower()}_%s")
        super().__init__(*args, **kwargs)


class SeverityForm(ManageForm):
    severity = forms.ChoiceField(choices=Incident.Severity.choices)


def responders() -> QuerySet:
    """The people who may hold an incident role: support and up (the services refuse anyone else)."""
    groups = [Role.SUPPORT.group_name, Role.COMMANDER.group_name, Role.ADMIN.group_name]
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(groups__name__in=groups) | Q(is_superuser=True)).distinct().order_by("username")


class RoleForm(ManageForm):
    """Who holds one incident role; the page shows one per role, set to its current holder."""

    role = forms.ChoiceField(choices=list(services.ROLES.items()), widget=forms.HiddenInput)
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, to_field_name="username", empty_label="Nobody"
    )

    def __init__(self, *args: Any, role: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"role_{role if role in services.ROLES else 'other'}_%s")
        super().__init__(*args, **kwargs)
        self.fields["role"].initial = role
        self.fields["user"].label = services.ROLES.get(role, "person").capitalize()
        self.fields["user"].queryset = responders()

    @classmethod
    def for_holder(cls, incident: Incident, role: str) -> RoleForm:
        holder = getattr(incident, role)
        return cls(role=role, initial={"user": holder.get_username() if holder else None})


class StartedAtForm(ManageForm):
    started_at = forms.DateTimeField(label="Started (UTC)", input_formats=INPUT_FORMATS, widget=UTCDateTimeInput)

    def at(self) -> datetime:
        return self.cleaned_data["started_at"]
