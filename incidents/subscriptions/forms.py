"""Forms of the public subscribe page and of support's subscriber pages."""

from __future__ import annotations

from typing import Any

from django import forms

from incidents.models import Component
from incidents.subscriptions.models import Delivery

SCOPES = [("all", "Everything"), ("some", "Only the components I choose")]


class ComponentChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Component) -> str:
        return f"{obj.group.name}: {obj.name}" if obj.group_id else obj.name


def component_field() -> ComponentChoices:
    return ComponentChoices(
        queryset=Component.objects.select_related("group"), required=False, widget=forms.CheckboxSelectMultiple,
        label="Components",
    )  # fmt: skip


class SubscribeForm(forms.Form):
    """An address, and everything or some components."""

    email = forms.EmailField(max_length=254, label="Email address")
    scope = forms.ChoiceField(choices=SCOPES, initial="all", widget=forms.RadioSelect, label="Send me updates about")
    components = component_field()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("scope") == "some" and not data.get("components"):
            self.add_error("components", "Choose at least one component, or choose everything.")
        return data

    def chosen_components(self) -> list[Component]:
        """The components picked; empty means everything."""
        return list(self.cleaned_data["components"]) if self.cleaned_data["scope"] == "some" else []


class WebhookForm(forms.Form):
    """A webhook support registers for a customer."""

    url = forms.URLField(
        max_length=500, label="URL", assume_scheme="https",
        help_text="Must reach a public address; it receives a signed JSON POST per message.",
    )  # fmt: skip
    contact_email = forms.EmailField(label="Contact email", help_text="Told when the webhook is disabled.")
    secret = forms.CharField(max_length=128, required=False, label="Secret",
                             help_text="Leave empty for a random one, shown on the webhook's page.")  # fmt: skip
    components = component_field()


class SubscriberFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    state = forms.ChoiceField(
        required=False, label="State",
        choices=[("", "Any"), ("active", "Active / enabled"), ("pending", "Pending confirmation"),
                 ("unsubscribed", "Unsubscribed / disabled")],
    )  # fmt: skip


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any"), *Delivery.Status.choices], label="Status")
    channel = forms.ChoiceField(required=False, choices=[("", "Any"), *Delivery.Channel.choices], label="Channel")
    q = forms.CharField(required=False, max_length=200, label="Recipient")
