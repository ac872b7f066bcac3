"""Version 1 of the operator API: every app's endpoints under /api/v1/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from console import api as console_api
from engine import api as engine_api
from incidents import api as incidents_api
from incidents.maintenance import api as maintenance_api
from incidents.postmortems import api as postmortems_api

router = DefaultRouter()
router.register("users", console_api.UserViewSet, basename="user")
router.register("audit", console_api.AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("me/", console_api.me, name="api-me"),
    path("auth/token/", console_api.ObtainTokenView.as_view(), name="api-token"),
    path("markets/", engine_api.markets, name="api-markets"),
    path("markets/<str:symbol>/mode/", engine_api.change_mode, name="api-market-mode"),
    path("engine/health/", engine_api.health, name="api-engine-health"),
    path("engine/restart/", engine_api.restart_engine, name="api-engine-restart"),
    path("engine/drills/", engine_api.start_drill, name="api-engine-drills"),
    path("orders/", engine_api.place_order, name="api-orders"),
    path("orders/batch/", engine_api.place_batch, name="api-orders-batch"),
    path("orders/<int:order_id>/", engine_api.cancel_order, name="api-order"),
    path("components/", incidents_api.components, name="api-components"),
    path("incidents/", incidents_api.incidents, name="api-incidents"),
    path("incidents/<str:code>/postmortem/", postmortems_api.create_postmortem, name="api-postmortem-create"),
    path("incidents/<str:code>/", incidents_api.incident, name="api-incident"),
    path("incidents/<str:code>/updates/", incidents_api.post_update, name="api-incident-updates"),
    path("incidents/<str:code>/notes/", incidents_api.add_note, name="api-incident-notes"),
    path("incidents/<str:code>/severity/", incidents_api.change_severity, name="api-incident-severity"),
    path("incidents/<str:code>/roles/", incidents_api.assign_role, name="api-incident-roles"),
    path("incidents/<str:code>/timeline/", incidents_api.incident_timeline, name="api-incident-timeline"),
    path("incidents/<str:code>/publish/", incidents_api.publish, name="api-incident-publish"),
    path("incidents/<str:code>/started/", incidents_api.set_started_at, name="api-incident-started"),
    path("incidents/<str:code>/visibility/", incidents_api.change_visibility, name="api-incident-visibility"),
    path("update-templates/", incidents_api.update_templates, name="api-update-templates"),
    path("markdown/preview/", incidents_api.preview, name="api-markdown-preview"),
    path("alert-rules/", incidents_api.alert_rules, name="api-alert-rules"),
    path("alert-rules/<int:pk>/", incidents_api.alert_rule, name="api-alert-rule"),
    path("alerts/", incidents_api.alerts, name="api-alerts"),
    path("incidents/<str:code>/timeline.md", incidents_api.timeline_markdown, name="api-incident-timeline-md"),
    path("postmortems/", postmortems_api.postmortems, name="api-postmortems"),
    path("postmortems/<str:code>/", postmortems_api.postmortem, name="api-postmortem"),
    path("postmortems/<str:code>/submit/", postmortems_api.submit, name="api-postmortem-submit"),
    path(
        "postmortems/<str:code>/request-changes/",
        postmortems_api.request_changes,
        name="api-postmortem-request-changes",
    ),
    path("postmortems/<str:code>/approve/", postmortems_api.approve, name="api-postmortem-approve"),
    path("postmortems/<str:code>/publish/", postmortems_api.publish, name="api-postmortem-publish"),
    path("postmortems/<str:code>/postmortem.md", postmortems_api.postmortem_markdown, name="api-postmortem-md"),
    path("postmortems/<str:code>/timeline/", postmortems_api.add_timeline_entry, name="api-postmortem-timeline"),
    path(
        "postmortems/<str:code>/timeline/<int:entry_id>/",
        postmortems_api.timeline_entry,
        name="api-postmortem-timeline-entry",
    ),
    path("postmortems/<str:code>/action-items/", postmortems_api.add_action_item, name="api-postmortem-action-items"),
    path("action-items/", postmortems_api.action_items, name="api-action-items"),
    path("action-items/<int:item_id>/", postmortems_api.action_item, name="api-action-item"),
    path("maintenance/", maintenance_api.windows, name="api-maintenance"),
    path("maintenance/<str:code>/", maintenance_api.window, name="api-maintenance-window"),
    path("maintenance/<str:code>/start/", maintenance_api.start, name="api-maintenance-start"),
    path("maintenance/<str:code>/end/", maintenance_api.end, name="api-maintenance-end"),
    path("maintenance/<str:code>/complete/", maintenance_api.complete, name="api-maintenance-complete"),
    path("maintenance/<str:code>/extend/", maintenance_api.extend, name="api-maintenance-extend"),
    path("maintenance/<str:code>/reschedule/", maintenance_api.reschedule, name="api-maintenance-reschedule"),
    path("maintenance/<str:code>/cancel/", maintenance_api.cancel, name="api-maintenance-cancel"),
    *router.urls,
]
