"""The surplus the plan's solar stage counts on: the forecast's upside."""

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.plan import PlanCar, PlanInput, make_plan
from custom_components.stekker.engine.surplus import (
    LOAD_SPREAD,
    SOLAR_SPREAD,
    upside_surplus_kw,
)


def test_one_standard_error_above_the_forecast_but_not_where_measured() -> None:
    building = (10.0, 4.0, 10.0, 12.0)
    solar = (14.0, 12.0, 0.0, 11.0)
    got = upside_surplus_kw(building, solar)
    assert got[0] == pytest.approx(4.0)  # measured now: as it is
    assert got[1] == pytest.approx(8.0 + math.hypot(0.25 * 12.0, 0.1 * 4.0))
    assert got[2] == 0.0  # night: the load's error alone cannot make a surplus
    # An import of 1 kW forecast: within one standard error of a surplus.
    assert got[3] == pytest.approx(-1.0 + math.hypot(0.25 * 11.0, 0.1 * 12.0))
    assert upside_surplus_kw(building, solar, measured_slots=0)[0] > 4.0
    with pytest.raises(ValueError):
        upside_surplus_kw((1.0,), (1.0, 2.0))


@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 500.0, allow_nan=False),
            st.floats(0.0, 500.0, allow_nan=False),
        ),
        max_size=12,
    )
)
def test_never_below_the_forecast_surplus_nor_above_its_spread(
    slots: list[tuple[float, float]],
) -> None:
    building = [b for b, _ in slots]
    solar = [s for _, s in slots]
    got = upside_surplus_kw(building, solar)
    for index, (b, s) in enumerate(slots):
        forecast = max(0.0, s - b)
        spread = 0.0 if index == 0 else SOLAR_SPREAD * s + LOAD_SPREAD * b
        assert forecast - 1e-9 <= got[index] <= forecast + spread + 1e-9


def test_a_commuter_leaves_room_for_the_morning_sun() -> None:
    """A car due at 9:00 with 12 kWh, slots from 6:00: the forecast sees 4 kW
    of surplus from 8:00. Counting on the upside, the plan leaves more of the
    need for those slots, and still meets it by the departure."""
    building = (8.0,) * 12
    solar = (0.0,) * 4 + (4.0, 6.0, 8.0, 10.0) + (12.0,) * 4
    car = PlanCar("a", 3, need_kwh=12.0, departure_slot=12)
    site = PlanInput(
        slot_h=(0.25,) * 12,
        grid_limit_kw=(40.0,) * 12,
        building_kw=building,
        solar_kw=solar,
        fuse_a=63.0,
        voltage_v=230.0,
        site_phases=3,
        cars=(car,),
    )
    forecast = make_plan(site).cars["a"]
    upside = upside_surplus_kw(building, solar)
    hedged = make_plan(replace(site, surplus_kw=upside)).cars["a"]
    assert forecast.energy_kwh == hedged.energy_kwh == pytest.approx(12.0, abs=1e-4)
    morning = slice(8, 12)  # 8:00-9:00
    assert sum(forecast.power_kw[morning]) == pytest.approx(16.0, abs=1e-4)
    assert sum(hedged.power_kw[morning]) > sum(forecast.power_kw[morning]) + 4.0
