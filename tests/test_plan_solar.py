"""The plan's solar per slot is the site's solar forecast: the built-in model
for an array in Utrecht on a June day, averaged over each slot."""

from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant

from custom_components.stekker.plan_inputs import async_site_series

from .solar_site import NOW, SOUTH, in_utrecht, setup, solar_site


async def test_solar_per_slot_is_the_forecast_averaged_over_the_slot(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    await in_utrecht(hass)
    entry = solar_site(("Roof south", SOUTH), forecast_source="builtin")
    await setup(hass, entry)
    solar = entry.runtime_data.solar
    assert solar is not None and solar.data is not None
    now = NOW + timedelta(minutes=5)  # 10:05 local: slot 0 is 10 minutes

    series = await async_site_series(hass, entry, now, 96)

    site = solar.data.site
    assert series.solar_kw[0] == pytest.approx(
        site.energy_kwh(now, NOW + timedelta(minutes=15)) / (10 / 60)
    )
    noon = 1 + 7  # 12:00-12:15 local
    start = NOW + timedelta(hours=2)
    assert series.solar_kw[noon] == pytest.approx(
        site.energy_kwh(start, start + timedelta(minutes=15)) * 4
    )
    assert 2.0 < series.solar_kw[noon] <= 4.0  # 4.2 kWp behind a 4 kW inverter
    assert series.solar_kw[1 + 14 * 4] == 0.0  # midnight
    # No meter has ever been read: no building load is known, 0 is held.
    assert series.building_kw == (0.0,) * 96


@pytest.mark.parametrize("solar_meter_w", [None, 1500.0])
async def test_slot_0_nets_to_what_the_meters_read(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, solar_meter_w: float | None
) -> None:
    """Slot 0's load less its solar is the net load the grid meter reads now.

    With a solar meter slot 0's solar is what it measures (a passing cloud the
    forecast missed is in it); with a grid meter only the panels hide in the
    net load, so slot 0's load gets their forecast output back. Later slots
    keep the forecast.
    """
    freezer.move_to(NOW)
    await in_utrecht(hass)
    hass.states.async_set("sensor.p1", "20000", {"unit_of_measurement": "W"})
    meters: list[dict[str, Any]] = [
        {"source": "sensors", "power_entity": "sensor.p1", "role": "grid"}
    ]
    if solar_meter_w is not None:
        hass.states.async_set(
            "sensor.pv", str(solar_meter_w), {"unit_of_measurement": "W"}
        )
        meters.append(
            {"source": "sensors", "power_entity": "sensor.pv", "role": "solar"}
        )
    entry = solar_site(
        ("Roof south", SOUTH), meters=tuple(meters), forecast_source="builtin"
    )
    await setup(hass, entry)
    solar = entry.runtime_data.solar
    assert solar is not None and solar.data is not None
    site = solar.data.site
    slot_0_kw = site.energy_kwh(NOW, NOW + timedelta(minutes=15)) * 4
    slot_1_kw = (
        site.energy_kwh(NOW + timedelta(minutes=15), NOW + timedelta(minutes=30)) * 4
    )
    assert slot_0_kw > 2.0  # 10:00 on a June day: the forecast is far from 1.5 kW

    series = await async_site_series(hass, entry, NOW, 8)

    assert series.building_kw[0] - series.solar_kw[0] == pytest.approx(20.0)
    if solar_meter_w is None:
        assert series.solar_kw[0] == pytest.approx(slot_0_kw)
        assert series.building_kw[0] == pytest.approx(20.0 + slot_0_kw)
    else:
        assert series.solar_kw[0] == pytest.approx(1.5)
        assert series.building_kw[0] == pytest.approx(21.5)
    assert series.solar_kw[1] == pytest.approx(slot_1_kw)
