"""Public snapshots of what a message announces, and webhook bodies in Statuspage's shape.

The snapshot is taken once per message (public fields only: never internal notes, severity
or roles) and stored on the `Message`, so every subscriber and every retry sees the same text.
Webhook bodies follow Statuspage's incident webhook: `meta` {unsubscribe, documentation},
`page` {id, status_indicator, status_description} and `incident` with `incident_updates`.
Incident ids are the public codes (INC-2026-0042), as on the status page. A maintenance
window goes out as Statuspage sends one: an `incident` with impact `maintenance`, its
`scheduled_*` fields, and its public updates (a cancelled window reads `completed`, since
Statuspage's maintenances have no other end; its last update says it was cancelled).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow, Notice
from incidents.maintenance.services import when
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


def _update_row(*, pk: str, parent: str, status: str, body: str, at: datetime,
                affected: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Return one public update as Statuspage's `incident_updates` list it."""
    return {
        "id": pk, "incident_id": parent, "status": status, "body": body, "created_at": stamp(at),
        "updated_at": stamp(at), "display_at": stamp(at), "affected_components": affected or None,
        "twitter_updated_at": None, "wants_twitter_update": False, "custom_tweet": None, "deliver_notifications": True,
    }  # fmt: skip


def _updates(incident: Incident) -> list[dict[str, Any]]:
    """Return the public updates, newest first, each with the status in effect when it was posted."""
    public = list(IncidentUpdate.objects.filter(incident=incident, internal=False).order_by("at", "id"))
    codes = dict(Component.objects.values_list("name", "pk"))
    status, rows = Incident.Status.INVESTIGATING.value, []
    for update in public:
        status = update.status or status
        affected = [_affected(change, codes) for change in update.component_changes]
        rows.append(_update_row(pk=str(update.pk), parent=incident.code, status=status, body=update.body,
                                at=update.at, affected=affected))  # fmt: skip
    return rows[::-1]


def _affected(change: dict[str, Any], codes: dict[str, int]) -> dict[str, Any]:
    """Return a component change of an update as Statuspage writes it (code, name, old and new status)."""
    code = codes.get(change.get("component", ""))
    return {"code": None if code is None else str(code), "name": change.get("component"),
            "old_status": change.get("previous"), "new_status": change.get("status")}  # fmt: skip


def _components(found: Iterable[Component]) -> list[dict[str, Any]]:
    return [{"id": str(component.pk), "name": component.name, "status": component.status,
             "description": component.description or None, "position": component.position,
             "group_id": None if component.group_id is None else str(component.group_id), "page_id": PAGE_ID,
             "showcase": True, "updated_at": stamp(component.updated_at)}
            for component in found]  # fmt: skip


def _statuspage_incident(*, code: str, name: str, status: str, impact: str, path: str, created_at: datetime,
                         updates: list[dict[str, Any]], components: list[dict[str, Any]],
                         **fields: Any) -> dict[str, Any]:  # fmt: skip
    """Return Statuspage's incident object: every key it has, the ones `fields` does not set empty."""
    return {
        "id": code, "name": name, "status": status, "impact": impact, "impact_override": None, "page_id": PAGE_ID,
        "shortlink": public_url(path), "backfilled": False, "created_at": stamp(created_at), "started_at": None,
        "updated_at": updates[0]["updated_at"] if updates else stamp(created_at), "monitoring_at": None,
        "resolved_at": None, "scheduled_for": None, "scheduled_until": None, "postmortem_body": None,
        "postmortem_body_last_updated_at": None, "postmortem_published_at": None, "postmortem_ignored": False,
        "postmortem_notified_subscribers": False, "postmortem_notified_twitter": False,
        "scheduled_remind_prior": False, "scheduled_reminded_at": None, "scheduled_auto_in_progress": False,
        "scheduled_auto_completed": False, "components": components, "incident_updates": updates, **fields,
    }  # fmt: skip


def incident_object(incident: Incident, postmortem: Any = None) -> dict[str, Any]:
    """Return the incident as Statuspage's webhook and API show it, public fields only."""
    published = postmortem is not None and postmortem.is_published()
    extra = {} if not published else {
        "postmortem_body": postmortem.public_summary, "postmortem_body_last_updated_at": stamp(postmortem.updated_at),
        "postmortem_published_at": stamp(postmortem.published_at), "postmortem_notified_subscribers": True,
    }  # fmt: skip
    return _statuspage_incident(
        code=incident.code, name=incident.title, status=incident.status, impact=incident.impact,
        path=f"/incidents/{incident.code}/", created_at=incident.created_at, updates=_updates(incident),
        components=_components(Component.objects.filter(pk__in=incident.affected.values("component_id"))),
        impact_override=incident.impact_override or None, started_at=stamp(incident.started_at),
        monitoring_at=stamp(_first_at(incident, Incident.Status.MONITORING)), resolved_at=stamp(incident.resolved_at),
        **extra,
    )  # fmt: skip


