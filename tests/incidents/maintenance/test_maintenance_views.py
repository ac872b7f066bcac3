"""The maintenance console pages: who may open and do what, scheduling through the form, the window's moves.

The pages use the real clock, so windows here are scheduled around `timezone.now()`; the engine
is a stand-in (`fake_engine`) wherever a market is switched, so no move waits for a real one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from console.models import AuditEntry
from console.panels import panels_in
from engine.models import HealthMinute, Market
from incidents.maintenance import engine_modes, panels, services
from incidents.maintenance.models import MaintenanceWindow, MarketAction
from incidents.models import Component, ComponentStatus
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for

pytestmark = pytest.mark.django_db

Status = MaintenanceWindow.Status
LIST, NEW = "/console/maintenance/", "/console/maintenance/new/"
PERSONAS = [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN]
LOGIN = "login"
READERS = {ANONYMOUS: LOGIN, OUTSIDER: 403, VIEWER: 200, SUPPORT: 200, COMMANDER: 200, ADMIN: 200}
SCHEDULERS = {ANONYMOUS: LOGIN, OUTSIDER: 403, VIEWER: 403, SUPPORT: 403, COMMANDER: 200, ADMIN: 200}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


def page_of(window: MaintenanceWindow, tail: str = "") -> str:
    return f"/console/maintenance/{window.code}/{tail}"


def typed(moment: datetime) -> str:
    """A time as a datetime-local input sends it (UTC, the console's time)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def ahead(**delta: float) -> datetime:
    return (timezone.now() + timedelta(**delta)).replace(second=0, microsecond=0)


def upcoming(by, components, *, hours_ahead: float = 24, hours: float = 2, **options) -> MaintenanceWindow:
    """Schedule a window `hours_ahead` from now, on the real clock the pages use."""
    start = ahead(hours=hours_ahead)
    return services.schedule_window(
        title=options.pop("title", "Database upgrade"), scheduled_for=start,
        scheduled_until=start + timedelta(hours=hours), components=components, by=by, **options,
    )  # fmt: skip


def fresh(window: MaintenanceWindow) -> MaintenanceWindow:
    return MaintenanceWindow.objects.get(pk=window.pk)


@pytest.fixture
def window(commander, trading) -> MaintenanceWindow:
    return upcoming(commander, [trading])


@pytest.fixture
def fake_engine(monkeypatch):
    """Stand in for the engine's supervisor: each switch answers at once, or refuses with `refusal` when set."""
    state: dict = {"refusal": "", "calls": []}

    def switch(market, mode, *, reason, by=None):
        state["calls"].append((market.symbol, mode))
        if state["refusal"]:
            return engine_modes.Outcome(False, error=state["refusal"])
        return engine_modes.Outcome(True, previous="open")

    monkeypatch.setattr(engine_modes, "switch", switch)
    return state


@pytest.fixture
def btc_trading(btc) -> Component:
    """A component of the BTC-USD market: verification checks its engine shard (none runs here)."""
    return Component.objects.create(name="BTC-USD order book", market=btc)


def schedule_form(chosen, **fields) -> dict:
    start = fields.pop("start", ahead(days=1))
    data = {
        "title": "Matching engine upgrade", "description": "Orders **cannot** be placed.",
        "scheduled_for": typed(start), "scheduled_until": typed(start + timedelta(hours=1)),
        "components": [component.pk for component in chosen], "auto_start": "on", "auto_complete": "on",
        "notice_hours": "72, 24, 1", "message": "", "action": "schedule",
    }  # fmt: skip
    data.update(fields)
    return data


# -- who may open what ------------------------------------------------------------------------------


def expect(response, expected, path: str) -> None:
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={path}"
    else:
        assert response.status_code == expected


@pytest.mark.parametrize("name", PERSONAS)
@pytest.mark.parametrize("kind", ["list", "detail"])
def test_the_list_and_a_window_answer_each_persona_as_the_role_matrix_says(persona, window, kind, name):
    path = LIST if kind == "list" else page_of(window)
    expect(client_for(persona, name).get(path), READERS[name], path)


@pytest.mark.parametrize("name", PERSONAS)
def test_only_commanders_and_admins_open_the_schedule_form(persona, trading, name):
    expect(client_for(persona, name).get(NEW), SCHEDULERS[name], NEW)


@pytest.mark.parametrize("name", [OUTSIDER, VIEWER, SUPPORT])
def test_other_roles_posting_the_schedule_form_get_a_403_and_nothing_is_scheduled(persona, trading, name):
    assert client_for(persona, name).post(NEW, schedule_form([trading])).status_code == 403
    assert not MaintenanceWindow.objects.exists()


ACTIONS = {
    "start": {"message": ""},
    "reschedule": {"scheduled_for": typed(ahead(days=2)), "scheduled_until": typed(ahead(days=2, hours=1))},
    "extend": {"until": typed(ahead(days=1, hours=5))},
    "cancel": {"reason": "Vendor postponed"},
    "end": {},
    "complete": {"reason": "Checked by hand"},
}


@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_move_is_refused_to_roles_below_commander(persona, window, action, name):
    path = page_of(window, f"{action}/")
    expect(client_for(persona, name).post(path, ACTIONS[action]), LOGIN if name == ANONYMOUS else 403, path)
    assert fresh(window).status == Status.SCHEDULED
    assert fresh(window).updates.count() == 1


@pytest.mark.parametrize("action", list(ACTIONS))
def test_moves_are_post_only(commander, window, action):
    assert logged_in(commander).get(page_of(window, f"{action}/")).status_code == 405


def test_moves_need_the_csrf_token(commander, window):
    client = Client(enforce_csrf_checks=True)
    client.force_login(commander)
    assert client.post(page_of(window, "cancel/"), {"reason": "x"}).status_code == 403
    assert fresh(window).status == Status.SCHEDULED


def test_an_unknown_window_is_a_404(viewer, commander):
    assert logged_in(viewer).get("/console/maintenance/MNT-1999-0001/").status_code == 404
    assert logged_in(commander).post("/console/maintenance/MNT-1999-0001/start/").status_code == 404


def test_the_console_navigation_leads_to_the_maintenance_list(viewer):
    html = html_of(logged_in(viewer).get("/console/"))
    assert f'href="{LIST}"' in html


def test_the_maintenance_pages_take_their_styles_from_a_stylesheet_not_inline(commander, window):
    for path in (LIST, f"{LIST}{window.code}/", NEW):
        html = html_of(logged_in(commander).get(path))
        assert "/static/console/maintenance.css" in html, path
        assert "<style" not in html, path  # a Content-Security-Policy without 'unsafe-inline' stays possible


# -- scheduling through the form --------------------------------------------------------------------


def test_the_form_says_times_are_utc_and_offers_each_component_and_market(commander, trading, btc):
    html = html_of(logged_in(commander).get(NEW))
    assert "All times are UTC" in html
    assert "Starts (UTC)" in html
    assert "BTC-USD trading" in html
    assert f'name="action_{btc.pk}"' in html
    assert 'value="72, 24, 1"' in html


def test_a_commander_schedules_a_window_and_lands_on_its_page(commander, trading, deposits, btc):
    start = ahead(days=2)
    data = schedule_form([trading, deposits], start=start, notice_hours="48, 2", message="We upgrade **BTC-USD**.",
                         auto_complete="", **{f"action_{btc.pk}": "cancel_only"})  # fmt: skip
    response = logged_in(commander).post(NEW, data)
    window = MaintenanceWindow.objects.get()
    assert response.status_code == 302
    assert response.url == page_of(window)
    assert (window.title, window.scheduled_for) == ("Matching engine upgrade", start)
    assert window.scheduled_until == start + timedelta(hours=1)
    assert sorted(component.name for component in window.components.all()) == ["BTC-USD trading", "Deposits"]
    assert [(a.market.symbol, a.action) for a in window.market_actions.all()] == [("BTC-USD", "cancel_only")]
    assert (window.auto_start, window.auto_complete, window.notice_hours) == (True, False, [48, 2])
    assert window.description_html == "<p>Orders <strong>cannot</strong> be placed.</p>"
    assert window.updates.get().body == "We upgrade **BTC-USD**."
    entry = AuditEntry.objects.get(action="maintenance.scheduled")
    assert (entry.actor, entry.source) == (commander, AuditEntry.Source.CONSOLE)
    page = html_of(logged_in(commander).get(response.url))
    assert "scheduled for" in page
    assert "Cancel only" in page


def test_markets_left_to_keep_trading_get_no_engine_action(commander, trading, btc):
    logged_in(commander).post(NEW, schedule_form([trading], **{f"action_{btc.pk}": "none"}))
    assert not MarketAction.objects.exists()


def test_the_preview_renders_the_description_and_schedules_nothing(commander, trading):
    response = logged_in(commander).post(NEW, schedule_form([trading], action="preview"))
    assert response.status_code == 200
    assert '<div class="update-body" data-testid="preview"><p>Orders <strong>cannot</strong> be placed.</p>' in (
        html_of(response)
    )
    assert not MaintenanceWindow.objects.exists()


def errors_of(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "Upgrade\x00"}, "title", "Null characters are not allowed."),
        ({"title": "   "}, "title", "This field is required."),
        ({"scheduled_for": "tomorrow"}, "scheduled_for", "Enter a valid date/time."),
        ({"scheduled_for": "2001-01-01T10:00", "scheduled_until": "2001-01-01T11:00"}, "scheduled_for",
         "Maintenance cannot be scheduled in the past"),
        ({"scheduled_until": typed(ahead(hours=1))}, "scheduled_until", "The maintenance must end after it starts."),
        ({"components": []}, "components", "Choose the components the maintenance affects."),
        ({"components": ["999999"]}, "components", "Select a valid choice."),
        ({"notice_hours": "72, soon"}, "notice_hours", "Give whole numbers of hours"),
        ({"notice_hours": "0"}, "notice_hours", "Each notice is 1 to 720 hours before the start."),
        ({"description": "Down\x00"}, "description", "Null characters are not allowed."),
    ],
)  # fmt: skip
def test_bad_input_comes_back_with_the_error_next_to_its_field(commander, trading, fields, field, message):
    response = logged_in(commander).post(NEW, schedule_form([trading], **fields))
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field)), response.context["form"].errors
    assert message.split("(")[0] in html_of(response)
    assert not MaintenanceWindow.objects.exists()


