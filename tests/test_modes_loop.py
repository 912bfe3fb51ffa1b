"""Closed loop: charging modes through the real integration on a simulated site.

A planned car follows its plan slot by slot, a solar car follows the surplus,
an off car stays paused; none ever above the live headroom.
"""

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.stekker import planner as planner_module
from custom_components.stekker.balancer import BalancerCoordinator
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import Loop, closed_loop, entity_charger, follow_clock

START = datetime.fromisoformat("2026-06-01T10:00:00+00:00")
FUSE_A = 40.0
V = 230.0


class FlatLoad:
    """A building drawing ``watts`` per phase (negative: the solar exports)."""

    def __init__(self, watts: float) -> None:
        self.watts = watts

    def __call__(self, _seconds: float) -> tuple[float, float, float]:
        return (self.watts, self.watts, self.watts)


FAST = {
    "hysteresis_s": 2.0,
    "min_write_interval_s": 2.0,
    "ramp_step_a": 4.0,
    "margin_kw": 0.5,
}


async def set_mode(hass: HomeAssistant, slug: str, mode: str) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": f"select.{slug}_charging_mode", "option": mode},
        blocking=True,
    )


async def settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the planner's debounce pass: changes in a burst give one plan."""
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_a_change_while_planning_is_planned(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A car set to planned while a plan is being made (its inputs already
    read) gets a plan once that one is done: the debouncer alone would take
    the running plan as the answer and keep it until the next 5-minute plan."""
    freezer.move_to(START)
    site = SimulatedSite(FlatLoad(2000.0), {"Car": Car("car")}, start_s=10 * 3600.0)
    site_data = {"gtv_kw": 14.7, "phases": 3, "fuse_a": FUSE_A, "voltage_v": V}
    async with closed_loop(
        hass,
        site,
        {"Car": entity_charger("Car")},
        site_data=site_data,
        options=FAST,
        grid="currents",
    ) as loop:
        planner = loop.entry.runtime_data.planner
        await settle(hass, freezer)
        assert planner.current is not None
        assert not planner.current.cars
        solving = threading.Event()
        go_on = threading.Event()
        make_plan = planner_module.make_plan

        def slow_plan(inp: Any) -> Any:
            solving.set()
            go_on.wait(10.0)
            return make_plan(inp)

        with patch.object(planner_module, "make_plan", slow_plan):
            await settle(hass, freezer)  # the last plan's cooldown is over
            planner.async_schedule()
            assert await hass.async_add_executor_job(solving.wait, 10.0)
            await set_mode(hass, "car", "planned")
            # The change's cooldown (1 s of the frozen loop clock) ends mid-plan.
            freezer.tick(timedelta(seconds=2))
            async_fire_time_changed(hass)
            await asyncio.sleep(0)
            go_on.set()
            await hass.async_block_till_done()
            await settle(hass, freezer)
        plan = planner.current
        assert plan is not None
        assert len(plan.cars) == 1


def energy_kwh(site: SimulatedSite, name: str, start: float, end: float) -> float:
    """What the car drew between two loop times."""
    return sum(
        s.draws_a[name] * 3 * V * s.dt_s / 3_600_000.0
        for s in site.history
        if start < s.time_s <= end
    )


async def test_a_planned_car_follows_its_plan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A GTV that leaves the car 8.2 kW: the live headroom converts that to
    current at the highest grid voltage (253 V), so the car can draw 7.45 kW at
    230 V, and the plan gives it that per slot until its 5 kWh are in (the
    charger's 1 A grid keeps it a little below); each quarter's replan asks for
    what is left, and the need is in by the fourth quarter."""
    freezer.move_to(START)
    # Building 2 kW per phase (6 kW); GTV 14.7 - margin 0.5: 8.2 kW for the car.
    site = SimulatedSite(FlatLoad(2000.0), {"Car": Car("car")}, start_s=10 * 3600.0)
    site_data = {"gtv_kw": 14.7, "phases": 3, "fuse_a": FUSE_A, "voltage_v": V}
    async with closed_loop(
        hass,
        site,
        {"Car": entity_charger("Car")},
        site_data=site_data,
        options=FAST,
        grid="currents",
    ) as loop:
        loop.dt_s = 5.0
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_energy_need", "value": 5.0},
            blocking=True,
        )
        await set_mode(hass, "car", "planned")
        await settle(hass, freezer)
        planner = loop.entry.runtime_data.planner
        plan = planner.current
        assert plan is not None
        (charger_id,) = plan.cars
        car = plan.cars[charger_id]
        slot0 = car.plan.power_kw[0]
        start, end = plan.bounds[0]
        hours = (end - start).total_seconds() / 3600
        assert slot0 == pytest.approx(8.2 * V / 253.0, abs=0.05)
        assert car.plan.energy_kwh == pytest.approx(5.0)
        t0 = loop.time_s
        await loop.cycle(int(hours * 3600 / loop.dt_s))
        got = energy_kwh(site, "Car", t0, loop.time_s)
        # Never more than the slot's plan; the number's 1 A grid (10 of the
        # 10.8 A planned) and the ramp up from 0 keep it below.
        assert 0.8 * slot0 * hours <= got <= slot0 * hours + 0.01
        charger = loop.entry.runtime_data.balancer.chargers[charger_id]
        # The plan asks the current the GTV gives: either one holds the car.
        assert charger.limited_by in ("gtv", "plan")
        running = [s.setpoints_a["Car"] for s in site.history if s.time_s > t0]
        assert max(running) <= slot0 * 1000 / (3 * V)
        assert site.longest_run_above(phase_a=FUSE_A, power_w=14_700.0) == 0
        # Each quarter's replan plans what is left; all 5 kWh are in by 11:00.
        await loop.cycle(int(2700 / loop.dt_s))
        total = energy_kwh(site, "Car", t0, loop.time_s)
        assert total == pytest.approx(5.0, abs=0.05)
        assert site.history[-1].setpoints_a["Car"] == 0.0
        assert charger.limited_by == "plan"
        assert site.longest_run_above(phase_a=FUSE_A, power_w=14_700.0) == 0


