"""The solar forecast chain through HA's shared session, mocked by aioclient_mock.

Chosen source -> last good forecast -> built-in model; the sensors say which one
serves, a repair issue appears after three failures in a row and goes on recovery.
"""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
)
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.engine.solar import SolarArray, array_power_w
from custom_components.stekker.forecast import ForecastInvalidResponseError
from custom_components.stekker.solar_forecast import (
    ArrayForecast,
    SolarForecastCoordinator,
    weather_from_response,
)

from .forecast import fixture_json, fixture_text
from .solar_site import (
    ESTIMATE,
    FORECAST_SOLAR_URL,
    FORECAST_SOLAR_WEST_URL,
    LATITUDE,
    LONGITUDE,
    NOW,
    OPEN_METEO_URL,
    SOUTH,
    WEST,
    in_utrecht,
    setup,
    solar_site,
    state,
    watts,
)

SOURCE = "sensor.roof_south_solar_forecast_source"
POWER = "sensor.roof_south_solar_forecast_power"
ISSUE = "solar_forecast_failing"
# The public budget is halved and shared: one array may ask every 15 minutes.
INTERVAL = timedelta(minutes=15)


@pytest.fixture(autouse=True)
async def utrecht(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.move_to(NOW)
    await in_utrecht(hass)


def solar(entry: MockConfigEntry) -> SolarForecastCoordinator:
    coordinator = entry.runtime_data.solar
    assert coordinator is not None
    return coordinator


def calls(aioclient_mock: AiohttpClientMocker, url: str) -> int:
    return sum(str(call[1]).startswith(url) for call in aioclient_mock.mock_calls)


def issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_{ISSUE}")


async def later(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entry: MockConfigEntry,
    delta: timedelta = INTERVAL,
) -> None:
    """Time passes and the forecast refreshes, as its timer would."""
    freezer.tick(delta)
    await solar(entry).async_refresh()
    await hass.async_block_till_done()


def builtin_w(data: dict[str, Any], **weather: float) -> float:
    array = SolarArray(name="x", **data)
    return array_power_w(array, LATITUDE, LONGITUDE, NOW, **weather)


async def test_forecast_solar_feeds_the_sensors(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    entry = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, entry)

    assert calls(aioclient_mock, FORECAST_SOLAR_URL) == 1
    # 10:00 in Utrecht: the answer's own sample; the peak is at 14:00 local.
    for prefix in ("sensor.roof_south", "sensor.office"):
        assert watts(hass, f"{prefix}_solar_forecast_power") == 2072.0
        assert state(hass, f"{prefix}_solar_forecast_source") == "forecast_solar"
        assert (
            state(hass, f"{prefix}_solar_forecast_peak_time_today")
            == "2026-06-20T12:00:00+00:00"
        )
    today = float(state(hass, "sensor.roof_south_solar_forecast_today"))
    remaining = float(state(hass, "sensor.roof_south_solar_forecast_remaining_today"))
    tomorrow = float(state(hass, "sensor.roof_south_solar_forecast_tomorrow"))
    assert 0 < remaining < today
    assert tomorrow == pytest.approx(28.5, abs=0.5)

    # No meters: no building load known, so no headroom is promised.
    headroom = hass.states.get("sensor.office_forecast_headroom")
    assert headroom is not None
    assert headroom.state == "unavailable"

    devices = dr.async_get(hass)
    site = devices.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    (subentry_id,) = entry.subentries
    array = devices.async_get_device_by_identifier(
        (DOMAIN, subentry_id), entry.entry_id
    )
    assert site is not None and array is not None
    assert array.via_device_id == site.id
    assert array.name == "Roof south"

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["solar"]["arrays"]["Roof south"]["in_use"] == "forecast_solar"
    assert await hass.config_entries.async_unload(entry.entry_id)


FAILURES: dict[str, dict[str, Any]] = {
    "http_500": {"status": 500, "text": "<html>Internal Server Error</html>"},
    "timeout": {"exc": TimeoutError()},
    "garbage": {"text": "<html>maintenance</html>"},
    "wrong_shape": {"json": {"result": "nothing here"}},
    "key_refused": {"status": 401, "json": {"message": {"text": "Invalid key"}}},
}


@pytest.mark.parametrize("failure", list(FAILURES.values()), ids=list(FAILURES))
async def test_failing_source_falls_back_and_raises_a_repair(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    failure: dict[str, Any],
) -> None:
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    entry = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, entry)
    aioclient_mock.clear_requests()
    aioclient_mock.get(FORECAST_SOLAR_URL, **failure)

    await later(hass, freezer, entry)
    # The last good answer still serves: 10:15 lies between its 10:00 and 11:00.
    assert state(hass, SOURCE) == "last_good"
    assert state(hass, "sensor.office_solar_forecast_source") == "last_good"
    assert watts(hass, POWER) == pytest.approx(2072.0 + (2543.0 - 2072.0) / 4)
    await later(hass, freezer, entry)
    assert issue(hass, entry) is None
    await later(hass, freezer, entry)
    assert calls(aioclient_mock, FORECAST_SOLAR_URL) == 3
    found = issue(hass, entry)
    assert found is not None
    assert found.translation_key == ISSUE
    assert found.translation_placeholders is not None
    assert found.translation_placeholders["source"] == "Forecast.Solar"
    assert found.translation_placeholders["failures"] == "3"

    aioclient_mock.clear_requests()
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    await later(hass, freezer, entry)
    assert state(hass, SOURCE) == "forecast_solar"
    assert issue(hass, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("with_weather", [False, True])
async def test_without_a_last_good_forecast_the_model_serves(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, with_weather: bool
) -> None:
    """The service fails from the start: setup goes on with the built-in model,
    scaled by the weather entity's clouds when the site has one.
    """
    aioclient_mock.get(FORECAST_SOLAR_URL, status=503, text="busy")
    options = {"forecast_source": "forecast_solar"}
    expected = builtin_w(SOUTH)
    if with_weather:
        assert await async_setup_component(hass, "template", weather_config(OVERCAST))
        await hass.async_block_till_done()
        options["weather_entity"] = "weather.sky"
        expected = builtin_w(SOUTH, cloud_cover_pct=100.0, ambient_c=20.0)
    entry = solar_site(("Roof south", SOUTH), **options)
    await setup(hass, entry)

    # Without a weather entity the built-in model is clear sky, and says so.
    assert state(hass, SOURCE) == ("builtin" if with_weather else "builtin_clear_sky")
    assert watts(hass, POWER) == pytest.approx(expected)
    assert issue(hass, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_rate_limit_is_honoured_for_every_array(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 429 stops all requests (the budget is per IP) until Retry-After has passed."""
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    aioclient_mock.get(FORECAST_SOLAR_WEST_URL, text=ESTIMATE)
    entry = solar_site(
        ("Roof south", SOUTH), ("Roof west", WEST), forecast_source="forecast_solar"
    )
    await setup(hass, entry)
    assert len(aioclient_mock.mock_calls) == 2
    interval = solar(entry).fetch_interval()
    assert interval == timedelta(minutes=20)  # two arrays in 6 requests an hour

    aioclient_mock.clear_requests()
    ratelimit = fixture_text("forecast_solar_ratelimit.json")
    for url in (FORECAST_SOLAR_URL, FORECAST_SOLAR_WEST_URL):
        aioclient_mock.get(
            url, status=429, text=ratelimit, headers={"Retry-After": "3600"}
        )
    await later(hass, freezer, entry, interval)
    assert len(aioclient_mock.mock_calls) == 1
    assert state(hass, "sensor.office_solar_forecast_source") == "last_good"
    # A restart remembers the wait.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    await later(hass, freezer, entry, interval)
    await later(hass, freezer, entry, interval)
    assert len(aioclient_mock.mock_calls) == 1  # still waiting, no request
    await later(hass, freezer, entry, interval)
    assert len(aioclient_mock.mock_calls) == 2  # an hour on: asks, 429 again
    aioclient_mock.clear_requests()
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    aioclient_mock.get(FORECAST_SOLAR_WEST_URL, text=ESTIMATE)
    await later(hass, freezer, entry, timedelta(hours=1))
    assert len(aioclient_mock.mock_calls) == 2
    assert state(hass, "sensor.office_solar_forecast_source") == "forecast_solar"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reload_keeps_the_last_good_forecast(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A restart neither asks again within the interval nor loses the forecast."""
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    entry = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, entry)
    aioclient_mock.clear_requests()
    aioclient_mock.get(FORECAST_SOLAR_URL, status=500)

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert aioclient_mock.mock_calls == []
    assert state(hass, SOURCE) == "forecast_solar"
    assert watts(hass, POWER) == 2072.0

    await later(hass, freezer, entry)
    assert len(aioclient_mock.mock_calls) == 1
    assert state(hass, SOURCE) == "last_good"

    # Another orientation: the stored forecast no longer fits this array.
    aioclient_mock.get(FORECAST_SOLAR_WEST_URL.replace("/90/", "/0/"), status=500)
    (subentry,) = entry.subentries.values()
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**SOUTH, "tilt_deg": 20.0}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, SOURCE) == "builtin_clear_sky"  # no weather entity
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_another_source_is_asked_at_once(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """Switching the source does not wait for the old source's interval."""
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    aioclient_mock.get(OPEN_METEO_URL, status=500)
    entry = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, entry)

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "forecast_source": "open_meteo"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert calls(aioclient_mock, OPEN_METEO_URL) == 1
    # Open-Meteo failed: Forecast.Solar's answer is the last good one.
    assert state(hass, SOURCE) == "last_good"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_removing_the_site_forgets_its_stored_forecast(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    hass_storage: dict[str, Any],
) -> None:
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    entry = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, entry)
    key = f"{DOMAIN}.{entry.entry_id}.solar_forecast"
    assert hass_storage[key]["data"]["planes"]

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_api_key_and_its_budget(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    key = "Zq4Rt7yP2mXw9LkB"
    url = FORECAST_SOLAR_URL.replace("estimate", f"{key}/estimate")
    aioclient_mock.get(url, text=fixture_text("forecast_solar_estimate_personal.json"))
    entry = solar_site(
        ("Roof south", SOUTH), forecast_source="forecast_solar", api_key=key
    )
    await setup(hass, entry)

    assert calls(aioclient_mock, url) == 1
    assert state(hass, SOURCE) == "forecast_solar"
    # The account reports 60 requests an hour: the service's own 15 minutes rule.
    assert solar(entry).fetch_interval() == timedelta(minutes=15)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert key not in str(diagnostics)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_open_meteo(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(OPEN_METEO_URL, text=fixture_text("open_meteo_minutely_15.json"))
    entry = solar_site(("Roof south", SOUTH), forecast_source="open_meteo")
    await setup(hass, entry)

    assert state(hass, SOURCE) == "open_meteo"
    # 10:00 lies between the periods ending 10:00 and 10:15 (their midpoints).
    gti = fixture_json("open_meteo_minutely_15.json")["minutely_15"]
    index = gti["time"].index("2026-06-20T08:00")
    mean_gti = sum(gti["global_tilted_irradiance"][index : index + 2]) / 2
    assert watts(hass, POWER) == pytest.approx(mean_gti * 4.2 * 0.86)
    assert await hass.config_entries.async_unload(entry.entry_id)


def weather_config(forecast: str) -> dict[str, Any]:
    return {
        "template": [
            {
                "weather": [
                    {
                        "name": "Sky",
                        "condition": "cloudy",
                        "temperature": "20",
                        "humidity": "80",
                        "forecast_hourly": forecast,
                    }
                ]
            }
        ]
    }


OVERCAST = (
    "{{ [{'datetime': '2026-06-20T07:00:00+00:00', 'condition': 'cloudy',"
    " 'cloud_coverage': 100, 'temperature': 20},"
    " {'datetime': '2026-06-20T08:00:00+00:00', 'condition': 'cloudy',"
    " 'cloud_coverage': 100, 'temperature': 20}] }}"
)


async def test_builtin_model_scaled_by_the_weather(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "template", weather_config(OVERCAST))
    await hass.async_block_till_done()
    entry = solar_site(
        ("Roof south", SOUTH), forecast_source="builtin", weather_entity="weather.sky"
    )
    await setup(hass, entry)

    assert state(hass, SOURCE) == "builtin"
    overcast = builtin_w(SOUTH, cloud_cover_pct=100.0, ambient_c=20.0)
    assert watts(hass, POWER) == pytest.approx(overcast)
    assert overcast < builtin_w(SOUTH) / 2
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    "forecast",
    [
        None,
        "{{ [{'datetime': '2026-06-20T08:00:00+00:00', 'condition': 'sunny'}] }}",
    ],
    ids=["no_such_entity", "no_cloud_coverage"],
)
async def test_weather_that_keeps_failing_raises_a_repair(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, forecast: str | None
) -> None:
    if forecast is not None:
        assert await async_setup_component(hass, "template", weather_config(forecast))
        await hass.async_block_till_done()
    entry = solar_site(
        ("Roof south", SOUTH), forecast_source="builtin", weather_entity="weather.sky"
    )
    await setup(hass, entry)
    # Clear sky until the weather answers.
    assert watts(hass, POWER) == pytest.approx(builtin_w(SOUTH))
    await later(hass, freezer, entry)
    assert issue(hass, entry) is None
    await later(hass, freezer, entry)
    found = issue(hass, entry)
    assert found is not None
    assert found.translation_placeholders is not None
    assert found.translation_placeholders["source"] == "weather.sky"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue(hass, entry) is None


@pytest.mark.parametrize("solar_meter_w", [None, 1500.0])
async def test_forecast_headroom_from_the_building_load(
    hass: HomeAssistant, solar_meter_w: float | None
) -> None:
    """GTV - margin - building load now + solar per slot.

    With a solar meter the building load is net load + measured solar; with a
    grid meter only, the panels' output hides in the net load and the forecast
    for now stands in for it.
    """
    hass.states.async_set("sensor.p1", "20000", {"unit_of_measurement": "W"})
    grid: dict[str, str] = {"source": "sensors", "power_entity": "sensor.p1"}
    for phase in ("l1", "l2", "l3"):
        # 29 A each: the phase fuses leave more than the GTV does.
        hass.states.async_set(f"sensor.p1_{phase}", "29", {"unit_of_measurement": "A"})
        grid[f"current_{phase}_entity"] = f"sensor.p1_{phase}"
    meters = [{**grid, "role": "grid"}]
    if solar_meter_w is not None:
        hass.states.async_set("sensor.pv", "1500", {"unit_of_measurement": "W"})
        meters.append(
            {"source": "sensors", "power_entity": "sensor.pv", "role": "solar"}
        )
    entry = solar_site(
        ("Roof south", SOUTH), meters=tuple(meters), forecast_source="builtin"
    )
    await setup(hass, entry)

    solar_now_kw = (solar_meter_w or builtin_w(SOUTH)) / 1000
    slot_kw = solar(entry).data.site.energy_kwh(NOW, NOW + timedelta(minutes=15)) * 4
    expected = 50 - 1 - (20 + solar_now_kw) + slot_kw
    assert float(state(hass, "sensor.office_forecast_headroom")) == pytest.approx(
        expected
    )
    forecast = hass.states.get("sensor.office_forecast_headroom").attributes["forecast"]
    assert len(forecast) == 96
    assert forecast[0]["start"] == "2026-06-20T08:00:00+00:00"
    assert forecast[-1]["start"] == "2026-06-21T07:45:00+00:00"
    # At night the solar term is 0: the load alone sets the headroom.
    night = 50 - 1 - (20 + solar_now_kw)
    assert min(slot["available_kw"] for slot in forecast) == pytest.approx(
        night, abs=1e-3
    )
    # The meter stops: the forecast headroom goes at once, not at the next
    # forecast update minutes later (a blind site promises no headroom).
    hass.states.async_set("sensor.p1", "unavailable", {"unit_of_measurement": "W"})
    for meter in entry.runtime_data.meters.values():
        await meter.async_refresh()
    await hass.async_block_till_done()
    assert state(hass, "sensor.office_forecast_headroom") == "unavailable"
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    "response",
    [
        None,
        {"weather.other": {"forecast": []}},
        {"weather.sky": "forecast"},
        {"weather.sky": {"forecast": "none"}},
        {
            "weather.sky": {
                "forecast": [
                    "sunny",
                    {"datetime": "tomorrow", "cloud_coverage": 50},
                    {"datetime": "2026-06-20T08:00:00+00:00", "temperature": 20},
                ]
            }
        },
    ],
    ids=["none", "other_entity", "no_mapping", "no_list", "no_usable_cloud"],
)
def test_weather_answer_without_clouds_is_refused(response: Any) -> None:
    with pytest.raises(ForecastInvalidResponseError, match="no hourly cloud"):
        weather_from_response(response, "weather.sky", "°C")


