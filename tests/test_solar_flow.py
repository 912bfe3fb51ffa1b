"""Solar array subentries (add, every field error, reconfigure) and the forecast options."""

import json
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.stekker.const import SUBENTRY_SOLAR_ARRAY
from custom_components.stekker.engine.solar import SolarArray, solar_array_errors
from custom_components.stekker.solar_forecast import ISSUE_FAILING, SOURCE_STATES
from custom_components.stekker.solar_sensor import HEADROOM_FORECAST, SOLAR_SENSORS

from .solar_site import SOUTH, in_utrecht, setup, solar_site, state

ANSWER: dict[str, Any] = {
    "name": " Roof south ",
    "panels": 12,
    "wp_per_panel": 350,
    "azimuth_deg": 180,
    "tilt_deg": 35,
    "inverter_kw": 4,
    "losses_pct": 14,
}


async def add_array(
    hass: HomeAssistant, entry_id: str, answer: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_SOLAR_ARRAY), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    out: dict[str, Any] = await hass.config_entries.subentries.async_configure(
        result["flow_id"], answer
    )
    return out


async def test_add_array_to_a_running_site(hass: HomeAssistant) -> None:
    await in_utrecht(hass)
    entry = solar_site()
    await setup(hass, entry)
    assert entry.runtime_data.solar is None  # no arrays: no forecast
    assert hass.states.get("sensor.office_forecast_headroom") is None

    result = await add_array(hass, entry.entry_id, ANSWER)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = entry.subentries.values()
    assert subentry.title == "Roof south"
    assert dict(subentry.data) == {**SOUTH, "inverter_kw": 4.0}
    await hass.async_block_till_done(wait_background_tasks=True)
    # The site reloaded with its new array; the built-in model serves by default.
    # No weather entity: the built-in model is a clear-sky forecast, and says so.
    assert state(hass, "sensor.roof_south_solar_forecast_source") == "builtin_clear_sky"
    assert hass.states.get("sensor.office_forecast_headroom") is not None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_total_kwp_instead_of_wp_per_panel(hass: HomeAssistant) -> None:
    entry = solar_site()
    entry.add_to_hass(hass)
    answer = {k: v for k, v in ANSWER.items() if k != "wp_per_panel"}
    result = await add_array(
        hass, entry.entry_id, {**answer, "kwp": 4.2, "damping": 0.2}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = entry.subentries.values()
    assert subentry.data["wp_per_panel"] == pytest.approx(350.0)
    assert subentry.data["damping"] == 0.2


WITHOUT_POWER = {k: v for k, v in ANSWER.items() if k != "wp_per_panel"}


@pytest.mark.parametrize(
    ("answer", "errors"),
    [
        ({**ANSWER, "name": "  "}, {"name": "name_required"}),
        ({**ANSWER, "panels": 2.5}, {"panels": "panels_out_of_range"}),
        ({**ANSWER, "panels": 0}, {"panels": "panels_out_of_range"}),
        (
            {**ANSWER, "wp_per_panel": 1500},
            {"wp_per_panel": "wp_per_panel_out_of_range"},
        ),
        ({**WITHOUT_POWER, "kwp": 50}, {"kwp": "wp_per_panel_out_of_range"}),
        (WITHOUT_POWER, {"base": "power_missing"}),
        ({**ANSWER, "kwp": 5}, {"kwp": "power_mismatch"}),
        ({**ANSWER, "azimuth_deg": 400}, {"azimuth_deg": "azimuth_deg_out_of_range"}),
        ({**ANSWER, "tilt_deg": 95}, {"tilt_deg": "tilt_deg_out_of_range"}),
        ({**ANSWER, "inverter_kw": 0}, {"inverter_kw": "inverter_kw_out_of_range"}),
        ({**ANSWER, "losses_pct": 100}, {"losses_pct": "losses_pct_out_of_range"}),
        ({**ANSWER, "damping": 1.5}, {"damping": "damping_out_of_range"}),
        (
            {k: v for k, v in ANSWER.items() if k != "panels"},
            {"panels": "panels_required"},
        ),
    ],
    ids=[
        "name",
        "panels_fraction",
        "panels_zero",
        "wp_per_panel",
        "kwp_per_panel",
        "power_missing",
        "power_mismatch",
        "azimuth",
        "tilt",
        "inverter",
        "losses",
        "damping",
        "wp_without_panels",
    ],
)
async def test_array_field_errors(
    hass: HomeAssistant, answer: dict[str, Any], errors: dict[str, str]
) -> None:
    entry = solar_site()
    entry.add_to_hass(hass)
    result = await add_array(hass, entry.entry_id, answer)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert entry.subentries == {}


async def test_the_form_defaults_are_accepted_with_only_a_total(
    hass: HomeAssistant,
) -> None:
    """Panels and the inverter limit are optional; no field is pre-filled with a
    value the form rejects: a name and the total kWp are enough."""
    await in_utrecht(hass)
    entry = solar_site()
    await setup(hass, entry)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_SOLAR_ARRAY), context={"source": SOURCE_USER}
    )
    schema = result["data_schema"].schema
    required = {str(key) for key in schema if type(key).__name__ == "Required"}
    assert required == {"name", "azimuth_deg", "tilt_deg", "losses_pct"}
    suggested = {
        str(key): key.description["suggested_value"]
        for key in schema
        if key.description and "suggested_value" in key.description
    }
    assert "panels" not in suggested
    assert "inverter_kw" not in suggested
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**suggested, "name": "Roof", "kwp": 16}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    (subentry,) = entry.subentries.values()
    data = subentry.data
    assert data["panels"] == 40
    assert data["panels"] * data["wp_per_panel"] == pytest.approx(16000.0)
    assert "inverter_kw" not in data
    await hass.async_block_till_done(wait_background_tasks=True)
    solar = entry.runtime_data.solar
    assert solar is not None
    (config,) = solar.arrays.values()
    # No limit given: the inverter passes the array's peak power, nothing clipped.
    assert config.array.inverter_kw == pytest.approx(16.0)
    assert config.plane.inverter_kw is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_array(hass: HomeAssistant) -> None:
    await in_utrecht(hass)
    entry = solar_site(("Roof south", SOUTH))
    await setup(hass, entry)
    (subentry_id,) = entry.subentries
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_SOLAR_ARRAY),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    answer = {**ANSWER, "name": "Roof west", "azimuth_deg": 270}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answer, "tilt_deg": -5}
    )
    assert result["errors"] == {"tilt_deg": "tilt_deg_out_of_range"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], answer
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = entry.subentries[subentry_id]
    assert subentry.title == "Roof west"
    assert subentry.data["azimuth_deg"] == 270.0
    await hass.async_block_till_done(wait_background_tasks=True)
    solar = entry.runtime_data.solar
    assert solar is not None
    assert solar.arrays[subentry_id].array.azimuth_deg == 270.0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def open_forecast_options(hass: HomeAssistant, entry_id: str) -> str:
    result = await hass.config_entries.options.async_init(entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["balancing", "forecast", "sessions"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "forecast"}
    )
    assert result["step_id"] == "forecast"
    flow_id: str = result["flow_id"]
    return flow_id