async def test_a_small_plan_runs_at_six_amps_until_its_energy_is_in(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """1 kWh in the first quarter is 4 kW on average, under the 6 A minimum of a
    three-phase car (4.14 kW): it runs at 6 A until the kWh is in, then pauses."""
    freezer.move_to(START)
    site = SimulatedSite(FlatLoad(1000.0), {"Car": Car("car")}, start_s=10 * 3600.0)
    site_data = {"gtv_kw": 50.0, "phases": 3, "fuse_a": FUSE_A, "voltage_v": V}
    async with closed_loop(
        hass,
        site,
        {"Car": entity_charger("Car")},
        site_data=site_data,
        options=FAST,
        grid="total",
    ) as loop:
        loop.dt_s = 5.0
        loop.on_cycle.append(follow_clock(freezer))
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_energy_need", "value": 1.0},
            blocking=True,
        )
        await set_mode(hass, "car", "planned")
        await settle(hass, freezer)
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        (car,) = plan.cars.values()
        start, end = plan.bounds[0]
        hours = (end - start).total_seconds() / 3600
        assert car.plan.power_kw[0] * hours == pytest.approx(1.0, abs=1e-3)
        t0 = loop.time_s
        await loop.cycle(int(hours * 3600 / loop.dt_s) - 1)
        assert energy_kwh(site, "Car", t0, loop.time_s) == pytest.approx(1.0, abs=0.05)
        running = [s.setpoints_a["Car"] for s in site.history if s.time_s > t0]
        # Never between 0 and 6 A, never above 6 A here, and paused at the end.
        assert all(a == 0.0 or a == 6.0 for a in running)
        assert running[-1] == 0.0


