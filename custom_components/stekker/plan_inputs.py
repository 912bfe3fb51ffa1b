"""What the site plan knows of the hours ahead, per 15-minute slot.

Slot 0 runs from now to the end of the current clock quarter-hour; every later
slot is a whole quarter. Per slot:

- the grid limit: the GTV minus the safety margin;
- the building load expected from the recorder's long-term statistics of the
  site's building-load sensor (the same weekday and time over the last four
  weeks, median; with short history the same time over all days, else the
  current load held flat; slot 0 is the load measured now);
- the solar forecast of the site's arrays (0 without arrays).
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

from .const import DOMAIN
from .engine.building_profile import LoadSample, expected_load_kw
from .runtime import StekkerConfigEntry

SLOT: Final = timedelta(minutes=15)
HISTORY: Final = timedelta(weeks=4)
# Statistic periods read, finest first; the finest covering a quarter wins.
_PERIODS: Final = (("5minute", 300.0), ("hour", 3600.0))


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
    """Slot 0 from now to the next clock quarter-hour, then whole quarters."""
    local = dt_util.as_local(now)
    into = timedelta(
        minutes=local.minute % 15, seconds=local.second, microseconds=local.microsecond
    )
    edge = local - into + SLOT
    bounds = [(local, edge)]
    while len(bounds) < slots:
        bounds.append((edge, edge + SLOT))
        edge += SLOT
    return bounds[:slots]


def building_load_entity(hass: HomeAssistant, entry: StekkerConfigEntry) -> str | None:
    """The site's building-load sensor, whose statistics are the load history."""
    return er.async_get(hass).async_get_entity_id(
        Platform.SENSOR, DOMAIN, f"{entry.entry_id}_building_load"
    )


async def async_load_history(
    hass: HomeAssistant, entity_id: str, now: datetime
) -> list[LoadSample]:
    """Mean building load per 5-minute and hourly statistic of the last four weeks."""
    samples: list[LoadSample] = []
    for period, seconds in _PERIODS:
        rows = await get_instance(hass).async_add_executor_job(
            statistics_during_period,
            hass,
            now - HISTORY,
            now,
            {entity_id},
            period,
            {"power": UnitOfPower.KILO_WATT},
            {"mean"},
        )
        samples.extend(
            LoadSample(
                start=dt_util.as_local(dt_util.utc_from_timestamp(row["start"])),
                duration_s=seconds,
                kw=mean,
            )
            for row in rows.get(entity_id, [])
            if (mean := row.get("mean")) is not None
        )
    return samples


async def async_site_series(
    hass: HomeAssistant, entry: StekkerConfigEntry, now: datetime, slots: int
) -> SiteSeries:
    """The series for the next ``slots`` slots from ``now``."""
    runtime = entry.runtime_data
    site = runtime.site
    bounds = slot_bounds(now, slots)
    slot_h = tuple((end - start).total_seconds() / 3600.0 for start, end in bounds)

    headroom = runtime.headroom
    current_kw = (
        headroom.data.building_load_kw
        if headroom.last_update_success and headroom.data is not None
        else 0.0
    )
    entity_id = building_load_entity(hass, entry)
    history = (
        await async_load_history(hass, entity_id, now)
        if entity_id is not None and "recorder" in hass.config.components
        else []
    )
    building = list(
        expected_load_kw(history, [start for start, _ in bounds], current_kw)
    )
    if building:
        building[0] = current_kw

    forecast = runtime.solar.data if runtime.solar is not None else None
    solar = tuple(
        forecast.site.energy_kwh(start, end) / hours if forecast and hours else 0.0
        for (start, end), hours in zip(bounds, slot_h, strict=True)
    )
    limit = site.gtv_kw - site.margin_kw
    return SiteSeries(
        start=now,
        slot_h=slot_h,
        grid_limit_kw=(limit,) * len(bounds),
        building_kw=tuple(building),
        solar_kw=solar,
        price=None,
        capacity_price_per_kw=0.0,
        month_peak_kw=0.0,
    )
