"""Per charger: its charging mode; the car's one-off need is kept with it."""

from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity

from .charger_entity import ChargerEntity, async_add_charger_entities
from .engine.modes import ChargeMode
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

CHARGING_MODE = SelectEntityDescription(
    key="charging_mode",
    translation_key="charging_mode",
    options=[mode.value for mode in ChargeMode],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_charger_entities(
        entry, async_add_entities, ChargingModeSelect, [CHARGING_MODE]
    )


@dataclass(frozen=True, slots=True)
class _Session(ExtraStoredData):
    """The one-off need, charge-now and session energy, across a restart."""

    data: dict[str, Any]

    @override
    def as_dict(self) -> dict[str, Any]:
        return self.data


class ChargingModeSelect(ChargerEntity, SelectEntity, RestoreEntity):
    """Off, solar, minimum + solar, fast or planned."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        charging = self.charger.charging
        if (last := await self.async_get_last_state()) is not None and (
            last.state in self.options
        ):
            charging.mode = ChargeMode(last.state)
        if (extra := await self.async_get_last_extra_data()) is not None:
            charging.restore(extra.as_dict())

    @property
    def current_option(self) -> str:
        return self.charger.charging.mode.value

    @property
    def extra_restore_state_data(self) -> _Session:
        return _Session(self.charger.charging.as_dict())

    async def async_select_option(self, option: str) -> None:
        self.charger.charging.mode = ChargeMode(option)
        self.async_write_ha_state()
        self.coordinator.replan()
        await self.coordinator.async_run_cycle()
