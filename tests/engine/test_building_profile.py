"""The expected building load per slot: the median of the same weekday and
time, with the stated fallbacks; finer statistics win over hourly ones."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.stekker.engine.building_profile import (
    LoadSample,
    expected_load_kw,
    quarter_means,
)

TZ = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2026, 11, 30, tzinfo=TZ)


def hour(days: int, hour: int, kw: float) -> LoadSample:
    return LoadSample(MONDAY + timedelta(days=days, hours=hour), 3600.0, kw)


def test_quarter_means_prefer_the_finest_statistics() -> None:
    start = MONDAY + timedelta(hours=10)
    samples = [
        LoadSample(start, 300.0, 3.0),
        LoadSample(start, 3600.0, 8.0),
        LoadSample(start + timedelta(minutes=5), 300.0, 6.0),
        LoadSample(start + timedelta(minutes=10), 300.0, 9.0),
        LoadSample(start + timedelta(minutes=15), 300.0, 1.0),
    ]
    means = quarter_means(samples)
    day = MONDAY.date()
    assert means[(day, 40)] == pytest.approx(6.0)  # 10:00-10:15 from 5-minute
    assert means[(day, 41)] == 1.0  # 10:15-10:30: one 5-minute statistic
    assert means[(day, 42)] == 8.0  # 10:30-10:45 from the hour
    assert (day, 44) not in means


def test_an_hour_past_midnight_counts_for_the_next_day() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: hourly statistics start at :30
    start = datetime(2026, 11, 30, 23, 30, tzinfo=kolkata)
    means = quarter_means([LoadSample(start, 3600.0, 4.0)])
    assert sorted(means) == [
        (start.date(), 94),
        (start.date(), 95),
        (start.date() + timedelta(days=1), 0),
        (start.date() + timedelta(days=1), 1),
    ]


def test_same_weekday_median_then_any_day_then_current() -> None:
    # Three past Mondays at 10:00: 20, 22 and an odd 90; Tuesday's 10:00: 5.
    samples = [hour(-7 * w, 10, kw) for w, kw in ((1, 20.0), (2, 22.0), (3, 90.0))]
    samples.append(hour(-6, 10, 5.0))
    samples.append(hour(-6, 11, 7.0))
    slots = [
        MONDAY + timedelta(hours=10),  # Monday: median of 20, 22, 90
        MONDAY + timedelta(days=1, hours=10, minutes=30),  # Tuesday: one week, all days
        MONDAY + timedelta(hours=11),  # Monday 11:00: only Tuesday's
        MONDAY + timedelta(hours=12),  # nothing at all
    ]
    assert expected_load_kw(samples, slots, 3.0) == (22.0, 21.0, 7.0, 3.0)
