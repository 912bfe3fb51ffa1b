"""The site's solar forecast: chosen source -> last good forecast -> built-in model.

A web source is asked for each array (plane) at most once per fetch interval,
sized so that all arrays together stay within the service's request budget; the
fetch times and the last good answers are kept in a ``Store``, so a restart
neither spends budget again nor loses the forecast. Whatever fails, every array
always has a forecast: the built-in clear-sky model fills every gap.
"""

import asyncio
import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeIs, override

from homeassistant.components.weather.const import DOMAIN as WEATHER_DOMAIN
from homeassistant.components.weather.const import SERVICE_GET_FORECASTS
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_API_KEY,
    CONF_LATITUDE,
    CONF_LONGITUDE,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.unit_conversion import TemperatureConverter

from .const import (
    CONF_AZIMUTH_DEG,
    CONF_DAMPING,
    CONF_FORECAST_SOURCE,
    CONF_INVERTER_KW,
    CONF_LOSSES_PCT,
    CONF_PANELS,
    CONF_TILT_DEG,
    CONF_WEATHER_ENTITY,
    CONF_WP_PER_PANEL,
    DOMAIN,
    FORECAST_BUILTIN,
    FORECAST_FORECAST_SOLAR,
    FORECAST_OPEN_METEO,
    LOGGER,
    SUBENTRY_SOLAR_ARRAY,
)
from .engine.solar import SolarArray, energy_between_kwh, forecast_series
from .forecast import (
    MIN_REFRESH_INTERVAL,
    PUBLIC_REQUESTS_PER_HOUR,
    ForecastError,
    ForecastInvalidResponseError,
    ForecastRateLimitedError,
    ForecastSolarSource,
    ForecastSource,
    OpenMeteoSource,
    PlaneSpec,
    spread_schedule,
)
from .runtime import StekkerConfigEntry

# Sensors' "now" values move on at this pace; web sources are asked far less often.
UPDATE_INTERVAL = timedelta(minutes=5)
STEP = timedelta(minutes=15)
# The keyless Forecast.Solar budget is per IP address, shared with anything else
# on the network (such as the core forecast_solar integration): use half of it.
PUBLIC_BUDGET_PER_HOUR = PUBLIC_REQUESTS_PER_HOUR // 2
# Arrays per site on the keyless Forecast.Solar API: they share one IP's budget.
DATA_PUBLIC_ARRAYS: HassKey[dict[str, int]] = HassKey(f"{DOMAIN}_public_forecast_solar")
FAILURES_FOR_ISSUE = 3
# A weather integration that hangs must not hold up setup or the forecast.
WEATHER_TIMEOUT_S = 10.0
STORAGE_VERSION = 1
ISSUE_FAILING = "solar_forecast_failing"

LAST_GOOD = "last_good"
# The built-in model without cloud cover (no weather entity, or none answering):
# a clear-sky forecast, the most the arrays can make.
BUILTIN_CLEAR_SKY = "builtin_clear_sky"
# The source sensor's states, best first: a site is only as good as its worst array.
SOURCE_STATES = [
    FORECAST_FORECAST_SOLAR,
    FORECAST_OPEN_METEO,
    LAST_GOOD,
    FORECAST_BUILTIN,
    BUILTIN_CLEAR_SKY,
]
SOURCE_NAMES = {
    FORECAST_FORECAST_SOLAR: "Forecast.Solar",
    FORECAST_OPEN_METEO: "Open-Meteo",
}
_RANK = {
    FORECAST_FORECAST_SOLAR: 0,
    FORECAST_OPEN_METEO: 0,
    LAST_GOOD: 1,
    FORECAST_BUILTIN: 2,
    BUILTIN_CLEAR_SKY: 3,
}

type Watts = tuple[tuple[datetime, float], ...]

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class ArrayConfig:
    """One solar array subentry as the forecast needs it."""

    title: str
    array: SolarArray
    plane: PlaneSpec

    @property
    def key(self) -> list[float | None]:
        """What the array's forecast depends on: a stored one for another set-up is dropped."""
        plane = self.plane
        return [
            plane.latitude,
            plane.longitude,
            plane.kwp,
            plane.azimuth_deg,
            plane.tilt_deg,
            plane.inverter_kw,
            plane.damping,
            self.array.losses_pct,
        ]


