"""The public status page: what anonymous readers see, what they never see, and how cheaply they revalidate."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
import redis
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import Component, ComponentGroup, ComponentStatus, ComponentStatusChange, Incident
from incidents.postmortems.models import Postmortem
from incidents.statuspage import queries, uptime, views

pytestmark = pytest.mark.django_db

SECRET = "ZEBRA-7731-INTERNAL"  # a marker no public page may ever contain
STATUSPAGE_DIR = Path(queries.__file__).parent


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def trading() -> Component:
    group = ComponentGroup.objects.create(name="Trading")
    return Component.objects.create(name="BTC-USD trading", group=group)


@pytest.fixture
def website() -> Component:
    return Component.objects.create(name="Website")


def text_of(client: Client, url: str, **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return response.content.decode()


def public_urls(*incidents: Incident) -> list[str]:
    months = [f"/history/?month={month:%Y-%m}" for month in queries.history_months()]
    return ["/", "/status/", "/history/", *months, *[f"/incidents/{incident.code}/" for incident in incidents]]


def resolve(incident: Incident, by, *, at: datetime | None = None) -> None:
    services.post_update(incident=incident, body="This incident has been resolved.", status="resolved", by=by)
    if at is not None:
        Incident.objects.filter(pk=incident.pk).update(resolved_at=at)


# What anonymous readers see.


def test_the_home_page_shows_the_overall_status_and_components_by_group_to_anyone(anonymous, trading, website):
    page = text_of(anonymous, "/")

    assert "All Systems Operational" in page
    assert "Trading" in page
    assert "BTC-USD trading" in page
    assert "Website" in page
    assert "Other services" in page  # the ungrouped components
    assert page.count(">Operational</span>") == 2
    assert '<html lang="en">' in page


def test_the_status_page_answers_at_both_addresses(anonymous, trading):
    assert text_of(anonymous, "/") == text_of(anonymous, "/status/")


def test_the_home_page_links_to_subscriptions_feeds_json_and_history(anonymous, trading):
    page = text_of(anonymous, "/")

    for link in ['href="/subscriptions/"', 'href="/history.atom"', 'href="/history.rss"',
                 'href="/api/v2/summary.json"', 'href="/history/"']:  # fmt: skip
        assert link in page


def test_the_home_page_explains_how_uptime_is_counted(anonymous, trading):
    page = text_of(anonymous, "/")

    assert "major outage as fully down and partial outage as 30% down" in page
    assert "degraded performance and maintenance count as up" in page
    assert "All times are in UTC." in page


def test_the_uptime_bars_show_each_day_with_its_percentage_in_words(anonymous, trading):
    yesterday = (timezone.now() - timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    ComponentStatusChange.objects.create(component=trading, at=yesterday - timedelta(days=100),
                                         previous="operational", status="operational")  # fmt: skip
    ComponentStatusChange.objects.create(component=trading, at=yesterday, previous="operational", status="major_outage")
    ComponentStatusChange.objects.create(component=trading, at=yesterday + timedelta(hours=6),
                                         previous="major_outage", status="operational")  # fmt: skip

    page = text_of(anonymous, "/")

    assert f"{yesterday.day} {yesterday:%b %Y}: 75% uptime, major outage" in page
    assert page.count('class="bar bar-') == 90
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    known = timedelta(days=89) + (timezone.now() - midnight)  # 89 full days and today so far
    assert f"{uptime.percent(100 * (1 - timedelta(hours=6) / known))} uptime" in page


def test_days_before_a_component_was_first_recorded_show_no_data(anonymous, website):
    page = text_of(anonymous, "/")

    assert page.count('class="bar bar-nodata"') == 89  # recorded only since today
    assert page.count('class="bar bar-operational"') == 1


def test_active_incidents_show_their_public_updates_newest_first(anonymous, commander, trading):
    incident = services.declare_incident(title="Orders time out", by=commander, message="We are investigating.",
                                         components={trading: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
    services.post_update(incident=incident, body="A database failover is under way.", status="identified",
                         by=commander)  # fmt: skip

    page = text_of(anonymous, "/")

    assert "Active incidents" in page
    assert "Major Service Outage" in page
    assert page.index("A database failover is under way.") < page.index("We are investigating.")
    assert '<strong class="update-status">Identified</strong>' in page
    assert "Status changed from Investigating to Identified." in page
    assert "BTC-USD trading: Operational → Major outage" in page
    assert " UTC</time>" in page


def test_the_maintenance_section_says_when_nothing_is_scheduled(anonymous, trading):
    page = text_of(anonymous, "/")

    assert "Scheduled maintenance" in page
    assert "No maintenance is in progress or scheduled." in page
    assert queries.scheduled_maintenance() == []


def test_recent_history_lists_incidents_of_the_last_14_days_only(anonymous, commander, trading):
    now = timezone.now()
    recent = services.declare_incident(title="Slow deposits", by=commander, message="Looking.",
                                       started_at=now - timedelta(days=2))  # fmt: skip
    resolve(recent, commander)
    old = services.declare_incident(title="Ancient hiccup", by=commander, message="Looking.",
                                    started_at=now - timedelta(days=20))  # fmt: skip
    resolve(old, commander)

    page = text_of(anonymous, "/")

    assert "Slow deposits" in page
    assert "Ancient hiccup" not in page
    assert page.count("No incidents reported.") == 13
    assert f'href="/incidents/{recent.code}/"' in page


def test_the_incident_page_shows_the_public_timeline_components_duration_and_postmortem(anonymous, commander,
                                                                                         trading):  # fmt: skip
    started = timezone.now() - timedelta(hours=3)
    incident = services.declare_incident(title="Matching halted", by=commander, message="Trading is halted.",
                                         started_at=started, components={trading: "major_outage"})  # fmt: skip
    services.post_update(incident=incident, body="A fix is being deployed.", status="monitoring", by=commander)
    resolve(incident, commander, at=started + timedelta(hours=2, minutes=14))
    Postmortem.objects.create(
        incident=incident, status=Postmortem.Status.PUBLISHED, published_at=timezone.now(),
        window_start=started, window_end=timezone.now(),
        public_summary="A bad deploy.", public_summary_html="<p>A bad deploy stopped the matcher.</p>",
    )  # fmt: skip

    page = text_of(anonymous, f"/incidents/{incident.code}/")

    assert '<h1 class="page-title">Matching halted</h1>' in page
    assert page.index("This incident has been resolved.") < page.index("A fix is being deployed.")
    assert page.index("A fix is being deployed.") < page.index("Trading is halted.")
    assert "Status changed from Investigating to Monitoring." in page
    assert "Status changed from Monitoring to Resolved." in page
    assert "BTC-USD trading" in page
    assert "2 h 14 min" in page
    assert "Post-mortem" in page
    assert "A bad deploy stopped the matcher." in page


def test_an_unpublished_postmortem_stays_off_the_incident_page(anonymous, commander):
    incident = services.declare_incident(title="Matching halted", by=commander, message="Halted.")
    resolve(incident, commander)
    Postmortem.objects.create(
        incident=incident, status=Postmortem.Status.APPROVED, window_start=incident.started_at,
        window_end=timezone.now(), public_summary_html=f"<p>{SECRET}</p>",
    )  # fmt: skip

    page = text_of(anonymous, f"/incidents/{incident.code}/")

    assert SECRET not in page
    assert "Post-mortem" not in page


# What anonymous readers never see.


def test_internal_incidents_drafts_and_internal_notes_never_appear_on_any_public_page(anonymous, commander, trading):
    public = services.declare_incident(title="Orders time out", by=commander, message="Investigating.",
                                       components={trading: "partial_outage"})  # fmt: skip
    services.add_note(incident=public, body=f"Customer {SECRET} is affected, call them.", by=commander)
    internal = services.declare_incident(title=f"Disk filling {SECRET}", by=commander, message=f"Note {SECRET}",
                                         visibility=Incident.Visibility.INTERNAL)  # fmt: skip
    draft = services.declare_incident(title=f"Heartbeat stale {SECRET}", by=None, draft=True,
                                      message=f"Proposed {SECRET}", components={trading: "major_outage"})  # fmt: skip
    closed = services.declare_incident(title="Old one", by=commander, message="Looking.")
    services.add_note(incident=closed, body=f"Root cause: {SECRET}", by=commander)
    resolve(closed, commander)

    for url in public_urls(public, closed):
        assert SECRET not in text_of(anonymous, url), url
    for html in [views.render_status_page(), views.render_history(), views.render_incident(public.code)]:
        assert SECRET not in html
    for hidden in (internal, draft):
        assert anonymous.get(f"/incidents/{hidden.code}/").status_code == 404


@pytest.mark.parametrize("kind", ["internal", "draft", "unknown"])
def test_incident_pages_of_internal_draft_and_unknown_incidents_are_not_found(anonymous, commander, kind):
    if kind == "unknown":
        code = "INC-1999-0001"
    else:
        options = {"visibility": Incident.Visibility.INTERNAL} if kind == "internal" else {"draft": True}
        code = services.declare_incident(title="Hidden", by=commander, message="Hidden.", **options).code

    response = anonymous.get(f"/incidents/{code}/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    with pytest.raises(Incident.DoesNotExist):
        views.render_incident(code)


def test_a_script_in_a_title_or_an_update_renders_inert(anonymous, commander):
    incident = services.declare_incident(
        title='<script>alert("title")</script>', by=commander,
        message='<img src=x onerror="alert(1)"> <script>alert("body")</script> [click](javascript:alert(2))',
    )  # fmt: skip

    for url in ["/", f"/incidents/{incident.code}/"]:
        page = text_of(anonymous, url)
        assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in page
        assert "<script>" not in page
        assert "onerror" not in page
        assert "javascript:" not in page


# The page indicator.


@pytest.mark.parametrize(
    ("statuses", "indicator", "description"),
    [
        ([], "none", "All Systems Operational"),
        (["operational", "operational"], "none", "All Systems Operational"),
        (["operational", "under_maintenance"], "none", "Service Under Maintenance"),
        (["operational", "degraded_performance"], "minor", "Minor Service Outage"),
        (["under_maintenance", "degraded_performance"], "minor", "Minor Service Outage"),
        (["degraded_performance", "partial_outage"], "major", "Partial System Outage"),
        (["partial_outage", "major_outage", "operational"], "critical", "Major Service Outage"),
    ],
)
def test_the_indicator_is_the_worst_component_status(statuses, indicator, description):
    for number, status in enumerate(statuses):
        Component.objects.create(name=f"Component {number}", status=status)

    overall = queries.overall_status()

    assert (overall.indicator, overall.description) == (indicator, description)


@pytest.mark.parametrize(
    ("impact", "indicator"), [("none", "none"), ("minor", "minor"), ("major", "major"), ("critical", "critical")]
)
def test_an_open_public_incident_raises_the_indicator_to_its_impact(commander, trading, impact, indicator):
    incident = services.declare_incident(title="Trouble", by=commander, message="Looking.")
    Incident.objects.filter(pk=incident.pk).update(impact_override=impact)

    assert queries.overall_status().indicator == indicator


def test_resolved_internal_and_draft_incidents_do_not_raise_the_indicator(commander, trading):
    resolved = services.declare_incident(title="Over", by=commander, message="Looking.")
    resolve(resolved, commander)
    services.declare_incident(title="Quiet", by=commander, visibility=Incident.Visibility.INTERNAL)
    services.declare_incident(title="Proposed", by=None, draft=True, components={trading: "major_outage"})
    Incident.objects.update(impact_override="critical")

    assert queries.overall_status().description == "All Systems Operational"


def test_the_overall_banner_shows_the_indicator(anonymous, trading, commander):
    services.set_component_status(component=trading, status="partial_outage", by=commander)

    page = text_of(anonymous, "/")

    assert 'data-indicator="major"' in page
    assert "Partial System Outage" in page
    assert ">Partial outage</span>" in page


# Conditional GET and caching.


def test_a_matching_etag_gets_a_304_without_building_the_page(anonymous, trading, monkeypatch,
                                                             django_assert_max_num_queries):  # fmt: skip
    etag = anonymous.get("/").headers["ETag"]
    monkeypatch.setattr(views, "_cached", lambda *args: pytest.fail("a 304 must not build the page"))

    with django_assert_max_num_queries(1):
        response = anonymous.get("/", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == f"public, max-age={views.MAX_AGE}"


def test_a_current_if_modified_since_gets_a_304(anonymous, trading):
    last_modified = anonymous.get("/history/").headers["Last-Modified"]

    response = anonymous.get("/history/", headers={"If-Modified-Since": last_modified})

    assert response.status_code == 304


def test_a_public_change_gives_a_new_etag_and_a_fresh_page(anonymous, commander, trading):
    incident = services.declare_incident(title="Orders time out", by=commander, message="Looking.")
    before = anonymous.get("/")

    services.post_update(incident=incident, body="Fixed and watching.", status="monitoring", by=commander)
    after = anonymous.get("/", headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "Fixed and watching." in after.content.decode()


def test_a_component_change_gives_a_new_etag(anonymous, commander, trading):
    before = anonymous.get("/").headers["ETag"]

    services.set_component_status(component=trading, status="degraded_performance", by=commander)

    assert anonymous.get("/").headers["ETag"] != before


def test_internal_notes_and_internal_incidents_do_not_move_the_etag(anonymous, commander, trading):
    incident = services.declare_incident(title="Orders time out", by=commander, message="Looking.")
    before = anonymous.get("/").headers["ETag"]

    services.add_note(incident=incident, body="Paging the database team.", by=commander)
    services.change_severity(incident=incident, to=Incident.Severity.SEV1, by=commander)
    services.declare_incident(title="Disk filling", by=commander, visibility=Incident.Visibility.INTERNAL)

    assert anonymous.get("/").headers["ETag"] == before


def test_an_incident_made_internal_moves_last_modified_so_it_leaves_cached_pages(anonymous, commander, trading):
    incident = services.declare_incident(title="Orders time out", by=commander, message="Looking.")
    before = anonymous.get("/")
    later = timezone.now() + timedelta(seconds=2)  # Last-Modified has whole seconds

    with patch.object(timezone, "now", return_value=later):
        services.change_visibility(incident=incident, to=Incident.Visibility.INTERNAL, by=commander)
    after = anonymous.get("/", headers={"If-Modified-Since": before.headers["Last-Modified"]})

    assert after.status_code == 200
    assert "Orders time out" not in after.content.decode()


def test_pages_are_public_short_lived_cacheable_and_set_no_cookies(anonymous, commander, trading):
    incident = services.declare_incident(title="Orders time out", by=commander, message="Looking.")

    for url in public_urls(incident):
        response = anonymous.get(url)
        assert response.headers["Cache-Control"] == f"public, max-age={views.MAX_AGE}", url
        assert "Last-Modified" in response.headers
        assert response.cookies == {}, url
        assert "Vary" not in response.headers or "Cookie" not in response.headers["Vary"]


def test_pages_answer_get_only(anonymous, trading):
    assert anonymous.post("/").status_code == 405
    assert anonymous.head("/").status_code == 200


# History by month.


def test_history_shows_one_month_newest_first_with_links_to_its_neighbours(anonymous, commander):
    this_month = timezone.now().astimezone(UTC).date().replace(day=1)
    two_back = queries.previous_month(queries.previous_month(this_month))
    old = services.declare_incident(
        title="Fee display wrong",
        by=commander,
        message="Looking.",
        started_at=datetime.combine(two_back.replace(day=15), datetime.min.time(), UTC),
    )
    first = services.declare_incident(title="API slow", by=commander, message="Looking.",
                                      started_at=timezone.now() - timedelta(minutes=30))  # fmt: skip
    second = services.declare_incident(title="Website down", by=commander, message="Looking.")
    for incident in (old, first, second):
        resolve(incident, commander)

    current = text_of(anonymous, "/history/")
    oldest = text_of(anonymous, f"/history/?month={two_back:%Y-%m}")
    middle = text_of(anonymous, f"/history/?month={queries.previous_month(this_month):%Y-%m}")

    assert current.index("Website down") < current.index("API slow")
    assert "Fee display wrong" not in current
    assert f'rel="prev" href="/history/?month={queries.previous_month(this_month):%Y-%m}"' in current
    assert 'rel="next"' not in current
    assert "Fee display wrong" in oldest
    assert 'rel="prev"' not in oldest
    assert f'rel="next" href="/history/?month={queries.next_month(two_back):%Y-%m}"' in oldest
    assert "No incidents reported in" in middle


def test_history_months_run_from_this_month_back_to_the_oldest_public_incident(commander):
    this_month = timezone.now().astimezone(UTC).date().replace(day=1)
    started = datetime.combine(queries.previous_month(this_month).replace(day=3), datetime.min.time(), UTC)
    services.declare_incident(title="Last month", by=commander, message="Looking.", started_at=started)

    assert queries.history_months() == [this_month, queries.previous_month(this_month)]


@pytest.mark.parametrize("month", ["2026-13", "november", "2026-1", "0000-01"])
def test_a_malformed_month_is_not_found(anonymous, month):
    assert anonymous.get(f"/history/?month={month}").status_code == 404


# Practice 9: the page lives without Redis, Celery and the engine.


def test_the_pages_render_with_redis_unreachable(anonymous, commander, trading, monkeypatch):
    incident = services.declare_incident(title="Orders time out", by=commander, message="Looking.")

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", refuse)

    for url in public_urls(incident):
        assert anonymous.get(url).status_code == 200, url


def test_the_status_page_code_imports_nothing_from_the_engine():
    for source in STATUSPAGE_DIR.glob("[!_]*.py"):
        if source.name.startswith(("api_v2", "feed", "export")):
            continue  # the JSON, feeds and export are checked by their own tests
        tree = ast.parse(source.read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert not [name for name in imported if name.split(".")[0] == "engine"], source.name


def test_each_page_renders_without_a_request_as_the_app_serves_it(anonymous, commander, trading):
    incident = services.declare_incident(title="Orders time out", by=commander, message="Looking.")

    assert views.render_status_page() == text_of(anonymous, "/")
    assert views.render_history() == text_of(anonymous, "/history/")
    assert views.render_incident(incident.code) == text_of(anonymous, f"/incidents/{incident.code}/")


def test_the_home_page_costs_the_same_queries_however_many_incidents_and_components(commander):
    def add_incidents() -> None:
        component = Component.objects.create(name=f"Component {Component.objects.count()}")
        services.declare_incident(
            title="Open", by=commander, message="Looking.", components={component: "major_outage"}
        )
        resolve(services.declare_incident(title="Closed", by=commander, message="Looking."), commander)

    def queries_of_the_home_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            views.render_status_page()
        return len(captured.captured_queries)

    add_incidents()
    first = queries_of_the_home_page()
    add_incidents()
    add_incidents()

    assert queries_of_the_home_page() == first
