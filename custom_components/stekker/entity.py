"""Base entities: one device for the site, one for each meter."""

import math
from typing import Any, Final, override

from homeassistant.components.sensor import SensorStateClass
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .const import (
    CONF_DRIVER,
    CONF_NUMBER_ENTITY,
    CONF_POWER_ENTITY,
    CONF_PROFILE,
    CONF_SOURCE,
    DOMAIN,
    DRIVER_MODBUS,
    SOURCE_NET_SENSORS,
    SOURCE_P1,
    SOURCE_SENSORS,
)
from .meter import net_entities
from .modbus.profiles import CHARGER_PROFILES, METER_PROFILES, manufacturer_and_model
from .runtime import StekkerConfigEntry

# Models of devices without a device of their own to take them from.
SENSORS_MODEL: Final = "Meter from Home Assistant sensors"
NUMBER_MODEL: Final = "Charger via a Home Assistant number entity"


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


def _entity_device(
    hass: HomeAssistant, entity_id: str
) -> tuple[str | None, str | None]:
    """Manufacturer and model of the device the entity belongs to, if any."""
    entity = er.async_get(hass).async_get(entity_id)
    if entity is None or entity.device_id is None:
        return None, None
    devices = dr.async_get(hass)
    device = devices.async_get(entity.device_id)
    # A child device (a socket of a station) is made by its parent's maker.
    while isinstance(device, dr.ChildDeviceEntry):
        device = devices.async_get(device.parent_device_id)
    if device is None:
        return None, None
    return device.manufacturer, device.model


def meter_name(subentry: ConfigSubentry) -> str:
    """The meter device's name: its subentry title without a power sensor's
    entity id (how sensor meters were titled before)."""
    title = subentry.title
    power = subentry.data.get(CONF_POWER_ENTITY)
    if power:
        title = title.removesuffix(f" ({power})")
    return title


def meter_device(
    hass: HomeAssistant, entry: StekkerConfigEntry, subentry: ConfigSubentry
) -> DeviceInfo:
    """A Modbus meter by its profile; a meter of Home Assistant sensors by the
    (first) power sensor's own device, if it has one."""
    data = subentry.data
    manufacturer: str | None
    if data[CONF_SOURCE] == SOURCE_SENSORS:
        manufacturer, own_model = _entity_device(hass, data[CONF_POWER_ENTITY])
        model = own_model or SENSORS_MODEL
    elif data[CONF_SOURCE] in (SOURCE_P1, SOURCE_NET_SENSORS):
        # A P1 meter's entities all belong to its device; take the first.
        first = next(iter(net_entities(data).values()))
        manufacturer, own_model = _entity_device(hass, first)
        model = own_model or SENSORS_MODEL
    else:
        manufacturer, model = manufacturer_and_model(
            METER_PROFILES[data[CONF_PROFILE]].name
        )
    return DeviceInfo(
        identifiers={(DOMAIN, subentry.subentry_id)},
        name=meter_name(subentry),
        manufacturer=manufacturer,
        model=model,
        via_device_id=entry.runtime_data.site_device_id,
    )


def charger_device(
    hass: HomeAssistant, entry: StekkerConfigEntry, subentry: ConfigSubentry
) -> DeviceInfo:
    """A Modbus charger by its profile; a charger steered through a number entity
    by that entity's own device, if it has one."""
    data = subentry.data
    manufacturer: str | None
    if data[CONF_DRIVER] == DRIVER_MODBUS:
        manufacturer, model = manufacturer_and_model(
            CHARGER_PROFILES[data[CONF_PROFILE]].name
        )
    else:
        manufacturer, own_model = _entity_device(hass, data[CONF_NUMBER_ENTITY])
        model = own_model or NUMBER_MODEL
    return DeviceInfo(
        identifiers={(DOMAIN, subentry.subentry_id)},
        name=subentry.title,
        manufacturer=manufacturer,
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
