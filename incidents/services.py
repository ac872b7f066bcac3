"""What people do to incidents and components: every change goes through here, onto the timeline and the audit log.

Who may do what is checked here too, so the console, the API and tasks cannot disagree:
support posts updates and internal notes; commanders declare, change status, severity, roles
and components, and resolve (DESIGN.md, Roles).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from console import audit
from console.models import AuditEntry
from console.permissions import Capability, can
from incidents import lifecycle, publishing, timeline
from incidents.markdown import render
from incidents.models import (
    AffectedComponent,
    AlertRule,
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    UpdateTemplate,
)

ROLES = {"commander": "commander", "communications_lead": "communications lead"}


def person(user: Any) -> Any:
    """The user, or None for the system (alert rules and schedules act as nobody in particular)."""
    return user if getattr(user, "is_authenticated", False) else None


def _require(user: Any, capability: Capability) -> None:
    if user is not None and not can(user, capability):  # None: the system itself (alert rules, beat)
        raise PermissionDenied(f"Your role may not {capability.label.lower()}.")


def next_code(year: int) -> str:
    """The next reference code of `year`: INC-2026-0042."""
    prefix = f"INC-{year}-"
    last = Incident.objects.filter(code__startswith=prefix).aggregate(last=Max("code"))["last"]
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


@transaction.atomic
def declare_incident(
    *, title: str, by: Any, severity: str = Incident.Severity.SEV3, components: dict[Component, str] | None = None,
    visibility: str = Incident.Visibility.PUBLIC, message: str = "", started_at: datetime | None = None,
    draft: bool = False, source: str = AuditEntry.Source.CONSOLE,
) -> Incident:  # fmt: skip
    """Open an incident (a draft when an alert opens it), with its affected components and first update."""
    _require(by, Capability.MANAGE_INCIDENTS)
    now = timezone.now()
    if started_at is not None and started_at > now:
        raise ValidationError({"started_at": ["An incident cannot start in the future."]})
    incident = Incident.objects.create(
        code=next_code(now.year), title=title, severity=severity, visibility=visibility, draft=draft,
        started_at=started_at or now, detected_at=now, created_at=now,
        commander=person(by),
    )  # fmt: skip
    timeline.log(incident=incident, kind="declared", actor=by, summary=f"{incident.code} declared: {title}",
                 detail={"severity": severity, "visibility": visibility, "draft": draft})  # fmt: skip
    changes = set_affected(incident=incident, components=components or {}, by=by)
    if message.strip():
        _add_update(incident=incident, body=message, by=by, internal=False, component_changes=changes)
    audit.record(actor=by, action="incident.declared", target=incident, source=source,
                 after={"title": title, "severity": severity, "visibility": visibility, "draft": draft})  # fmt: skip
    if incident.is_public():
        publishing.changed("incident_created", incident_id=incident.pk)
    return incident


@transaction.atomic
def post_update(
    *, incident: Incident, body: str, by: Any, status: str | None = None,
    components: dict[Component, str] | None = None, source: str = AuditEntry.Source.CONSOLE,
) -> IncidentUpdate:  # fmt: skip
    """Post a public update; a status move or component changes ride with it (those need a commander)."""
    _require(by, Capability.POST_UPDATES)
    if not body.strip():
        raise ValidationError({"body": ["Write what customers should know."]})
    previous = incident.status
    if status is not None and status != incident.status:
        _require(by, Capability.MANAGE_INCIDENTS)
        lifecycle.check_move(incident, status)
        incident.save(update_fields=lifecycle.apply_move(incident, status))
        timeline.log(incident=incident, kind="status_changed", actor=by, summary=f"status {previous} -> {status}",
                     detail={"previous": previous, "status": status})  # fmt: skip
    changes = []
    if components:
        _require(by, Capability.MANAGE_INCIDENTS)
        changes = set_affected(incident=incident, components=components, by=by)
    update = _add_update(incident=incident, body=body, by=by, internal=False, component_changes=changes,
                         previous_status=previous, status=incident.status if status else "")  # fmt: skip
    audit.record(actor=by, action="incident.update_posted", target=incident, source=source,
                 before={"status": previous}, after={"status": incident.status, "update": update.pk})  # fmt: skip
    if incident.is_public():
        resolved = previous != incident.status == Incident.Status.RESOLVED
        kind = "incident_resolved" if resolved else "incident_updated"
        publishing.changed(kind, incident_id=incident.pk, update_id=update.pk)
    return update


def add_note(*, incident: Incident, body: str, by: Any, source: str = AuditEntry.Source.CONSOLE) -> IncidentUpdate:
    """Add an internal note: on the timeline and in the console, never public."""
    _require(by, Capability.POST_INTERNAL_NOTES)
    if not body.strip():
        raise ValidationError({"body": ["A note needs some text."]})
    with transaction.atomic():
        note = _add_update(incident=incident, body=body, by=by, internal=True, component_changes=[])
        audit.record(actor=by, action="incident.note_added", target=incident, source=source, after={"note": note.pk})
    return note


def _add_update(
    *, incident: Incident, body: str, by: Any, internal: bool, component_changes: list[dict],
    previous_status: str = "", status: str = "",
) -> IncidentUpdate:  # fmt: skip
    update = IncidentUpdate.objects.create(
        incident=incident, body=body, body_html=render(body), internal=internal, previous_status=previous_status,
        status=status, component_changes=component_changes,
        author=person(by),
    )  # fmt: skip
    kind = "note" if internal else "update"
    timeline.log(incident=incident, kind=kind, actor=by, summary=body.strip().splitlines()[0][:200],
                 detail={"update": update.pk, "status": status})  # fmt: skip
    return update


def set_affected(*, incident: Incident, components: dict[Component, str], by: Any) -> list[dict]:
    """Give components the statuses the incident says; return the changes made (old -> new)."""
    changes = []
    for component, status in components.items():
        if status not in ComponentStatus.values:
            raise ValidationError({"components": [f"Unknown component status {status!r}."]})
        AffectedComponent.objects.update_or_create(incident=incident, component=component, defaults={"status": status})
        if incident.draft:  # proposed only: a draft changes nothing customers see until a person publishes it
            continue
        change = set_component_status(component=component, status=status, by=by, incident=incident)
        if change is not None:
            changes.append({"component": component.name, "previous": change.previous, "status": status})
    return changes


def set_component_status(
    *, component: Component, status: str, by: Any, incident: Incident | None = None
) -> ComponentStatusChange | None:
    """Change a component's status and record it (None when it already had that status)."""
    if component.status == status:
        return None
    previous, component.status, component.updated_at = component.status, status, timezone.now()
    component.save(update_fields=["status", "updated_at"])
    change = ComponentStatusChange.objects.create(
        component=component, previous=previous, status=status, incident=incident,
        actor=person(by),
    )  # fmt: skip
    publishing.changed("component_changed", component_id=component.pk)
    if incident is not None:
        timeline.log(incident=incident, kind="component_changed", actor=by,
                     summary=f"{component.name}: {previous} -> {status}",
                     detail={"component": component.pk, "previous": previous, "status": status})  # fmt: skip
    return change


