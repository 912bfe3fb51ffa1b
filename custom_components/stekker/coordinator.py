"""Coordinators: each meter polled on the control cycle, the site's headroom from them."""

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, override

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import CONF_POLL_INTERVAL, CONF_ROLE, DEFAULT_POLL_INTERVAL, DOMAIN, LOGGER
from .engine.headroom import Headroom, compute_headroom
from .engine.readings import MeterReading
from .engine.site import PHASES, MeterRole, Site
from .meter import MeterReadError, MeterSource, read_checked

if TYPE_CHECKING:
    from .balancer import BalancerCoordinator
    from .solar_forecast import SolarForecastCoordinator


@dataclass(kw_only=True)
class StekkerRuntimeData:
    """What a running site holds."""

    site: Site
    site_device_id: str
    meters: dict[str, MeterCoordinator]
    headroom: HeadroomCoordinator
    balancer: BalancerCoordinator
    solar: SolarForecastCoordinator | None = None


type StekkerConfigEntry = ConfigEntry[StekkerRuntimeData]


def poll_interval(entry: ConfigEntry) -> timedelta:
    return timedelta(
        seconds=float(entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL))
    )


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

    @override
    async def _async_refresh(
        self,
        log_failures: bool = True,
        raise_on_auth_failed: bool = False,
        scheduled: bool = False,
        raise_on_entry_error: bool = False,
    ) -> None:
        """Tell listeners about every failed poll too, not only the first.

        The balancer counts failed control cycles to decide when data is stale;
        the base class stays silent after the first of several failures in a row.
        """
        previous = self.last_update_success
        await super()._async_refresh(
            log_failures, raise_on_auth_failed, scheduled, raise_on_entry_error
        )
        if not previous and not self.last_update_success:
            self.async_update_listeners()

    @override
    async def _async_update_data(self) -> MeterReading:
        try:
            return await read_checked(self.source, self.site)
        except MeterReadError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.placeholders,
            ) from err


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
        # What the balancer's chargers say they draw: (W, A per phase).
        self.charger_draw: tuple[float, dict[str, float]] | None = None

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
        chargers = self._latest(MeterRole.CHARGER)
        solar = self._latest(MeterRole.SOLAR)
        charger_w, charger_a = 0.0, None
        if self._configured(MeterRole.CHARGER):
            # Sub-meters measure the chargers; without a reading they count as 0,
            # which puts their draw in the building load: on the safe side.
            charger_w = sum(r.power_w or 0.0 for r in chargers)
            charger_a = {
                phase: sum(r.phase("current", phase) or 0.0 for r in chargers)
                for phase in PHASES
            }
        elif self.charger_draw is not None:
            charger_w, charger_a = self.charger_draw
        return compute_headroom(
            self.site,
            grid=grid[0] if basis is MeterRole.GRID else None,
            building=building[0] if building else None,
            solar=_sum(solar) if solar else None,
            charger_w=charger_w,
            charger_a=charger_a,
        )

    @override
    async def _async_update_data(self) -> Headroom:
        return self._compute()


def _sum(readings: list[MeterReading]) -> MeterReading:
    return MeterReading({"power_w": sum(r.power_w or 0.0 for r in readings)})
