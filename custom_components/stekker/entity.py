"""Base entities: one device for the site, one for each meter."""

from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .const import (
    CONF_DRIVER,
    CONF_NUMBER_ENTITY,
    CONF_PROFILE,
    CONF_SOURCE,
    DOMAIN,
    DRIVER_MODBUS,
    SOURCE_SENSORS,
)
from .coordinator import StekkerConfigEntry
from .modbus.profiles import CHARGER_PROFILES, METER_PROFILES


def site_device(entry: StekkerConfigEntry) -> DeviceInfo:
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="Stekker",
        model="Site",
    )


@callback
def register_site_device(hass: HomeAssistant, entry: StekkerConfigEntry) -> str:
    """Register the site first: meters hang below it by device id."""
    return (
        dr.async_get(hass)
        .async_get_or_create(config_entry_id=entry.entry_id, **site_device(entry))
        .id
    )


def meter_device(entry: StekkerConfigEntry, subentry: ConfigSubentry) -> DeviceInfo:
    source = subentry.data[CONF_SOURCE]
    model = (
        "Home Assistant sensors"
        if source == SOURCE_SENSORS
        else METER_PROFILES[subentry.data[CONF_PROFILE]].name
    )
    return DeviceInfo(
        identifiers={(DOMAIN, subentry.subentry_id)},
        name=subentry.title,
        model=model,
        via_device_id=entry.runtime_data.site_device_id,
    )


def charger_device(entry: StekkerConfigEntry, subentry: ConfigSubentry) -> DeviceInfo:
    driver = subentry.data[CONF_DRIVER]
    model = (
        CHARGER_PROFILES[subentry.data[CONF_PROFILE]].name
        if driver == DRIVER_MODBUS
        else subentry.data[CONF_NUMBER_ENTITY]
    )
    return DeviceInfo(
        identifiers={(DOMAIN, subentry.subentry_id)},
        name=subentry.title,
        model=model,
        via_device_id=entry.runtime_data.site_device_id,
    )


class StekkerEntity[CoordinatorT: DataUpdateCoordinator[Any]](
    CoordinatorEntity[CoordinatorT]
):
    """An entity on the site's or a meter's device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CoordinatorT,
        description: EntityDescription,
        unique_prefix: str,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{unique_prefix}_{description.key}"
        self._attr_device_info = device_info