def test_an_unknown_engine_action_is_refused(commander, trading, btc):
    response = logged_in(commander).post(NEW, schedule_form([trading], **{f"action_{btc.pk}": "exploded"}))
    assert response.status_code == 400
    assert "Select a valid choice." in errors_of(response, f"action_{btc.pk}")[0]


def test_an_overlapping_window_is_refused_naming_the_other(commander, window, trading):
    start = window.scheduled_for + timedelta(minutes=30)
    response = logged_in(commander).post(NEW, schedule_form([trading], start=start))
    assert response.status_code == 400
    [error] = errors_of(response, "scheduled_for")
    assert error.startswith(f"Overlaps {window.code} “Database upgrade”")
    assert window.code in html_of(response)
    assert MaintenanceWindow.objects.count() == 1


# -- the capacity warning ---------------------------------------------------------------------------


def busy_week(shard: str, *, busiest_at: datetime, per_minute: int = 5_000) -> None:
    """Seven days before now of quiet 10-minute samples (100 orders) with one busy hour at `busiest_at`."""
    first = (timezone.now() - timedelta(days=7)).replace(second=0, microsecond=0) + timedelta(minutes=10)
    rows = []
    for step in range(0, 7 * 24 * 60 - 20, 10):
        at = first + timedelta(minutes=step)
        busy = busiest_at <= at < busiest_at + timedelta(hours=1)
        rows.append(HealthMinute(shard=shard, minute=at, samples=60, commands=per_minute if busy else 100, trades=0,
                                 rejected=0, commands_per_s_max=1.0, queue_depth_max=0, rss_bytes_max=0,
                                 cpu_percent_max=0.0))  # fmt: skip
    HealthMinute.objects.bulk_create(rows)