async def test_a_solar_car_follows_the_surplus_and_an_off_car_stays_paused(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    load = FlatLoad(-3000.0)  # 9 kW exported
    site = SimulatedSite(
        load, {"Sun": Car("sun"), "Off": Car("off")}, start_s=10 * 3600.0
    )
    chargers = {"Sun": entity_charger("Sun"), "Off": entity_charger("Off")}
    async with closed_loop(hass, site, chargers, options=FAST, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer))
        await set_mode(hass, "sun", "solar")
        await set_mode(hass, "off", "off")
        await settle(hass, freezer)
        await loop.cycle(30)
        # Not yet: the surplus has to last 60 s.
        assert site.history[-1].setpoints_a["Sun"] == 0.0
        await loop.cycle(60)
        # 9 kW surplus (its own draw counted back in): 9000 / 690 = 13.0 A.
        sun = site.history[-1].setpoints_a["Sun"]
        assert sun == pytest.approx(9000 / (3 * V), abs=1.0)
        # The grid now stays near zero: the car takes the surplus, not the grid.
        assert abs(site.grid_power_w()) < 1000.0
        # A cloud: only 1 kW exported without the car. It runs at 6 A for 120 s,
        # then stops.
        load.watts = -333.0
        await loop.cycle(60)
        assert site.history[-1].setpoints_a["Sun"] == 6.0
        await loop.cycle(70)
        assert site.history[-1].setpoints_a["Sun"] == 0.0
        assert all(s.setpoints_a["Off"] == 0.0 for s in site.history)
        states = loop.entry.runtime_data.balancer.chargers
        assert {c.name: c.limited_by for c in states.values()} == {
            "Sun": "solar",
            "Off": "mode",
        }


async def test_a_planned_car_takes_the_surplus_over_its_plan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Solar first: 1 kWh planned in the first quarter is 6 A, but 9 kW are
    exported: the car takes the surplus, not only its plan."""
    freezer.move_to(START)
    site = SimulatedSite(FlatLoad(-3000.0), {"Car": Car("car")}, start_s=10 * 3600.0)
    site_data = {"gtv_kw": 50.0, "phases": 3, "fuse_a": FUSE_A, "voltage_v": V}
    async with closed_loop(
        hass,
        site,
        {"Car": entity_charger("Car")},
        site_data=site_data,
        options=FAST,
        grid="total",
    ) as loop:
        loop.on_cycle.append(follow_clock(freezer))
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_energy_need", "value": 1.0},
            blocking=True,
        )
        await set_mode(hass, "car", "planned")
        await settle(hass, freezer)
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        (car,) = plan.cars.values()
        assert car.plan.power_kw[0] * 1000 / (3 * V) < 6.0 + 1e-6
        await loop.cycle(30)
        # 9 kW surplus (its own draw counted back in): 9000 / 690 = 13.0 A.
        assert site.history[-1].setpoints_a["Car"] == pytest.approx(
            9000 / (3 * V), abs=1.0
        )
        assert abs(site.grid_power_w()) < 1000.0
        (state,) = loop.entry.runtime_data.balancer.chargers.values()
        assert state.limited_by == "solar"


async def test_a_stale_meter_does_not_start_a_car_its_mode_pauses(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Review: the grid sensor stops; the fail-safe (6 A) brings the fast car
    to 6 A but leaves the off car paused (it used to start it at 6 A)."""
    freezer.move_to(START)
    site = SimulatedSite(
        FlatLoad(2000.0), {"Fast": Car("fast"), "Off": Car("off")}, start_s=36000.0
    )
    chargers = {"Fast": entity_charger("Fast"), "Off": entity_charger("Off")}
    async with closed_loop(hass, site, chargers, options=FAST, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer))
        await set_mode(hass, "off", "off")
        await settle(hass, freezer)
        await loop.cycle(20)
        assert site.history[-1].setpoints_a["Fast"] > 6.0
        loop.grid = "silent"  # the grid power sensor stops reporting
        for _ in range(40):
            await loop.cycle()
            if hass.states.get("sensor.fast_balancing_state").state == "fail_safe":
                break
        assert hass.states.get("sensor.fast_balancing_state").state == "fail_safe"
        await loop.cycle()
        assert loop.setpoints() == {"Fast": 6.0, "Off": 0.0}
        assert all(s.setpoints_a["Off"] == 0.0 for s in site.history)


