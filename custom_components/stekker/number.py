"""Per charger: a maximum current the user can lower below the charger's own, and
the energy need in effect."""

from typing import Any, Final

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .charger_entity import ChargerEntity, async_add_charger_entities
from .charging import MAX_NEED_KWH
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

ATTR_USUAL_NEED: Final = "usual_need_kwh"
ATTR_ONE_OFF: Final = "one_off"

MAX_CURRENT = NumberEntityDescription(
    key="max_current",
    translation_key="max_current",
    device_class=NumberDeviceClass.CURRENT,
    native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
    entity_category=EntityCategory.CONFIG,
    mode=NumberMode.BOX,
    native_step=1.0,
)

ENERGY_NEED = NumberEntityDescription(
    key="energy_need",
    translation_key="energy_need",
    device_class=NumberDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    entity_category=EntityCategory.CONFIG,
    mode=NumberMode.BOX,
    native_min_value=0.0,
    native_max_value=MAX_NEED_KWH,
    native_step=0.5,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_charger_entities(
        entry, async_add_entities, MaxCurrentNumber, [MAX_CURRENT]
    )
    async_add_charger_entities(
        entry, async_add_entities, EnergyNeedNumber, [ENERGY_NEED]
    )


class MaxCurrentNumber(ChargerEntity, RestoreNumber):
    """Override of the charger's maximum, between its minimum and maximum."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        spec = self.charger.spec
        self._attr_native_min_value = spec.min_a
        self._attr_native_max_value = spec.max_a
        if (last := await self.async_get_last_number_data()) is not None and (
            last.native_value is not None
        ):
            self.charger.max_override_a = last.native_value

    @property
    def native_value(self) -> float:
        override = self.charger.max_override_a
        return self.charger.spec.max_a if override is None else override

    async def async_set_native_value(self, value: float) -> None:
        self.charger.max_override_a = value
        self.async_write_ha_state()
        self.coordinator.replan()  # the plan holds each car to its maximum
        await self.coordinator.async_run_cycle()


class EnergyNeedNumber(ChargerEntity, RestoreNumber):
    """The energy need in effect: a one-off need (stekker.set_charging_need)
    while it lasts, else what a car plugged in here usually needs by its
    departure. Setting it changes the need in effect; the usual need is an
    attribute, and comes back when the one-off need ends."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        usual = None if last is None else last.attributes.get(ATTR_USUAL_NEED)
        if isinstance(usual, int | float):
            self.charger.charging.need_kwh = float(usual)
        elif (data := await self.async_get_last_number_data()) is not None and (
            data.native_value is not None
        ):
            # Saved before the usual need was an attribute: the state was it.
            self.charger.charging.need_kwh = data.native_value

    @property
    def native_value(self) -> float:
        return self.charger.charging.need_in_effect(dt_util.utcnow())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        charging = self.charger.charging
        return {
            ATTR_USUAL_NEED: charging.need_kwh,
            ATTR_ONE_OFF: charging.one_off(dt_util.utcnow()),
        }

    async def async_set_native_value(self, value: float) -> None:
        self.charger.charging.set_need_in_effect(value, dt_util.utcnow())
        self.async_write_ha_state()
        self.coordinator.replan()
