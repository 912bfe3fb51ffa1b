"""Entities that show the site plan: per charger on its device, and the site's."""

from homeassistant.helpers.entity import EntityDescription

from .entity import StekkerEntity, charger_device
from .planner import ChargerPlan, PlanCoordinator
from .runtime import StekkerConfigEntry


class PlanChargerEntity(StekkerEntity[PlanCoordinator]):
    """One charger's part of the plan; its subentry id keeps the unique id stable."""

    def __init__(
        self,
        entry: StekkerConfigEntry,
        charger_id: str,
        description: EntityDescription,
    ) -> None:
        planner = entry.runtime_data.planner
        super().__init__(
            planner,
            description,
            charger_id,
            charger_device(planner.hass, entry, entry.subentries[charger_id]),
        )
        self.charger_id = charger_id

    @property
    def car_plan(self) -> ChargerPlan | None:
        """The car's part of the last plan; None while it is not planned."""
        plan = self.coordinator.current
        return None if plan is None else plan.cars.get(self.charger_id)
