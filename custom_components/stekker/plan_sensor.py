"""Sensors of the site plan: per charger what it plans, the site's next 24 hours."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import UnitOfEnergy, UnitOfPower
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .charger_entity import async_add_charger_entities
from .entity import StekkerEntity, site_device
from .plan_entity import PlanChargerEntity
from .planner import PlanCoordinator, SitePlan
from .runtime import StekkerConfigEntry


@dataclass(frozen=True, kw_only=True)
class PlanSensorDescription(SensorEntityDescription):
    """A charger's figure from the plan (None while the car is not planned)."""

    value_fn: Callable[[SitePlan, str, datetime], float | datetime | None]


def _expected_energy(plan: SitePlan, cid: str, _now: datetime) -> float | None:
    car = plan.cars.get(cid)
    return None if car is None else car.plan.energy_kwh


PLAN_SENSORS: tuple[PlanSensorDescription, ...] = (
    PlanSensorDescription(
        key="planned_power",
        translation_key="planned_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=2,
        value_fn=lambda plan, cid, now: plan.power_now(cid, now),
    ),
    PlanSensorDescription(
        key="expected_energy",
        translation_key="expected_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        value_fn=_expected_energy,
    ),
    PlanSensorDescription(
        key="expected_completion",
        translation_key="expected_completion",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda plan, cid, _: plan.completion(cid),
    ),
)

PLANNED_ENERGY = SensorEntityDescription(
    key="planned_energy",
    translation_key="planned_energy",
    device_class=SensorDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    suggested_display_precision=1,
)


def async_add_plan_sensors(
    entry: StekkerConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    planner = entry.runtime_data.planner
    async_add_entities(
        [
            PlannedEnergySensor(
                planner, PLANNED_ENERGY, entry.entry_id, site_device(entry)
            )
        ]
    )
    async_add_charger_entities(entry, async_add_entities, PlanSensor, PLAN_SENSORS)


class PlanSensor(PlanChargerEntity, SensorEntity):
    """The plan's attribute sits on planned power, kept out of the recorder."""

    entity_description: PlanSensorDescription
    _unrecorded_attributes = frozenset({"plan"})

    @property
    def native_value(self) -> float | datetime | None:
        plan = self.coordinator.current
        if plan is None:
            return None
        return self.entity_description.value_fn(plan, self.charger_id, dt_util.utcnow())

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.key != "planned_power":
            return None
        plan, car = self.coordinator.current, self.car_plan
        if plan is None or car is None:
            return {"plan": []}
        return {
            "plan": plan.as_list(self.charger_id),
            "need_kwh": round(car.need_kwh, 2),
            "departure": car.departure.isoformat(),
            "shortfall_kwh": round(car.plan.shortfall_kwh, 2),
        }


class PlannedEnergySensor(StekkerEntity[PlanCoordinator], SensorEntity):
    """Energy the plan gives all cars over the next 24 hours."""

    @property
    def native_value(self) -> float | None:
        plan = self.coordinator.current
        if plan is None:
            return None
        now = dt_util.utcnow()
        return plan.energy_between(now, now + timedelta(hours=24))
