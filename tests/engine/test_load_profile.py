"""Expected building load from history: same weekday and time, then fallbacks."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.stekker.engine.load_profile import (
    expected_load_kw,
    gross_load_history,
)

# Monday 2026-11-30 18:00 local (a fixed offset stands in for the site's zone).
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def _weeks(
    days: int, kw_of: Callable[[datetime], float]
) -> list[tuple[datetime, float]]:
    """Quarter-hour samples for the `days` days before NOW."""
    start = NOW - timedelta(days=days)
    return [(start + i * QUARTER, kw_of(start + i * QUARTER)) for i in range(days * 96)]


def _evening_on_mondays(when: datetime) -> float:
    evening = 18 <= when.hour < 21
    return 9.0 if evening and when.weekday() == 0 else (4.0 if evening else 2.0)


def test_same_weekday_and_time_over_recent_weeks() -> None:
    history = _weeks(28, _evening_on_mondays)
    slots = [NOW + i * QUARTER for i in range(4)] + [NOW + timedelta(days=1)]
    got = expected_load_kw(history, slots, fallback_kw=99.0)
    assert got == (9.0, 9.0, 9.0, 9.0, 4.0)  # Tuesday 18:00 is a plain evening


def test_median_ignores_one_unusual_day() -> None:
    history = _weeks(28, _evening_on_mondays)
    party = NOW - timedelta(days=7)
    history = [(w, 40.0 if w == party else kw) for w, kw in history]
    assert expected_load_kw(history, [NOW], fallback_kw=0.0) == (9.0,)


def test_short_history_falls_back_to_the_time_of_day() -> None:
    """Four days: no Monday twice, so the same time over all days counts."""
    history = _weeks(4, _evening_on_mondays)
    got = expected_load_kw(history, [NOW, NOW - timedelta(hours=6)], 99.0)
    # 18:00 on Thu, Fri, Sat, Sun: all plain evenings; 12:00 is base load.
    assert got == (4.0, 2.0)


def test_no_history_gives_the_callers_constant() -> None:
    assert expected_load_kw([], [NOW, NOW + QUARTER], fallback_kw=3.5) == (3.5, 3.5)
    two_days = _weeks(2, _evening_on_mondays)
    assert expected_load_kw(two_days, [NOW], fallback_kw=3.5) == (3.5,)
    assert expected_load_kw(two_days, [], fallback_kw=3.5) == ()


def test_old_future_and_missing_samples_are_not_used() -> None:
    old = [(NOW - timedelta(weeks=6, minutes=-15 * i), 50.0) for i in range(10)]
    future = [(NOW + timedelta(weeks=1), 50.0)] * 5
    missing = [(NOW - timedelta(weeks=w), float("nan")) for w in (1, 2, 3)]
    got = expected_load_kw(old + future + missing, [NOW], fallback_kw=1.0)
    assert got == (1.0,)


def test_hourly_statistics_cover_every_quarter_of_their_hour() -> None:
    history = [
        (NOW - timedelta(weeks=w) + timedelta(hours=h), 5.0 + h)
        for w in (1, 2, 3)
        for h in range(3)
    ]
    slots = [NOW + i * QUARTER for i in range(8)]
    got = expected_load_kw(history, slots, fallback_kw=0.0, resolution_min=60)
    assert got == (5.0,) * 4 + (6.0,) * 4


@pytest.mark.parametrize("resolution", [0, -15, 7])
def test_resolution_must_divide_a_day(resolution: int) -> None:
    with pytest.raises(ValueError):
        expected_load_kw([], [NOW], 0.0, resolution_min=resolution)


def test_gross_load_puts_the_solar_of_each_period_back() -> None:
    hours = [NOW - timedelta(hours=h) for h in range(4, 0, -1)]
    net = [(h, 10.0 - i) for i, h in enumerate(hours)]
    solar = [(hours[1], 2.5), (hours[2], 0.0), (hours[3], float("nan"))]
    got = gross_load_history(net, solar)
    # The first hour has no solar value: left out, not taken as gross.
    assert got[:2] == [(hours[1], 11.5), (hours[2], 8.0)]
    assert len(got) == 3 and got[2][1] != got[2][1]  # NaN stays missing
    assert gross_load_history(net, []) == []