@transaction.atomic
def change_severity(*, incident: Incident, to: str, by: Any, source: str = AuditEntry.Source.CONSOLE) -> None:
    _require(by, Capability.MANAGE_INCIDENTS)
    if to not in Incident.Severity.values:
        raise ValidationError({"severity": [f"One of {', '.join(Incident.Severity.values)}."]})
    previous, incident.severity = incident.severity, to
    incident.save(update_fields=["severity"])
    timeline.log(incident=incident, kind="severity_changed", actor=by, summary=f"severity {previous} -> {to}",
                 detail={"previous": previous, "severity": to})  # fmt: skip
    audit.record(actor=by, action="incident.severity_changed", target=incident, source=source,
                 before={"severity": previous}, after={"severity": to})  # fmt: skip


@transaction.atomic
def assign_role(*, incident: Incident, role: str, user: Any, by: Any, source: str = AuditEntry.Source.CONSOLE) -> None:
    """Make `user` the incident's commander or communications lead (None clears the role)."""
    _require(by, Capability.MANAGE_INCIDENTS)
    if role not in ROLES:
        raise ValidationError({"role": [f"One of {', '.join(ROLES)}."]})
    if user is not None and not can(user, Capability.POST_UPDATES):
        raise ValidationError({"user": [f"{user.get_username()} has no role that may run an incident."]})
    holder = getattr(incident, role)
    previous = holder.get_username() if holder else None
    setattr(incident, role, user)
    incident.save(update_fields=[role])
    name = user.get_username() if user else None
    timeline.log(incident=incident, kind="role_changed", actor=by, summary=f"{ROLES[role]}: {name or 'nobody'}",
                 detail={"role": role, "previous": previous, "user": name})  # fmt: skip
    audit.record(actor=by, action="incident.role_changed", target=incident, source=source,
                 before={role: previous}, after={role: name})  # fmt: skip


