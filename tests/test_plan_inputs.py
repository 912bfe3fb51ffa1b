"""What the plan knows of the hours ahead: the building load learned from the
recorder's statistics of the site's building-load sensor, the solar forecast,
the grid limit."""

from datetime import datetime, timedelta

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.stekker.plan_inputs import async_site_series
from simsite.modbus_server import ModbusSimServer

from .conftest import modbus_meter, sdm630_values, site_entry

BUILDING = "sensor.office_building_load"
AMSTERDAM = dt_util.get_time_zone("Europe/Amsterdam")
# A Monday morning; the four weeks before it cross the end of summer time.
NOW = datetime(2026, 11, 2, 9, 50, tzinfo=AMSTERDAM)
ODD_MONDAY = datetime(2026, 10, 19, tzinfo=AMSTERDAM).date()


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None, socket_enabled: None
) -> None:
    """The recorder must be there before Home Assistant starts."""


def office_load(local: datetime) -> float:
    """Mondays are busy (one of them very), other days less so; by the hour."""
    if local.date() == ODD_MONDAY:
        return 100.0 + local.hour
    return (30.0 if local.weekday() == 0 else 10.0) + local.hour


def import_hours(hass: HomeAssistant, start: datetime, end: datetime) -> None:
    metadata = StatisticMetaData(
        mean_type=StatisticMeanType.ARITHMETIC,
        has_sum=False,
        name=None,
        source="recorder",
        statistic_id=BUILDING,
        unit_class="power",
        unit_of_measurement="kW",
    )
    rows = []
    hour = start.astimezone(dt_util.UTC).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        kw = office_load(hour.astimezone(AMSTERDAM))
        rows.append(StatisticData(start=hour, mean=kw, min=kw, max=kw))
        hour += timedelta(hours=1)
    async_import_statistics(hass, metadata, rows)


async def running_site(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> MockConfigEntry:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    entry = site_entry(modbus_meter(meter_server.port))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def current_kw() -> float:
    return sdm630_values()["power_w"] / 1000.0


async def test_building_load_is_the_median_of_the_same_weekday_and_time(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = await running_site(hass, meter_server)
    import_hours(hass, NOW - timedelta(weeks=4), NOW)
    await async_wait_recording_done(hass)

    series = await async_site_series(hass, entry, NOW, 96)

    assert series.start == NOW
    assert series.slot_h[0] == pytest.approx(10 / 60)
    assert series.slot_h[1:] == (0.25,) * 95
    # Slot 0 is the load measured now; then Monday 10:00-11:00: three ordinary
    # Mondays at 40 kW and the odd one at 110 kW, median 40.
    assert series.building_kw[0] == pytest.approx(current_kw(), abs=1e-3)
    assert series.building_kw[1:5] == pytest.approx((40.0,) * 4)
    assert series.building_kw[5] == pytest.approx(41.0)
    # Tuesday 00:00 (slot 1 + 14 h * 4): the four Tuesdays' 10 kW.
    assert series.building_kw[1 + 14 * 4] == pytest.approx(10.0)
    assert series.building_kw[-1] == pytest.approx(19.0)  # Tuesday 09:30
    assert series.grid_limit_kw == (49.0,) * 96  # GTV 50 - margin 1
    assert series.solar_kw == (0.0,) * 96  # no arrays
    assert series.price is None


async def test_short_history_takes_any_day_then_the_current_load(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """Six days of history (no Monday): any day at that time, median; where
    the history has no value at all, the current load."""
    entry = await running_site(hass, meter_server)
    import_hours(hass, NOW - timedelta(days=6), NOW - timedelta(hours=12))
    await async_wait_recording_done(hass)

    series = await async_site_series(hass, entry, NOW, 96)

    # Monday 10:00: Tuesday to Saturday at 10:00, all 20 kW (Sunday's ended at 22:00).
    assert series.building_kw[1] == pytest.approx(20.0)
    # Sunday 22:00-23:59 is missing, but Tuesday to Saturday had it: 32 kW.
    assert series.building_kw[1 + 12 * 4] == pytest.approx(32.0)


async def test_no_history_holds_the_current_load(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = await running_site(hass, meter_server)

    series = await async_site_series(hass, entry, NOW, 8)

    assert series.building_kw == pytest.approx((current_kw(),) * 8, abs=1e-3)

    # The meter goes down: the last measured load still holds.
    await meter_server.stop()
    headroom = entry.runtime_data.headroom
    for meter in entry.runtime_data.meters.values():
        await meter.async_refresh()
    headroom.async_recompute()
    assert not headroom.last_update_success
    series = await async_site_series(hass, entry, NOW, 8)
    assert series.building_kw == pytest.approx((current_kw(),) * 8, abs=1e-3)
