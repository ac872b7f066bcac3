"""The JSON at /api/v2/ has Statuspage's shapes field by field, shows only public facts, and revalidates cheaply."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from incidents import services
from incidents.maintenance import services as maintenance
from incidents.models import Component, ComponentGroup, ComponentStatus, Incident
from incidents.statuspage import api_v2, shapes

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
MILLISECONDS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ENDPOINTS = [f"/api/v2/{name}" for name in api_v2.DOCUMENTS]
TIMESTAMP_FIELDS = {"updated_at", "created_at", "started_at", "display_at", "monitoring_at", "resolved_at"}


def documented(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def get_json(client: Client, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"] == "application/json"
    return response.json()


def same_fields(ours: Any, theirs: Any, where: str = "") -> None:
    """Assert `ours` has the documented keys at every level (and JSON types, where the example has a value)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert set(ours) == set(theirs), f"{where}: {sorted(set(ours) ^ set(theirs))}"
        for key, value in theirs.items():
            same_fields(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list) and theirs and ours:
        for number, item in enumerate(ours):
            # A group is documented apart from a plain component: compare each with its own kind.
            kind = [t for t in theirs if isinstance(t, dict) and t.get("group") == item.get("group")]
            same_fields(item, kind[0] if kind else theirs[0], f"{where}[{number}]")
    elif theirs is not None and ours is not None:
        assert type(ours) is type(theirs), f"{where}: {ours!r} is not like {theirs!r}"


def every_timestamp(document: Any) -> list[str]:
    if isinstance(document, dict):
        found = [v for k, v in document.items() if k in TIMESTAMP_FIELDS and v is not None]
        return found + [t for v in document.values() for t in every_timestamp(v)]
    if isinstance(document, list):
        return [t for item in document for t in every_timestamp(item)]
    return []


