"""Prices ahead from a price sensor's attributes or a price action's answer, in
the formats read, per slot; and when to ask the action again."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.stekker.engine.prices import (
    RETRY,
    PricePoint,
    days_to_ask,
    energyzero_points,
    merged,
    nord_pool_points,
    price_at,
    price_points,
    prices_due,
    slot_prices,
)

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def hours(start: float, end: float) -> tuple[datetime, datetime]:
    return T0 + timedelta(hours=start), T0 + timedelta(hours=end)


def test_entso_e_text_times_without_ends() -> None:
    attributes = {
        "prices_today": [
            {"time": "2026-11-30 00:00:00+00:00", "price": 0.1},
            {"time": "2026-11-30 01:00:00+00:00", "price": 0.3},
        ],
        # ENTSO-e repeats today's prices in "prices": one point per start.
        "prices": [{"time": "2026-11-30T00:00:00+00:00", "price": 0.1}],
    }
    points = price_points(attributes)
    assert points == [
        PricePoint(T0, None, 0.1),
        PricePoint(T0 + timedelta(hours=1), None, 0.3),
    ]
    # 00:45-01:15 is half at 0.1 and half at 0.3; the last hour lasts as long
    # as the one before it; past it the last known price holds.
    assert slot_prices(points, [hours(0.75, 1.25), hours(1.5, 1.75), hours(3, 4)]) == (
        pytest.approx(0.2),
        0.3,
        0.3,
    )


def test_tibber_and_frank_like_lists_and_what_is_skipped() -> None:
    attributes: dict[str, Any] = {
        "forecast": [
            {"startsAt": T0.isoformat(), "total": 2},
            {"startsAt": "2026-11-30T01:00:00", "total": 9.0},  # no zone
            {"startsAt": "not a time", "total": 9.0},
            {"startsAt": 12, "total": 9.0},
            {"startsAt": (T0 + timedelta(hours=2)).isoformat(), "total": True},
            {"startsAt": (T0 + timedelta(hours=2)).isoformat(), "total": "9"},
            "not an entry",
        ],
        "data": "not a list",
        "prices": [
            {
                "from": (T0 + timedelta(hours=3)).isoformat(),
                "till": (T0 + timedelta(hours=3)).isoformat(),  # empty: ignored
                "price": 9.0,
            }
        ],
    }
    points = price_points(attributes)
    assert [p.price for p in points] == [2.0, 9.0]
    # A lone usable entry lasts an hour; slots before it take its price.
    assert slot_prices(points[:1], [hours(-1, -0.5), hours(0.5, 0.75)]) == (2.0, 2.0)
    assert slot_prices(points[1:], [hours(0, 1)]) is None
    assert slot_prices([], [hours(0, 1)]) is None


def test_nord_pool_datetimes_with_ends() -> None:
    end = T0 + timedelta(minutes=15)
    attributes = {"raw_tomorrow": [{"start": T0, "end": end, "value": 0.5}]}
    assert price_points(attributes) == [PricePoint(T0, end, 0.5)]


def test_a_price_that_is_no_finite_number_is_skipped() -> None:
    attributes = {"prices": [{"time": T0, "price": float("nan")}]}
    assert price_points(attributes) == []


def test_nord_pool_answer_per_mwh_first_area_per_kwh() -> None:
    """The action's answer, as services.py of the core integration builds it."""
    quarter = timedelta(minutes=15)
    response = {
        "NL": [
            {
                "start": (T0 + i * quarter).isoformat(),
                "end": (T0 + (i + 1) * quarter).isoformat(),
                "price": price,
            }
            for i, price in enumerate([85.3, -4.0, 120])
        ],
        "BE": [
            {"start": T0.isoformat(), "end": (T0 + quarter).isoformat(), "price": 1}
        ],
    }
    points = nord_pool_points(response)
    assert [p.price for p in points] == pytest.approx([0.0853, -0.004, 0.12])
    assert points[1] == PricePoint(
        T0 + quarter, T0 + 2 * quarter, pytest.approx(-0.004)
    )
    # No areas, an area without prices, or no mapping at all: no points.
    assert nord_pool_points({}) == []
    assert nord_pool_points({"NL": []}) == []
    assert nord_pool_points(["NL"]) == []
    assert nord_pool_points(None) == []


