"""The maintenance API: who may call what, scheduling with its refusals and warnings, and every move of a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.models import AuditEntry
from incidents.maintenance.models import MaintenanceWindow
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for
from tests.incidents.maintenance.test_maintenance_views import (
    ahead,
    btc_trading,
    busy_hour,
    fresh,
    in_verification,
    upcoming,
)

__all__ = ["btc_trading", "busy_hour"]  # fixtures, used by name

pytestmark = pytest.mark.django_db

Status = MaintenanceWindow.Status
PERSONAS = [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN]
LIST = "/api/v1/maintenance/"
READERS = {ANONYMOUS: 401, OUTSIDER: 403, VIEWER: 200, SUPPORT: 200, COMMANDER: 200, ADMIN: 200}
REFUSED_BELOW_COMMANDER = {ANONYMOUS: 401, OUTSIDER: 403, VIEWER: 403, SUPPORT: 403}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def call(client: Client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, body or {}, content_type="application/json")


def send(persona, name: str, method: str, path: str, body: dict | None = None):
    return call(client_for(persona, name), method, path, body)


def of(window: MaintenanceWindow, tail: str = "") -> str:
    return f"{LIST}{window.code}/{tail}"


@pytest.fixture
def window(commander, trading) -> MaintenanceWindow:
    return upcoming(commander, [trading])


def new_window(components, **fields) -> dict:
    start = fields.pop("start", ahead(days=1))
    body = {"title": "Matching engine upgrade", "scheduled_for": iso(start),
            "scheduled_until": iso(start + timedelta(hours=1)), "components": [c.pk for c in components]}  # fmt: skip
    return body | fields


# -- who may call what ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PERSONAS)
@pytest.mark.parametrize("kind", ["list", "window"])
def test_reading_answers_each_persona_as_the_role_matrix_says(persona, window, kind, name):
    path = LIST if kind == "list" else of(window)
    assert send(persona, name, "get", path).status_code == READERS[name]


@pytest.mark.parametrize("name", list(REFUSED_BELOW_COMMANDER))
def test_scheduling_is_refused_below_commander(persona, trading, name):
    assert send(persona, name, "post", LIST, new_window([trading])).status_code == REFUSED_BELOW_COMMANDER[name]
    assert not MaintenanceWindow.objects.exists()


MOVES = {
    "start/": {},
    "end/": {},
    "complete/": {"reason": "Checked"},
    "extend/": {"until": iso(ahead(days=1, hours=5))},
    "reschedule/": {"scheduled_for": iso(ahead(days=2)), "scheduled_until": iso(ahead(days=2, hours=1))},
    "cancel/": {"reason": "Postponed"},
}


@pytest.mark.parametrize("name", list(REFUSED_BELOW_COMMANDER))
@pytest.mark.parametrize("move", list(MOVES))
def test_every_move_is_refused_below_commander(persona, window, move, name):
    response = send(persona, name, "post", of(window, move), MOVES[move])
    assert response.status_code == REFUSED_BELOW_COMMANDER[name]
    assert fresh(window).status == Status.SCHEDULED
    assert fresh(window).updates.count() == 1


@pytest.mark.parametrize("name", [COMMANDER, ADMIN])
def test_commanders_and_admins_schedule(persona, trading, name):
    response = send(persona, name, "post", LIST, new_window([trading]))
    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == persona(name).username


def test_moves_are_post_only_and_unknown_windows_are_404(persona, window):
    assert send(persona, COMMANDER, "get", of(window, "start/")).status_code == 405
    assert send(persona, VIEWER, "get", f"{LIST}MNT-1999-0001/").status_code == 404
    assert send(persona, COMMANDER, "post", f"{LIST}MNT-1999-0001/cancel/").status_code == 404


# -- scheduling -------------------------------------------------------------------------------------


def test_a_commander_schedules_a_window_and_gets_it_back_with_no_warnings(persona, commander, trading, btc):
    start = ahead(days=2)
    body = new_window([trading], start=start, description="Orders **cannot** be placed.",
                      actions={"BTC-USD": "cancel_only"}, notice_hours=[48, 2], auto_complete=False,
                      message="We upgrade BTC-USD.")  # fmt: skip
    response = send(persona, COMMANDER, "post", LIST, body)
    assert response.status_code == 201, response.content
    answer = response.json()
    window = MaintenanceWindow.objects.get()
    assert answer["code"] == window.code
    assert answer["status"] == "scheduled"
    assert datetime.fromisoformat(answer["scheduled_for"]) == start
    assert answer["components"] == [{"id": trading.pk, "name": "BTC-USD trading", "status": "operational"}]
    assert [(a["market"], a["action"]) for a in answer["market_actions"]] == [("BTC-USD", "cancel_only")]
    assert (answer["notice_hours"], answer["auto_start"], answer["auto_complete"]) == ([48, 2], True, False)
    assert answer["description_html"] == "<p>Orders <strong>cannot</strong> be placed.</p>"
    assert [update["body"] for update in answer["updates"]] == ["We upgrade BTC-USD."]
    assert answer["warnings"] == []
    assert answer["url"].endswith(f"/maintenance/{window.code}/")
    entry = AuditEntry.objects.get(action="maintenance.scheduled")
    assert (entry.actor, entry.source) == (commander, AuditEntry.Source.API)


def test_notices_default_to_72_24_and_1_hours(persona, trading):
    response = send(persona, COMMANDER, "post", LIST, new_window([trading], notice_hours=None))
    assert response.json()["notice_hours"] == [72, 24, 1]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "Upgrade\x00"}, "title", "Null characters are not allowed."),
        ({"title": ""}, "title", "This field may not be blank."),
        ({"description": "a\x00b"}, "description", "Null characters are not allowed."),
        ({"scheduled_for": "2001-01-01T10:00:00Z", "scheduled_until": "2001-01-01T11:00:00Z"}, "scheduled_for",
         "Maintenance cannot be scheduled in the past"),
        ({"scheduled_for": "soon"}, "scheduled_for", "Datetime has wrong format."),
        ({"components": []}, "components", "Choose the components the maintenance affects."),
        ({"components": [999_999]}, "components", "No component with id 999999."),
        ({"components": [0]}, "components", "Ensure this value is greater than or equal to 1."),
        ({"actions": {"DOGE-USD": "halted"}}, "actions", "No market DOGE-USD."),
        ({"actions": {"BTC-USD\x00": "halted"}}, "actions", "Null characters are not allowed."),
        ({"actions": {"BTC\ud800": "halted"}}, "actions", "Surrogate characters are not allowed"),
        ({"actions": {"BTC-USD": "exploded"}}, "actions", "is not a valid choice."),
        ({"notice_hours": [0]}, "notice_hours", "greater than or equal to 1"),
        ({"notice_hours": ["soon"]}, "notice_hours", "A valid integer is required."),
        ({"message": "x\x00"}, "message", "Null characters are not allowed."),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_with_field_messages(persona, trading, btc, fields, field, message):
    response = send(persona, COMMANDER, "post", LIST, new_window([trading]) | fields)
    assert response.status_code == 400, response.content
    assert message in str(response.json()[field]), response.json()
    assert not MaintenanceWindow.objects.exists()


def test_an_end_before_the_start_is_refused(persona, trading):
    start = ahead(days=1)
    response = send(persona, COMMANDER, "post", LIST, new_window([trading], scheduled_until=iso(start), start=start))
    assert response.status_code == 400
    assert response.json()["scheduled_until"] == ["The maintenance must end after it starts."]


def test_an_overlapping_window_is_refused_naming_the_other(persona, window, trading):
    body = new_window([trading], start=window.scheduled_for + timedelta(minutes=30))
    response = send(persona, COMMANDER, "post", LIST, body)
    assert response.status_code == 400
    [message] = response.json()["scheduled_for"]
    assert message.startswith(f"Overlaps {window.code} “Database upgrade”")
    assert message.endswith("on BTC-USD trading.")


def test_a_halt_in_the_busiest_hour_is_scheduled_with_the_warning(persona, trading, btc, busy_hour):
    response = send(persona, COMMANDER, "post", LIST, new_window([trading], start=busy_hour,
                                                                 actions={"BTC-USD": "halted"}))  # fmt: skip
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert f"This halts BTC-USD during {busy_hour.hour:02d}:00-" in warning
    assert "30,000 orders" in warning
    assert MaintenanceWindow.objects.get().status == Status.SCHEDULED


# -- listing ----------------------------------------------------------------------------------------


def test_the_list_filters_by_status(persona, commander, trading, deposits):
    kept = upcoming(commander, [trading])
    gone = upcoming(commander, [deposits])
    send(persona, COMMANDER, "post", of(gone, "cancel/"))
    everything = send(persona, VIEWER, "get", LIST).json()
    assert {window["code"] for window in everything} == {kept.code, gone.code}
    assert [w["code"] for w in send(persona, VIEWER, "get", LIST + "?status=cancelled").json()] == [gone.code]
    assert [w["code"] for w in send(persona, VIEWER, "get", LIST + "?status=open").json()] == [kept.code]
    refused = send(persona, VIEWER, "get", LIST + "?status=exploded")
    assert refused.status_code == 400
    assert "status" in refused.json()


def test_a_window_shows_its_updates_and_internal_log(persona, window):
    answer = send(persona, VIEWER, "get", of(window)).json()
    assert [update["kind"] for update in answer["updates"]] == ["scheduled"]
    assert [event["kind"] for event in answer["events"]] == ["scheduled"]
    assert answer["verification_problems"] == []


# -- the moves --------------------------------------------------------------------------------------


def test_a_window_runs_its_course_through_the_api(persona, window, trading):
    started = send(persona, COMMANDER, "post", of(window, "start/"), {"message": "Starting **early**."})
    assert started.status_code == 200, started.content
    assert started.json()["status"] == "in_progress"
    assert started.json()["updates"][-1]["body"] == "Starting **early**."
    ended = send(persona, COMMANDER, "post", of(window, "end/"), {"message": ""})
    assert ended.json()["status"] == "completed"  # no market involved: verified at once
    assert [u["kind"] for u in ended.json()["updates"]] == ["scheduled", "started", "verifying", "completed"]
    sources = set(AuditEntry.objects.filter(action__startswith="maintenance.").values_list("source", flat=True))
    assert AuditEntry.Source.API in sources


def test_a_refused_move_says_why(persona, window):
    response = send(persona, COMMANDER, "post", of(window, "end/"))
    assert response.status_code == 400
    assert "only a window in progress ends" in response.json()["status"][0]


def test_completing_while_verification_holds_needs_a_reason(persona, commander, btc_trading):
    window = in_verification(commander, btc_trading)
    assert window.status == Status.VERIFYING
    answer = send(persona, VIEWER, "get", of(window)).json()
    assert any("no fresh heartbeat" in problem for problem in answer["verification_problems"])
    refused = send(persona, COMMANDER, "post", of(window, "complete/"), {"reason": ""})
    assert refused.status_code == 400
    assert refused.json()["reason"] == ["Engine health has not confirmed recovery: say why you complete anyway."]
    done = send(persona, COMMANDER, "post", of(window, "complete/"), {"reason": "Checked by hand", "message": "Done."})
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["updates"][-1]["body"]) == ("completed", "Done.")
    entry = AuditEntry.objects.get(action="maintenance.completed")
    assert (entry.after["reason"], entry.source) == ("Checked by hand", AuditEntry.Source.API)


def test_extending_resumes_a_window_in_verification_and_refuses_an_earlier_end(persona, commander, btc_trading):
    window = in_verification(commander, btc_trading)
    refused = send(persona, COMMANDER, "post", of(window, "extend/"), {"until": iso(window.scheduled_for)})
    assert refused.status_code == 400
    assert refused.json()["until"][0].startswith("Extend it past its current end")
    until = ahead(days=1, hours=6)
    extended = send(persona, COMMANDER, "post", of(window, "extend/"), {"until": iso(until), "message": "Longer."})
    assert extended.status_code == 200
    answer = extended.json()
    assert (answer["status"], datetime.fromisoformat(answer["scheduled_until"])) == ("in_progress", until)
    assert answer["updates"][-1]["body"] == "Longer."


def test_rescheduling_moves_a_scheduled_window_and_refuses_the_past(persona, window):
    refused = send(persona, COMMANDER, "post", of(window, "reschedule/"),
                   {"scheduled_for": "2001-01-01T10:00:00Z", "scheduled_until": "2001-01-01T11:00:00Z"})  # fmt: skip
    assert refused.status_code == 400
    assert "in the past" in refused.json()["scheduled_for"][0]
    start = ahead(days=3)
    moved = send(persona, COMMANDER, "post", of(window, "reschedule/"),
                 {"scheduled_for": iso(start), "scheduled_until": iso(start + timedelta(hours=1))})  # fmt: skip
    assert moved.status_code == 200
    assert datetime.fromisoformat(moved.json()["scheduled_for"]) == start
    assert moved.json()["updates"][-1]["kind"] == "rescheduled"


def test_cancelling_takes_a_reason_and_a_message_and_happens_once(persona, window):
    cancelled = send(persona, COMMANDER, "post", of(window, "cancel/"), {"reason": "Vendor", "message": "Not tonight."})
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["updates"][-1]["body"]) == ("cancelled", "Not tonight.")
    assert AuditEntry.objects.get(action="maintenance.cancelled").after["reason"] == "Vendor"
    again = send(persona, COMMANDER, "post", of(window, "cancel/"))
    assert again.status_code == 400
    assert "only a scheduled window can be cancelled" in again.json()["status"][0]


def test_times_come_back_in_utc(persona, window):
    answer = send(persona, VIEWER, "get", of(window)).json()
    assert datetime.fromisoformat(answer["scheduled_for"]).utcoffset() == timedelta(0)
    assert timezone.is_aware(datetime.fromisoformat(answer["created_at"]))
