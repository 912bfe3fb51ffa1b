"""Site: a problem sensor that is on while balancing cannot be trusted fully.
Per charger: whether the plan cannot charge its car in time."""

from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .balancer import FAULT, BalancerCoordinator
from .charger_entity import async_add_charger_entities
from .entity import StekkerEntity, site_device
from .plan_entity import PlanChargerEntity
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

PROBLEM = BinarySensorEntityDescription(
    key="problem",
    translation_key="balancing_problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
)
WILL_NOT_MAKE_IT = BinarySensorEntityDescription(
    key="will_not_make_it",
    translation_key="will_not_make_it",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities(
        [
            ProblemSensor(
                entry.runtime_data.balancer, PROBLEM, entry.entry_id, site_device(entry)
            )
        ]
    )
    async_add_charger_entities(
        entry, async_add_entities, WillNotMakeItSensor, [WILL_NOT_MAKE_IT]
    )


class ProblemSensor(StekkerEntity[BalancerCoordinator], BinarySensorEntity):
    """On in fail-safe or while a charger cannot be reached; says which."""

    @property
    def available(self) -> bool:
        return True  # a failing balancer is the problem this sensor reports

    @property
    def is_on(self) -> bool:
        return bool(self.extra_state_attributes["problems"])

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        problems = []
        data = self.coordinator.data
        fail_safe = not self.coordinator.last_update_success or (
            data is not None and data.fail_safe
        )
        if not self.coordinator.last_update_success:
            problems.append("balancing cycle failed: chargers at fail-safe")
        elif fail_safe:
            problems.append("meter data stale or invalid: chargers at fail-safe")
        problems.extend(
            f"{charger.name}: {charger.why}"
            for charger in self.coordinator.chargers.values()
            if charger.state == FAULT
        )
        return {"problems": problems, "fail_safe": fail_safe}


class WillNotMakeItSensor(PlanChargerEntity, BinarySensorEntity):
    """On while the plan leaves the car short at its departure; says by how much."""

    @property
    def is_on(self) -> bool:
        car = self.car_plan
        return car is not None and car.short

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        car = self.car_plan
        return {
            "shortfall_kwh": None if car is None else round(car.plan.shortfall_kwh, 2)
        }