def test_energyzero_answer_per_kwh() -> None:
    """The action gives str() of a UTC datetime: a space, not a T."""
    response = {
        "prices": [
            {
                "price": 0.2853,
                "timestamp": "2026-11-30 00:00:00+00:00",
                "start": "2026-11-30 00:00:00+00:00",
                "end": "2026-11-30 00:15:00+00:00",
            },
            {"price": "0.3", "start": "2026-11-30 00:15:00+00:00"},  # text: skipped
        ]
    }
    assert energyzero_points(response) == [
        PricePoint(T0, T0 + timedelta(minutes=15), 0.2853)
    ]
    assert energyzero_points({"prices": "none"}) == []
    assert energyzero_points("garbage") == []


def test_merged_days_and_the_price_now() -> None:
    today = [PricePoint(T0, T0 + timedelta(hours=1), 0.2)]
    again = [PricePoint(T0, T0 + timedelta(hours=1), 0.9)]
    tomorrow = [PricePoint(T0 + timedelta(days=1), None, 0.1)]
    points = merged(today, tomorrow, again)
    assert points == [today[0], tomorrow[0]]  # the first per start wins
    assert price_at(points, T0 + timedelta(minutes=59)) == 0.2
    assert price_at(points, T0 + timedelta(hours=1)) is None  # a gap
    assert price_at(points, T0 + timedelta(days=1, minutes=30)) == 0.1
    assert price_at(points, T0 - timedelta(seconds=1)) is None
    assert price_at([], T0) is None


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=AMSTERDAM)


def day_of(day: int, price: float = 0.2) -> list[PricePoint]:
    """A whole local day of hourly prices."""
    return [
        PricePoint(local(day, 0) + timedelta(hours=h), None, price) for h in range(24)
    ]


def test_tomorrow_is_asked_from_13_00() -> None:
    assert days_to_ask(local(30, 12, 59)) == (date(2026, 11, 30),)
    assert days_to_ask(local(30, 13)) == (date(2026, 11, 30), date(2026, 12, 1))


def test_when_to_ask_again() -> None:
    today = day_of(30)
    tomorrow = [
        PricePoint(p.start + timedelta(days=1), None, p.price) for p in day_of(30)
    ]
    # Never asked: now.
    assert prices_due(local(30, 9), None, [])
    # Asked 14 minutes ago: not yet, whatever is missing.
    assert not prices_due(local(30, 9, 14), local(30, 9), [])
    # Nothing ahead: again after a quarter-hour.
    assert prices_due(local(30, 9, 15), local(30, 9), [])
    assert prices_due(local(30, 9, 15), local(30, 9), day_of(29))
    # Today known, before 13:00: only hourly.
    assert not prices_due(local(30, 9, 59), local(30, 9), today)
    assert prices_due(local(30, 10), local(30, 9), today)
    # From 13:00 without tomorrow: every quarter-hour; with it: hourly.
    assert prices_due(local(30, 13, 15), local(30, 13), today)
    assert not prices_due(local(30, 13, 15), local(30, 13), today + tomorrow)
    assert prices_due(local(30, 14), local(30, 13), today + tomorrow)
    # A try that failed is tried again after a quarter-hour, whatever is known.
    assert prices_due(local(30, 13, 15), local(30, 13), today + tomorrow, failed=True)
    assert not prices_due(local(30, 13, 14), local(30, 13), [], failed=True)


def test_tomorrow_with_a_clock_change_is_known_to_its_local_midnight() -> None:
    """25 October 2026 has 25 hours in Amsterdam."""
    now = datetime(2026, 10, 24, 13, 30, tzinfo=AMSTERDAM)
    start = datetime(2026, 10, 24, tzinfo=AMSTERDAM).astimezone(UTC)
    hours_known = 24 + 25
    known = [
        PricePoint(start + timedelta(hours=h), start + timedelta(hours=h + 1), 0.2)
        for h in range(hours_known)
    ]
    assert not prices_due(now + RETRY, now, known)
    assert prices_due(now + RETRY, now, known[:-1])