async def restarted(hass: HomeAssistant, loop: Loop) -> None:
    """The site set up again (as after a restart), on the loop's clock from its
    first cycle on (the waits it starts count on that clock)."""
    await hass.config_entries.async_unload(loop.entry.entry_id)
    init = BalancerCoordinator.__init__

    def on_loop_clock(self: BalancerCoordinator, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs, clock=loop.now)

    with patch.object(BalancerCoordinator, "__init__", on_loop_clock):
        assert await hass.config_entries.async_setup(loop.entry.entry_id)
    await hass.async_block_till_done()


async def test_a_restart_mid_slot_does_not_deliver_the_slot_again(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """0.5 kWh in the first quarter: 6 A until it is in, then paused. A restart
    later in that quarter plans from the session's energy, restored with the
    mode (the slot's own count is of a plan, and a new plan starts a new
    slot): the car stays paused, the 0.5 kWh is not drawn twice."""
    freezer.move_to(START)
    site = SimulatedSite(FlatLoad(1000.0), {"Car": Car("car")}, start_s=10 * 3600.0)
    site_data = {"gtv_kw": 50.0, "phases": 3, "fuse_a": FUSE_A, "voltage_v": V}
    async with closed_loop(
        hass,
        site,
        {"Car": entity_charger("Car")},
        site_data=site_data,
        options=FAST,
        grid="total",
    ) as loop:
        loop.dt_s = 5.0
        loop.on_cycle.append(follow_clock(freezer))
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_energy_need", "value": 0.5},
            blocking=True,
        )
        await set_mode(hass, "car", "planned")
        await settle(hass, freezer)
        t0 = loop.time_s
        await loop.cycle(120)  # 10 minutes: the 0.5 kWh is in after ~7
        assert energy_kwh(site, "Car", t0, loop.time_s) == pytest.approx(0.5, abs=0.05)
        assert site.history[-1].setpoints_a["Car"] == 0.0

        await restarted(hass, loop)
        await settle(hass, freezer)
        await loop.cycle(120)  # into the next quarters too
        assert energy_kwh(site, "Car", t0, loop.time_s) == pytest.approx(0.5, abs=0.05)
        charging = next(iter(loop.entry.runtime_data.balancer.chargers.values()))
        assert charging.charging.session_kwh == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("export_w", "running_s"),
    [(-3000.0, None), (-333.0, 120.0)],
    ids=["surplus", "cloud"],
)
async def test_a_restart_keeps_a_running_solar_car_and_waits_to_start_another(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    export_w: float,
    running_s: float | None,
) -> None:
    """A restart forgets the solar waits: a car found charging counts as
    running (its stop wait starts afresh: no pause to wait for a start), a car
    found paused waits the whole start wait, as a new one would."""
    freezer.move_to(START)
    load = FlatLoad(-3000.0)  # 9 kW exported
    site = SimulatedSite(
        load, {"Sun": Car("sun"), "Later": Car("later")}, start_s=10 * 3600.0
    )
    chargers = {"Sun": entity_charger("Sun"), "Later": entity_charger("Later")}
    async with closed_loop(hass, site, chargers, options=FAST, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer))
        await set_mode(hass, "sun", "solar")
        await set_mode(hass, "later", "off")
        await settle(hass, freezer)
        await loop.cycle(90)
        assert site.history[-1].setpoints_a["Sun"] >= 6.0
        assert site.history[-1].setpoints_a["Later"] == 0.0
        await set_mode(hass, "later", "solar")  # its start wait begins
        await loop.cycle(5)

        load.watts = export_w
        await restarted(hass, loop)
        start = len(site.history)
        await loop.cycle(50)
        after = list(site.history)[start:]
        assert all(s.setpoints_a["Later"] == 0.0 for s in after)  # < 60 s
        if running_s is None:
            assert all(s.setpoints_a["Sun"] >= 6.0 for s in after)
            return
        # No surplus for it: at its minimum until its (whole) stop wait ends.
        await loop.cycle(int(running_s) - 60)
        assert site.history[-1].setpoints_a["Sun"] == 6.0
        await loop.cycle(20)
        assert site.history[-1].setpoints_a["Sun"] == 0.0
