"""Sensors: the site's headroom, and what each meter measures."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoredExtraData, RestoreEntity

from .balancer_sensor import async_add_balancer_sensors
from .budget_sensor import async_add_budget_sensors
from .coordinator import HeadroomCoordinator, MeterCoordinator
from .engine.headroom import Headroom
from .engine.readings import (
    EXPORT_KWH,
    FREQUENCY,
    IMPORT_KWH,
    MONTH_PEAK,
    POWER,
    QUARTER_HOUR_AVG,
    MeterReading,
    phase_key,
)
from .engine.site import PHASES
from .entity import CycleSensor, meter_device, site_device
from .plan_sensor import async_add_plan_sensors
from .runtime import StekkerConfigEntry
from .session_sensor import async_add_session_sensors
from .solar_sensor import async_add_solar_sensors

PARALLEL_UPDATES = 0

ATTR_HELD_UNTIL: Final = "limit_entity_held_until"


@dataclass(frozen=True, kw_only=True)
class HeadroomSensorDescription(SensorEntityDescription):
    """A site sensor computed from the headroom."""

    value_fn: Callable[[Headroom], float | None]
    phases: int = 1  # created only on sites with at least this many phases


@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription):
    """A meter value, by its reading key."""

    value_fn: Callable[[MeterReading], float | None]


def _kw(
    key: str, value_fn: Callable[[Headroom], float | None]
) -> HeadroomSensorDescription:
    return HeadroomSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


def _available_current(index: int, phase: str) -> HeadroomSensorDescription:
    return HeadroomSensorDescription(
        key=f"available_current_{phase}",
        translation_key=f"available_current_{phase}",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        phases=index + 1,
        value_fn=lambda h: h.available_a[phase],
    )


HEADROOM_SENSORS: tuple[HeadroomSensorDescription, ...] = (
    _kw("grid_power", lambda h: h.grid_kw),
    _kw("building_load", lambda h: h.building_load_kw),
    _kw("available_power", lambda h: h.available_kw),
    _kw("grid_limit", lambda h: h.grid_limit_kw),
    *(_available_current(i, p) for i, p in enumerate(PHASES)),
    HeadroomSensorDescription(
        key="gtv_utilisation",
        translation_key="gtv_utilisation",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda h: h.utilisation_pct,
    ),
)


def _meter(
    key: str,
    translation_key: str,
    device_class: SensorDeviceClass,
    unit: str,
    precision: int,
    *,
    state_class: SensorStateClass = SensorStateClass.MEASUREMENT,
    diagnostic: bool = False,
    enabled: bool = True,
) -> MeterSensorDescription:
    # Power in kW with two decimals and currents with one, like the site's own
    # sensors beside them (meters report W; HA converts).
    kilowatts = device_class is SensorDeviceClass.POWER
    return MeterSensorDescription(
        key=key,
        translation_key=translation_key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        suggested_unit_of_measurement=UnitOfPower.KILO_WATT if kilowatts else None,
        state_class=state_class,
        suggested_display_precision=precision,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        entity_registry_enabled_default=enabled,
        value_fn=lambda r: r.values.get(key),
    )


METER_SENSORS: tuple[MeterSensorDescription, ...] = (
    _meter(POWER, "power", SensorDeviceClass.POWER, UnitOfPower.WATT, 2),
    *(
        _meter(
            phase_key(quantity, phase),
            f"{quantity}_{phase}",
            device_class,
            unit,
            precision,
            diagnostic=quantity == "voltage",
            # Per-phase power and voltage move every second and say little the
            # phase currents and the total do not: off until a user wants them.
            enabled=quantity == "current",
        )
        for phase in PHASES
        for quantity, device_class, unit, precision in (
            ("power", SensorDeviceClass.POWER, UnitOfPower.WATT, 2),
            ("current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 1),
            ("voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1),
        )
    ),
    *(
        _meter(
            key,
            key.removesuffix("_kwh") + "_energy",
            SensorDeviceClass.ENERGY,
            UnitOfEnergy.KILO_WATT_HOUR,
            2,
            state_class=SensorStateClass.TOTAL_INCREASING,
        )
        for key in (IMPORT_KWH, EXPORT_KWH)
    ),
    # Belgian meters: what the capacity tariff bills (import, quarter-hour averages).
    *(
        _meter(key, translation_key, SensorDeviceClass.POWER, UnitOfPower.WATT, 2)
        for key, translation_key in (
            (QUARTER_HOUR_AVG, "quarter_hour_average"),
            (MONTH_PEAK, "month_peak"),
        )
    ),
    _meter(
        FREQUENCY,
        "frequency",
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.HERTZ,
        2,
        diagnostic=True,
        enabled=False,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Site sensors on the site's device; meter sensors on each meter's subentry."""
    runtime = entry.runtime_data
    async_add_entities(
        (GridLimitSensor if description.key == "grid_limit" else HeadroomSensor)(
            runtime.headroom, description, entry.entry_id, site_device(entry)
        )
        for description in HEADROOM_SENSORS
        if description.phases <= runtime.site.phases
    )
    async_add_balancer_sensors(entry, async_add_entities)
    async_add_budget_sensors(entry, async_add_entities)
    async_add_solar_sensors(entry, async_add_entities)
    async_add_plan_sensors(entry, async_add_entities)
    async_add_session_sensors(entry, async_add_entities)
    for subentry_id, meter in runtime.meters.items():
        device = meter_device(hass, entry, meter.subentry)
        async_add_entities(
            (
                MeterSensor(meter, description, subentry_id, device)
                for description in METER_SENSORS
                if description.key in meter.source.keys
            ),
            config_subentry_id=subentry_id,
        )


class HeadroomSensor(CycleSensor[HeadroomCoordinator], SensorEntity):
    entity_description: HeadroomSensorDescription

    @property
    def native_value(self) -> float | None:
        return self.entity_description.value_fn(self.coordinator.data)


class GridLimitSensor(HeadroomSensor, RestoreEntity):
    """The limit in force; it keeps the limit entity's last value across a
    restart, so an entity still without one after it holds that value a while."""

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        entity = self.coordinator.limit_entity
        if entity is None or (extra := await self.async_get_last_extra_data()) is None:
            return
        saved = extra.as_dict()
        kw = saved.get("limit_entity_kw")
        if saved.get("limit_entity") == entity.entity_id and isinstance(
            kw, int | float
        ):
            entity.restore(float(kw), self.coordinator.wall_clock())

    @override
    def _matters(self, last: tuple[bool, Any, Any], new: tuple[bool, Any, Any]) -> bool:
        # A value held or no longer held is news even when the limit stays.
        return last[2] != new[2] or super()._matters(last, new)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Until when a limit entity without a value has its last value held."""
        entity = self.coordinator.limit_entity
        if entity is None:
            return None
        until = entity.held_until
        return {ATTR_HELD_UNTIL: None if until is None else until.isoformat()}

    @property
    def extra_restore_state_data(self) -> RestoredExtraData | None:
        entity = self.coordinator.limit_entity
        if entity is None or entity.last is None:
            return None
        return RestoredExtraData(
            {"limit_entity": entity.entity_id, "limit_entity_kw": entity.last.kw}
        )


class MeterSensor(CycleSensor[MeterCoordinator], SensorEntity):
    entity_description: MeterSensorDescription

    @property
    def native_value(self) -> float | None:
        return self.entity_description.value_fn(self.coordinator.data)
