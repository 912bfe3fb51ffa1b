"""Through Home Assistant: the plan counts the grid limit's room as the live cap
converts it to current, so what it plans is what the car gets."""

import math
from datetime import datetime

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant

from custom_components.stekker.plan_inputs import async_site_series
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import closed_loop, entity_charger, follow_clock

START = datetime.fromisoformat("2026-06-01T10:00:00+00:00")
PLUG = "binary_sensor.car_plugged"


def flat(_seconds: float) -> tuple[float, float, float]:
    return (1000.0, 1000.0, 1000.0)


async def test_a_grid_bound_plan_is_what_the_live_cap_gives(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A 10 kW connection, a meter that measures no voltage: the live cap
    converts the room to current at 253 V (nominal + 10 %), so the car gets
    230/253 of the room at 230 V, and the plan plans that, not the room."""
    freezer.move_to(START)
    hass.states.async_set(PLUG, "on")
    site = SimulatedSite(flat, {"Car": Car("car")}, start_s=10 * 3600.0)
    chargers = {"Car": entity_charger("Car", status_entity=PLUG)}
    async with closed_loop(
        hass, site, chargers, grid="total", site_data={"gtv_kw": 10.0}
    ) as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        for domain, service, data in (
            ("time", "set_value", {"entity_id": "time.car_departure", "time": "18:00"}),
            (
                "select",
                "select_option",
                {"entity_id": "select.car_charging_mode", "option": "planned"},
            ),
        ):
            await hass.services.async_call(domain, service, data, blocking=True)
        await loop.cycle(2)  # the planner's debounce
        runtime = loop.entry.runtime_data
        headroom = runtime.headroom.data
        assert headroom is not None
        assert headroom.voltage_v == pytest.approx(253.0)
        plan = runtime.planner.current
        assert plan is not None
        (car,) = plan.cars.values()
        series = await async_site_series(hass, loop.entry, plan.made_at, 4)
        await loop.cycle(40)  # a second each: past the ramp's first step
        (charger,) = runtime.balancer.chargers.values()
        setpoint_a = charger.setpoint_a

    for slot in range(4):
        room = series.grid_limit_kw[slot] - series.building_kw[slot]
        assert 4.0 < room < 11.04  # the grid limit binds the car
        assert car.plan.power_kw[slot] == pytest.approx(room * 230.0 / 253.0)
    # The current the plan's power needs at 230 V is what the live cap gives
    # (the charger takes whole amps): 7.36 A, where the room itself is 8.1 A.
    plan_a = car.plan.power_kw[0] * 1000.0 / (3 * 230.0)
    assert plan_a == pytest.approx(7.36, abs=0.01)
    assert setpoint_a == math.floor(plan_a)