def array_config(
    subentry: ConfigSubentry, latitude: float, longitude: float
) -> ArrayConfig:
    data = subentry.data
    limit = data.get(CONF_INVERTER_KW)
    panels = int(data[CONF_PANELS])
    wp = float(data[CONF_WP_PER_PANEL])
    array = SolarArray(
        name=subentry.title,
        panels=panels,
        wp_per_panel=wp,
        azimuth_deg=float(data[CONF_AZIMUTH_DEG]),
        tilt_deg=float(data[CONF_TILT_DEG]),
        # No inverter limit stored: the array's peak power, nothing clipped.
        inverter_kw=panels * wp / 1000.0 if limit is None else float(limit),
        losses_pct=float(data[CONF_LOSSES_PCT]),
    )
    damping = data.get(CONF_DAMPING)
    plane = PlaneSpec(
        name=subentry.title,
        latitude=latitude,
        longitude=longitude,
        kwp=array.kwp,
        azimuth_deg=array.azimuth_deg,
        tilt_deg=array.tilt_deg,
        inverter_kw=None if limit is None else array.inverter_kw,
        damping=None if damping is None else float(damping),
    )
    return ArrayConfig(title=subentry.title, array=array, plane=plane)


@dataclass(frozen=True, kw_only=True)
class ArrayForecast:
    """AC power on a 15-minute grid from local midnight today, and where it came from."""

    watts: Watts
    source: str

    def power_at(self, when: datetime) -> float:
        """Power (W) at ``when``, linear between samples; 0 outside the grid."""
        return _interpolate(self.watts, when) or 0.0

    def energy_kwh(self, start: datetime, end: datetime) -> float:
        return energy_between_kwh(self.watts, start, end)


@dataclass(frozen=True, kw_only=True)
class SolarForecast:
    """Every array's forecast and the site's sum."""

    arrays: dict[str, ArrayForecast]
    site: ArrayForecast


