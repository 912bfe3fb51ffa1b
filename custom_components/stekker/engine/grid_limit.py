"""The grid limit as a schedule of time blocks (Dutch time-block and non-firm
transport rights): within a block the connection may import at most the
block's kW; outside every block the GTV holds. A block never raises the limit
above the GTV, and where blocks overlap the lowest counts.

The schedule is written one block a line (or separated by ``;``)::

    [days] HH:MM-HH:MM kW

``days`` is optional (every day without it): a day (``mon``), a range
(``mon-fri``, ``fri-mon``) or a list of those (``sat,sun``). ``24:00`` ends a
day; a block whose end is not after its start runs past midnight into the
next day. The unit ``kW`` may be written or left out. Times are the site's
local wall-clock times.

An external limit entity (a grid operator's signal) that loses its value keeps
its last one for ``ENTITY_HOLD`` (see ``held_limit``).
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MIN: Final = 24 * 60
# A limit signal that goes away keeps its last value one clock quarter-hour:
# grid operators give and settle limits per quarter-hour, so a signal lost for
# less than that (a restart of its integration, a dropped connection) must not
# raise the limit, and one lost for longer gives way to the contract's limits.
ENTITY_HOLD: Final = timedelta(minutes=15)
_LINE = re.compile(
    r"^(?:(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s+"
    r"(?P<kw>\d+(?:[.,]\d+)?)\s*(?:kw)?$"
)


class ScheduleError(ValueError):
    """A line of a schedule that cannot be read."""

    def __init__(self, line: str) -> None:
        super().__init__(f"cannot read schedule line: {line!r}")
        self.line = line


@dataclass(frozen=True, slots=True)
class LimitBlock:
    """At most ``kw`` from ``start_min`` to ``end_min`` (minutes after midnight)
    on each of ``days`` (0 = Monday); ``end_min`` beyond 1440 runs into the
    next day."""

    days: frozenset[int]
    start_min: int
    end_min: int
    kw: float


def _minutes(text: str, line: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ScheduleError(line)
    return hours * 60 + minutes


def _days(text: str | None, line: str) -> frozenset[int]:
    if text is None:
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ScheduleError(line)
        start = DAY_NAMES.index(first)
        count = (DAY_NAMES.index(last) - start) % 7 + 1 if last else 1
        days.update((start + offset) % 7 for offset in range(count))
    return frozenset(days)


def parse_schedule(text: str) -> tuple[LimitBlock, ...]:
    """The blocks of a written schedule; ScheduleError names the first bad line."""
    blocks: list[LimitBlock] = []
    for raw in re.split(r"[;\n]", text):
        line = raw.strip()
        if not line:
            continue
        found = _LINE.match(" ".join(line.lower().split()))
        if found is None:
            raise ScheduleError(line)
        start = _minutes(found["start"], line)
        end = _minutes(found["end"], line)
        if start in (_DAY_MIN, end):
            raise ScheduleError(line)
        if end < start:
            end += _DAY_MIN
        blocks.append(
            LimitBlock(
                days=_days(found["days"], line),
                start_min=start,
                end_min=end,
                kw=float(found["kw"].replace(",", ".")),
            )
        )
    return tuple(blocks)


def _wall(when: datetime) -> datetime:
    """Local wall-clock time without its zone, for block arithmetic."""
    return when.replace(tzinfo=None)


def _overlapping(
    blocks: Iterable[LimitBlock], start: datetime, end: datetime
) -> Iterable[float]:
    """The kW of every block that overlaps [start, end) (naive wall times)."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    while day < end:
        for block in blocks:
            if day.weekday() not in block.days:
                continue
            lo = day + timedelta(minutes=block.start_min)
            hi = day + timedelta(minutes=block.end_min)
            if lo < end and hi > start:
                yield block.kw
        day += timedelta(days=1)


def limit_at(blocks: Sequence[LimitBlock], when: datetime, gtv_kw: float) -> float:
    """The limit (kW) at local time ``when``: never above the GTV."""
    wall = _wall(when)
    return min([gtv_kw, *_overlapping(blocks, wall, wall + timedelta(microseconds=1))])


def lowest_between(
    blocks: Sequence[LimitBlock], start: datetime, end: datetime, gtv_kw: float
) -> float:
    """The lowest limit (kW) anywhere in [start, end) of local time."""
    return min([gtv_kw, *_overlapping(blocks, _wall(start), _wall(end))])


@dataclass(frozen=True, slots=True)
class HeldLimit:
    """The limit entity's last value (kW) and when it last had it."""

    kw: float
    seen: datetime

    @property
    def until(self) -> datetime:
        """When the value stops counting, should the entity stay without one."""
        return self.seen + ENTITY_HOLD


def held_limit(
    read_kw: float | None, last: HeldLimit | None, now: datetime
) -> tuple[float | None, HeldLimit | None]:
    """The limit entity's kW at ``now`` (its value, else its last one while
    held, else None) and what to remember of it.

    A value seen at ``now`` is kept as seen then; ``now`` never moves a seen
    time back (the plan and the live headroom may read at slightly different
    times).
    """
    if read_kw is not None:
        seen = now if last is None else max(now, last.seen)
        return read_kw, HeldLimit(read_kw, seen)
    if last is not None and now < last.until:
        return last.kw, last
    return None, last
