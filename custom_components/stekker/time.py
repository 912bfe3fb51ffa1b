"""Per charger: the car's usual departure time, so a car just plugged in is planned."""

from datetime import time

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from .charger_entity import ChargerEntity, async_add_charger_entities
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

DEPARTURE = TimeEntityDescription(
    key="departure", translation_key="departure", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_charger_entities(entry, async_add_entities, DepartureTime, [DEPARTURE])


class DepartureTime(ChargerEntity, TimeEntity, RestoreEntity):
    """The time of day the car is to be charged by."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        # Unknown or unavailable when saved: the default stands.
        if (last := await self.async_get_last_state()) is not None and (
            saved := dt_util.parse_time(last.state)
        ) is not None:
            self.charger.charging.departure = saved

    @property
    def native_value(self) -> time:
        return self.charger.charging.departure

    async def async_set_value(self, value: time) -> None:
        self.charger.charging.departure = value
        self.async_write_ha_state()
        self.coordinator.replan()
