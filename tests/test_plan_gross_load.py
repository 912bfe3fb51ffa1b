"""Without a solar meter the building-load history is net of the panels: the
plan learns the gross load from it and the recorded solar forecast, so the
sun is subtracted once (issue 14)."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.plan_inputs import (
    async_load_history,
    async_site_series,
    building_load_entity,
)

from .solar_site import NOW, SOUTH, in_utrecht, setup, solar_site

GROSS_KW = 20.0
SUN_KW = 3.0  # what the forecast said the panels made, 10:00-16:00
OLD_KW = 2.0  # before the arrays were added to the site: no forecast recorded
ADDED = NOW - timedelta(days=14)
NOON = 8  # slot 8 is 12:00-12:15 local (slot 0 starts at 10:00)
NIGHT = 48  # 22:00-22:15
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None, socket_enabled: None
) -> None:
    """The recorder must be there before Home Assistant starts."""


def sunny(hour: datetime) -> bool:
    return 10 <= dt_util.as_local(hour).hour < 16


def import_history(hass: HomeAssistant, building: str, forecast: str) -> None:
    """Four weeks of the net building load; the forecast for the last two."""

    def metadata(statistic_id: str, unit: str) -> StatisticMetaData:
        return StatisticMetaData(
            mean_type=StatisticMeanType.ARITHMETIC,
            has_sum=False,
            name=None,
            source="recorder",
            statistic_id=statistic_id,
            unit_class="power",
            unit_of_measurement=unit,
        )

    load: list[StatisticData] = []
    sun: list[StatisticData] = []
    hour = NOW - timedelta(weeks=4)
    while hour < NOW:
        if hour < ADDED:
            load.append(StatisticData(start=hour, mean=OLD_KW))
        else:
            solar_kw = SUN_KW if sunny(hour) else 0.0
            load.append(StatisticData(start=hour, mean=GROSS_KW - solar_kw))
            sun.append(StatisticData(start=hour, mean=solar_kw * 1000.0))
        hour += timedelta(hours=1)
    async_import_statistics(hass, metadata(building, "kW"), load)
    async_import_statistics(hass, metadata(forecast, "W"), sun)


@pytest.mark.parametrize("solar_meter", [False, True])
async def test_the_plan_expects_the_gross_load(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, solar_meter: bool
) -> None:
    freezer.move_to(NOW)
    await in_utrecht(hass)
    hass.states.async_set("sensor.p1", "15000", {"unit_of_measurement": "W"})
    meters: list[dict[str, Any]] = [
        {"source": "sensors", "power_entity": "sensor.p1", "role": "grid"}
    ]
    if solar_meter:
        hass.states.async_set("sensor.pv", "2000", {"unit_of_measurement": "W"})
        meters.append(
            {"source": "sensors", "power_entity": "sensor.pv", "role": "solar"}
        )
    entry = solar_site(
        ("Roof south", SOUTH), meters=tuple(meters), forecast_source="builtin"
    )
    await setup(hass, entry)
    building = building_load_entity(hass, entry)
    forecast = er.async_get(hass).async_get_entity_id(
        Platform.SENSOR, DOMAIN, f"{entry.entry_id}_site_solar_forecast_power"
    )
    assert building is not None and forecast is not None
    import_history(hass, building, forecast)
    await async_wait_recording_done(hass)

    series = await async_site_series(hass, entry, NOW, 96)

    assert series.solar_kw[NOON] > 2.0  # a June noon: the sun is subtracted
    if solar_meter:
        # The building load is gross already: its history is taken as it is,
        # the old hours included (two Saturdays at 2 kW, two at 17 kW).
        assert series.building_kw[NOON] == pytest.approx((OLD_KW + 17.0) / 2)
        return
    # Noon on the last two Saturdays: 17 kW net + 3 kW forecast, not the net
    # 17 kW (the sun counted twice); the Saturdays before the arrays were added
    # have no forecast recorded and are left out.
    assert series.building_kw[NOON] == pytest.approx(GROSS_KW)
    assert series.building_kw[NIGHT] == pytest.approx(GROSS_KW)
    net = series.building_kw[NOON] - series.solar_kw[NOON]
    assert net == pytest.approx(GROSS_KW - series.solar_kw[NOON])


async def test_the_forecast_sensors_own_statistics_make_the_hour_gross(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An hour the recorder compiled itself from the sensors' states: the
    building load (net: no solar meter) plus the forecast power, in kW."""
    freezer.move_to(NOW)
    await in_utrecht(hass)
    hass.states.async_set("sensor.p1", "15000", {"unit_of_measurement": "W"})
    meter = {"source": "sensors", "power_entity": "sensor.p1", "role": "grid"}
    entry = solar_site(
        ("Roof south", SOUTH), meters=(meter,), forecast_source="builtin"
    )
    await setup(hass, entry)
    solar = entry.runtime_data.solar
    assert solar is not None and solar.data is not None
    for _ in range(12):  # the forecast sensor moves on every 5 minutes
        freezer.tick(timedelta(minutes=5))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    for minutes in range(0, 60, 5):
        do_adhoc_statistics(hass, start=NOW + timedelta(minutes=minutes))
    await async_wait_recording_done(hass)

    history = await async_load_history(hass, entry, NOW + timedelta(hours=1))

    assert [when for when, _ in history] == [dt_util.as_local(NOW)]
    # A morning's rising forecast: its hourly mean lies between the hour's ends.
    low, high = (solar.data.site.power_at(t) / 1000.0 for t in (NOW, NOW + HOUR))
    assert 1.0 < low < high
    assert 15.0 + low <= history[0][1] <= 15.0 + high
