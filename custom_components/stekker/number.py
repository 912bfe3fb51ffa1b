"""Per charger: a maximum current the user can lower below the charger's own."""

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .charger_entity import ChargerEntity, async_add_charger_entities
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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_charger_entities(
        entry, async_add_entities, MaxCurrentNumber, [MAX_CURRENT]
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
        await self.coordinator.async_run_cycle()
