"""Site sensors of the quarter-hour budget: the running quarter-hour average
import and this month's peak, the figure a kW-max or capacity tariff bills.

They exist when the site has a quarter-hour budget or a capacity price (then
the averages count for something); the peak and the running quarter are
restored after a restart (a peak earlier in the quarter is not forgotten), and
the peak starts over at the month's start. They share their names with a Belgian
meter's own figures of the same kind.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfPower
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HeadroomCoordinator
from .entity import CycleSensor, site_device
from .runtime import StekkerConfigEntry
from .site_limits import QuarterHourMeter


@dataclass(frozen=True, kw_only=True)
class BudgetSensorDescription(SensorEntityDescription):
    """A site sensor from the quarter-hour meter."""

    value_fn: Callable[[QuarterHourMeter, HeadroomCoordinator], float | None]
    # Gives the meter back the value as it was at the time of the last state.
    restore_fn: Callable[[QuarterHourMeter, datetime, float], None]


QUARTER_HOUR_AVERAGE_SENSOR = BudgetSensorDescription(
    key="quarter_hour_average",
    translation_key="quarter_hour_average",
    device_class=SensorDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.KILO_WATT,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=2,
    value_fn=lambda meter, _: meter.average_kw,
    # Last written at the last sample before the restart.
    restore_fn=QuarterHourMeter.restore_average,
)
MONTH_PEAK_SENSOR = BudgetSensorDescription(
    key="month_peak",
    translation_key="month_peak",
    device_class=SensorDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.KILO_WATT,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=2,
    value_fn=lambda meter, coordinator: meter.month_peak_kw(coordinator.wall_clock()),
    # The state was last written in the month it belongs to.
    restore_fn=QuarterHourMeter.restore_peak,
)


def async_add_budget_sensors(
    entry: StekkerConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    headroom = entry.runtime_data.headroom
    if headroom.quarter is None:
        return
    device = site_device(entry)
    async_add_entities(
        [
            BudgetSensor(headroom, description, entry.entry_id, device)
            for description in (QUARTER_HOUR_AVERAGE_SENSOR, MONTH_PEAK_SENSOR)
        ]
    )


class BudgetSensor(CycleSensor[HeadroomCoordinator], RestoreSensor):
    """A budget figure, kept across a restart within its quarter or month."""

    entity_description: BudgetSensorDescription

    @property
    def native_value(self) -> float | None:
        meter = self.coordinator.quarter
        assert meter is not None  # created only with a quarter-hour meter
        return self.entity_description.value_fn(meter, self.coordinator)

    @override
    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        meter = self.coordinator.quarter
        assert meter is not None
        state = await self.async_get_last_state()
        data = await self.async_get_last_sensor_data()
        if state is None or data is None:
            return
        if not isinstance(data.native_value, int | float | Decimal):
            return  # it was unavailable
        self.entity_description.restore_fn(
            meter, state.last_updated, float(data.native_value)
        )
        self.async_write_ha_state()
