"""Statuspage's public JSON (api/v2) built from our models: its field names, nesting and explicit nulls.

Ids are strings, as Statuspage's are, and stable across exports: an incident is its code,
a component `component-<pk>`, a group `group-<pk>`, an update `update-<pk>`. We keep no
creation time for components, so `created_at` is the first recorded status change (else
the last one). We have no URL shortener, so `shortlink` is the incident's own page.

A maintenance window is Statuspage's scheduled maintenance: an incident with `scheduled_for`
and `scheduled_until`, its code as id, and its `MaintenanceUpdate`s as `incident_updates`
(`maintenance-update-<pk>`, so they never clash with an incident's update ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from incidents.models import Component, ComponentGroup, ComponentStatus, Incident, IncidentUpdate

if TYPE_CHECKING:
    from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow

PAGE_ID = "exchange-console"
TIME_ZONE = "Etc/UTC"

Json = dict[str, Any]


def timestamp(moment: datetime | None) -> str | None:
    """Return Statuspage's ISO-8601 form in UTC with milliseconds: 2026-11-23T18:15:00.000Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page(*, name: str, base_url: str, updated_at: datetime | None) -> Json:
    """Return the `page` object every endpoint starts with."""
    return {"id": PAGE_ID, "name": name, "url": base_url, "time_zone": TIME_ZONE, "updated_at": timestamp(updated_at)}


def status(*, indicator: str, description: str) -> Json:
    return {"indicator": indicator, "description": description}


def component_id(component: Component) -> str:
    return f"component-{component.pk}"


def group_id(group: ComponentGroup) -> str:
    return f"group-{group.pk}"


def component(item: Component, *, position: int, created_at: datetime | None = None) -> Json:
    """Return one component; members of a group carry its id in `group_id`."""
    return {
        "id": component_id(item),
        "name": item.name,
        "status": str(item.status),
        "created_at": timestamp(created_at or item.updated_at),
        "updated_at": timestamp(item.updated_at),
        "position": position,
        "description": item.description or None,
        "showcase": True,  # every component shows its uptime bars on our page
        "start_date": None,
        "group_id": f"group-{item.group_id}" if item.group_id else None,
        "page_id": PAGE_ID,
        "group": False,
        "only_show_if_degraded": False,
    }


def group(item: ComponentGroup, members: list[Component], *, position: int, created_at: datetime | None) -> Json:
    """Return a group as Statuspage has it: a component with `group: true` and its members' ids."""
    updated_at = max((member.updated_at for member in members), default=created_at)
    return {
        "id": group_id(item),
        "name": item.name,
        "status": str(ComponentStatus.worst([member.status for member in members])),
        "created_at": timestamp(created_at or updated_at),
        "updated_at": timestamp(updated_at),
        "position": position,
        "description": item.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": [component_id(member) for member in members],
    }


def components(
    grouped: Iterable[tuple[ComponentGroup | None, list[Component]]], *, created: dict[int, datetime]
) -> list[Json]:
    """Return the flat list Statuspage sends: each group followed by its members, then ungrouped ones."""
    shaped: list[Json] = []
    top = 0
    for container, members in grouped:
        if container is not None:
            top += 1
            first = min((created[m.pk] for m in members if m.pk in created), default=None)
            shaped.append(group(container, members, position=top, created_at=first))
        for number, member in enumerate(members, start=1):
            if container is None:
                top += 1
            position = number if container is not None else top
            shaped.append(component(member, position=position, created_at=created.get(member.pk)))
    return shaped


def update_status(update: IncidentUpdate) -> str:
    """Return the incident's status when the update was posted (updates without a move keep the previous one)."""
    return str(update.status or update.previous_status or Incident.Status.INVESTIGATING)


