"""The Energy dashboard's solar forecast: Wh per hour, like core forecast_solar."""

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)

from custom_components.stekker.energy import async_get_solar_forecast

from .solar_site import (
    ESTIMATE,
    FORECAST_SOLAR_URL,
    NOW,
    SOUTH,
    in_utrecht,
    setup,
    solar_site,
    state,
)


async def test_hourly_energy_of_the_site(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(NOW)
    await in_utrecht(hass)
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    entry = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, entry)

    forecast = await async_get_solar_forecast(hass, entry.entry_id)

    assert forecast is not None
    hours = [datetime.fromisoformat(key) for key in forecast["wh_hours"]]
    # Local midnight today to local midnight the day after tomorrow, hour by hour.
    assert hours[0].isoformat() == "2026-06-19T22:00:00+00:00"
    assert len(hours) == 48
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(hours))
    # 10:00-11:00 local: the trapezoid of the answer's 2072 W and 2543 W.
    assert forecast["wh_hours"]["2026-06-20T08:00:00+00:00"] == pytest.approx(2307.5)
    total_kwh = sum(forecast["wh_hours"].values()) / 1000
    today = float(state(hass, "sensor.office_solar_forecast_today"))
    tomorrow = float(state(hass, "sensor.office_solar_forecast_tomorrow"))
    assert total_kwh == pytest.approx(today + tomorrow, abs=0.01)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await async_get_solar_forecast(hass, entry.entry_id) is None


async def test_no_forecast_without_arrays_or_site(hass: HomeAssistant) -> None:
    entry = solar_site()
    await setup(hass, entry)
    assert await async_get_solar_forecast(hass, entry.entry_id) is None
    assert await async_get_solar_forecast(hass, "no-such-entry") is None
    assert await hass.config_entries.async_unload(entry.entry_id)
