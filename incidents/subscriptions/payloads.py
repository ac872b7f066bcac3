"""Public snapshots of what a message announces, and webhook bodies in Statuspage's shape.

The snapshot is taken once per message (public fields only: never internal notes, severity
or roles) and stored on the `Message`, so every subscriber and every retry sees the same text.
Webhook bodies follow Statuspage's incident webhook: `meta` {unsubscribe, documentation},
`page` {id, status_indicator, status_description} and `incident` with `incident_updates`.
Incident ids are the public codes (INC-2026-0042), as on the status page.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from incidents.models import Component, ComponentStatus, Incident, IncidentUpdate

DOCUMENTATION_URL = "/subscriptions/webhooks/"
PAGE_ID = "exchange-status"
# The overall indicator, from the worst component status (Statuspage's words).
INDICATORS = {
    ComponentStatus.OPERATIONAL: ("none", "All Systems Operational"),
    ComponentStatus.UNDER_MAINTENANCE: ("maintenance", "Service Under Maintenance"),
    ComponentStatus.DEGRADED_PERFORMANCE: ("minor", "Minor Service Outage"),
    ComponentStatus.PARTIAL_OUTAGE: ("major", "Partial System Outage"),
    ComponentStatus.MAJOR_OUTAGE: ("critical", "Major System Outage"),
}


def stamp(moment: datetime | None) -> str | None:
    """Write a time as Statuspage does: ISO-8601 in UTC with milliseconds."""
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def page() -> dict[str, str]:
    """Return the page object: the overall indicator right now."""
    worst = ComponentStatus.worst(list(Component.objects.values_list("status", flat=True)))
    indicator, description = INDICATORS[ComponentStatus(worst)]
    return {"id": PAGE_ID, "status_indicator": indicator, "status_description": description}


def _updates(incident: Incident) -> list[dict[str, Any]]:
    """Return the public updates, newest first, each with the status in effect when it was posted."""
    public = list(IncidentUpdate.objects.filter(incident=incident, internal=False).order_by("at", "id"))
    codes = dict(Component.objects.values_list("name", "pk"))
    status, rows = Incident.Status.INVESTIGATING.value, []
    for update in public:
        status = update.status or status
        rows.append({
            "id": str(update.pk), "incident_id": incident.code, "status": status, "body": update.body,
            "created_at": stamp(update.at), "updated_at": stamp(update.at), "display_at": stamp(update.at),
            "affected_components": [_affected(change, codes) for change in update.component_changes] or None,
            "twitter_updated_at": None, "wants_twitter_update": False, "custom_tweet": None,
            "deliver_notifications": True,
        })  # fmt: skip
    return rows[::-1]


def _affected(change: dict[str, Any], codes: dict[str, int]) -> dict[str, Any]:
    """Return a component change of an update as Statuspage writes it (code, name, old and new status)."""
    code = codes.get(change.get("component", ""))
    return {"code": None if code is None else str(code), "name": change.get("component"),
            "old_status": change.get("previous"), "new_status": change.get("status")}  # fmt: skip


def _components(incident: Incident) -> list[dict[str, Any]]:
    found = Component.objects.filter(pk__in=incident.affected.values("component_id"))
    return [{"id": str(component.pk), "name": component.name, "status": component.status,
             "description": component.description or None, "position": component.position,
             "group_id": None if component.group_id is None else str(component.group_id), "page_id": PAGE_ID,
             "showcase": True, "updated_at": stamp(component.updated_at)}
            for component in found]  # fmt: skip


def incident_object(incident: Incident, postmortem: Any = None) -> dict[str, Any]:
    """Return the incident as Statuspage's webhook and API show it, public fields only."""
    updates = _updates(incident)
    published = postmortem is not None and postmortem.is_published()
    return {
        "id": incident.code, "name": incident.title, "status": incident.status, "impact": incident.impact,
        "impact_override": incident.impact_override or None, "page_id": PAGE_ID,
        "shortlink": public_url(f"/incidents/{incident.code}/"), "backfilled": False,
        "created_at": stamp(incident.created_at), "started_at": stamp(incident.started_at),
        "updated_at": updates[0]["updated_at"] if updates else stamp(incident.created_at),
        "monitoring_at": stamp(_first_at(incident, Incident.Status.MONITORING)),
        "resolved_at": stamp(incident.resolved_at), "scheduled_for": None, "scheduled_until": None,
        "postmortem_body": postmortem.public_summary if published else None,
        "postmortem_body_last_updated_at": stamp(postmortem.updated_at) if published else None,
        "postmortem_published_at": stamp(postmortem.published_at) if published else None,
        "postmortem_ignored": False, "postmortem_notified_subscribers": published,
        "postmortem_notified_twitter": False, "scheduled_remind_prior": False, "scheduled_reminded_at": None,
        "scheduled_auto_in_progress": False, "scheduled_auto_completed": False,
        "components": _components(incident), "incident_updates": updates,
    }  # fmt: skip


def _first_at(incident: Incident, status: str) -> datetime | None:
    found = incident.updates.filter(internal=False, status=status).order_by("at").values_list("at", flat=True)
    return found.first()


def snapshot(*, incident: Incident, update_id: int | None, postmortem: Any = None) -> dict[str, Any]:
    """Return what the message shows: page, incident, and the update (or summary) it is about."""
    update = _announced_update(incident, update_id)
    return {
        "page": page(),
        "incident": incident_object(incident, postmortem),
        "update": None if update is None else {"body": update.body, "body_html": update.body_html,
                                               "status": update.status, "at": stamp(update.at)},
        "postmortem_html": postmortem.public_summary_html if postmortem is not None else "",
        "component_ids": sorted(incident.affected.values_list("component_id", flat=True)),
    }  # fmt: skip


def _announced_update(incident: Incident, update_id: int | None) -> IncidentUpdate | None:
    """Return the public update a message is about; a new incident shows its latest one."""
    public = IncidentUpdate.objects.filter(incident=incident, internal=False)
    if update_id is not None:
        return public.filter(pk=update_id).first()
    return public.order_by("-at", "-id").first()


def webhook_body(payload: dict[str, Any], *, unsubscribe_url: str) -> bytes:
    """Return the JSON a webhook subscriber receives for a message."""
    body = {
        "meta": {
            "unsubscribe": unsubscribe_url,
            "documentation": public_url(DOCUMENTATION_URL),
            "generated_at": stamp(timezone.now()),
        },
        "page": payload["page"],
        "incident": payload["incident"],
    }
    return json.dumps(body, separators=(",", ":")).encode()
