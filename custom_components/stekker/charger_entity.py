"""Entities on a charger's device, following the balancer."""

from homeassistant.helpers.entity import EntityDescription

from .balancer import BalancerCoordinator, Charger
from .coordinator import StekkerConfigEntry
from .entity import StekkerEntity, charger_device


class ChargerEntity(StekkerEntity[BalancerCoordinator]):
    """One charger's entity; its subentry id keeps the unique id stable."""

    def __init__(
        self,
        entry: StekkerConfigEntry,
        charger_id: str,
        description: EntityDescription,
    ) -> None:
        super().__init__(
            entry.runtime_data.balancer,
            description,
            charger_id,
            charger_device(entry, entry.subentries[charger_id]),
        )
        self.charger_id = charger_id

    @property
    def charger(self) -> Charger:
        return self.coordinator.chargers[self.charger_id]
