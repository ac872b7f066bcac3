"""The live dashboard in Chromium, against a real supervised engine under simulated load.

Each test that needs an engine starts one on a shard of its own (`tests.support.engine`), with
`manage.py simulate` sending flow, and opens `/console/?shard=<its shard>`. The Redis outage runs
on a Redis, a web server and an engine of its own, so the rest of the suite's Redis is untouched.
Screenshots of the dashboard under load go to VAR_DIR/screenshots/.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import redis
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from console.models import AuditEntry
from engine.streams import Keys, unpack
from exchange_console.paths import VAR_DIR
from tests.support.engine import market_shard, supervisor, wait_for_event
from tests.support.processes import asgi_server, child_env, private_redis, running, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SCREENSHOTS = VAR_DIR / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
DECIMAL_PRICE = re.compile(r"^\d+\.\d{2}$")
CONTROL_BUTTONS = re.compile(r"Change mode|Restart engine|Run recovery drill")


@contextlib.contextmanager
def simulated_flow(shard: str, env: dict | None = None) -> Iterator[None]:
    """Send `manage.py simulate` flow (200 orders/s) to the shard until the block ends."""
    command = [sys.executable, "manage.py", "simulate", "--shard", shard, "--rate", "200", "--seed", "5"]
    with running(command, env=env) as process:
        yield
        process.kill()  # its last report is not needed, and its drain would wait for replies Redis lost


@pytest.fixture
def engine(tmp_path) -> Iterator[str]:
    """A supervised engine trading BTC-USD and ETH-USD on a shard of its own, under simulated load."""
    shard = market_shard(("BTC-USD", "ETH-USD"))
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        with simulated_flow(shard):
            yield shard


def pass_sockets_through(page: Page) -> list[WebSocketRoute]:
    """Route the dashboard's websockets through Playwright (to the real server), so a test can drop one."""
    sockets: list[WebSocketRoute] = []

    def route(socket: WebSocketRoute) -> None:
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/engine/health/$"), route)
    return sockets


def points(chart: Locator) -> int:
    return int(chart.get_attribute("data-points") or 0)


def wait_for_points(page: Page, chart_id: str, at_least: int, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "([id, count]) => Number(document.getElementById(id).dataset.points) >= count",
        arg=[chart_id, at_least],
        timeout=timeout,
    )


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


def log_in_to_dashboard(page: Page, log_in, user, shard: str) -> None:
    """Log in from the login page and land on the shard's dashboard (one dashboard load, not two)."""
    page.goto(f"/accounts/login/?next={quote(f'/console/?shard={shard}')}")
    log_in(page, user)
    expect(page).to_have_url(re.compile(rf"/console/\?shard={shard}$"))


def open_dashboard(page: Page, log_in, user, shard: str) -> None:
    log_in_to_dashboard(page, log_in, user, shard)
    expect(page.get_by_test_id("engine-state")).to_have_attribute("data-state", "running")


def test_a_viewer_watches_the_charts_grow_while_the_simulator_runs(open_page, log_in, viewer, engine):
    page = open_page(viewport=DESKTOP)
    sockets = pass_sockets_through(page)
    open_dashboard(page, log_in, viewer, engine)

    chart = page.get_by_test_id("chart-throughput")
    wait_for_points(page, "chart-throughput", 2)
    before = points(chart)
    wait_for_points(page, "chart-throughput", before + 2)

    expect(page.get_by_test_id("engine-state")).to_have_attribute("data-stale", "false")
    btc = page.get_by_test_id("market-BTC-USD")
    expect(btc).to_have_attribute("data-mode", "open")
    expect(btc.locator('[data-field="best_bid"]')).to_have_text(DECIMAL_PRICE)
    expect(page.locator("#kpi-commands")).not_to_have_text("—")
    expect(page.get_by_test_id("banner-disconnected")).to_be_hidden()
    expect(page.get_by_test_id("banner-stale")).to_be_hidden()
    expect(page.get_by_role("button", name=CONTROL_BUTTONS)).to_have_count(0)
    screenshot(page, "dashboard-viewer.png")

    page.get_by_label("Charts for").select_option("BTC-USD")
    expect(page.locator("#charts-scope")).to_have_text("BTC-USD, last 5 minutes")
    assert points(page.get_by_test_id("chart-latency")) >= before

    # when its socket drops, the page says so, reconnects by itself and fetches what it missed
    sockets[-1].close()
    page.wait_for_function("!document.getElementById('banner-disconnected').hidden", polling="raf")
    expect(page.get_by_test_id("banner-disconnected")).to_be_hidden()
    page.wait_for_function("Number(document.getElementById('dashboard').dataset.backfills) >= 1")
    expect(page.locator("#dashboard")).to_have_attribute("data-connection", "open")
    assert len(sockets) == 2

    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Engine history")
    expect(page.get_by_test_id("history-summary")).to_contain_text("(one point a second)")
    wait_for_points(page, "chart-throughput", before)


