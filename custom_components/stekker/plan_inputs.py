"""What the site plan knows of the hours ahead, per 15-minute slot.

Slot 0 runs from now to the end of the current clock quarter-hour; every later
slot is a whole quarter. Per slot:

- the grid limit, less the safety margin: the lowest of the GTV, the schedule's
  lowest block in the slot, the limit entity's value now (held: the plan is
  made again when it changes; a last value held while the entity has none
  counts only until its hold ends) and, with a quarter-hour budget, the budget
  (slot 0: what the rest of the current quarter may average, which is above
  the budget when the quarter so far was below it);
- the gross building load (before the panels) expected from the recorder's
  hourly statistics of the site's building-load sensor (engine.load_profile:
  the same weekday and hour over the last four weeks, median; with short
  history the same hour over all days, else the load now held flat); slot 0
  is the load measured now, or last measured while the meters are down, 0
  before any reading;
- the solar forecast of the site's arrays (0 without arrays); slot 0 is the
  solar measured now where a solar meter measures it (the forecast misses a
  passing cloud by a large part of the roof's output, the meter does not);
- the price, when a price sensor with prices ahead or a price action is set
  (see engine.prices and price_actions).

A site with arrays but no solar meter measures its building load net of the
panels, now and in its history. The load now gets the panels' forecast output
back (slot 0 then nets to what the meter reads); each past hour gets the
recorded statistics of the site's solar forecast power sensor back, and an
hour without them is left out (engine.load_profile.gross_load_history says
why). So the forecast is subtracted from the gross load once, not from a load
the sun already lowered.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.const import Platform, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .const import CONF_PRICE_ENTITY, DOMAIN
from .coordinator import HeadroomCoordinator
from .engine.grid_limit import lowest_between
from .engine.headroom import Headroom
from .engine.load_profile import RECENT_WEEKS, expected_load_kw, gross_load_history
from .engine.prices import price_points, slot_prices
from .engine.site import MeterRole
from .runtime import StekkerConfigEntry

SLOT: Final = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SiteSeries:
    """The site's expected limits, load and production per slot."""

    start: datetime  # start of slot 0 (= now)
    slot_h: tuple[float, ...]
    grid_limit_kw: tuple[float, ...]
    building_kw: tuple[float, ...]
    solar_kw: tuple[float, ...]
    price: tuple[float, ...] | None
    capacity_price_per_kw: float
    month_peak_kw: float


def slot_bounds(now: datetime, slots: int) -> list[tuple[datetime, datetime]]:
    """Slot 0 from now to the next clock quarter-hour, then whole quarters (in
    UTC, whose quarters are every zone's, so daylight saving cannot bend them)."""
    utc = dt_util.as_utc(now)
    into = timedelta(
        minutes=utc.minute % 15, seconds=utc.second, microseconds=utc.microsecond
    )
    edge = utc - into + SLOT
    bounds = [(utc, edge)]
    while len(bounds) < slots:
        bounds.append((edge, edge + SLOT))
        edge += SLOT
    return bounds[:slots]


def building_load_entity(hass: HomeAssistant, entry: StekkerConfigEntry) -> str | None:
    """The site's building-load sensor, whose statistics are the load history."""
    return er.async_get(hass).async_get_entity_id(
        Platform.SENSOR, DOMAIN, f"{entry.entry_id}_building_load"
    )


def solar_forecast_entity(hass: HomeAssistant, entry: StekkerConfigEntry) -> str | None:
    """The site's solar forecast power sensor, whose statistics say what the
    panels made in the hours the building load was measured net of them."""
    return er.async_get(hass).async_get_entity_id(
        Platform.SENSOR, DOMAIN, f"{entry.entry_id}_site_solar_forecast_power"
    )


