"""A site in Utrecht with solar arrays, for the solar forecast tests."""

from datetime import UTC, datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util.unit_conversion import PowerConverter
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import (
    DOMAIN,
    SUBENTRY_METER,
    SUBENTRY_SOLAR_ARRAY,
)

from .conftest import SITE_DATA, SITE_OPTIONS
from .forecast import fixture_text

LATITUDE, LONGITUDE = 52.0907, 5.1214
# 10:00 in Utrecht on the day of the forecast fixtures.
NOW = datetime(2026, 6, 20, 8, 0, tzinfo=UTC)
SOUTH: dict[str, Any] = {
    "panels": 12,
    "wp_per_panel": 350.0,  # 4.2 kWp, as in the fixtures
    "azimuth_deg": 180.0,
    "tilt_deg": 35.0,
    "inverter_kw": 4.0,
    "losses_pct": 14.0,
}
WEST: dict[str, Any] = {**SOUTH, "azimuth_deg": 270.0, "tilt_deg": 20.0}
FORECAST_SOLAR_URL = "https://api.forecast.solar/estimate/52.0907/5.1214/35/0/4.2"
FORECAST_SOLAR_WEST_URL = "https://api.forecast.solar/estimate/52.0907/5.1214/20/90/4.2"
OPEN_METEO_URL = "https://api.open-meteo.com/v1/forecast"
ESTIMATE = fixture_text("forecast_solar_estimate.json")


async def in_utrecht(hass: HomeAssistant) -> None:
    """HA's location and time zone where the fixtures were made."""
    hass.config.latitude, hass.config.longitude = LATITUDE, LONGITUDE
    await hass.config.async_set_time_zone("Europe/Amsterdam")


def solar_site(
    *arrays: tuple[str, dict[str, Any]],
    meters: tuple[dict[str, Any], ...] = (),
    **options: Any,
) -> MockConfigEntry:
    """A site with the given arrays and options; without meters headroom is unknown."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options={**SITE_OPTIONS, **options},
        subentries_data=[
            *(
                {
                    "subentry_type": SUBENTRY_METER,
                    "data": meter,
                    "title": f"{meter['role'].capitalize()} meter",
                    "unique_id": None,
                }
                for meter in meters
            ),
            *(
                {
                    "subentry_type": SUBENTRY_SOLAR_ARRAY,
                    "data": data,
                    "title": title,
                    "unique_id": None,
                }
                for title, data in arrays
            ),
        ],
    )


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the site up and let its first fetch (a background task) finish."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def state(hass: HomeAssistant, entity_id: str) -> str:
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found.state


def watts(hass: HomeAssistant, entity_id: str) -> float:
    """A power sensor's value in W, whatever unit it is shown in (kW here)."""
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return PowerConverter.convert(
        float(found.state), found.attributes["unit_of_measurement"], "W"
    )
