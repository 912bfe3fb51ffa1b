"""Per charger: the departure in effect; the usual one plans a car just plugged in."""

from datetime import time
from typing import Any, Final

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from .charger_entity import ChargerEntity, async_add_charger_entities
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

ATTR_USUAL_DEPARTURE: Final = "usual_departure"
ATTR_ONE_OFF_DEPARTURE: Final = "one_off_departure"

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
    """The departure in effect: a one-off need's (its day an attribute) while
    it lasts, else the time of day the car is usually to be charged by.
    Setting it moves the departure in effect; the usual one is an attribute."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is None:
            return
        # Unknown or unavailable when saved: the default stands. Saved before
        # the usual departure was an attribute: the state was it.
        usual = last.attributes.get(ATTR_USUAL_DEPARTURE, last.state)
        if isinstance(usual, str) and (saved := dt_util.parse_time(usual)) is not None:
            self.charger.charging.departure = saved

    @property
    def native_value(self) -> time:
        return self.charger.charging.departure_in_effect(dt_util.utcnow())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        charging = self.charger.charging
        now = dt_util.utcnow()
        one_off = charging.once_departure if charging.one_off(now) else None
        return {
            ATTR_USUAL_DEPARTURE: charging.departure.isoformat(),
            ATTR_ONE_OFF_DEPARTURE: None if one_off is None else one_off.isoformat(),
        }

    async def async_set_value(self, value: time) -> None:
        self.charger.charging.set_departure_in_effect(value, dt_util.utcnow())
        self.async_write_ha_state()
        self.coordinator.replan()
