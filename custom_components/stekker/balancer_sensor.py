"""Sensors of the balancer: per charger what it got and why; the site's totals."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfElectricCurrent, UnitOfPower
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .balancer import LIMITED_BY, STATES, BalancerCoordinator, BalancerState, Charger
from .charger_entity import ChargerEntity, async_add_charger_entities
from .entity import CycleSensor, site_device
from .runtime import StekkerConfigEntry


@dataclass(frozen=True, kw_only=True)
class ChargerSensorDescription(SensorEntityDescription):
    """A charger sensor computed from the balancer's view of the charger."""

    value_fn: Callable[[Charger, float], float | str | None]
    exists_fn: Callable[[Charger], bool] = lambda _: True


@dataclass(frozen=True, kw_only=True)
class BalancerSensorDescription(SensorEntityDescription):
    """A site sensor from the balancer's last cycle."""

    value_fn: Callable[[BalancerState], float | None]


CHARGER_SENSORS: tuple[ChargerSensorDescription, ...] = (
    ChargerSensorDescription(
        key="setpoint",
        translation_key="setpoint",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda c, _: c.setpoint_a,
    ),
    ChargerSensorDescription(
        key="setpoint_power",
        translation_key="setpoint_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda c, volts: (
            None
            if c.setpoint_a is None
            else c.setpoint_a * c.wired_spec.phases * volts / 1000.0
        ),
    ),
    ChargerSensorDescription(
        key="state",
        translation_key="charger_state",
        device_class=SensorDeviceClass.ENUM,
        options=STATES,
        value_fn=lambda c, _: c.state,
    ),
    ChargerSensorDescription(
        key="limited_by",
        translation_key="limited_by",
        device_class=SensorDeviceClass.ENUM,
        options=LIMITED_BY,
        value_fn=lambda c, _: c.limited_by,
    ),
    ChargerSensorDescription(
        key="phases_in_use",
        translation_key="phases_in_use",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda c, _: c.phases_in_use,
        exists_fn=lambda c: c.switcher is not None,
    ),
)

SITE_SENSORS: tuple[BalancerSensorDescription, ...] = (
    BalancerSensorDescription(
        key="charging_power",
        translation_key="charging_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda s: s.charging_kw,
    ),
    BalancerSensorDescription(
        key="allocated_power",
        translation_key="allocated_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda s: s.allocated_kw,
    ),
)


def async_add_balancer_sensors(
    entry: StekkerConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    balancer = entry.runtime_data.balancer
    async_add_entities(
        BalancerSensor(balancer, description, entry.entry_id, site_device(entry))
        for description in SITE_SENSORS
    )
    async_add_charger_entities(
        entry,
        async_add_entities,
        ChargerSensor,
        CHARGER_SENSORS,
        lambda charger, description: description.exists_fn(charger),
    )


class BalancerSensor(CycleSensor[BalancerCoordinator], SensorEntity):
    entity_description: BalancerSensorDescription

    @property
    def available(self) -> bool:
        return self.coordinator.data is not None

    @property
    def native_value(self) -> float | None:
        return self.entity_description.value_fn(self.coordinator.data)


class ChargerSensor(ChargerEntity, CycleSensor[BalancerCoordinator], SensorEntity):
    entity_description: ChargerSensorDescription

    @property
    def native_value(self) -> float | str | None:
        return self.entity_description.value_fn(
            self.charger, self.coordinator.allocator_config.voltage_v
        )

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.key != "state":
            return None
        return {"reason": self.charger.why}
