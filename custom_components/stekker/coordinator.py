"""Coordinators: each meter polled on the control cycle, the site's headroom from them."""

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, override

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    BALANCING_DEFAULTS,
    CONF_POLL_INTERVAL,
    CONF_ROLE,
    CONF_STALE_CYCLES,
    CONF_STALE_S,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    LOGGER,
    MAX_STALE_S,
)
from .engine.headroom import Headroom, compute_headroom, credited_power
from .engine.quarter_hour import live_limit_kw
from .engine.readings import MeterReading
from .engine.site import PHASES, MeterRole, Site
from .meter import MeterReadError, MeterSource, ModbusMeterSource, read_checked
from .runtime import StekkerConfigEntry
from .site_limits import LimitEntity, QuarterHourMeter, limit_now_kw, site_limits

# A Modbus meter whose every register stays the same this long has frozen (a
# gateway serving a cached answer); a live meter's power and energy move.
FROZEN_S: Final = 10.0


def poll_interval(entry: ConfigEntry) -> timedelta:
    return timedelta(
        seconds=float(entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL))
    )


def stale_time(entry: ConfigEntry) -> float:
    """Seconds without a fresh reading after which every charger goes to fail-safe.

    Sites set up before it was given in seconds had it in control cycles.
    """
    if CONF_STALE_S in entry.options:
        return float(entry.options[CONF_STALE_S])
    if CONF_STALE_CYCLES in entry.options:
        cycles = float(entry.options[CONF_STALE_CYCLES])
        return min(MAX_STALE_S, cycles * poll_interval(entry).total_seconds())
    return float(BALANCING_DEFAULTS[CONF_STALE_S])


class MeterCoordinator(DataUpdateCoordinator[MeterReading]):
    """Polls one meter; its failure only makes its own entities unavailable."""

    config_entry: StekkerConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StekkerConfigEntry,
        subentry: ConfigSubentry,
        source: MeterSource,
        site: Site,
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} {subentry.title}",
            update_interval=poll_interval(entry),
            always_update=True,
        )
        self.subentry = subentry
        self.source = source
        self.site = site
        self.role = MeterRole(subentry.data[CONF_ROLE])
        self._clock: Callable[[], float] = time.monotonic
        self.fresh_at: float | None = None  # clock time of the last fresh reading
        self._same_since: float | None = None
        self._last_values: dict[str, float] | None = None
        # HA sensors may hold a value; their freshness is their reports'.
        self._watch_frozen = isinstance(source, ModbusMeterSource)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        """The balancer's clock, for this meter and a sensor source's freshness."""
        self._clock = clock
        if not isinstance(self.source, ModbusMeterSource):
            self.source.use_clock(clock)

    @override
    async def _async_update_data(self) -> MeterReading:
        try:
            reading = await read_checked(self.source, self.site)
        except MeterReadError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.placeholders,
            ) from err
        now = self.clock()
        if self._watch_frozen:
            if reading.values != self._last_values:
                self._last_values, self._same_since = reading.values, now
            elif self._same_since is not None and now - self._same_since >= FROZEN_S:
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="meter_frozen",
                    translation_placeholders={"seconds": f"{FROZEN_S:g}"},
                )
        self.fresh_at = now
        return reading


