"""Energy prices ahead from a price sensor's attributes, per plan slot.

Price integrations publish the prices ahead as a list attribute of entries
with a start, maybe an end, and a price. Read are the attributes

- ``raw_today`` and ``raw_tomorrow`` (Nord Pool, the custom integration):
  ``{"start", "end", "value"}``;
- ``prices_today``, ``prices_tomorrow`` and ``prices`` (ENTSO-e:
  ``{"time", "price"}``; Frank Energie: ``{"from", "till", "price"}``);
- ``forecast`` and ``data`` (EnergyZero- and Tibber-like lists).

In any of them an entry's start is ``start``, ``startsAt``, ``from``,
``datetime`` or ``time``; its end ``end``, ``till`` or ``to``; its price
``price``, ``value`` or ``total``.

Starts and ends may be datetimes or ISO 8601 text with a zone. An entry
without an end lasts until the next one starts (the last one as long as the
one before it, an hour if it is alone). The unit is the sensor's: the plan
only compares prices, and weighs them against the capacity price, which must
be in the same currency per kWh.

The core Nord Pool and EnergyZero integrations give their prices through an
action instead; ``nord_pool_points`` and ``energyzero_points`` read those
answers (per kWh), and ``prices_due`` says when to ask again.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

PRICE_ATTRIBUTES: Final = (
    "raw_today",
    "raw_tomorrow",
    "prices_today",
    "prices_tomorrow",
    "prices",
    "forecast",
    "data",
)
_STARTS: Final = ("start", "startsAt", "from", "datetime", "time")
_ENDS: Final = ("end", "till", "to")
_PRICES: Final = ("price", "value", "total")


@dataclass(frozen=True, slots=True)
class PricePoint:
    start: datetime
    end: datetime | None
    price: float


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return when if when.tzinfo is not None else None


def _first(entry: Mapping[str, Any], keys: Sequence[str]) -> Any:
    return next((entry[key] for key in keys if key in entry), None)


def _read(entries: Any, scale: float, found: dict[datetime, PricePoint]) -> None:
    """Add the readable entries of a list (the first per start wins)."""
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        start = _when(_first(entry, _STARTS))
        price = _first(entry, _PRICES)
        if start is None or isinstance(price, bool):
            continue
        if not isinstance(price, int | float) or not math.isfinite(price):
            continue
        end = _when(_first(entry, _ENDS))
        found.setdefault(start, PricePoint(start, end, float(price) * scale))


def _sorted(found: dict[datetime, PricePoint]) -> list[PricePoint]:
    return [found[start] for start in sorted(found)]


def price_points(attributes: Mapping[str, Any]) -> list[PricePoint]:
    """Every readable entry of the known attributes, by start (one per start)."""
    found: dict[datetime, PricePoint] = {}
    for name in PRICE_ATTRIBUTES:
        _read(attributes.get(name), 1.0, found)
    return _sorted(found)


def nord_pool_points(response: Any) -> list[PricePoint]:
    """Nord Pool's ``get_prices_for_date`` answer, ``{area: [{start, end,
    price}]}`` per MWh, as prices per kWh. Asked without areas it holds the
    entry's areas in the entry's order: the first one is the site's."""
    found: dict[datetime, PricePoint] = {}
    if isinstance(response, Mapping) and response:
        _read(next(iter(response.values())), 0.001, found)
    return _sorted(found)


def energyzero_points(response: Any) -> list[PricePoint]:
    """EnergyZero's ``get_energy_prices`` answer, ``{"prices": [{start, end,
    price}]}``, already per kWh."""
    found: dict[datetime, PricePoint] = {}
    if isinstance(response, Mapping):
        _read(response.get("prices"), 1.0, found)
    return _sorted(found)


def merged(*lists: Sequence[PricePoint]) -> list[PricePoint]:
    """Several days' points as one list by start (the first per start wins)."""
    found: dict[datetime, PricePoint] = {}
    for points in lists:
        for point in points:
            found.setdefault(point.start, point)
    return _sorted(found)


def _spans(points: Sequence[PricePoint]) -> list[tuple[datetime, datetime, float]]:
    spans: list[tuple[datetime, datetime, float]] = []
    for index, point in enumerate(points):
        end = point.end
        if end is None:
            if index + 1 < len(points):
                end = points[index + 1].start
            elif index > 0:
                end = point.start + (point.start - points[index - 1].start)
            else:
                end = point.start + timedelta(hours=1)
        if end > point.start:
            spans.append((point.start, end, point.price))
    return spans


def slot_prices(
    points: Sequence[PricePoint], bounds: Sequence[tuple[datetime, datetime]]
) -> tuple[float, ...] | None:
    """The time-weighted price per slot; a slot beyond the known prices keeps
    the last known slot's price. None when no slot has a price."""
    spans = _spans(points)
    prices: list[float | None] = []
    for start, end in bounds:
        weighted, seconds = 0.0, 0.0
        for lo, hi, price in spans:
            overlap = (min(hi, end) - max(lo, start)).total_seconds()
            if overlap > 0.0:
                weighted += price * overlap
                seconds += overlap
        prices.append(weighted / seconds if seconds > 0.0 else None)
    known = [slot for slot in prices if slot is not None]
    if not known:
        return None
    filled: list[float] = []
    last = known[0]  # slots before the first known price take that one
    for slot in prices:
        if slot is not None:
            last = slot
        filled.append(last)
    return tuple(filled)


def price_at(points: Sequence[PricePoint], when: datetime) -> float | None:
    """The price of the point covering ``when`` (a session's cost now), None
    when no point does."""
    return next((price for lo, hi, price in _spans(points) if lo <= when < hi), None)


# Day-ahead prices for tomorrow are out after about 13:00 in Europe (Nord Pool
# publishes at 12:45 CET); until they are in, tomorrow is asked again this often.
DAY_AHEAD_HOUR: Final = 13
RETRY: Final = timedelta(minutes=15)
# Known prices are asked again at this pace, in case a source corrects them.
REFRESH: Final = timedelta(hours=1)


def days_to_ask(now: datetime) -> tuple[date, ...]:
    """Today, and tomorrow once its day-ahead prices may be out (``now`` local)."""
    today = now.date()
    if now.hour < DAY_AHEAD_HOUR:
        return (today,)
    return today, today + timedelta(days=1)


def prices_due(
    now: datetime,
    asked_at: datetime | None,
    points: Sequence[PricePoint],
    *,
    failed: bool = False,
) -> bool:
    """Whether to ask the price action again (``now`` local): never asked,
    asked an hour ago, or, a quarter-hour after the last try, when that try
    failed, no price lies ahead or tomorrow's may be out but are missing."""
    if asked_at is None or now - asked_at >= REFRESH:
        return True
    if now - asked_at < RETRY:
        return False
    if failed:
        return True
    until = max((hi for _, hi, _ in _spans(points)), default=None)
    if until is None or until <= now:
        return True
    # Wall-clock arithmetic: local midnight, also across a DST change.
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end_of_tomorrow = midnight + timedelta(days=2)
    return now.hour >= DAY_AHEAD_HOUR and until < end_of_tomorrow


# Price sensors per MWh or Wh are turned into a price per kWh.
_PER_KWH: Final = {"kWh": 1.0, "MWh": 0.001, "Wh": 1000.0}


def price_now(state: str, unit: str) -> float | None:
    """A price sensor's price per kWh now (``unit`` e.g. EUR/MWh), None when its
    state is no finite number."""
    try:
        price = float(state)
    except ValueError:
        return None
    if not math.isfinite(price):
        return None
    return price * _PER_KWH.get(unit.rpartition("/")[2], 1.0)