@pytest.mark.parametrize(
    ("answer", "errors"),
    [
        (
            {"forecast_source": "forecast_solar", "api_key": "ab/cd"},
            {"api_key": "invalid_api_key"},
        ),
        (
            {"forecast_source": "builtin", "latitude": 52.1},
            {"longitude": "location_incomplete"},
        ),
        (
            {"forecast_source": "builtin", "longitude": 5.1},
            {"latitude": "location_incomplete"},
        ),
        (
            {"forecast_source": "builtin", "latitude": 95, "longitude": 200},
            {
                "latitude": "latitude_out_of_range",
                "longitude": "longitude_out_of_range",
            },
        ),
        (
            {"forecast_source": "builtin", "weather_entity": "weather.daily"},
            {"weather_entity": "weather_not_hourly"},
        ),
        (
            {"forecast_source": "builtin", "weather_entity": "weather.gone"},
            {"weather_entity": "weather_not_hourly"},
        ),
    ],
    ids=[
        "api_key",
        "latitude_only",
        "longitude_only",
        "out_of_range",
        "weather_daily_only",
        "weather_missing",
    ],
)
async def test_forecast_option_errors(
    hass: HomeAssistant, answer: dict[str, Any], errors: dict[str, str]
) -> None:
    hass.states.async_set("weather.daily", "sunny", {"supported_features": 1})
    entry = solar_site()
    entry.add_to_hass(hass)
    flow_id = await open_forecast_options(hass, entry.entry_id)
    result = await hass.config_entries.options.async_configure(flow_id, answer)
    assert result["errors"] == errors
    assert "forecast_source" not in entry.options


async def test_forecast_options_replace_the_previous_ones(hass: HomeAssistant) -> None:
    """Fields left empty are dropped: no stale API key or location stays behind."""
    entry = solar_site(
        forecast_source="forecast_solar",
        api_key="Zq4Rt7yP2mXw9LkB",
        latitude=52.0,
        longitude=5.0,
    )
    entry.add_to_hass(hass)
    hass.states.async_set("weather.home", "sunny", {"supported_features": 3})
    flow_id = await open_forecast_options(hass, entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {"forecast_source": "builtin", "weather_entity": "weather.home", "api_key": ""},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        "margin_kw": 1.0,
        "poll_interval": 60.0,
        "forecast_source": "builtin",
        "weather_entity": "weather.home",
    }


async def test_site_location_overrides_home_assistant(hass: HomeAssistant) -> None:
    entry = solar_site(("Roof south", SOUTH), latitude=40.0, longitude=-3.7)
    await setup(hass, entry)
    solar = entry.runtime_data.solar
    assert solar is not None
    (config,) = solar.arrays.values()
    assert (config.plane.latitude, config.plane.longitude) == (40.0, -3.7)
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_every_solar_key_is_translated() -> None:
    en = json.loads(
        (
            Path(__file__).parent.parent
            / "custom_components/stekker/translations/en.json"
        ).read_text(encoding="utf-8")
    )
    sensors = en["entity"]["sensor"]
    for description in (*SOLAR_SENSORS, HEADROOM_FORECAST):
        assert sensors[description.translation_key]["name"]
    assert set(sensors["solar_forecast_source"]["state"]) == set(SOURCE_STATES)
    array_errors = en["config_subentries"]["solar_array"]["error"]
    impossible = SolarArray("x", 0, 0.0, -1.0, -1.0, 0.0, 100.0)
    assert len(solar_array_errors(impossible)) == 6
    for key in solar_array_errors(impossible).values():
        assert array_errors[key]
    assert en["issues"][ISSUE_FAILING]["description"]