class HeadroomCoordinator(DataUpdateCoordinator[Headroom]):
    """The site's headroom; the balancer recomputes it every control cycle."""

    config_entry: StekkerConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StekkerConfigEntry,
        site: Site,
        meters: dict[str, MeterCoordinator],
    ) -> None:
        super().__init__(
            hass, LOGGER, config_entry=entry, name=f"{entry.title} headroom"
        )
        self.site = site
        self.meters = meters
        # What the balancer credits its chargers with drawing, A per phase.
        self.charger_draw: dict[str, float] | None = None
        self.limits = site_limits(entry.data, entry.options)
        entity_id = self.limits.limit_entity
        self.limit_entity = None if entity_id is None else LimitEntity(hass, entity_id)
        self.quarter = (
            QuarterHourMeter(self.limits) if self.limits.quarter_hour else None
        )
        # Quarter-hours and schedules follow the wall clock; tests set their own.
        self.wall_clock: Callable[[], datetime] = dt_util.utcnow
        self._sampled_at: float | None = None

    def _latest(self, role: MeterRole) -> list[MeterReading]:
        return [
            meter.data
            for meter in self.meters.values()
            if meter.role is role and meter.last_update_success and meter.data
        ]

    def _basis(self) -> MeterRole:
        """What the headroom rests on: the grid meter, else the building meter."""
        return (
            MeterRole.GRID if self._configured(MeterRole.GRID) else MeterRole.BUILDING
        )

    def basis_meters(self) -> list[MeterCoordinator]:
        return [meter for meter in self.meters.values() if meter.role is self._basis()]

    def data_age(self, now: float) -> float | None:
        """Seconds since the basis meter's last fresh reading; None if it never had one."""
        times = [m.fresh_at for m in self.basis_meters() if m.fresh_at is not None]
        return None if not times else now - max(times)

    def phase_voltages(self) -> dict[str, float]:
        """The phase voltages the basis meter measures now, where it does."""
        readings = [
            m.data for m in self.basis_meters() if m.last_update_success and m.data
        ]
        if not readings:
            return {}
        return {
            p: v
            for p in PHASES
            if (v := readings[0].phase("voltage", p)) is not None and v > 0.0
        }

    def _configured(self, role: MeterRole) -> bool:
        return any(meter.role is role for meter in self.meters.values())

    @callback
    def async_recompute(self) -> None:
        """Headroom from the latest readings, pushed to the entities."""
        try:
            headroom = self._compute()
        except UpdateFailed as err:
            self.async_set_update_error(err)
        else:
            self.async_set_updated_data(headroom)

    def _compute(self) -> Headroom:
        grid = self._latest(MeterRole.GRID)
        building = self._latest(MeterRole.BUILDING)
        basis = self._basis()
        if not (grid if basis is MeterRole.GRID else building):
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="no_meter_data",
                translation_placeholders={"role": basis.value},
            )
        basis_reading = (grid if basis is MeterRole.GRID else building)[0]
        chargers = self._latest(MeterRole.CHARGER)
        solar = self._latest(MeterRole.SOLAR)
        charger_w: float | None = None
        charger_a = dict(self.charger_draw or {})
        if self._configured(MeterRole.CHARGER):
            # Sub-meters measure (some of) the chargers: a total no larger than
            # what the chargers draw. Their phase currents count only when they
            # have one per site phase (a one-phase meter cannot say which phase
            # its charger is on); the balancer's credits cover the rest.
            charger_w = max(
                sum(r.power_w or 0.0 for r in chargers),
                credited_power(charger_a, basis_reading, self.site),
            )
            if chargers and all(
                r.phase("current", p) is not None
                for r in chargers
                for p in self.site.phase_names
            ):
                for phase in self.site.phase_names:
                    metered = sum(r.phase("current", phase) or 0.0 for r in chargers)
                    charger_a[phase] = max(charger_a.get(phase, 0.0), metered)
        wall = self.wall_clock()
        limit = limit_now_kw(self.limits, self.limit_entity, wall)

        def headroom(limit_kw: float) -> Headroom:
            return compute_headroom(
                self.site,
                grid=basis_reading if basis is MeterRole.GRID else None,
                building=building[0] if building else None,
                solar=_sum(solar) if solar else None,
                charger_w=charger_w,
                charger_a=charger_a,
                limit_kw=limit_kw,
            )

        room = headroom(limit)
        if self.quarter is None:
            return room
        fresh = [m.fresh_at for m in self.basis_meters() if m.fresh_at is not None]
        if fresh and max(fresh) != self._sampled_at:
            self._sampled_at = max(fresh)
            self.quarter.sample(wall, self._sampled_at, room.grid_kw, basis_reading)
        live = live_limit_kw(self.site.gtv_kw, limit, self.quarter.allowance_kw())
        return room if live >= limit else headroom(live)

    @override
    async def _async_update_data(self) -> Headroom:
        return self._compute()


def _sum(readings: list[MeterReading]) -> MeterReading:
    return MeterReading({"power_w": sum(r.power_w or 0.0 for r in readings)})
