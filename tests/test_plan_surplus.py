"""Through Home Assistant: the plan leaves room for the sun the forecast may
have missed (engine.surplus), and still plans the whole need."""

from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.stekker.engine.surplus import upside_surplus_kw
from custom_components.stekker.plan_inputs import async_site_series
from custom_components.stekker.solar_forecast import SolarForecastCoordinator
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import closed_loop, entity_charger, follow_clock
from .solar_site import NOW, SOUTH, in_utrecht

PLUG = "binary_sensor.car_plugged"


def flat(_seconds: float) -> tuple[float, float, float]:
    return (1000.0, 1000.0, 1000.0)


async def test_a_planned_car_waits_for_the_forecasts_upside(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """10:00 in Utrecht on a June day, a 3.4 kW building, a 10.5 kWp roof:
    20 kWh wanted by 14:00. The forecast's surplus alone holds less than that,
    so the plan would charge the rest from the grid at once; counting on its
    upside it waits for the sun, and plans no slot above that upside. The roof
    makes what is forecast, behind the grid meter (no solar meter)."""
    freezer.move_to(NOW)
    await in_utrecht(hass)
    hass.states.async_set(PLUG, "on")
    forecasts: list[SolarForecastCoordinator] = []

    def roof(_seconds_of_day: float) -> float:
        """The forecast at Home Assistant's time (the loop's clock is its own)."""
        data = forecasts[0].data if forecasts else None
        return 0.0 if data is None else data.site.power_at(dt_util.now())

    site = SimulatedSite(flat, {"Car": Car("car")}, start_s=10 * 3600.0, solar=roof)
    chargers = {"Car": entity_charger("Car", status_entity=PLUG)}
    async with closed_loop(
        hass,
        site,
        chargers,
        grid="total",
        options={"forecast_source": "builtin"},
        arrays={"Roof south": {**SOUTH, "panels": 30, "inverter_kw": 10.0}},
    ) as loop:
        solar = loop.entry.runtime_data.solar
        assert solar is not None
        forecasts.append(solar)
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        for domain, service, data in (
            ("time", "set_value", {"entity_id": "time.car_departure", "time": "14:00"}),
            (
                "number",
                "set_value",
                {"entity_id": "number.car_energy_need", "value": 20},
            ),
            (
                "select",
                "select_option",
                {"entity_id": "select.car_charging_mode", "option": "planned"},
            ),
        ):
            await hass.services.async_call(domain, service, data, blocking=True)
        await loop.cycle(2)  # the planner's debounce
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        (car,) = plan.cars.values()
        power = car.plan.power_kw
        series = await async_site_series(
            hass, loop.entry, plan.made_at, len(plan.bounds)
        )

    # No history: the gross load now (not lowered by the sun) is held flat.
    assert 3.0 <= series.building_kw[0] < 4.0
    assert all(b == series.building_kw[0] for b in series.building_kw)
    upside = upside_surplus_kw(series.building_kw, series.solar_kw)
    forecast = [
        max(0.0, s - b)
        for b, s in zip(series.building_kw, series.solar_kw, strict=True)
    ]
    hours = [(end - start) / timedelta(hours=1) for start, end in plan.bounds]
    assert car.plan.energy_kwh == pytest.approx(car.need_kwh, abs=1e-3)
    assert car.need_kwh == pytest.approx(20.0, abs=0.01)
    # The forecast's surplus before 14:00 is short of the need; its upside is not.
    assert sum(f * h for f, h in zip(forecast, hours, strict=True)) < 18.0
    assert sum(u * h for u, h in zip(upside, hours, strict=True)) > 22.0
    # Nothing from the grid now: slot 0 takes the surplus measured, no more.
    assert 0.0 < power[0] <= forecast[0] + 1e-6
    assert all(p <= u + 1e-6 for p, u in zip(power, upside, strict=True))
    assert (
        sum(max(0.0, p - f) * h for p, f, h in zip(power, forecast, hours, strict=True))
        > 2.0
    )
