"""Per charger: whether Stekker balances it."""

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_OFF, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .charger_entity import ChargerEntity, async_add_charger_entities
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

BALANCING = SwitchEntityDescription(
    key="balancing", translation_key="balancing", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_charger_entities(entry, async_add_entities, BalancingSwitch, [BALANCING])


class BalancingSwitch(ChargerEntity, SwitchEntity, RestoreEntity):
    """Off: Stekker leaves the charger alone and reserves its maximum draw."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self.charger.enabled = last.state != STATE_OFF

    @property
    def is_on(self) -> bool:
        return self.charger.enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(False)

    async def _set(self, enabled: bool) -> None:
        self.charger.enabled = enabled
        self.async_write_ha_state()
        await self.coordinator.async_run_cycle()