@dataclass(kw_only=True)
class PlaneState:
    """The last good answer of a web source for one array, and when it was asked."""

    watts: Watts = ()
    source: str | None = None
    fetched_at: datetime | None = None
    attempted_at: datetime | None = None
    attempted_with: str | None = None  # the source asked last
    ok: bool = False  # the latest attempt succeeded
    failures: int = 0  # failed attempts in a row (not stored: a restart starts over)

    def to_json(self, key: list[float | None]) -> dict[str, Any]:
        return {
            "key": key,
            "source": self.source,
            "fetched_at": _iso(self.fetched_at),
            "attempted_at": _iso(self.attempted_at),
            "attempted_with": self.attempted_with,
            "ok": self.ok,
            "watts": [[when.isoformat(), watts] for when, watts in self.watts],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PlaneState:
        return cls(
            watts=tuple(
                (datetime.fromisoformat(when), float(watts))
                for when, watts in raw["watts"]
            ),
            source=raw["source"],
            fetched_at=_parse(raw["fetched_at"]),
            attempted_at=_parse(raw["attempted_at"]),
            attempted_with=raw["attempted_with"],
            ok=raw["ok"],
        )


@dataclass(kw_only=True)
class Weather:
    """Hourly cloud cover (%) and temperature (°C) from a weather entity."""

    clouds: dict[datetime, float] = field(default_factory=dict)
    temperature: dict[datetime, float] = field(default_factory=dict)


class SolarForecastCoordinator(DataUpdateCoordinator[SolarForecast]):
    """Forecast of every array of a site; never fails, falls back instead."""

    config_entry: StekkerConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StekkerConfigEntry,
        arrays: dict[str, ArrayConfig],
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} solar forecast",
            update_interval=UPDATE_INTERVAL,
        )
        self.arrays = arrays
        self.chosen: str = entry.options.get(CONF_FORECAST_SOURCE, FORECAST_BUILTIN)
        self.weather_entity: str | None = entry.options.get(CONF_WEATHER_ENTITY)
        self._session = async_get_clientsession(hass)
        self._forecast_solar = ForecastSolarSource(entry.options.get(CONF_API_KEY))
        self._sources: dict[str, ForecastSource] = {}
        for subentry_id, config in arrays.items():
            if self.chosen == FORECAST_FORECAST_SOLAR:
                self._sources[subentry_id] = self._forecast_solar
            elif self.chosen == FORECAST_OPEN_METEO:
                self._sources[subentry_id] = OpenMeteoSource(
                    losses=config.array.losses_pct / 100.0
                )
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.solar_forecast"
        )
        self.planes: dict[str, PlaneState] = {}
        self.retry_at: datetime | None = None
        self.weather_failures = 0
        self.last_error: str | None = None
        self._issue_id = f"{entry.entry_id}_{ISSUE_FAILING}"

    async def async_start(self) -> None:
        """Serve the stored or built-in forecast at once; ask the web in the background.

        A slow or failing service thus never holds up the set-up of the site.
        """
        stored = await self._store.async_load() or {}
        planes = stored.get("planes", {})
        for subentry_id, config in self.arrays.items():
            raw = planes.get(subentry_id)
            self.planes[subentry_id] = (
                PlaneState.from_json(raw)
                if raw is not None and raw["key"] == config.key
                else PlaneState()
            )
        limited = stored.get("rate_limited")
        if limited is not None and limited["source"] == self.chosen:
            self.retry_at = _parse(limited["until"])
        self.config_entry.async_on_unload(self._async_delete_issue)
        if self.chosen == FORECAST_FORECAST_SOLAR and not self.config_entry.options.get(
            CONF_API_KEY
        ):
            public = self.hass.data.setdefault(DATA_PUBLIC_ARRAYS, {})
            entry_id = self.config_entry.entry_id
            public[entry_id] = len(self.arrays)

            def _leave() -> None:
                public.pop(entry_id, None)

            self.config_entry.async_on_unload(_leave)
        self.async_set_updated_data(await self._compose(dt_util.utcnow()))
        if self._sources:
            self.config_entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{self.name} first fetch"
            )

    def fetch_interval(self) -> timedelta:
        """Time between two requests for one array, all arrays within the budget."""
        if self.chosen != FORECAST_FORECAST_SOLAR:
            return timedelta(seconds=MIN_REFRESH_INTERVAL)
        if self.config_entry.options.get(CONF_API_KEY):
            budget = PUBLIC_BUDGET_PER_HOUR
            if (limit := self._forecast_solar.rate_limit) is not None:
                budget = max(1, math.floor(limit.limit * 3600 / limit.period_s))
            return timedelta(seconds=spread_schedule(len(self.arrays), budget))
        # Keyless: the budget belongs to the IP address, so every site on it shares.
        shared = sum(self.hass.data.get(DATA_PUBLIC_ARRAYS, {}).values())
        planes = max(len(self.arrays), shared)
        return timedelta(seconds=spread_schedule(planes, PUBLIC_BUDGET_PER_HOUR))

    @override
    async def _async_update_data(self) -> SolarForecast:
        now = dt_util.utcnow()
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None
        if self._sources and self.retry_at is None:
            await self._fetch_due(now)
        return await self._compose(now)

    async def _fetch_due(self, now: datetime) -> None:
        """Ask the source for every array whose interval is over, stalest first."""
        interval = self.fetch_interval()
        due = sorted(
            (
                sid
                for sid, state in self.planes.items()
                if state.attempted_with != self.chosen
                or state.attempted_at is None
                or now - state.attempted_at >= interval
            ),
            key=lambda sid: self.planes[sid].attempted_at or _NEVER,
        )
        if not due:
            return
        for subentry_id in due:
            state = self.planes[subentry_id]
            state.attempted_at = now
            state.attempted_with = self.chosen
            try:
                forecast = await self._sources[subentry_id].fetch(
                    self._session, self.arrays[subentry_id].plane
                )
            except ForecastRateLimitedError as err:
                # The budget is per IP address or key: no other array may ask now.
                wait = (
                    err.retry_after
                    if err.retry_after is not None
                    else interval.total_seconds()
                )
                self.retry_at = now + timedelta(seconds=wait)
                state.ok = False
                self._failed(err, state)
                break
            except ForecastError as err:
                state.ok = False
                self._failed(err, state)
            else:
                state.watts = forecast.watts
                state.source = forecast.source
                state.fetched_at = now
                state.ok = True
                self._succeeded(state)
        await self._store.async_save(
            {
                "planes": {
                    sid: state.to_json(self.arrays[sid].key)
                    for sid, state in self.planes.items()
                },
                "rate_limited": None
                if self.retry_at is None
                else {"source": self.chosen, "until": self.retry_at.isoformat()},
            }
        )

    def _failed(self, err: Exception, state: PlaneState | None = None) -> None:
        """Count a failure of one array's source (or of the weather, for built-in)."""
        if state is None:
            self.weather_failures += 1
        else:
            state.failures += 1
        self.last_error = str(err)
        LOGGER.debug("%s: %s failed: %s", self.name, self.source_name(), err)
        if self.failures >= FAILURES_FOR_ISSUE:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_FAILING,
                translation_placeholders={
                    "site": self.config_entry.title,
                    "source": self.source_name(),
                    "failures": str(self.failures),
                    "error": self.last_error,
                },
            )

    def _succeeded(self, state: PlaneState | None = None) -> None:
        """One array (or the weather) answered; the issue goes when all of them do."""
        was_failing = self.failures > 0
        if state is None:
            self.weather_failures = 0
        else:
            state.failures = 0
        if self.failures:
            return
        if was_failing:
            LOGGER.info("%s: %s answers again", self.name, self.source_name())
        self.last_error = None
        self._async_delete_issue()

    @property
    def failures(self) -> int:
        """The longest run of failures in a row of any array (or the weather)."""
        return max((self.weather_failures, *(s.failures for s in self.planes.values())))

    def source_name(self) -> str:
        """The chosen source as the user knows it, for the repair issue."""
        if self.chosen == FORECAST_BUILTIN:
            return str(self.weather_entity)
        return SOURCE_NAMES[self.chosen]

    def _async_delete_issue(self) -> None:
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id)

    def in_use(self, subentry_id: str, now: datetime) -> str:
        """Which link of the chain serves this array now."""
        state = self.planes[subentry_id]
        if (
            self.chosen == FORECAST_BUILTIN
            or not state.watts
            or state.watts[-1][0] < now
        ):
            return FORECAST_BUILTIN
        if state.ok and state.source == self.chosen:
            return self.chosen
        return LAST_GOOD

    async def _compose(self, now: datetime) -> SolarForecast:
        """Each array on a 15-minute grid from local midnight today to the day after
        tomorrow: the web forecast where it reaches, the built-in model elsewhere.
        """
        today = dt_util.start_of_local_day(dt_util.as_local(now))
        end = dt_util.start_of_local_day(today.date() + timedelta(days=2))
        # In UTC: across a daylight-saving change the two days are 47 or 49 hours.
        span = dt_util.as_utc(end) - dt_util.as_utc(today)
        hours = math.ceil(span / timedelta(hours=1))
        weather = await self._weather()
        arrays: dict[str, ArrayForecast] = {}
        for subentry_id, config in self.arrays.items():
            plane = config.plane
            model = forecast_series(
                config.array,
                plane.latitude,
                plane.longitude,
                today,
                hours,
                cloud_cover=weather.clouds,
                ambient_c=weather.temperature,
            )
            source = self.in_use(subentry_id, now)
            if source != FORECAST_BUILTIN:
                model = _overlay(model, self.planes[subentry_id].watts)
            elif not weather.clouds:
                source = BUILTIN_CLEAR_SKY
            arrays[subentry_id] = ArrayForecast(watts=tuple(model), source=source)
        return SolarForecast(arrays=arrays, site=_sum(list(arrays.values())))

    async def _weather(self) -> Weather:
        """The weather entity's hourly forecast; clear sky when there is none."""
        if self.weather_entity is None:
            return Weather()
        try:
            async with asyncio.timeout(WEATHER_TIMEOUT_S):
                weather = await self._fetch_weather(self.weather_entity)
        except (HomeAssistantError, ForecastError, TimeoutError) as err:
            LOGGER.debug("%s: weather: %s", self.name, err)
            if self.chosen == FORECAST_BUILTIN:
                self._failed(err)
            return Weather()
        if self.chosen == FORECAST_BUILTIN:
            self._succeeded()
        return weather

    async def _fetch_weather(self, entity_id: str) -> Weather:
        response = await self.hass.services.async_call(
            WEATHER_DOMAIN,
            SERVICE_GET_FORECASTS,
            {ATTR_ENTITY_ID: entity_id, "type": "hourly"},
            blocking=True,
            return_response=True,
        )
        state = self.hass.states.get(entity_id)
        unit = (
            state.attributes.get("temperature_unit") if state is not None else None
        ) or self.hass.config.units.temperature_unit
        return weather_from_response(response, entity_id, unit)

    def diagnostics(self) -> dict[str, Any]:
        now = dt_util.utcnow()
        return {
            "chosen": self.chosen,
            "weather_entity": self.weather_entity,
            "fetch_interval_s": self.fetch_interval().total_seconds(),
            "retry_at": _iso(self.retry_at),
            "failures": self.failures,
            "last_error": self.last_error,
            "arrays": {
                self.arrays[sid].title: {
                    "in_use": self.in_use(sid, now),
                    "fetched_at": _iso(state.fetched_at),
                    "attempted_at": _iso(state.attempted_at),
                    "last_attempt_ok": state.ok,
                }
                for sid, state in self.planes.items()
            },
        }


