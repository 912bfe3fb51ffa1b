"""The site's kW limit now and ahead: the GTV, lowered by a schedule of time
blocks, an external limit entity and the quarter-hour import budget.

Nothing here can raise the limit above the GTV. A limit entity that is
unavailable, reads no number or no power unit keeps its last value for
``ENTITY_HOLD`` (a grid operator's signal that goes away must not raise the
limit at once), then leaves the lowest of the GTV and the schedule. After a
restart with the entity still without a value, its value from before the
restart (kept by the Grid limit sensor) is held from the start the same way:
it can only lower the limit, and without it the GTV and schedule apply. The
phase fuses are not limits of this kind: they stay instantaneous.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, UnitOfPower
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, State, callback
from homeassistant.helpers.event import (
    EventStateChangedData,
    async_track_state_change_event,
)
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import PowerConverter

from .const import (
    CONF_CAPACITY_PRICE,
    CONF_GTV_KW,
    CONF_LIMIT_ENTITY,
    CONF_LIMIT_SCHEDULE,
    CONF_QUARTER_BUDGET_KW,
    LOGGER,
)
from .engine.grid_limit import (
    ENTITY_HOLD,
    HeldLimit,
    LimitBlock,
    held_limit,
    limit_at,
    parse_schedule,
)
from .engine.quarter_hour import (
    QUARTER_S,
    MonthPeak,
    QuarterImport,
    allowance_kw,
    month_peak,
    track_import,
)
from .engine.readings import MONTH_PEAK, QUARTER_HOUR_AVG, MeterReading


@dataclass(frozen=True, slots=True)
class SiteLimits:
    """What may lower the site's kW limit, from the entry's options."""

    gtv_kw: float
    schedule: tuple[LimitBlock, ...] = ()
    limit_entity: str | None = None
    budget_kw: float | None = None
    capacity_price_per_kw: float = 0.0

    @property
    def quarter_hour(self) -> bool:
        """Whether quarter-hour averages count: with a budget or a capacity price."""
        return self.budget_kw is not None or self.capacity_price_per_kw > 0.0


def site_limits(data: Mapping[str, Any], options: Mapping[str, Any]) -> SiteLimits:
    """The limits of a site; the options were validated by the options flow."""
    budget = options.get(CONF_QUARTER_BUDGET_KW)
    return SiteLimits(
        gtv_kw=float(data[CONF_GTV_KW]),
        schedule=parse_schedule(options.get(CONF_LIMIT_SCHEDULE, "")),
        limit_entity=options.get(CONF_LIMIT_ENTITY) or None,
        budget_kw=None if budget is None else float(budget),
        capacity_price_per_kw=float(options.get(CONF_CAPACITY_PRICE, 0.0)),
    )


def state_limit_kw(state: State | None) -> float | None:
    """A limit entity's state in kW (W and other power units converted, below
    0 and NaN as 0: the safe side); None when it is no number or has no power
    unit (a unit changed to something else is no limit)."""
    if state is None:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None  # unavailable, unknown or text
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit not in PowerConverter.VALID_UNITS:
        return None
    return max(0.0, PowerConverter.convert(value, unit, UnitOfPower.KILO_WATT))


class LimitEntity:
    """The limit entity as the limit sees it: its value, or while it has none
    its last one for ``ENTITY_HOLD``."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        self.hass = hass
        self.entity_id = entity_id
        self.last: HeldLimit | None = None
        self.held = False  # whether the last read gave the held value

    def kw(self, now: datetime) -> float | None:
        read = state_limit_kw(self.hass.states.get(self.entity_id))
        kw, self.last = held_limit(read, self.last, now)
        self.held = read is None and kw is not None
        return kw

    def changed(self, event: Event[EventStateChangedData]) -> bool:
        """A change of the entity; True when it has a value now. One that
        loses its value had its last one until the change: the hold counts
        from then, read since or not."""
        old = state_limit_kw(event.data["old_state"])
        new = state_limit_kw(event.data["new_state"])
        if old is not None and new is None:
            _, self.last = held_limit(old, self.last, event.time_fired)
        return new is not None

    @property
    def held_until(self) -> datetime | None:
        """When the value the last read held ends; None when it held none."""
        return self.last.until if self.held and self.last is not None else None

    def restore(self, kw: float, now: datetime) -> None:
        """The value before a restart, held from ``now`` unless a value was
        read since the start."""
        if self.last is None:
            self.last = HeldLimit(kw, now)


def limit_now_kw(
    limits: SiteLimits, entity: LimitEntity | None, now: datetime
) -> float:
    """The lowest of the GTV, the schedule at ``now`` and the limit entity."""
    kw = limit_at(limits.schedule, dt_util.as_local(now), limits.gtv_kw)
    if entity is not None and (entity_kw := entity.kw(now)) is not None:
        kw = min(kw, entity_kw)
    return kw