@pytest.fixture
def busy_hour(btc) -> datetime:
    """The busiest hour of the week, two days ago; return when that hour comes tomorrow."""
    busiest = (timezone.now() - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    busy_week(btc.shard, busiest_at=busiest)
    return (timezone.now() + timedelta(days=1)).replace(hour=busiest.hour, minute=0, second=0, microsecond=0)


def test_halting_a_market_in_the_busiest_hour_needs_a_confirmation_showing_the_figure(commander, trading, btc,
                                                                                      busy_hour):  # fmt: skip
    # given a halting window over the busiest hour of the last 7 days
    data = schedule_form([trading], start=busy_hour, **{f"action_{btc.pk}": "halted"})
    client = logged_in(commander)
    # when it is scheduled without confirmation
    warned = client.post(NEW, data)
    # then nothing is scheduled, and the form comes back with the warning and the checkbox
    assert warned.status_code == 200
    assert not MaintenanceWindow.objects.exists()
    [warning] = warned.context["warnings"]
    assert f"during {busy_hour.hour:02d}:00-{(busy_hour.hour + 1) % 24:02d}:00 UTC" in warning
    assert "30,000 orders" in warning  # six 10-minute samples of 5,000
    html = html_of(warned)
    assert 'data-testid="capacity-warnings"' in html
    assert 'name="confirm"' in html
    # when it is confirmed
    confirmed = client.post(NEW, {**data, "confirm": "on"})
    # then it is scheduled
    assert confirmed.status_code == 302
    assert MaintenanceWindow.objects.get().market_actions.get().action == "halted"


def test_no_warning_when_the_window_misses_the_busy_hour_or_halts_nothing(commander, trading, btc, busy_hour):
    quiet = busy_hour + timedelta(hours=3)
    assert logged_in(commander).post(NEW, schedule_form([trading], start=quiet, **{f"action_{btc.pk}": "halted"})
                                     ).status_code == 302  # fmt: skip
    other = Component.objects.create(name="Withdrawals")
    response = logged_in(commander).post(NEW, schedule_form([other], start=busy_hour,
                                                            **{f"action_{btc.pk}": "none"}))  # fmt: skip
    assert response.status_code == 302
    assert MaintenanceWindow.objects.count() == 2


def test_a_refusal_shows_before_the_warning(commander, trading, btc, busy_hour):
    data = schedule_form([trading], start=busy_hour, scheduled_until=typed(busy_hour - timedelta(hours=1)),
                         **{f"action_{btc.pk}": "halted"})  # fmt: skip
    response = logged_in(commander).post(NEW, data)
    assert response.status_code == 400
    assert errors_of(response, "scheduled_until") == ["The maintenance must end after it starts."]


# -- one window, and its moves ----------------------------------------------------------------------


def test_the_page_shows_the_facts_updates_and_log_and_viewers_get_no_forms(viewer, window):
    html = html_of(logged_in(viewer).get(page_of(window)))
    assert window.title in html
    assert 'data-testid="status">Scheduled<' in html
    assert "BTC-USD trading" in html
    assert "Maintenance is scheduled from" in html  # the public update
    assert "scheduled for" in html  # the internal log
    assert "72 h, 24 h, 1 h" in html
    assert 'id="actions"' not in html


def test_commanders_get_the_moves_of_a_scheduled_window(commander, window):
    html = html_of(logged_in(commander).get(page_of(window)))
    for action in ("start", "reschedule", "extend", "cancel"):
        assert f'action="{page_of(window, action + "/")}"' in html
    assert page_of(window, "end/") not in html
    assert page_of(window, "complete/") not in html


def test_the_description_is_shown_sanitized(viewer, commander, trading):
    window = upcoming(commander, [trading], description="<script>alert(1)</script> [x](javascript:alert(2)) **ok**")
    html = html_of(logged_in(viewer).get(page_of(window)))
    assert "<script>alert(1)" not in html
    assert "javascript:" not in html
    assert "<strong>ok</strong>" in html


def test_a_commander_starts_a_window_early_with_a_message(commander, window, trading):
    response = logged_in(commander).post(page_of(window, "start/"), {"message": "We start **early**."}, follow=True)
    assert response.redirect_chain[-1][0] == page_of(window)
    assert f"{window.code} started." in html_of(response)
    window = fresh(window)
    assert window.status == Status.IN_PROGRESS
    assert window.updates.last().body == "We start **early**."
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.UNDER_MAINTENANCE
    assert AuditEntry.objects.get(action="maintenance.started").after["early"] is True


def test_an_engine_refusal_at_the_start_is_said_on_the_page(commander, trading, btc, fake_engine):
    window = upcoming(commander, [trading], actions={btc: "halted"})
    fake_engine["refusal"] = "no answer from the engine within 15 s"
    response = logged_in(commander).post(page_of(window, "start/"), follow=True)
    html = html_of(response)
    assert "The engine did not switch every market (BTC-USD: no answer from the engine within 15 s)" in html
    assert fresh(window).status == Status.IN_PROGRESS
    assert MarketAction.objects.get().last_error == "no answer from the engine within 15 s"


def test_the_engine_actions_show_the_mode_before_and_when_they_were_applied(commander, trading, btc, fake_engine):
    window = upcoming(commander, [trading], actions={btc: "halted"})
    logged_in(commander).post(page_of(window, "start/"))
    assert fake_engine["calls"] == [("BTC-USD", "halted")]
    html = html_of(logged_in(commander).get(page_of(window)))
    row = html.split('data-market="BTC-USD"')[1].split("</tr>")[0]
    assert "Halted" in row
    assert "open" in row
    assert "<time" in row


def test_a_commander_reschedules_and_a_time_in_the_past_comes_back_with_the_error(commander, window):
    client = logged_in(commander)
    refused = client.post(page_of(window, "reschedule/"), {"scheduled_for": "2001-01-01T10:00",
                                                           "scheduled_until": "2001-01-01T11:00"})  # fmt: skip
    assert refused.status_code == 400
    assert "cannot be scheduled in the past" in refused.context["reschedule_form"].errors["scheduled_for"][0]
    start = ahead(days=3)
    new_times = {"scheduled_for": typed(start), "scheduled_until": typed(start + timedelta(hours=2))}
    moved = client.post(page_of(window, "reschedule/"), new_times)
    assert moved.status_code == 302
    assert fresh(window).scheduled_for == start


def test_extending_needs_a_later_end(commander, window):
    refused = logged_in(commander).post(page_of(window, "extend/"), {"until": typed(window.scheduled_for)})
    assert refused.status_code == 400
    assert refused.context["extend_form"].errors["until"][0].startswith("Extend it past its current end")
    until = window.scheduled_until + timedelta(hours=1)
    assert logged_in(commander).post(page_of(window, "extend/"), {"until": typed(until)}).status_code == 302
    assert fresh(window).scheduled_until == until


def test_a_commander_cancels_with_a_reason_and_a_second_cancel_says_why_not(commander, window):
    client = logged_in(commander)
    response = client.post(page_of(window, "cancel/"), {"reason": "Vendor postponed", "message": "Not tonight."})
    assert response.status_code == 302
    window = fresh(window)
    assert window.status == Status.CANCELLED
    assert window.updates.last().body == "Not tonight."
    assert AuditEntry.objects.get(action="maintenance.cancelled").after["reason"] == "Vendor postponed"
    again = client.post(page_of(window, "cancel/"), {"reason": "again"})
    assert again.status_code == 400
    assert "only a scheduled window can be cancelled" in html_of(again)


def in_verification(commander, btc_trading) -> MaintenanceWindow:
    """A window on a market's component, ended: no engine answers for its shard, so verification holds."""
    window = upcoming(commander, [btc_trading])
    services.start_window(window=window, by=commander)
    return services.end_window(window=window, by=commander)


def test_ending_a_window_in_progress_moves_it_to_verification(commander, btc_trading):
    window = upcoming(commander, [btc_trading])
    services.start_window(window=window, by=commander)
    response = logged_in(commander).post(page_of(window, "end/"), {"message": "Done, checking."}, follow=True)
    assert "ended: verifying engine health" in html_of(response)
    window = fresh(window)
    assert window.status == Status.VERIFYING
    assert window.updates.last().body == "Done, checking."


def test_verification_problems_are_shown_and_completing_anyway_needs_a_reason(commander, btc_trading):
    window = in_verification(commander, btc_trading)
    assert window.status == Status.VERIFYING
    client = logged_in(commander)
    html = html_of(client.get(page_of(window)))
    assert 'data-testid="verification-problems"' in html
    assert "no fresh heartbeat" in html
    assert page_of(window, "complete/") in html
    refused = client.post(page_of(window, "complete/"), {"reason": " "})
    assert refused.status_code == 400
    assert refused.context["complete_form"].errors["reason"] == [
        "Engine health has not confirmed recovery: say why you complete anyway."
    ]
    completed = client.post(page_of(window, "complete/"), {"reason": "Checked the shard by hand"}, follow=True)
    assert f"{window.code} completed." in html_of(completed)
    assert fresh(window).status == Status.COMPLETED
    assert AuditEntry.objects.get(action="maintenance.completed").after["reason"] == "Checked the shard by hand"


def test_extending_a_window_in_verification_resumes_the_work(commander, btc_trading):
    window = in_verification(commander, btc_trading)
    until = ahead(days=1, hours=5)
    assert logged_in(commander).post(page_of(window, "extend/"), {"until": typed(until)}).status_code == 302
    window = fresh(window)
    assert (window.status, window.scheduled_until, window.verification_problems) == (Status.IN_PROGRESS, until, [])


# -- the list and the dashboard ---------------------------------------------------------------------


@pytest.fixture
def several(commander, trading, deposits) -> dict[str, MaintenanceWindow]:
    later = upcoming(commander, [trading], hours_ahead=24 * 10, title="Much later")
    soon = upcoming(commander, [deposits], hours_ahead=3, title="Soon")
    active = upcoming(commander, [trading], hours_ahead=48, title="Active now")
    services.start_window(window=active, by=commander)
    cancelled = upcoming(commander, [deposits], hours_ahead=30, title="Called off")
    services.cancel_window(window=cancelled, by=commander)
    return {"later": later, "soon": soon, "active": active, "cancelled": cancelled}


def codes(html: str, testid: str) -> list[str]:
    table = html.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    return [part.split('"')[0] for part in table.split('data-code="')[1:]]


def test_the_list_shows_active_then_upcoming_soonest_first_then_past(viewer, several):
    html = html_of(logged_in(viewer).get(LIST))
    assert codes(html, "upcoming") == [several["active"].code, several["soon"].code, several["later"].code]
    assert codes(html, "past") == [several["cancelled"].code]
    assert "Keep trading" in html


@pytest.mark.parametrize(
    ("status", "upcoming_codes", "past_codes"),
    [("in_progress", ["active"], None), ("cancelled", None, ["cancelled"]), ("past", None, ["cancelled"]),
     ("open", ["active", "soon", "later"], None)],
)  # fmt: skip
def test_the_list_filters_by_status(viewer, several, status, upcoming_codes, past_codes):
    html = html_of(logged_in(viewer).get(LIST, {"status": status}))
    for testid, names in (("upcoming", upcoming_codes), ("past", past_codes)):
        if names is None:
            assert f'data-testid="{testid}"' not in html
        else:
            assert codes(html, testid) == [several[name].code for name in names]


def test_an_unknown_status_filter_is_a_400_not_a_500(viewer):
    assert logged_in(viewer).get(LIST, {"status": "exploded"}).status_code == 400
    assert logged_in(viewer).get(LIST, {"status": "\x00"}).status_code == 400


def test_the_dashboard_panel_lists_active_and_next_7_days_windows(viewer, several):
    assert [panel.template_name for panel in panels_in("maintenance")].count(panels.TEMPLATE) == 1
    assert panels.register() is panels.register()  # once, however often ready() runs
    html = html_of(logged_in(viewer).get("/console/"))
    section = html.split('data-slot="maintenance"')[1].split("</section>")[0]
    assert several["active"].code in section
    assert several["soon"].code in section
    assert several["later"].code not in section
    assert several["cancelled"].code not in section
    assert "1 later" in section
    assert section.index(several["active"].code) < section.index(several["soon"].code)


def test_the_dashboard_panel_says_when_nothing_is_coming(viewer):
    html = html_of(logged_in(viewer).get("/console/"))
    assert "No maintenance in progress or in the next 7 days." in html.split('data-slot="maintenance"')[1]


def test_a_market_without_a_component_can_still_be_driven(commander, trading):
    eth = Market.objects.create(symbol="ETH-USD", shard="maintenance-test-nobody")
    response = logged_in(commander).post(NEW, schedule_form([trading], **{f"action_{eth.pk}": "post_only"}))
    assert response.status_code == 302
    assert MarketAction.objects.get().market == eth


# -- the admin site ---------------------------------------------------------------------------------


def test_the_admin_site_shows_windows_but_changes_go_through_the_console(admin, window):
    client = logged_in(admin)
    assert window.code in html_of(client.get("/admin/maintenance/maintenancewindow/"))
    page = client.get(f"/admin/maintenance/maintenancewindow/{window.pk}/change/")
    assert page.status_code == 200
    assert "Maintenance is scheduled from" in html_of(page)  # the public update, inline
    assert client.get("/admin/maintenance/maintenancewindow/add/").status_code == 403
    assert client.post(f"/admin/maintenance/maintenancewindow/{window.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()