def affected_components(update: IncidentUpdate, *, by_name: dict[str, Component]) -> list[Json] | None:
    """Return the update's component moves (old -> new); null when it moved none, as Statuspage does."""
    moves = [
        {
            "code": component_id(by_name[change["component"]]) if change["component"] in by_name else None,
            "name": change["component"],
            "old_status": change["previous"],
            "new_status": change["status"],
        }
        for change in update.component_changes or []
    ]
    return moves or None


def incident_update(update: IncidentUpdate, *, incident_id: str, by_name: dict[str, Component]) -> Json:
    """Return one public update of an incident."""
    return {
        "id": f"update-{update.pk}",
        "status": update_status(update),
        "body": update.body,
        "incident_id": incident_id,
        "created_at": timestamp(update.at),
        "updated_at": timestamp(update.at),
        "display_at": timestamp(update.at),
        "affected_components": affected_components(update, by_name=by_name),
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident(
    item: Incident,
    *,
    updates: list[IncidentUpdate],
    affected: list[Json],
    base_url: str,
    by_name: dict[str, Component],
    published_at: datetime | None = None,
) -> Json:
    """Return one incident with its public updates, newest first, and the components it affects."""
    updates = sorted(updates, key=lambda update: (update.at, update.pk), reverse=True)
    moments = [item.created_at, item.resolved_at, published_at, *(update.at for update in updates)]
    monitoring = [update.at for update in updates if update.status == Incident.Status.MONITORING]
    return {
        "id": item.code,
        "name": item.title,
        "status": str(item.status),
        "created_at": timestamp(item.created_at),
        "updated_at": timestamp(max(moment for moment in moments if moment is not None)),
        "monitoring_at": timestamp(min(monitoring, default=None)),
        "resolved_at": timestamp(item.resolved_at),
        "impact": str(item.impact),
        "shortlink": f"{base_url}/incidents/{item.code}/",
        "started_at": timestamp(item.started_at),
        "page_id": PAGE_ID,
        "incident_updates": [incident_update(u, incident_id=item.code, by_name=by_name) for u in updates],
        "components": affected,
    }


def maintenance_update(update: MaintenanceUpdate, *, maintenance_id: str) -> Json:
    """Return one public update of a window; its status is the window's once the update was posted."""
    return {
        "id": f"maintenance-update-{update.pk}",
        "status": str(update.status),
        "body": update.body,
        "incident_id": maintenance_id,
        "created_at": timestamp(update.at),
        "updated_at": timestamp(update.at),
        "display_at": timestamp(update.at),
        "affected_components": None,  # a window moves its components as a whole: see `components`
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def maintenance(
    window: MaintenanceWindow, *, updates: list[MaintenanceUpdate] | None = None, base_url: str | None = None
) -> Json:
    """Return a window as Statuspage's scheduled maintenance, with its public updates newest first.

    `status` is the window's (scheduled, in_progress, verifying, completed; cancelled ones are
    left out of the lists). `started_at` stays null until the window starts, `resolved_at` until
    it completes. `updates` default to the window's; `shortlink` is its page under `base_url`
    (the configured status page URL when None).
    """
    updates = list(window.updates.all()) if updates is None else updates
    updates = sorted(updates, key=lambda update: (update.at, update.pk), reverse=True)
    shortlink = window.url if base_url is None else f"{base_url}/maintenance/{window.code}/"
    return {
        "id": window.code,
        "name": window.title,
        "status": str(window.status),
        "created_at": timestamp(window.created_at),
        "updated_at": timestamp(max([window.updated_at, *(update.at for update in updates)])),
        "monitoring_at": None,
        "resolved_at": timestamp(window.completed_at),
        "impact": "maintenance",
        "shortlink": shortlink,
        "started_at": timestamp(window.started_at),
        "page_id": PAGE_ID,
        "incident_updates": [maintenance_update(update, maintenance_id=window.code) for update in updates],
        "components": [component(item, position=n) for n, item in enumerate(window.components.all(), start=1)],
        "scheduled_for": timestamp(window.scheduled_for),
        "scheduled_until": timestamp(window.scheduled_until),
    }