def test_weather_temperature_becomes_celsius() -> None:
    weather = weather_from_response(
        {
            "weather.sky": {
                "forecast": [
                    {
                        "datetime": "2026-06-20T08:00:00+00:00",
                        "cloud_coverage": 40,
                        "temperature": 68,
                    }
                ]
            }
        },
        "weather.sky",
        "°F",
    )
    assert weather.clouds == {NOW: 40.0}
    assert weather.temperature == {NOW: pytest.approx(20.0)}


def test_power_between_and_beyond_samples() -> None:
    hour = timedelta(hours=1)
    forecast = ArrayForecast(
        watts=((NOW, 0.0), (NOW + hour, 100.0)), source="forecast_solar"
    )
    assert forecast.power_at(NOW - hour) == 0.0
    assert forecast.power_at(NOW + hour / 4) == pytest.approx(25.0)
    assert forecast.power_at(NOW + hour) == 100.0
    assert forecast.power_at(NOW + 2 * hour) == 0.0


NAIVE_OVERCAST = (
    "{{ [{'datetime': '2026-06-20T09:00:00', 'condition': 'cloudy',"
    " 'cloud_coverage': 100, 'temperature': 20},"
    " {'datetime': '2026-06-20T10:00:00', 'condition': 'cloudy',"
    " 'cloud_coverage': 100, 'temperature': 20}] }}"
)