async def async_load_history(
    hass: HomeAssistant, entry: StekkerConfigEntry, now: datetime
) -> list[tuple[datetime, float]]:
    """Hourly mean gross building load of the last four weeks (local start, kW).

    Without a solar meter but with arrays, the net history plus the forecast
    power's history of the same hours; nothing without the recorder.
    """
    building = building_load_entity(hass, entry)
    if building is None or "recorder" not in hass.config.components:
        return []
    runtime = entry.runtime_data
    net = runtime.solar is not None and not any(
        meter.role is MeterRole.SOLAR for meter in runtime.meters.values()
    )
    solar = solar_forecast_entity(hass, entry) if net else None
    ids = {building} if solar is None else {building, solar}
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        now - timedelta(weeks=RECENT_WEEKS),
        now,
        ids,
        "hour",
        {"power": UnitOfPower.KILO_WATT},
        {"mean"},
    )

    def means(entity_id: str) -> list[tuple[datetime, float]]:
        return [
            (dt_util.as_local(dt_util.utc_from_timestamp(row["start"])), mean)
            for row in rows.get(entity_id, [])
            if (mean := row.get("mean")) is not None
        ]

    if not net:
        return means(building)
    # Without the forecast's statistics no hour is known gross.
    return gross_load_history(means(building), means(solar) if solar else [])


async def async_site_series(
    hass: HomeAssistant, entry: StekkerConfigEntry, now: datetime, slots: int
) -> SiteSeries:
    """The series for the next ``slots`` slots from ``now``."""
    runtime = entry.runtime_data
    bounds = slot_bounds(now, slots)
    slot_h = tuple((end - start).total_seconds() / 3600.0 for start, end in bounds)
    local = [(dt_util.as_local(start), dt_util.as_local(end)) for start, end in bounds]

    forecast = runtime.solar.data if runtime.solar is not None else None
    solar = [
        forecast.site.energy_kwh(start, end) / hours if forecast and hours else 0.0
        for (start, end), hours in zip(bounds, slot_h, strict=True)
    ]
    headroom = runtime.headroom
    # The last reading, also while the meters are down; None before any.
    measured: Headroom | None = headroom.data
    if measured is None:
        current_kw = 0.0
    elif measured.solar_kw is not None:
        current_kw = measured.building_load_kw
        solar[0] = measured.solar_kw  # measured, as the load now
    else:
        # Net of the panels: their forecast output is put back, so slot 0 nets
        # to the measurement and the load held flat is the gross load.
        current_kw = measured.building_load_kw + solar[0]
    history = await async_load_history(hass, entry, now)
    # Slot 0 is the load measured now; the later ones are expected.
    expected = expected_load_kw(
        history, [start for start, _ in local], current_kw, resolution_min=60
    )
    building = (current_kw, *expected[1:])[: len(expected)]
    quarter = headroom.quarter
    return SiteSeries(
        start=now,
        slot_h=slot_h,
        grid_limit_kw=_grid_limits(headroom, local),
        building_kw=building,
        solar_kw=tuple(solar),
        price=_prices(hass, entry, bounds),
        capacity_price_per_kw=headroom.limits.capacity_price_per_kw,
        month_peak_kw=0.0 if quarter is None else quarter.month_peak_kw(now),
    )


def _grid_limits(
    headroom: HeadroomCoordinator, bounds: list[tuple[datetime, datetime]]
) -> tuple[float, ...]:
    limits = headroom.limits
    entity = headroom.limit_entity
    entity_kw = None if entity is None else entity.kw(bounds[0][0])
    # A value held while the entity has none counts until its hold ends.
    held_until = None if entity is None else entity.held_until
    allowance = None if headroom.quarter is None else headroom.quarter.allowance_kw()
    series: list[float] = []
    for index, (start, end) in enumerate(bounds):
        kw = lowest_between(limits.schedule, start, end, limits.gtv_kw)
        if entity_kw is not None and (held_until is None or start < held_until):
            kw = min(kw, entity_kw)
        if index == 0 and allowance is not None:
            kw = min(kw, allowance)  # the rest of this quarter may average more
        elif limits.budget_kw is not None:
            kw = min(kw, limits.budget_kw)
        series.append(max(0.0, kw - headroom.site.margin_kw))
    return tuple(series)


def _prices(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    bounds: list[tuple[datetime, datetime]],
) -> tuple[float, ...] | None:
    if (action := entry.runtime_data.prices) is not None:
        return slot_prices(action.data, bounds)
    entity_id = entry.options.get(CONF_PRICE_ENTITY)
    state = hass.states.get(entity_id) if entity_id else None
    if state is None:
        return None
    return slot_prices(price_points(state.attributes), bounds)
