"""Prices ahead from a price sensor's attributes, in the formats read, per slot."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.stekker.engine.prices import (
    PricePoint,
    price_points,
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
