"""Stekker: balance a site's EV chargers and building load under its grid capacity."""

import asyncio
from collections.abc import Callable

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .balancer import BalancerCoordinator, Charger, fail_safe_current
from .charger_driver import charger_driver, spec_from
from .const import DOMAIN, SUBENTRY_CHARGER, SUBENTRY_METER
from .coordinator import HeadroomCoordinator, MeterCoordinator
from .entity import register_site_device
from .meter import meter_source
from .planner import PlanCoordinator
from .price_actions import async_setup_price_action
from .runtime import StekkerConfigEntry, StekkerRuntimeData
from .services import async_setup_services
from .session_export import async_setup_export
from .sessions import SessionRecorder, async_remove_session_store
from .site_config import site_from
from .site_limits import async_track_limit_entity
from .solar_forecast import async_remove_solar_store, async_setup_solar_forecast

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.CALENDAR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_setup_services(hass)
    async_setup_export(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: StekkerConfigEntry) -> bool:
    """Start polling the site's meters; a meter that is down does not block setup."""
    site = site_from(entry.data, entry.options)
    meters: dict[str, MeterCoordinator] = {}
    for subentry in entry.get_subentries_of_type(SUBENTRY_METER):
        source = meter_source(hass, subentry.data)
        await source.async_start()
        entry.async_on_unload(source.async_stop)
        meters[subentry.subentry_id] = MeterCoordinator(
            hass, entry, subentry, source, site
        )
    await asyncio.gather(*(meter.async_refresh() for meter in meters.values()))
    headroom = HeadroomCoordinator(hass, entry, site, meters)
    chargers: dict[str, Charger] = {}
    for subentry in entry.get_subentries_of_type(SUBENTRY_CHARGER):
        driver = charger_driver(
            hass, subentry.subentry_id, subentry.data, site.voltage_v
        )
        await driver.async_start()
        entry.async_on_unload(driver.async_stop)
        chargers[subentry.subentry_id] = Charger(
            spec=spec_from(subentry.subentry_id, subentry.data),
            name=subentry.title,
            driver=driver,
            fail_safe_a=fail_safe_current(subentry.data),
        )
    balancer = BalancerCoordinator(hass, entry, headroom, chargers)
    sessions = SessionRecorder(hass, entry, balancer)
    entry.runtime_data = StekkerRuntimeData(
        site=site,
        site_device_id=register_site_device(hass, entry),
        meters=meters,
        headroom=headroom,
        balancer=balancer,
        planner=PlanCoordinator(hass, entry, balancer),
        sessions=sessions,
        solar=await async_setup_solar_forecast(hass, entry),
        prices=async_setup_price_action(hass, entry),
    )
    headroom.async_recompute()  # the entities start from the first readings
    balancer.async_attach()
    if unsubscribe := async_track_limit_entity(
        hass, headroom.limit_entity, _limit_changed(entry)
    ):
        entry.async_on_unload(unsubscribe)
    await sessions.async_start()  # before the entities, which read its book
    entry.async_on_unload(balancer.async_clear_issues)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # Entities have restored the user's switches, overrides, modes and needs:
    # plan, then balance.
    await entry.runtime_data.planner.async_refresh()
    entry.runtime_data.planner.async_attach()
    await balancer.async_run_cycle()
    return True


def _limit_changed(entry: StekkerConfigEntry) -> Callable[[], None]:
    """A new limit from the limit entity: obeyed at once, and planned for."""

    @callback
    def changed() -> None:
        entry.runtime_data.balancer.async_schedule_cycle()
        entry.runtime_data.planner.async_schedule()

    return changed


async def _async_reload(hass: HomeAssistant, entry: StekkerConfigEntry) -> None:
    """Options, limits or meters changed: start over with the new set-up."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: StekkerConfigEntry) -> bool:
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: StekkerConfigEntry) -> None:
    """The site is gone: so are its stored solar forecasts and sessions."""
    await async_remove_solar_store(hass, entry.entry_id)
    await async_remove_session_store(hass, entry.entry_id)
