"""Per charger: the energy it delivered (for the Energy dashboard), this month's
energy and cost, and its last session."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .balancer import BalancerCoordinator
from .charger_entity import ChargerEntity, async_add_charger_entities
from .const import CONF_PRICE_ENTITY, CONF_PRICE_ENTRY
from .engine.sessions import SessionBook
from .entity import CycleSensor
from .runtime import StekkerConfigEntry


@dataclass(frozen=True, kw_only=True)
class SessionSensorDescription(SensorEntityDescription):
    """A charger sensor from the site's session book, for a charger at a time."""

    value_fn: Callable[[SessionBook, str, datetime], float | None]
    monthly: bool = False  # resets at the start of each month
    priced: bool = False  # created only when the site has a price source


def _last_energy(book: SessionBook, charger_id: str, _at: datetime) -> float | None:
    last = book.last(charger_id)
    return None if last is None else round(last.energy_kwh, 3)


SESSION_SENSORS: tuple[SessionSensorDescription, ...] = (
    SessionSensorDescription(
        key="energy",
        translation_key="charged_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=lambda book, cid, _: round(book.totals.get(cid, 0.0), 4),
    ),
    SessionSensorDescription(
        key="energy_this_month",
        translation_key="energy_this_month",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        monthly=True,
        value_fn=lambda book, cid, at: round(book.month_total(cid, at).energy_kwh, 4),
    ),
    SessionSensorDescription(
        key="cost_this_month",
        translation_key="cost_this_month",
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        monthly=True,
        priced=True,
        value_fn=lambda book, cid, at: book.month_total(cid, at).cost,
    ),
    SessionSensorDescription(
        key="last_session_energy",
        translation_key="last_session_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_last_energy,
    ),
)


def async_add_session_sensors(
    entry: StekkerConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    priced = bool(
        entry.options.get(CONF_PRICE_ENTITY) or entry.options.get(CONF_PRICE_ENTRY)
    )
    async_add_charger_entities(
        entry,
        async_add_entities,
        SessionSensor,
        (d for d in SESSION_SENSORS if priced or not d.priced),
    )


class SessionSensor(ChargerEntity, CycleSensor[BalancerCoordinator], SensorEntity):
    entity_description: SessionSensorDescription

    @property
    def _book(self) -> SessionBook:
        entry = self.coordinator.config_entry
        return entry.runtime_data.sessions.book

    @property
    def available(self) -> bool:
        return True  # counted energy stays what it is while a charger is away

    @property
    def native_value(self) -> float | None:
        return self.entity_description.value_fn(
            self._book, self.charger_id, dt_util.now()
        )

    @property
    def native_unit_of_measurement(self) -> str | None:
        if self.entity_description.device_class is SensorDeviceClass.MONETARY:
            return self.hass.config.currency
        return super().native_unit_of_measurement

    @property
    def last_reset(self) -> datetime | None:
        if not self.entity_description.monthly:
            return None
        return dt_util.start_of_local_day().replace(day=1)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.key != "last_session_energy":
            return None
        last = self._book.last(self.charger_id)
        return None if last is None else last.row()