async def async_setup_solar_forecast(
    hass: HomeAssistant, entry: StekkerConfigEntry
) -> SolarForecastCoordinator | None:
    """The forecast coordinator of a site with solar arrays, started; else None.

    The location is the site's own when the forecast options set one, else HA's.
    """
    subentries = entry.get_subentries_of_type(SUBENTRY_SOLAR_ARRAY)
    if not subentries:
        return None
    latitude = float(entry.options.get(CONF_LATITUDE, hass.config.latitude))
    longitude = float(entry.options.get(CONF_LONGITUDE, hass.config.longitude))
    coordinator = SolarForecastCoordinator(
        hass,
        entry,
        {s.subentry_id: array_config(s, latitude, longitude) for s in subentries},
    )
    await coordinator.async_start()
    return coordinator


async def async_remove_solar_store(hass: HomeAssistant, entry_id: str) -> None:
    """Forget a removed site's stored forecasts."""
    await Store[dict[str, Any]](
        hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.solar_forecast"
    ).async_remove()


def weather_from_response(response: Any, entity_id: str, unit: str) -> Weather:
    """Cloud cover and temperature (converted to °C) from a ``weather.get_forecasts``
    answer; items without a time are skipped, an answer without clouds is an error.
    """
    found = response.get(entity_id) if isinstance(response, dict) else None
    items = found.get("forecast") if isinstance(found, dict) else None
    weather = Weather()
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        when = dt_util.parse_datetime(str(item.get("datetime")))
        if when is None:
            continue
        if when.tzinfo is None:  # some integrations give local wall-clock times
            when = when.replace(tzinfo=dt_util.get_default_time_zone())
        if _finite(cover := item.get("cloud_coverage")):
            weather.clouds[when] = float(cover)
        if _finite(temperature := item.get("temperature")):
            weather.temperature[when] = TemperatureConverter.convert(
                float(temperature), unit, UnitOfTemperature.CELSIUS
            )
    if not weather.clouds:
        raise ForecastInvalidResponseError(f"{entity_id}: no hourly cloud coverage")
    return weather