def _first_at(incident: Incident, status: str) -> datetime | None:
    found = incident.updates.filter(internal=False, status=status).order_by("at").values_list("at", flat=True)
    return found.first()


def snapshot(*, incident: Incident, update_id: int | None, postmortem: Any = None) -> dict[str, Any]:
    """Return what the message shows: page, incident, and the update (or summary) it is about."""
    return _snapshot(
        incident_object(incident, postmortem), _announced_update(incident, update_id),
        sorted(incident.affected.values_list("component_id", flat=True)),
        postmortem_html=postmortem.public_summary_html if postmortem is not None else "",
    )  # fmt: skip


def _snapshot(incident: dict[str, Any], update: Any, component_ids: list[int], **extra: Any) -> dict[str, Any]:
    """Return a message's snapshot: the page now, the Statuspage incident, the update it announces, who it is for."""
    return {
        "page": page(),
        "incident": incident,
        "update": None if update is None else {"body": update.body, "body_html": update.body_html,
                                               "status": update.status, "at": stamp(update.at)},
        "component_ids": component_ids,
        **extra,
    }  # fmt: skip


def _announced_update(incident: Incident, update_id: int | None) -> IncidentUpdate | None:
    """Return the public update a message is about; a new incident shows its latest one."""
    public = IncidentUpdate.objects.filter(incident=incident, internal=False)
    if update_id is not None:
        return public.filter(pk=update_id).first()
    return public.order_by("-at", "-id").first()


# -- maintenance ------------------------------------------------------------------------------------


def maintenance_status(status: str) -> str:
    """Return a window's status in Statuspage's four (it has no cancelled: a cancelled window is completed)."""
    return MaintenanceWindow.Status.COMPLETED.value if status == MaintenanceWindow.Status.CANCELLED else str(status)


def _maintenance_updates(window: MaintenanceWindow) -> list[dict[str, Any]]:
    """Return the window's public updates, newest first (ids prefixed: they are not incident updates)."""
    return [_update_row(pk=f"maintenance-update-{update.pk}", parent=window.code,
                        status=maintenance_status(update.status), body=update.body, at=update.at)
            for update in window.updates.order_by("-at", "-id")]  # fmt: skip


def maintenance_object(window: MaintenanceWindow) -> dict[str, Any]:
    """Return a window as Statuspage's webhooks send a maintenance: an incident with impact `maintenance`."""
    reminded = window.notices.filter(scheduled_for=window.scheduled_for, skipped=False).aggregate(last=Max("at"))
    return _statuspage_incident(
        code=window.code, name=window.title, status=maintenance_status(window.status), impact="maintenance",
        path=f"/maintenance/{window.code}/", created_at=window.created_at, updates=_maintenance_updates(window),
        components=_components(window.components.all()), started_at=stamp(window.started_at),
        resolved_at=stamp(window.completed_at or window.cancelled_at), scheduled_for=stamp(window.scheduled_for),
        scheduled_until=stamp(window.scheduled_until), scheduled_remind_prior=bool(window.notice_hours),
        scheduled_reminded_at=stamp(reminded["last"]), scheduled_auto_in_progress=window.auto_start,
        scheduled_auto_completed=window.auto_complete,
    )  # fmt: skip


def maintenance_snapshot(*, window: MaintenanceWindow, update: MaintenanceUpdate | None,
                         notice: Notice | None) -> dict[str, Any]:  # fmt: skip
    """Return what a maintenance message shows: the window as Statuspage has it, plus what the emails say."""
    return _snapshot(
        maintenance_object(window), update, sorted(window.components.values_list("pk", flat=True)),
        window={"code": window.code, "title": window.title, "status": window.get_status_display(),
                "starts": when(window.scheduled_for), "ends": when(window.scheduled_until),
                "description": window.description, "description_html": window.description_html},
        notice=None if notice is None else {"hours_before": notice.hours_before, "at": stamp(notice.at)},
    )  # fmt: skip


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