@callback
def async_track_limit_entity(
    hass: HomeAssistant, entity: LimitEntity | None, action: Callable[[], None]
) -> CALLBACK_TYPE | None:
    """Call ``action`` whenever the limit entity changes: a lower limit acts at once.

    The entity losing its value is logged once, and its return once.
    """
    if entity is None:
        return None
    entity_id = entity.entity_id
    usable = state_limit_kw(hass.states.get(entity_id)) is not None

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        nonlocal usable
        now_usable = entity.changed(event)
        if now_usable != usable:
            usable = now_usable
            if usable:
                LOGGER.info("Limit entity %s has a value again", entity_id)
            else:
                LOGGER.warning(
                    "Limit entity %s has no value in kW or W: its last value "
                    "holds for %d minutes, then the GTV and the time blocks "
                    "apply until it has one",
                    entity_id,
                    ENTITY_HOLD.total_seconds() // 60,
                )
        action()

    return async_track_state_change_event(hass, entity_id, _changed)


def _month(when: datetime) -> tuple[int, int]:
    local = dt_util.as_local(when)
    return local.year, local.month


class QuarterHourMeter:
    """The import of the current clock quarter-hour and the month's peak.

    Quarters follow the wall clock (local quarters are UTC quarters in every
    zone, whose offsets are whole quarter-hours); the energy is integrated on
    the control cycle's monotonic clock, between fresh meter samples.
    """

    def __init__(self, limits: SiteLimits) -> None:
        self.limits = limits
        self.current: QuarterImport | None = None
        self.peak: MonthPeak | None = None
        self._into_s = 0.0
        self._restored: QuarterImport | None = None

    def sample(
        self, wall: datetime, at_s: float, import_kw: float, reading: MeterReading
    ) -> None:
        """A fresh reading of the grid import, taken at ``at_s`` (monotonic)."""
        stamp = wall.timestamp()
        quarter = int(stamp // QUARTER_S)
        self._into_s = stamp - quarter * QUARTER_S
        average_w = reading.values.get(QUARTER_HOUR_AVG)
        peak_w = reading.values.get(MONTH_PEAK)
        last = self.current
        restored, self._restored = self._restored, None
        if last is None and restored is not None and restored.quarter == quarter:
            # Go on from before the restart; its gap counts at this import.
            gap_s = max(0.0, self._into_s - restored.into_s)
            last = replace(restored, at_s=at_s - gap_s, kw=max(0.0, import_kw))
        self.current, ended = track_import(
            last,
            quarter,
            self._into_s,
            at_s,
            import_kw,
            None if average_w is None else average_w / 1000.0,
        )
        ended_in = (
            None
            if ended is None or last is None
            else (_month(dt_util.utc_from_timestamp(last.quarter * QUARTER_S)), ended)
        )
        self.peak = month_peak(
            self.peak,
            _month(wall),
            ended_in,
            None if peak_w is None else peak_w / 1000.0,
        )

    def restore_average(self, when: datetime, average_kw: float) -> None:
        """The quarter's average import so far as it was at ``when`` before a
        restart: the first sample of the same quarter goes on from it, so a
        peak before the restart is not forgotten."""
        stamp = when.timestamp()
        quarter = int(stamp // QUARTER_S)
        into_s = stamp - quarter * QUARTER_S
        imported = max(0.0, average_kw) * into_s / 3600.0
        restored = QuarterImport(quarter, imported, 0.0, 0.0, into_s)
        current = self.current
        if current is None:
            self._restored = restored
        elif current.quarter == quarter:
            # Sampled since the restart, the quarter's start counted at that
            # sample's import: the restored figure, if more, counts instead.
            gap_kwh = current.kw * max(0.0, current.into_s - into_s) / 3600.0
            if imported + gap_kwh > current.imported_kwh:
                self.current = replace(current, imported_kwh=imported + gap_kwh)

    def restore_peak(self, when: datetime, peak_kw: float) -> None:
        """The peak as it was before a restart at ``when``; a peak of another
        month than the one running now is dropped by the next sample."""
        restored = MonthPeak(_month(when), peak_kw)
        if self.peak is None or (
            self.peak.month == restored.month and peak_kw > self.peak.peak_kw
        ):
            self.peak = restored

    @property
    def average_kw(self) -> float | None:
        """The current quarter's average import so far."""
        if self.current is None:
            return None
        return self.current.average_kw(self._into_s)

    def month_peak_kw(self, now: datetime) -> float:
        """The highest quarter-hour average of the month running at ``now``."""
        peak = self.peak
        return peak.peak_kw if peak is not None and peak.month == _month(now) else 0.0

    def allowance_kw(self) -> float | None:
        """What the rest of the quarter may import on average; None without a budget."""
        budget = self.limits.budget_kw
        if budget is None or self.current is None:
            return None
        return allowance_kw(budget, self.current.imported_kwh, self._into_s)
