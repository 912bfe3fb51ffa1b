"""Solar forecast sensors: per array and for the site, and the site's forecast headroom."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy, UnitOfPower
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .engine.headroom import Headroom
from .engine.site import Site
from .engine.solar import peak
from .entity import StekkerEntity, site_device
from .runtime import StekkerConfigEntry
from .solar_forecast import (
    SOURCE_STATES,
    STEP,
    ArrayForecast,
    SolarForecastCoordinator,
)

HEADROOM_HORIZON = timedelta(hours=24)


def _today(now: datetime) -> tuple[datetime, datetime]:
    start = dt_util.start_of_local_day(now)
    return start, dt_util.start_of_local_day(start.date() + timedelta(days=1))


def _tomorrow(now: datetime) -> tuple[datetime, datetime]:
    _, start = _today(now)
    return start, dt_util.start_of_local_day(start.date() + timedelta(days=1))


def _peak_today(forecast: ArrayForecast, now: datetime) -> datetime | None:
    start, end = _today(now)
    best = peak([s for s in forecast.watts if start <= s[0] < end])
    return None if best is None else best[0]


@dataclass(frozen=True, kw_only=True)
class SolarSensorDescription(SensorEntityDescription):
    """A value of an array's (or the site's) forecast at a given moment."""

    value_fn: Callable[[ArrayForecast, datetime], float | str | datetime | None]


def _energy(
    key: str, value_fn: Callable[[ArrayForecast, datetime], float]
) -> SolarSensorDescription:
    # A forecast is no meter total: no state class, so no long-term statistics.
    return SolarSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


SOLAR_SENSORS: tuple[SolarSensorDescription, ...] = (
    SolarSensorDescription(
        key="solar_forecast_power",
        translation_key="solar_forecast_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        # Shown in kW like the site's other power sensors.
        suggested_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda f, now: f.power_at(now),
    ),
    _energy("solar_forecast_today", lambda f, now: f.energy_kwh(*_today(now))),
    _energy(
        "solar_forecast_remaining_today",
        lambda f, now: f.energy_kwh(now, _today(now)[1]),
    ),
    _energy("solar_forecast_tomorrow", lambda f, now: f.energy_kwh(*_tomorrow(now))),
    SolarSensorDescription(
        key="solar_forecast_peak_time",
        translation_key="solar_forecast_peak_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_peak_today,
    ),
    SolarSensorDescription(
        key="solar_forecast_source",
        translation_key="solar_forecast_source",
        device_class=SensorDeviceClass.ENUM,
        options=SOURCE_STATES,
        value_fn=lambda f, _: f.source,
    ),
)


def array_device(entry: StekkerConfigEntry, subentry_id: str) -> DeviceInfo:
    return DeviceInfo(
        identifiers={(DOMAIN, subentry_id)},
        name=entry.subentries[subentry_id].title,
        model="Solar array",
        via_device_id=entry.runtime_data.site_device_id,
    )


def async_add_solar_sensors(
    entry: StekkerConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Forecast sensors for the site and each array; nothing without arrays."""
    solar = entry.runtime_data.solar
    if solar is None:
        return
    site = site_device(entry)
    async_add_entities(
        [
            *(
                SolarSensor(solar, d, f"{entry.entry_id}_site", site, None)
                for d in SOLAR_SENSORS
            ),
            ForecastHeadroomSensor(entry, solar),
        ]
    )
    for subentry_id in solar.arrays:
        device = array_device(entry, subentry_id)
        async_add_entities(
            (
                SolarSensor(solar, d, subentry_id, device, subentry_id)
                for d in SOLAR_SENSORS
            ),
            config_subentry_id=subentry_id,
        )


class SolarSensor(StekkerEntity[SolarForecastCoordinator], SensorEntity):
    """A forecast value of one array, or of the site when ``array_id`` is None."""

    entity_description: SolarSensorDescription

    def __init__(
        self,
        coordinator: SolarForecastCoordinator,
        description: SolarSensorDescription,
        unique_prefix: str,
        device_info: DeviceInfo,
        array_id: str | None,
    ) -> None:
        super().__init__(coordinator, description, unique_prefix, device_info)
        self._array_id = array_id

    @property
    def native_value(self) -> float | str | datetime | None:
        data = self.coordinator.data
        forecast = data.site if self._array_id is None else data.arrays[self._array_id]
        return self.entity_description.value_fn(forecast, dt_util.now())


def headroom_forecast(
    site: Site, headroom: Headroom | None, solar: ArrayForecast, now: datetime
) -> list[tuple[datetime, float]]:
    """Expected charging capacity (kW) per 15-minute slot for the next 24 hours.

    GTV - margin - building load + solar, where the building load is held at its
    present gross value (net load plus what the panels make now: measured, or else
    forecast). A load profile over the day is the planner's job, not this sensor's.
    Without a meter reading there is no forecast: a blind site has no headroom to
    promise. Each slot is capped by what the phase fuses leave now, which solar
    does not widen.
    """
    if headroom is None:
        return []
    load_kw = headroom.building_load_kw
    if headroom.solar_kw is None:
        load_kw += solar.power_at(now) / 1000.0
    fuse_kw = sum(headroom.available_a.values()) * headroom.voltage_v / 1000.0
    first = dt_util.as_utc(now).replace(second=0, microsecond=0)
    first -= timedelta(minutes=first.minute % 15)
    slots = int(HEADROOM_HORIZON / STEP)
    forecast = []
    for index in range(slots):
        start = first + index * STEP
        solar_kw = solar.energy_kwh(start, start + STEP) * (timedelta(hours=1) / STEP)
        available = min(site.gtv_kw - site.margin_kw - load_kw + solar_kw, fuse_kw)
        forecast.append((start, max(0.0, available)))
    return forecast


HEADROOM_FORECAST = SensorEntityDescription(
    key="forecast_headroom",
    translation_key="forecast_headroom",
    device_class=SensorDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.KILO_WATT,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=2,
)


class ForecastHeadroomSensor(StekkerEntity[SolarForecastCoordinator], SensorEntity):
    """Charging capacity expected now; the next 24 h in 15-minute slots as attribute."""

    # 96 slots would bloat the recorder; dashboards read the live attribute.
    _unrecorded_attributes = frozenset({"forecast"})

    def __init__(
        self, entry: StekkerConfigEntry, coordinator: SolarForecastCoordinator
    ) -> None:
        super().__init__(
            coordinator, HEADROOM_FORECAST, entry.entry_id, site_device(entry)
        )
        self._entry = entry
        self._forecast = self._compute()

    def _compute(self) -> list[tuple[datetime, float]]:
        runtime = self._entry.runtime_data
        meters = runtime.headroom
        return headroom_forecast(
            runtime.site,
            meters.data if meters.last_update_success else None,
            self.coordinator.data.site,
            dt_util.now(),
        )

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._forecast = self._compute()
        super()._handle_coordinator_update()

    async def async_added_to_hass(self) -> None:
        """Also follow the meters: without meter data there is no forecast now."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._entry.runtime_data.headroom.async_add_listener(self._on_meters)
        )

    @callback
    def _on_meters(self) -> None:
        """Meter data came or went: recompute at once (else at the solar update)."""
        if self._entry.runtime_data.headroom.last_update_success != bool(
            self._forecast
        ):
            self._handle_coordinator_update()

    @property
    def available(self) -> bool:
        return super().available and bool(self._forecast)

    @property
    def native_value(self) -> float | None:
        return self._forecast[0][1] if self._forecast else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        return {
            "forecast": [
                {"start": start.isoformat(), "available_kw": round(kw, 3)}
                for start, kw in self._forecast
            ]
        }
