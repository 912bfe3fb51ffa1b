"""Expected building load per 15-minute slot, from the load of past weeks.

A site's load repeats by the week (an office is empty on Sunday, a residential
complex cooks at six), so a slot is expected to draw what the same weekday drew
at the same time of day: the median over the weeks given (robust to one odd
day). History is short on a new site, so the fallback is stated and fixed:

1. at least ``MIN_WEEKS`` values for the same weekday and quarter of the day:
   their median;
2. else any day's value for that quarter of the day: their median;
3. else the current load, held flat.

Times are local, aware datetimes: the caller converts, so weekdays and the
time of day follow the site's clock through daylight-saving changes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from statistics import median
from typing import Final

QUARTER_S: Final = 900
MIN_WEEKS: Final = 2


@dataclass(frozen=True, slots=True)
class LoadSample:
    """The mean load (kW) over ``duration_s`` from ``start`` (local time)."""

    start: datetime
    duration_s: float
    kw: float


def _quarter_of_day(when: datetime) -> int:
    return (when.hour * 3600 + when.minute * 60 + when.second) // QUARTER_S


def quarter_means(samples: Sequence[LoadSample]) -> dict[tuple[date, int], float]:
    """The mean load per (local date, quarter of the day) the samples cover.

    A quarter covered by samples of several resolutions (5-minute and hourly
    statistics) takes the finest one's mean only.
    """
    by_key: dict[tuple[date, int], tuple[float, list[float]]] = {}
    for sample in samples:
        start_q = _quarter_of_day(sample.start)
        quarters = max(1, round(sample.duration_s / QUARTER_S))
        for offset in range(quarters):
            quarter = start_q + offset
            if quarter >= 96:  # an hour does not cross midnight; be safe anyway
                break
            key = (sample.start.date(), quarter)
            finest, values = by_key.get(key, (sample.duration_s, []))
            if sample.duration_s < finest:
                finest, values = sample.duration_s, []
            if sample.duration_s == finest:
                values.append(sample.kw)
            by_key[key] = (finest, values)
    return {key: sum(values) / len(values) for key, (_, values) in by_key.items()}


def expected_load_kw(
    samples: Sequence[LoadSample], slot_starts: Sequence[datetime], current_kw: float
) -> tuple[float, ...]:
    """The expected load per slot (see the module docstring for the fallbacks)."""
    means = quarter_means(samples)
    by_quarter: dict[int, list[tuple[int, float]]] = {}
    for (day, quarter), kw in means.items():
        by_quarter.setdefault(quarter, []).append((day.weekday(), kw))
    expected: list[float] = []
    for start in slot_starts:
        seen = by_quarter.get(_quarter_of_day(start), [])
        same_day = [kw for weekday, kw in seen if weekday == start.weekday()]
        if len(same_day) >= MIN_WEEKS:
            expected.append(median(same_day))
        elif seen:
            expected.append(median(kw for _, kw in seen))
        else:
            expected.append(current_kw)
    return tuple(expected)
