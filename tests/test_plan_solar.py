"""The plan's solar per slot is the site's solar forecast: the built-in model
for an array in Utrecht on a June day, averaged over each slot."""

from datetime import timedelta

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
