"""Base entities: one device for the site, one for each meter."""

import math
from typing import Any, Final, override

from homeassistant.components.sensor import SensorStateClass
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
from .modbus.profiles import CHARGER_PROFILES, METER_PROFILES
from .runtime import StekkerConfigEntry


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


# Sensors of the 1 s control cycle publish a change that matters at once and any
# other change at least this often, so the recorder is not written every second.
PUBLISH_EVERY_S: Final = 60.0
# A change of this share of the value matters (and one below the display
# precision never does).
SIGNIFICANT: Final = 0.02

type _Snapshot = tuple[bool, Any, Any]
_TOTALS: Final = (SensorStateClass.TOTAL, SensorStateClass.TOTAL_INCREASING)


class CycleSensor[CoordinatorT: DataUpdateCoordinator[Any]](
    StekkerEntity[CoordinatorT]
):
    """A sensor updated every control cycle that writes its state only when it matters.

    The control decisions never wait on it: it only decides what is recorded.
    """

    _published: _Snapshot | None = None
    _published_at: float = -math.inf

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        available = self.available
        snapshot: _Snapshot = (
            available,
            self.state if available else None,
            self.extra_state_attributes if available else None,
        )
        entry = self.coordinator.config_entry
        assert entry is not None  # every coordinator of a site has its entry
        now = entry.runtime_data.balancer.clock()
        last = self._published
        if (
            last is None
            or self._matters(last, snapshot)
            or (snapshot != last and now - self._published_at >= PUBLISH_EVERY_S)
        ):
            self._published, self._published_at = snapshot, now
            self.async_write_ha_state()

    def _matters(self, last: _Snapshot, new: _Snapshot) -> bool:
        if last[0] != new[0]:
            return True
        if getattr(self.entity_description, "state_class", None) in _TOTALS:
            return False  # energy counters feed hourly statistics: once a minute
        try:
            old_value, new_value = float(last[1]), float(new[1])
        except TypeError, ValueError:
            return bool(last[1] != new[1])
        precision = getattr(
            self.entity_description, "suggested_display_precision", None
        )
        step = 10.0 ** -(2 if precision is None else precision)
        change = abs(new_value - old_value)
        return change >= max(step, SIGNIFICANT * max(abs(old_value), abs(new_value)))