@transaction.atomic
def publish_draft(
    *, incident: Incident, by: Any, message: str = "", source: str = AuditEntry.Source.CONSOLE
) -> Incident:  # fmt: skip
    """Publish a draft an alert opened: its proposed component statuses take effect, customers see it."""
    _require(by, Capability.MANAGE_INCIDENTS)
    if not incident.draft:
        raise ValidationError({"draft": [f"{incident.code} is already published."]})
    incident.draft = False
    incident.save(update_fields=["draft"])
    timeline.log(incident=incident, kind="published", actor=by, summary=f"{incident.code} published")
    proposed = {affected.component: affected.status for affected in incident.affected.select_related("component")}
    changes = set_affected(incident=incident, components=proposed, by=by)
    if message.strip():
        _add_update(incident=incident, body=message, by=by, internal=False, component_changes=changes,
                    status=incident.status)  # fmt: skip
    audit.record(actor=by, action="incident.published", target=incident, source=source,
                 before={"draft": True}, after={"draft": False, "components": changes})  # fmt: skip
    if incident.is_public():
        publishing.changed("incident_created", incident_id=incident.pk)
    return incident


@transaction.atomic
def set_started_at(*, incident: Incident, at: datetime, by: Any, source: str = AuditEntry.Source.CONSOLE) -> None:
    """Move the start of the impact (usually back in time, once the evidence says when it began)."""
    _require(by, Capability.MANAGE_INCIDENTS)
    if at > timezone.now():
        raise ValidationError({"started_at": ["An incident cannot start in the future."]})
    if incident.resolved_at is not None and at > incident.resolved_at:
        raise ValidationError({"started_at": ["An incident cannot start after it was resolved."]})
    previous, incident.started_at = incident.started_at, at
    incident.save(update_fields=["started_at"])
    timeline.log(incident=incident, kind="started_changed", actor=by,
                 summary=f"impact began {at:%Y-%m-%d %H:%M:%S} UTC",
                 detail={"previous": previous.isoformat(), "started_at": at.isoformat()})  # fmt: skip
    audit.record(actor=by, action="incident.started_changed", target=incident, source=source,
                 before={"started_at": previous.isoformat()}, after={"started_at": at.isoformat()})  # fmt: skip
    if incident.is_public():
        publishing.changed("incident_changed", incident_id=incident.pk)


@transaction.atomic
def change_visibility(*, incident: Incident, to: str, by: Any, source: str = AuditEntry.Source.CONSOLE) -> None:
    """Make an incident public or internal-only."""
    _require(by, Capability.MANAGE_INCIDENTS)
    if to not in Incident.Visibility.values:
        raise ValidationError({"visibility": [f"One of {', '.join(Incident.Visibility.values)}."]})
    previous, incident.visibility = incident.visibility, to
    incident.save(update_fields=["visibility"])
    timeline.log(incident=incident, kind="visibility_changed", actor=by, summary=f"visibility {previous} -> {to}",
                 detail={"previous": previous, "visibility": to})  # fmt: skip
    audit.record(actor=by, action="incident.visibility_changed", target=incident, source=source,
                 before={"visibility": previous}, after={"visibility": to})  # fmt: skip
    publishing.changed("incident_changed", incident_id=incident.pk)  # appearing or disappearing


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill_template(*, template: UpdateTemplate, incident: Incident, status: str | None = None) -> str:
    """The template's body with the incident's facts in its placeholders (unknown ones left as written)."""
    names = [affected.component.name for affected in incident.affected.select_related("component")]
    values = {
        "title": incident.title,
        "code": incident.code,
        "components": _spoken_list(names) or "our services",
        "status": Incident.Status(status or template.status or incident.status).label.lower(),
        "started_at": f"{incident.started_at:%Y-%m-%d %H:%M} UTC",
        "commander": incident.commander.get_username() if incident.commander else "the incident commander",
    }
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template.body)