def test_a_commander_switches_a_market_to_cancel_only_and_the_change_is_audited(open_page, log_in, commander, engine):
    page = open_page(viewport=DESKTOP)
    open_dashboard(page, log_in, commander, engine)
    tile = page.get_by_test_id("market-BTC-USD")
    expect(tile).to_have_attribute("data-mode", "open")

    # given the dialog, which will not send without a reason
    tile.get_by_role("button", name="Change mode…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Mode", exact=True).select_option("cancel_only")
    dialog.get_by_role("button", name="Change mode").click()
    expect(dialog).to_be_visible()

    # when the commander gives one and confirms
    dialog.get_by_label("Reason").fill("Quotes stuck on BTC-USD: no new orders while we look")
    with page.expect_response("**/api/v1/markets/BTC-USD/mode/") as answer:
        dialog.get_by_role("button", name="Change mode").click()

    # then the API agrees, the tile turns with the next metrics, and the change is an alert and audited
    assert answer.value.status == 200
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("control-outcome")).to_have_text("BTC-USD: open → cancel_only.")
    expect(tile).to_have_attribute("data-mode", "cancel_only")
    expect(tile.locator(".mode-badge")).to_have_text("Cancel-only")
    expect(page.get_by_test_id("market-ETH-USD")).to_have_attribute("data-mode", "open")
    expect(page.get_by_test_id("alerts").locator('[data-kind="mode_changed"]')).to_contain_text("open -> cancel_only")
    entry = AuditEntry.objects.get(action="engine.mode_changed")
    assert entry.actor == commander
    assert entry.target_repr == "BTC-USD"
    assert entry.before == {"mode": "open"}
    assert entry.after["mode"] == "cancel_only"
    assert entry.after["reason"] == "Quotes stuck on BTC-USD: no new orders while we look"
    screenshot(page, "dashboard-commander.png")


def test_a_viewer_has_no_controls_and_a_forged_control_request_is_refused(page, log_in, viewer):
    shard = market_shard(("BTC-USD",))
    log_in_to_dashboard(page, log_in, viewer, shard)
    expect(page.get_by_test_id("market-BTC-USD")).to_be_visible()

    expect(page.get_by_role("button", name=CONTROL_BUTTONS)).to_have_count(0)
    expect(page.get_by_test_id("controls")).to_have_count(0)
    expect(page.locator("dialog")).to_have_count(0)

    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    forged = page.evaluate(
        """async ([token, shard]) => {
            const post = (url, body) => fetch(url, {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", "X-CSRFToken": token}}).then((r) => r.status);
            return [
                await post("/api/v1/markets/BTC-USD/mode/", {mode: "halted", reason: "forged", cancel_resting: true}),
                await post("/api/v1/engine/restart/", {shard, reason: "forged"}),
                await post("/api/v1/engine/drills/", {shard, fault: "crash", reason: "forged"}),
            ];
        }""",
        [token, shard],
    )
    assert forged == [403, 403, 403]
    assert not AuditEntry.objects.filter(action__startswith="engine.").exists()


def chart_times(page: Page, chart_id: str) -> list[int]:
    """The chart's points as epoch milliseconds (it draws UTC "YYYY-MM-DD HH:MM:SS.mmm")."""
    return page.evaluate(
        "(id) => document.getElementById(id).data[0].x.map((x) => Date.parse(x.replace(' ', 'T') + 'Z'))", chart_id
    )


def stored_times(redis_url: str, shard: str, since_ms: int, until_ms: int) -> list[int]:
    """The times of the one-second snapshots the worker stored in Redis in a window, as epoch milliseconds."""
    entries = redis.Redis.from_url(redis_url).xrange(Keys(shard).metrics, str(since_ms), "+")
    times = [int(unpack(fields[b"m"])["time"] * 1000) for _, fields in entries]
    return [time for time in times if since_ms <= time <= until_ms]


def test_a_redis_outage_turns_the_dashboard_stale_and_it_recovers_and_backfills_on_its_own(
    browser, log_in, viewer, tmp_path
):
    shard = market_shard(("BTC-USD",))
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(private_redis(tmp_path / "redis"))
        server.ensure_daemon()
        env = child_env(REDIS_URL=server.url)
        process = stack.enter_context(supervisor(tmp_path, shard, env=env))
        url = stack.enter_context(asgi_server(REDIS_URL=server.url))
        wait_for_event(shard, "recovered", process=process)
        stack.enter_context(simulated_flow(shard, env=env))
        context = browser.new_context(base_url=url, viewport=DESKTOP)
        stack.callback(context.close)
        context.set_default_timeout(15_000)
        page = context.new_page()
        open_dashboard(page, log_in, viewer, shard)
        wait_for_points(page, "chart-throughput", 2)

        # when Redis stops: no more live data
        assert server.stop()
        wait_for(lambda: not server.is_up(), timeout=10, what="the private Redis to stop")
        # (the browser's socket to the web server stays open: the data is stale, not disconnected)
        expect(page.get_by_test_id("banner-stale")).to_be_visible()
        expect(page.get_by_test_id("banner-stale")).to_contain_text("No live data")
        expect(page.get_by_test_id("banner-disconnected")).to_be_hidden()
        expect(page.get_by_test_id("engine-state")).to_have_attribute("data-stale", "true")
        screenshot(page, "dashboard-stale.png")
        drawn_before = points(page.get_by_test_id("chart-throughput"))

        # and comes back: the page recovers by itself and fills the gap from the API
        server.ensure_daemon()
        back = int(datetime.now(tz=UTC).timestamp() * 1000)
        expect(page.get_by_test_id("banner-stale")).to_be_hidden(timeout=30_000)
        expect(page.get_by_test_id("banner-disconnected")).to_be_hidden()
        expect(page.get_by_test_id("engine-state")).to_have_attribute("data-state", "running", timeout=30_000)
        page.wait_for_function("Number(document.getElementById('dashboard').dataset.backfills) >= 1")
        wait_for_points(page, "chart-throughput", drawn_before + 2)

        # then every snapshot stored since Redis came back is on the chart, once
        drawn = chart_times(page, "chart-throughput")
        stored = stored_times(server.url, shard, back, drawn[-1])
        assert stored, "the engine stored no snapshot after Redis came back"
        assert [time for time in drawn if time >= stored[0]] == stored
        assert len(drawn) == len(set(drawn))
