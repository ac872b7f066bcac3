"""Uptime arithmetic of the 90-day bars, on fixed status histories (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incidents.statuspage import uptime
from incidents.statuspage.uptime import Day

DAY = date(2026, 11, 10)
MIDNIGHT = datetime(2026, 11, 10, tzinfo=UTC)
LONG_AGO = MIDNIGHT - timedelta(days=200)
NEXT_MIDNIGHT = MIDNIGHT + timedelta(days=1)


def at(hours: float, day: datetime = MIDNIGHT) -> datetime:
    return day + timedelta(hours=hours)


def days_to(changes: list[tuple[datetime, str]], *, count: int, since: datetime = LONG_AGO) -> list[Day]:
    """Return the `count` days ending with DAY, seen at the next midnight (today, the 11th, has no time yet)."""
    days = uptime.daily(initial="operational", changes=changes, since=since, now=NEXT_MIDNIGHT, days=count + 1)
    assert days[-1].known == 0
    assert days[-2].day == DAY
    return days[:-1]


def one_day(changes: list[tuple[datetime, str]]) -> Day:
    return days_to(changes, count=1)[0]


def test_a_full_day_operational_is_100_percent():
    day = one_day([])

    assert day.uptime == 100
    assert day.worst == "operational"
    assert uptime.percent(day.uptime) == "100%"


def test_six_hours_of_major_outage_is_75_percent():
    day = one_day([(at(6), "major_outage"), (at(12), "operational")])

    assert day.uptime == pytest.approx(75)
    assert day.worst == "major_outage"
    assert uptime.percent(day.uptime) == "75%"


def test_partial_outage_counts_30_percent_down():
    day = one_day([(at(0), "partial_outage"), (at(10), "operational")])

    # 10 h at 30 % down = 3 h down of 24 h.
    assert day.uptime == pytest.approx(87.5)
    assert day.worst == "partial_outage"


def test_degraded_performance_and_maintenance_count_as_up():
    day = one_day([(at(1), "degraded_performance"), (at(5), "under_maintenance"), (at(9), "operational")])

    assert day.uptime == 100
    assert day.worst == "degraded_performance"


def test_a_change_spanning_midnight_is_split_between_the_two_days():
    # Major outage from 22:00 on the 9th to 02:00 on the 10th: 2 h down on each day.
    changes = [(at(-2), "major_outage"), (at(2), "operational")]

    days = days_to(changes, count=2)

    assert [day.day for day in days] == [DAY - timedelta(days=1), DAY]
    assert [day.uptime for day in days] == [pytest.approx(100 * 22 / 24), pytest.approx(100 * 22 / 24)]
    assert [day.worst for day in days] == ["major_outage", "major_outage"]


def test_a_change_exactly_at_midnight_belongs_to_the_day_it_starts():
    changes = [(MIDNIGHT, "major_outage")]

    days = days_to(changes, count=2)

    assert [day.uptime for day in days] == [100, 0]
    assert [day.worst for day in days] == ["operational", "major_outage"]


def test_an_outage_that_started_before_the_window_counts_from_the_window_start():
    day = one_day([(at(-30), "major_outage"), (at(3), "operational")])

    assert day.uptime == pytest.approx(100 * 21 / 24)


def test_days_before_the_component_existed_show_no_data():
    since = at(12)  # first recorded half-way through the day

    days = days_to([], count=3, since=since)

    assert [day.uptime for day in days[:2]] == [None, None]
    assert [day.level for day in days[:2]] == ["nodata", "nodata"]
    assert days[2].uptime == 100
    assert days[2].known == 12 * 3600
    assert days[0].label == "8 Nov 2026: no data"


def test_today_counts_only_the_time_until_now():
    now = at(8)

    days = uptime.daily(initial="operational", changes=[(at(6), "major_outage")], since=LONG_AGO, now=now, days=1)

    assert days[0].known == 8 * 3600
    assert days[0].uptime == pytest.approx(75)


def test_the_window_is_90_days_ending_today():
    days = uptime.daily(initial="operational", changes=[], since=LONG_AGO, now=at(1), days=uptime.WINDOW_DAYS)

    assert len(days) == 90
    assert days[-1].day == DAY
    assert days[0].day == DAY - timedelta(days=89)


def test_overall_uptime_weights_each_day_by_its_known_time():
    days = [Day(DAY, 86400, 0, "operational"), Day(DAY, 43200, 43200 * 0.5, "major_outage"), Day(DAY, 0, 0, None)]

    assert uptime.overall(days) == pytest.approx(100 * (1 - 21600 / 129600))
    assert uptime.overall([Day(DAY, 0, 0, None)]) is None


def test_percentages_round_down_so_a_short_outage_never_shows_100():
    assert uptime.percent(99.9999) == "99.99%"
    assert uptime.percent(92.5) == "92.5%"
    assert uptime.percent(100 * (1 - 0.3 * 6 / 24)) == "92.5%"
    assert uptime.percent(None) == "no data"


def test_a_day_says_its_colour_in_words():
    assert Day(DAY, 86400, 0, "operational").label == "10 Nov 2026: 100% uptime, no downtime"
    assert Day(DAY, 86400, 21600, "major_outage").label == "10 Nov 2026: 75% uptime, major outage"