def _spoken_list(names: list[str]) -> str:
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def create_demo_components(*, markets: list[Any]) -> list[Component]:
    """A starting set of components (trading per market, plus the API and funding) when there are none."""
    if Component.objects.exists():
        return []
    trading = ComponentGroup.objects.get_or_create(name="Trading", defaults={"position": 0})[0]
    platform = ComponentGroup.objects.get_or_create(name="Platform", defaults={"position": 1})[0]
    created = [
        Component.objects.create(group=trading, name=f"{market.symbol} trading", position=number, market=market)
        for number, market in enumerate(markets)
    ]
    for number, name in enumerate(["REST and WebSocket API", "Deposits and withdrawals", "Website"]):
        created.append(Component.objects.create(group=platform, name=name, position=number))
    return created


ALERT_RULE_FIELDS = ("name", "shard", "metric", "comparison", "threshold", "duration_seconds", "severity", "enabled")


@transaction.atomic
def save_alert_rule(
    *, by: Any, rule: AlertRule | None = None, components: list[Component] | None = None,
    source: str = AuditEntry.Source.CONSOLE, **fields: Any,
) -> AlertRule:  # fmt: skip
    """Create a rule, or change one; a changed condition starts its duration counting afresh."""
    _require(by, Capability.MANAGE_ALERT_RULES)
    before = audit.snapshot(rule) if rule is not None else None
    rule = rule or AlertRule()
    for name, value in fields.items():
        if name not in ALERT_RULE_FIELDS:
            raise ValidationError({name: ["Not a field of an alert rule."]})
        setattr(rule, name, value)
    rule.pending_since = None
    rule.full_clean(exclude=["components"])
    rule.save()
    if components is not None:
        rule.components.set(components)
    action = "alert_rule.created" if before is None else "alert_rule.changed"
    audit.record(actor=by, action=action, target=rule, source=source, before=before, after=audit.snapshot(rule))
    return rule


@transaction.atomic
def delete_alert_rule(*, rule: AlertRule, by: Any, source: str = AuditEntry.Source.CONSOLE) -> None:
    """Delete a rule; its past alerts go with it (incident timelines keep what they said)."""
    _require(by, Capability.MANAGE_ALERT_RULES)
    before = audit.snapshot(rule)
    audit.record(actor=by, action="alert_rule.deleted", target=rule, source=source, before=before)
    rule.delete()


# The examples of issue 6, on by default: what a commander would set up first.
DEFAULT_ALERT_RULES = [
    {"name": "Engine heartbeat stale", "metric": "heartbeat_age", "threshold": 2, "duration_seconds": 0,
     "severity": Incident.Severity.SEV1},
    {"name": "Ack latency p99 over 50 ms", "metric": "p99_latency_ms", "threshold": 50, "duration_seconds": 30,
     "severity": Incident.Severity.SEV2},
    {"name": "Throughput dropped 80%", "metric": "throughput_drop_percent", "threshold": 80, "duration_seconds": 10,
     "severity": Incident.Severity.SEV2},
    {"name": "Order queue backing up", "metric": "queue_depth", "threshold": 50_000, "duration_seconds": 10,
     "severity": Incident.Severity.SEV2},
    {"name": "Engine crash loop", "metric": "crash_loop", "threshold": 0.5, "duration_seconds": 0,
     "severity": Incident.Severity.SEV1},
]  # fmt: skip


def create_default_alert_rules(*, shard: str, components: list[Component]) -> list[AlertRule]:
    """The default rules for a shard when it has none, each covering `components`."""
    if AlertRule.objects.filter(shard=shard).exists():
        return []
    rules = [AlertRule.objects.create(shard=shard, **fields) for fields in DEFAULT_ALERT_RULES]
    for rule in rules:
        rule.components.set(components)
    return rules