def _finite(value: Any) -> TypeIs[int | float]:
    return isinstance(value, int | float) and math.isfinite(value)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _interpolate(watts: Watts, when: datetime) -> float | None:
    """Power at ``when``, linear between samples; None outside the series."""
    if not watts or not watts[0][0] <= when <= watts[-1][0]:
        return None
    index = bisect.bisect_right(watts, when, key=lambda sample: sample[0])
    if index == len(watts):
        return watts[-1][1]
    (t0, p0), (t1, p1) = watts[index - 1], watts[index]
    return p0 + (p1 - p0) * (when - t0) / (t1 - t0)


def _overlay(
    model: list[tuple[datetime, float]], watts: Watts
) -> list[tuple[datetime, float]]:
    """The web forecast inside its span, the model outside it."""
    return [
        (when, power if (web := _interpolate(watts, when)) is None else web)
        for when, power in model
    ]


def _sum(arrays: list[ArrayForecast]) -> ArrayForecast:
    """The site: all arrays share one grid, so their samples add up slot by slot."""
    first = arrays[0].watts
    watts = tuple(
        (when, sum(array.watts[index][1] for array in arrays))
        for index, (when, _) in enumerate(first)
    )
    source = max((array.source for array in arrays), key=_RANK.__getitem__)
    return ArrayForecast(watts=watts, source=source)
