"""Expected building load per slot, from the building's own history.

A building repeats itself by the week: the same weekday and time over the
recent weeks predicts a slot best. The median, not the mean, so one unusual
day (a holiday, a party, a meter glitch) does not move the expectation.

Fallbacks when history is short, in order: the same time of day over all
recent days (a new installation learns its daily shape within days), then a
constant the caller gives (e.g. the building's current load).

Times are the caller's: give them in the site's local time zone (aware or
naive, but all alike), so weekday and time of day are the building's.

The history must be of the gross load, before the panels: the caller
subtracts the solar forecast from the expectation. A load measured net of
the panels (no solar meter) is made gross first (gross_load_history).
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

RECENT_WEEKS = 4
# Fewest samples for a same-weekday (resp. same-time-of-day) expectation.
MIN_SAME_WEEKDAY = 2
MIN_SAME_TIME = 3


def _minute_key(when: datetime, resolution_min: int) -> int:
    minute = when.hour * 60 + when.minute
    return minute - minute % resolution_min


def expected_load_kw(
    history: Sequence[tuple[datetime, float]],
    slot_starts: Sequence[datetime],
    fallback_kw: float,
    *,
    resolution_min: int = 15,
    weeks: int = RECENT_WEEKS,
) -> tuple[float, ...]:
    """Expected mean load (kW) of each slot starting at `slot_starts`.

    `history` holds (period start, mean kW) samples of `resolution_min`
    minutes each (15 for quarter-hour means, 60 for hourly statistics);
    samples at or after the first slot, or older than `weeks` weeks before
    it, are not used.
    """
    if resolution_min <= 0 or 1440 % resolution_min:
        raise ValueError("resolution must divide a day into whole periods")
    if not slot_starts:
        return ()
    now = slot_starts[0]
    since = now - timedelta(weeks=weeks)
    same_weekday: defaultdict[tuple[int, int], list[float]] = defaultdict(list)
    same_time: defaultdict[int, list[float]] = defaultdict(list)
    for when, kw in history:
        if not since <= when < now or kw != kw:  # kw != kw: NaN
            continue
        minute = _minute_key(when, resolution_min)
        same_weekday[when.weekday(), minute].append(kw)
        same_time[minute].append(kw)
    expected = []
    for start in slot_starts:
        minute = _minute_key(start, resolution_min)
        week = same_weekday.get((start.weekday(), minute), [])
        if len(week) >= MIN_SAME_WEEKDAY:
            expected.append(median(week))
            continue
        day = same_time.get(minute, [])
        expected.append(median(day) if len(day) >= MIN_SAME_TIME else fallback_kw)
    return tuple(expected)


def gross_load_history(
    net: Sequence[tuple[datetime, float]],
    solar: Sequence[tuple[datetime, float]],
) -> list[tuple[datetime, float]]:
    """The gross load per period: the net load plus the solar of the same period.

    For a site whose load is measured net of its panels (no solar meter), with
    `solar` the best known estimate of what the panels made (the forecast
    recorded then). A period without a solar value is left out rather than
    taken as gross: the panels may well have been on the roof before the
    forecast was recorded (arrays added to the site later, the forecast sensor
    disabled or its fetch failing), and taking that net midday load as gross
    counts the sun twice, so the plan waits for surplus that never comes and a
    car can leave short. Left out, the hour falls back to the other days
    at that time, then to the caller's constant; a forecast reads 0 at night,
    so while it is recorded no hour goes missing.
    """
    made = dict(solar)
    return [(when, kw + made[when]) for when, kw in net if when in made]
