"""The dashboard (`/console/`) and the health history page: who sees what, and what they load."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from console import panels
from console.panels import register_panel, unregister_panel
from engine.models import DrillResult, EngineEvent, Market
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for
from tests.support.engine import unique_shard

pytestmark = pytest.mark.django_db

DASHBOARD = "/console/"
HISTORY = "/console/engine/history/"
PLOTLY = "/static/vendor/plotly/plotly.min.js"
CONTROL_BUTTONS = ['data-action="mode"', 'data-action="restart"', 'data-action="drill"', 'id="control-dialog"']
# Any address that leaves the console: absolute http(s) URLs and protocol-relative ones.
EXTERNAL_REFERENCE = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
def shard() -> str:
    """A shard of its own with two markets, an alert and a passed drill."""
    name = unique_shard()
    Market.objects.create(symbol="BTC-USD", shard=name, tick_size="0.01", lot_size="0.001")
    Market.objects.create(symbol="ETH-USD", shard=name, tick_size="0.01", lot_size="0.0001")
    EngineEvent.objects.create(shard=name, kind="crashed", severity="critical", message="worker 41 crashed")
    EngineEvent.objects.create(shard=name, kind="recovered", message="worker 42 recovered in 0.3 s")
    DrillResult.objects.create(shard=name, fault="crash", rto_seconds=0.4321, rpo_orders=0, acknowledged=9, passed=True)
    return name


def listed(html: str, list_id: str) -> str:
    """The markup of the list with this id."""
    return html.split(f'<ul class="events" id="{list_id}"')[1].split("</ul>")[0]


def page(persona, name: str, path: str = DASHBOARD, **query) -> tuple[int, str]:
    response = client_for(persona, name).get(path, query)
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("path", [DASHBOARD, HISTORY])
def test_an_anonymous_visitor_is_sent_to_log_in(persona, path):
    response = client_for(persona, ANONYMOUS).get(path)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", [DASHBOARD, HISTORY])
def test_an_outsider_is_refused(persona, path):
    assert client_for(persona, OUTSIDER).get(path).status_code == 403


@pytest.mark.parametrize("name", [VIEWER, SUPPORT])
def test_a_viewer_and_support_see_the_dashboard_without_controls(persona, shard, name):
    code, html = page(persona, name, shard=shard)
    assert code == 200
    assert "<h1>Overview</h1>" in html
    assert 'data-testid="market-BTC-USD"' in html
    assert 'data-testid="chart-throughput"' in html
    for control in CONTROL_BUTTONS:
        assert control not in html
    assert "controls.js" not in html


@pytest.mark.parametrize("name", [COMMANDER, ADMIN])
def test_a_commander_and_an_admin_see_the_controls_with_a_reason_field_and_a_csrf_token(persona, shard, name):
    code, html = page(persona, name, shard=shard)
    assert code == 200
    for control in CONTROL_BUTTONS:
        assert control in html
    assert html.count('data-action="mode"') == 2  # one per market
    assert re.search(r'<textarea id="control-reason" name="reason"[^>]* required', html)
    assert 'name="csrfmiddlewaretoken"' in html
    assert "console/controls.js" in html


def test_the_dashboard_shows_the_shards_markets_alerts_and_latest_drill(persona, shard):
    code, html = page(persona, VIEWER, shard=shard)
    assert code == 200
    assert 'data-symbol="ETH-USD"' in html
    alerts = listed(html, "alerts")
    assert "worker 41 crashed" in alerts
    assert "worker 42 recovered" not in alerts  # info: an event, not an alert
    assert "worker 42 recovered" in listed(html, "events")
    assert "0.432 s" in html
    assert "Passed" in html


def test_the_dashboard_hands_its_script_the_shard_window_markets_and_api_addresses(persona, shard):
    response = client_for(persona, VIEWER).get(DASHBOARD, {"shard": shard, "window": "15"})
    config = response.context["config"]
    assert config["shard"] == shard
    assert config["window"] == 15
    assert config["markets"] == [{"symbol": "BTC-USD", "tick_size": "0.01"}, {"symbol": "ETH-USD", "tick_size": "0.01"}]
    assert config["urls"]["health"] == "/api/v1/engine/health/"
    assert config["urls"]["mode"] == "/api/v1/markets/__symbol__/mode/"
    assert config["drill"]["rto_seconds"] == pytest.approx(0.4321)
    assert [event["kind"] for event in config["alerts"]] == ["crashed"]
    assert 'id="dashboard-config"' in response.content.decode()


def test_an_unknown_window_falls_back_to_five_minutes(persona, shard):
    response = client_for(persona, VIEWER).get(DASHBOARD, {"shard": shard, "window": "7"})
    assert response.context["config"]["window"] == 5


def test_an_unknown_shard_is_not_found(persona):
    assert client_for(persona, VIEWER).get(DASHBOARD, {"shard": "nowhere"}).status_code == 404


def test_the_dashboard_keeps_the_readiness_checks_and_the_visitors_rights(persona):
    code, html = page(persona, SUPPORT)
    assert code == 200
    assert "System readiness" in html
    assert "Your role: Support" in html
    assert "Post public updates" in html


def test_a_slot_nobody_registered_says_it_is_not_available_yet(persona, monkeypatch):
    monkeypatch.setattr(panels, "_panels", [panel for panel in panels._panels if panel.slot != "maintenance"])
    _, html = page(persona, VIEWER)
    section = html.split('data-slot="maintenance"')[1].split("</section>")[0]
    assert "Not available yet." in section


def test_a_registered_panel_fills_its_slot(persona, settings, tmp_path):
    (tmp_path / "panel.html").write_text("<p>SEV2 Withdrawals delayed for {{ request.user.get_username }}</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    panel = register_panel("incidents", "Open incidents", "panel.html", lambda request: {}, order=1)
    try:
        _, html = page(persona, VIEWER)
    finally:
        unregister_panel(panel)
    section = html.split('data-slot="incidents"')[1].split("</section>")[0]
    assert "SEV2 Withdrawals delayed for vera-viewer" in section
    assert "Not available yet." not in section


def test_a_panel_that_fails_is_reported_and_the_dashboard_still_renders(persona, caplog):
    def broken(request):
        raise RuntimeError("incidents table is locked")

    panel = register_panel("maintenance", "Upcoming maintenance", "panel.html", broken)
    try:
        code, html = page(persona, VIEWER)
    finally:
        unregister_panel(panel)
    assert code == 200
    assert "This panel could not be loaded." in html.split('data-slot="maintenance"')[1].split("</section>")[0]
    assert "incidents table is locked" in caplog.text


def test_a_panel_for_an_unknown_slot_is_refused_with_the_slots_named():
    with pytest.raises(ValueError, match="incidents, maintenance"):
        register_panel("weather", "Weather", "panel.html", lambda request: {})


def test_the_history_page_draws_the_last_hour_by_default(persona, shard):
    response = client_for(persona, VIEWER).get(HISTORY, {"shard": shard})
    assert response.status_code == 200
    config = response.context["config"]
    since, until = datetime.fromisoformat(config["since"]), datetime.fromisoformat(config["until"])
    assert until - since == timedelta(hours=1)
    assert config["markets"] == ["BTC-USD", "ETH-USD"]
    html = response.content.decode()
    assert 'id="history-config"' in html
    assert 'data-testid="chart-latency"' in html
    assert "console/history.js" in html


def test_the_history_page_takes_a_window_in_utc(persona, shard):
    response = client_for(persona, VIEWER).get(
        HISTORY, {"shard": shard, "since": "2026-03-01T10:00", "until": "2026-03-01T12:30"}
    )
    config = response.context["config"]
    assert datetime.fromisoformat(config["since"]) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert datetime.fromisoformat(config["until"]) == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert 'value="2026-03-01T10:00:00"' in response.content.decode()


def test_the_history_page_opens_ten_minutes_either_side_of_an_event(persona, shard):
    response = client_for(persona, VIEWER).get(HISTORY, {"shard": shard, "around": "2026-03-01T10:00:00+00:00"})
    config = response.context["config"]
    assert datetime.fromisoformat(config["since"]) == datetime(2026, 3, 1, 9, 50, tzinfo=UTC)
    assert datetime.fromisoformat(config["until"]) == datetime(2026, 3, 1, 10, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2026-03-01T12:00", "until": "2026-03-01T10:00"}, "The window must end after it starts."),
        ({"since": "2025-01-01T00:00", "until": "2026-03-01T00:00"}, "Pick at most 90 days"),
        ({"since": "yesterday"}, "Enter a valid date/time."),
    ],
)
def test_the_history_page_explains_a_window_it_cannot_draw(persona, shard, query, message):
    response = client_for(persona, VIEWER).get(HISTORY, {"shard": shard, **query})
    assert response.status_code == 400
    assert response.context["config"] is None
    assert message in response.content.decode()
    assert "plotly.min.js" not in response.content.decode()


def test_the_event_times_link_to_the_history_around_them(persona, shard):
    _, html = page(persona, VIEWER, shard=shard)
    assert re.search(rf'href="/console/engine/history/\?shard={shard}&amp;around=\d{{4}}-', html)


@pytest.mark.parametrize("path", [DASHBOARD, HISTORY])
@pytest.mark.parametrize("name", [VIEWER, COMMANDER])
def test_the_pages_reference_nothing_outside_the_console(persona, shard, path, name):
    code, html = page(persona, name, path, shard=shard)
    assert code == 200
    assert EXTERNAL_REFERENCE.findall(html) == []
    assert "/static/vendor/plotly/plotly.min.js" in html


def test_the_pages_scripts_fetch_nothing_outside_the_console():
    for name in ("dashboard.js", "charts.js", "format.js", "controls.js", "history.js", "dashboard.css"):
        source = finders.find(f"console/{name}")
        assert source, name
        with open(source) as handle:
            assert not re.search(r"https?://", handle.read()), name


def test_plotly_is_served_from_the_installed_package():
    response = Client().get(PLOTLY)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert b"".join(response.streaming_content).startswith(b"/**\n* plotly.js v")


def test_nothing_else_of_the_plotly_package_is_published():
    assert finders.find("vendor/plotly/plotly.min.js")
    assert not finders.find("vendor/plotly/widgetbundle.js")
    assert not finders.find("vendor/plotly/../__init__.py")
    assert Client().get("/static/vendor/plotly/widgetbundle.js").status_code == 404
    listed = [path for finder in finders.get_finders() for path, storage in finder.list([]) if "plotly" in path]
    assert listed == ["plotly.min.js"]