@pytest.fixture
def page(commander) -> dict[str, Any]:
    """A page with a group of two markets, an ungrouped website, and an open public incident."""
    trading = ComponentGroup.objects.create(name="Trading", position=0)
    btc = Component.objects.create(group=trading, name="BTC-USD trading", position=0)
    eth = Component.objects.create(group=trading, name="ETH-USD trading", position=1, description="Spot market")
    website = Component.objects.create(name="Website")
    incident = services.declare_incident(title="Orders time out", by=commander, message="We are investigating.",
                                         components={btc: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
    services.post_update(incident=incident, body="A fix is rolling out.", by=commander,
                         status=Incident.Status.MONITORING)  # fmt: skip
    return {"group": trading, "btc": btc, "eth": eth, "website": website, "incident": incident}


def test_every_endpoint_answers_anyone_with_json_and_open_cors(client, page):
    for path in ENDPOINTS:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "public" in response["Cache-Control"]
        assert json.loads(response.content)["page"]["time_zone"] == "Etc/UTC"


def test_summary_has_statuspage_fields_at_every_level(client, page):
    ours = get_json(client, "/api/v2/summary.json")
    same_fields(ours, documented("statuspage_summary.json"))
    assert list(ours) == ["page", "components", "incidents", "scheduled_maintenances", "status"]


def test_other_documents_have_the_summary_parts_they_share(client, page):
    summary = documented("statuspage_summary.json")
    same_fields(get_json(client, "/api/v2/status.json"), {"page": summary["page"], "status": summary["status"]})
    same_fields(
        get_json(client, "/api/v2/components.json"), {"page": summary["page"], "components": summary["components"]}
    )
    for path in ("/api/v2/incidents.json", "/api/v2/incidents/unresolved.json"):
        same_fields(get_json(client, path), {"page": summary["page"], "incidents": summary["incidents"]})


def test_timestamps_are_utc_with_milliseconds(client, page):
    stamps = [stamp for path in ENDPOINTS for stamp in every_timestamp(get_json(client, path))]
    assert stamps
    assert all(MILLISECONDS_UTC.match(stamp) for stamp in stamps), stamps
    assert shapes.timestamp(datetime(2026, 11, 23, 18, 15, tzinfo=UTC)) == "2026-11-23T18:15:00.000Z"


def test_the_page_object_names_the_page_and_where_it_is(client, page, settings):
    ours = get_json(client, "/api/v2/status.json")["page"]
    assert ours["id"] == shapes.PAGE_ID
    assert ours["name"] == settings.STATUS_PAGE_NAME
    assert ours["url"] == "http://testserver"


def test_groups_are_components_that_list_their_members(client, page):
    components = {item["name"]: item for item in get_json(client, "/api/v2/components.json")["components"]}
    group, btc, eth, website = (components[n] for n in ("Trading", "BTC-USD trading", "ETH-USD trading", "Website"))
    assert list(components) == ["Trading", "BTC-USD trading", "ETH-USD trading", "Website"]
    assert group["group"] is True
    assert group["components"] == [btc["id"], eth["id"]]
    assert group["status"] == "major_outage"  # the worst of its members
    assert (btc["group_id"], eth["group_id"], website["group_id"]) == (group["id"], group["id"], None)
    assert (btc["status"], eth["status"], website["status"]) == ("major_outage", "operational", "operational")
    assert (group["position"], btc["position"], eth["position"], website["position"]) == (1, 1, 2, 2)
    assert (btc["description"], eth["description"]) == (None, "Spot market")
    assert all(isinstance(item["id"], str) for item in components.values())


def test_an_incident_carries_its_public_updates_newest_first_with_component_moves(client, page):
    incident = get_json(client, "/api/v2/incidents/unresolved.json")["incidents"][0]
    assert incident["id"] == page["incident"].code
    assert (incident["name"], incident["status"], incident["impact"]) == ("Orders time out", "monitoring", "critical")
    assert incident["resolved_at"] is None
    assert incident["monitoring_at"] is not None
    assert incident["shortlink"] == f"http://testserver/incidents/{page['incident'].code}/"
    latest, first = incident["incident_updates"]
    assert (latest["status"], latest["body"], latest["affected_components"]) == (
        "monitoring", "A fix is rolling out.", None,
    )  # fmt: skip
    assert first["status"] == "investigating"
    assert first["affected_components"] == [{
        "code": f"component-{page['btc'].pk}", "name": "BTC-USD trading",
        "old_status": "operational", "new_status": "major_outage",
    }]  # fmt: skip
    assert {update["incident_id"] for update in incident["incident_updates"]} == {incident["id"]}
    assert [component["name"] for component in incident["components"]] == ["BTC-USD trading"]


def test_a_resolved_incident_leaves_unresolved_but_stays_in_incidents(client, commander, page):
    services.post_update(incident=page["incident"], body="All good now.", by=commander, status=Incident.Status.RESOLVED,
                         components={page["btc"]: ComponentStatus.OPERATIONAL})  # fmt: skip
    assert get_json(client, "/api/v2/incidents/unresolved.json")["incidents"] == []
    assert get_json(client, "/api/v2/summary.json")["incidents"] == []
    [incident] = get_json(client, "/api/v2/incidents.json")["incidents"]
    assert incident["status"] == "resolved"
    assert incident["resolved_at"] is not None
    assert incident["incident_updates"][0]["affected_components"][0]["new_status"] == "operational"
    assert get_json(client, "/api/v2/status.json")["status"] == {
        "indicator": "none", "description": "All Systems Operational",
    }  # fmt: skip


def test_internal_incidents_drafts_and_notes_never_appear(client, commander, page):
    services.add_note(incident=page["incident"], body="SECRET-NOTE paged the DB team", by=commander)
    internal = services.declare_incident(title="SECRET-INTERNAL disk filling", by=commander, message="SECRET-INTERNAL",
                                         visibility=Incident.Visibility.INTERNAL)  # fmt: skip
    services.declare_incident(title="SECRET-DRAFT heartbeat", by=None, draft=True, message="SECRET-DRAFT body",
                              components={page["website"]: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
    for path in ENDPOINTS:
        body = client.get(path).content.decode()
        assert "SECRET" not in body, path
        assert internal.code not in body, path
    assert get_json(client, "/api/v2/components.json")["components"][-1]["status"] == "operational"


@pytest.mark.parametrize(
    ("statuses", "indicator", "description"),
    [
        ([], "none", "All Systems Operational"),
        ([ComponentStatus.DEGRADED_PERFORMANCE], "minor", "Minor Service Outage"),
        ([ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.PARTIAL_OUTAGE], "major", "Partial System Outage"),
        ([ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE], "critical", "Major Service Outage"),
        ([ComponentStatus.UNDER_MAINTENANCE], "none", "Service Under Maintenance"),
    ],
)
def test_the_status_indicator_rolls_up_the_component_mix(client, statuses, indicator, description):
    for number, status in enumerate(statuses):
        Component.objects.create(name=f"Component {number}", status=status)
    Component.objects.create(name="Always fine")
    assert get_json(client, "/api/v2/status.json")["status"] == {"indicator": indicator, "description": description}


def test_maintenance_lists_are_empty_until_maintenance_windows_exist(client, page):
    for path in ENDPOINTS:
        if "maintenance" in path:
            assert get_json(client, path)["scheduled_maintenances"] == [], path
    assert get_json(client, "/api/v2/summary.json")["scheduled_maintenances"] == []


def test_a_maintenance_window_has_statuspage_maintenance_fields(commander, page):
    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    window = maintenance.schedule_window(
        title="Database upgrade", scheduled_for=at, scheduled_until=at.replace(hour=4), components=[page["website"]],
        by=commander, now=at - timedelta(days=1),
    )  # fmt: skip
    maintenance.start_window(window=window, by=commander, now=at)
    ours = shapes.maintenance(window)
    same_fields(ours, documented("statuspage_scheduled_maintenances.json")["scheduled_maintenances"][0])
    assert (ours["impact"], ours["scheduled_until"], ours["resolved_at"]) == (
        "maintenance",
        "2026-11-24T04:00:00.000Z",
        None,
    )


def test_an_unchanged_document_is_answered_304_by_etag_or_date(client, page):
    first = client.get("/api/v2/summary.json")
    assert first["ETag"]
    assert first["Last-Modified"]
    by_etag = client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=first["ETag"])
    by_date = client.get("/api/v2/summary.json", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert (by_etag.status_code, by_date.status_code) == (304, 304)
    assert by_etag.content == b""


def test_a_public_change_changes_the_etag(client, commander, page):
    before = client.get("/api/v2/summary.json")["ETag"]
    services.post_update(incident=page["incident"], body="Still monitoring.", by=commander)
    after = client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200
    assert "Still monitoring." in after.content.decode()


def test_only_get_and_head_are_answered(client, page):
    assert client.head("/api/v2/status.json").status_code == 200
    assert client.post("/api/v2/status.json").status_code == 405
    assert client.delete("/api/v2/summary.json").status_code == 405
