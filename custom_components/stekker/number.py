"""Per charger: a maximum current the user can lower below the charger's own, and
the energy a car usually needs."""

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .charger_entity import ChargerEntity, async_add_charger_entities
from .charging import MAX_NEED_KWH
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

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
    """What a car plugged in here usually needs by its departure."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if (last := await self.async_get_last_number_data()) is not None and (
            last.native_value is not None
        ):
            self.charger.charging.need_kwh = last.native_value

    @property
    def native_value(self) -> float:
        return self.charger.charging.need_kwh

    async def async_set_native_value(self, value: float) -> None:
        self.charger.charging.need_kwh = value
        self.async_write_ha_state()
        self.coordinator.replan()
