"""Entities on a charger's device, following the balancer."""

from collections.abc import Callable, Iterable

from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .balancer import BalancerCoordinator, Charger
from .entity import StekkerEntity, charger_device
from .runtime import StekkerConfigEntry


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
            charger_device(
                entry.runtime_data.balancer.hass, entry, entry.subentries[charger_id]
            ),
        )
        self.charger_id = charger_id

    @property
    def charger(self) -> Charger:
        return self.coordinator.chargers[self.charger_id]


def async_add_charger_entities[DescriptionT: EntityDescription](
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entity: Callable[[StekkerConfigEntry, str, DescriptionT], Entity],
    descriptions: Iterable[DescriptionT],
    exists: Callable[[Charger, DescriptionT], bool] | None = None,
) -> None:
    """Each charger's entities, on its subentry so they go when the charger goes;
    ``exists`` leaves out those a charger does not have."""
    descriptions = tuple(descriptions)
    for charger_id, charger in entry.runtime_data.balancer.chargers.items():
        async_add_entities(
            (
                entity(entry, charger_id, d)
                for d in descriptions
                if exists is None or exists(charger, d)
            ),
            config_subentry_id=charger_id,
        )