async def test_weather_times_without_a_zone_are_local(hass: HomeAssistant) -> None:
    """Some integrations give wall-clock times: the site still loads, clouds apply."""
    assert await async_setup_component(hass, "template", weather_config(NAIVE_OVERCAST))
    await hass.async_block_till_done()
    entry = solar_site(
        ("Roof south", SOUTH), forecast_source="builtin", weather_entity="weather.sky"
    )
    await setup(hass, entry)
    # 10:00 in Amsterdam is 08:00 UTC, the fixtures' now.
    overcast = builtin_w(SOUTH, cloud_cover_pct=100.0, ambient_c=20.0)
    assert watts(hass, POWER) == pytest.approx(overcast)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_hanging_weather_service_does_not_block_setup(
    hass: HomeAssistant,
    monkeypatch: pytest.MonkeyPatch,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The weather answer is waited for a bounded time, then clear sky serves."""
    monkeypatch.setattr(
        "custom_components.stekker.solar_forecast.WEATHER_TIMEOUT_S", 0.05
    )
    released = asyncio.Event()

    async def never_answers(call: ServiceCall) -> ServiceResponse:
        freezer.tick(1)  # the clock is frozen here: let the timeout come due
        await released.wait()
        return {}

    hass.services.async_register(
        "weather",
        "get_forecasts",
        never_answers,
        supports_response=SupportsResponse.ONLY,
    )
    entry = solar_site(
        ("Roof south", SOUTH), forecast_source="builtin", weather_entity="weather.sky"
    )
    await setup(hass, entry)
    assert watts(hass, POWER) == pytest.approx(builtin_w(SOUTH), rel=1e-3)
    released.set()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_one_failing_array_raises_the_repair_despite_another_answering(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    aioclient_mock.get(FORECAST_SOLAR_WEST_URL, status=400, json={"message": {}})
    entry = solar_site(
        ("Roof south", SOUTH), ("Roof west", WEST), forecast_source="forecast_solar"
    )
    await setup(hass, entry)
    for _ in range(3):  # each hour both arrays are due again
        await later(hass, freezer, entry, timedelta(hours=1))
    assert calls(aioclient_mock, FORECAST_SOLAR_WEST_URL) >= 3
    found = issue(hass, entry)
    assert found is not None
    assert found.translation_placeholders is not None
    assert int(found.translation_placeholders["failures"]) >= 3
    assert state(hass, "sensor.roof_south_solar_forecast_source") == "forecast_solar"
    assert state(hass, "sensor.roof_west_solar_forecast_source") == "builtin_clear_sky"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_keyless_sites_share_one_budget(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """The public limit is per IP: two keyless sites spread over the same budget."""
    aioclient_mock.get(FORECAST_SOLAR_URL, text=ESTIMATE)
    aioclient_mock.get(FORECAST_SOLAR_WEST_URL, text=ESTIMATE)
    first = solar_site(("Roof south", SOUTH), forecast_source="forecast_solar")
    await setup(hass, first)
    assert solar(first).fetch_interval() == timedelta(minutes=15)
    second = solar_site(
        ("Shed west", WEST), ("Shed south", SOUTH), forecast_source="forecast_solar"
    )
    await setup(hass, second)
    # Three arrays in 6 requests an hour: each one every 30 minutes, on both sites.
    assert solar(first).fetch_interval() == timedelta(minutes=30)
    assert solar(second).fetch_interval() == timedelta(minutes=30)
    assert await hass.config_entries.async_unload(second.entry_id)
    assert solar(first).fetch_interval() == timedelta(minutes=15)
    assert await hass.config_entries.async_unload(first.entry_id)
