from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def audit_value(value: object) -> str:
    """Show a recorded value readably: a dash for nothing, yes/no for booleans, lists joined."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
