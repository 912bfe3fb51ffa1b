"""Closed loop: an Alfen socket switching a solar car between three phases and one.

The real integration drives a simulated Alfen station over Modbus (register
1215); the station records any switch made while its car drew current. At 230 V
6 A is 1.38 kW on one phase and 4.14 kW on three.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.stekker.balancer import Charger
from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.engine.phase_switch import PhaseMemory
from simsite.cars import Car
from simsite.site import ALFEN, ALFEN_PHASES, SimulatedSite

from .closed_loop import Loop, alfen_charger, closed_loop, entity_charger
from .conftest import modbus_meter, site_entry
from .test_charger_flow import LIMITS, open_flow
from .test_modes_loop import set_mode

NOON = 12 * 3600.0
V = 230.0
FAST = {
    "hysteresis_s": 2.0,
    "min_write_interval_s": 2.0,
    "ramp_step_a": 4.0,
    "margin_kw": 0.5,
}


class Load:
    """Building power per phase in W (negative: the solar exports), changeable."""

    def __init__(self, l1: float, l2: float, l3: float) -> None:
        self.watts = [l1, l2, l3]

    def exporting(self, kw: float) -> None:
        """An even export of ``kw`` over the three phases."""
        self.watts = [-kw * 1000.0 / 3] * 3

    def __call__(self, _seconds: float) -> tuple[float, float, float]:
        a, b, c = self.watts
        return (a, b, c)


def site_data(fuse_a: float = 40.0) -> dict[str, float]:
    return {"gtv_kw": 50.0, "phases": 3, "fuse_a": fuse_a, "voltage_v": V}


def the_charger(loop: Loop, name: str = "Sun") -> Charger:
    (charger,) = (
        c for c in loop.entry.runtime_data.balancer.chargers.values() if c.name == name
    )
    return charger


def memory(loop: Loop, name: str = "Sun") -> PhaseMemory:
    phase_memory = the_charger(loop, name).phase_memory
    assert phase_memory is not None
    return phase_memory


async def run_until(
    loop: Loop, done: Callable[[], bool], most: int, name: str = "Sun"
) -> float:
    """Cycle until ``done``; returns the loop time then. Checks on every cycle
    that the car's setpoint is never between 0 and 6 A."""
    for _ in range(most):
        await loop.cycle()
        assert not 0.0 < loop.site.history[-1].setpoints_a[name] < 6.0
        if done():
            return loop.time_s
    raise AssertionError(f"not done in {most} cycles")


def socket_phases(site: SimulatedSite, name: str = "Sun") -> int:
    return site.cars[name].socket_phases


def phases_sensor(hass: HomeAssistant, slug: str = "sun") -> str:
    state = hass.states.get(f"sensor.{slug}_phases_in_use")
    assert state is not None
    return state.state


async def test_a_small_surplus_runs_the_car_on_one_phase_and_a_large_one_on_three(
    hass: HomeAssistant,
) -> None:
    """2.5 kW exported: too little for 6 A on three phases, enough on one. After
    the 60 s start wait the car is paused, switched once stopped for 30 s, and
    charges on L1 with the surplus; at 6 kW it goes back to three phases."""
    load = Load(0.0, 0.0, 0.0)
    load.exporting(2.5)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    async with closed_loop(
        hass, site, {"Sun": alfen_charger(1)}, site_data=site_data(), options=FAST
    ) as loop:
        await set_mode(hass, "sun", "solar")
        t0 = loop.time_s
        assert phases_sensor(hass) == "3"
        # The surplus asks for one phase from the first cycle: held after 60 s.
        held = await run_until(
            loop, lambda: the_charger(loop).limited_by == "phase_switch", 80
        )
        assert 59.0 <= held - t0 <= 62.0
        assert "switch to 1 phase" in the_charger(loop).why
        assert (
            hass.states.get("sensor.sun_limited_by").state == "phase_switch"  # type: ignore[union-attr]
        )
        switched = await run_until(loop, lambda: socket_phases(site) == 1, 40)
        # The car never drew here: the pause is 30 s from the hold.
        assert 30.0 <= switched - held <= 33.0
        assert memory(loop).switches == (switched - 1.0,)
        await loop.cycle()
        assert phases_sensor(hass) == "1"
        # Then the solar mode starts it on the one phase after its start wait.
        await run_until(loop, lambda: site.cars["Sun"].draw_a > 0.0, 90)
        await loop.cycle(30)
        amps = site.history[-1].setpoints_a["Sun"]
        assert 10.0 <= amps <= 11.0  # 2.5 kW / 230 V = 10.9 A
        assert site.cars["Sun"].phase_currents() == {"l1": amps, "l2": 0.0, "l3": 0.0}
        assert the_charger(loop).account is not None
        assert set(the_charger(loop).account.credit_a) == {"l1"}  # type: ignore[union-attr]
        assert abs(site.grid_power_w()) < 300.0  # the surplus is used, not exported
        power = hass.states.get("sensor.sun_setpoint_power")
        assert power is not None
        assert float(power.state) == pytest.approx(amps * V / 1000.0, abs=0.01)

        # 6 kW: enough for 6 A on three phases. Back after the wait and pause.
        load.exporting(6.0)
        up = await run_until(loop, lambda: socket_phases(site) == 3, 120)
        assert memory(loop).phases == 3 and len(memory(loop).switches) == 2
        assert up - switched > 90.0
        await loop.cycle(60)
        assert phases_sensor(hass) == "3"
        amps = site.history[-1].setpoints_a["Sun"]
        assert amps == pytest.approx(6000.0 / (3 * V), abs=0.8)  # 8.7 A
        assert site.switched_under_load == []
        assert site.longest_run_above(phase_a=40.0, power_w=50_000.0) == 0


async def test_a_station_reading_one_phase_it_has_not_applied_counts_three(
    hass: HomeAssistant,
) -> None:
    """The station reads 1 phase while its car still draws on three (a write
    not yet taken): the car stays counted on all three phases, so its L2 and
    L3 current is not taken for building load the car may ignore."""
    load = Load(0.0, 0.0, 0.0)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    async with closed_loop(
        hass, site, {"Sun": alfen_charger(1)}, site_data=site_data(), options=FAST
    ) as loop:
        await run_until(loop, lambda: site.cars["Sun"].draw_a >= 6.0, 60)
        site.phases_read_early["Sun"] = 1
        await loop.cycle(3)
        charger = the_charger(loop)
        assert charger.reading is not None and charger.reading.phases == 1
        assert site.cars["Sun"].draw_a >= 6.0
        assert charger.phases_in_use is None
        assert charger.account is not None
        assert set(charger.account.credit_a) == {"l1", "l2", "l3"}
        assert memory(loop).phases == 3
        site.phases_read_early["Sun"] = 3  # it reads what it gives again
        await loop.cycle(2)
        assert charger.phases_in_use == 3
        assert site.switched_under_load == []


async def test_at_most_four_switches_an_hour(
    hass: HomeAssistant,
) -> None:
    """The surplus swings between 2.5 and 6 kW every few minutes: four switches,
    then the car stays on three phases until an hour after the first."""
    load = Load(0.0, 0.0, 0.0)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    async with closed_loop(
        hass, site, {"Sun": alfen_charger(1)}, site_data=site_data(), options=FAST
    ) as loop:
        await set_mode(hass, "sun", "solar")
        times = []
        for phases, kw in ((1, 2.5), (3, 6.0), (1, 2.5), (3, 6.0)):
            load.exporting(kw)
            times.append(
                await run_until(loop, lambda p=phases: socket_phases(site) == p, 200)
            )
        assert len(memory(loop).switches) == 4
        load.exporting(2.5)
        await loop.cycle(300)
        # The fifth is not made: not even paused for it.
        assert socket_phases(site) == 3
        assert memory(loop).target is None
        assert the_charger(loop).limited_by == "solar"
        # An hour after the first switch, one may be made again.
        loop.dt_s = 10.0
        while loop.time_s < times[0] + 3600.0 - 10.0:
            await loop.cycle()
            assert socket_phases(site) == 3
        loop.dt_s = 1.0
        again = await run_until(loop, lambda: socket_phases(site) == 1, 120)
        assert again - times[0] >= 3600.0
        assert site.switched_under_load == []


async def test_a_station_that_refuses_is_not_asked_again(
    hass: HomeAssistant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Switching not allowed on the station: the one write is refused, the car
    stays on three phases and is not paused for a switch again. A charger
    driven through a `number` entity never switches (it has no such sensor)."""
    load = Load(0.0, 0.0, 0.0)
    load.exporting(2.5)
    cars = {"Sun": Car("sun"), "Van": Car("van")}
    site = SimulatedSite(load, cars, alfen_sockets=1, start_s=NOON)
    chargers = {"Sun": alfen_charger(1), "Van": entity_charger("Van")}
    async with closed_loop(
        hass, site, chargers, site_data=site_data(), options=FAST
    ) as loop:
        await set_mode(hass, "sun", "solar")
        await set_mode(hass, "van", "solar")
        caplog.set_level(logging.WARNING)
        await run_until(loop, lambda: memory(loop).refused, 120)
        assert caplog.text.count("does not allow phase switching") == 1
        for _ in range(600):
            await loop.cycle()
            assert the_charger(loop).limited_by != "phase_switch"
        assert caplog.text.count("does not allow phase switching") == 1
        assert socket_phases(site) == 3 and phases_sensor(hass) == "3"
        assert memory(loop) == PhaseMemory(phases=3, refused=True)
        assert hass.states.get("sensor.van_phases_in_use") is None
        assert the_charger(loop, "Van").phase_memory is None
        diagnostics = await async_get_config_entry_diagnostics(hass, loop.entry)
        sun, van = diagnostics["balancer"]["chargers"]
        assert sun["phases"] == {
            "phases": 3,
            "target": None,
            "wanted_since": None,
            "stopped_since": None,
            "switches": (),
            "refused": True,
        }
        assert van["phases"] is None


async def test_the_fuse_on_l1_counts_the_switched_car(
    hass: HomeAssistant,
) -> None:
    """A 25 A fuse, the building drawing 15 A on L1 while L2 and L3 export: a
    2.45 kW surplus, but room for only 9.3 A on L1 (0.72 A margin). On one
    phase the car loads L1 alone: it gets what L1 allows, no more."""
    load = Load(15 * V, -2950.0, -2950.0)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    async with closed_loop(
        hass,
        site,
        {"Sun": alfen_charger(1)},
        site_data=site_data(fuse_a=25.0),
        options=FAST,
    ) as loop:
        await set_mode(hass, "sun", "solar")
        await run_until(loop, lambda: socket_phases(site) == 1, 120)
        await run_until(loop, lambda: site.cars["Sun"].draw_a > 0.0, 90)
        await loop.cycle(60)
        charger = the_charger(loop)
        assert charger.limited_by == "l1"
        amps = site.history[-1].setpoints_a["Sun"]
        assert 8.5 <= amps <= 9.3
        assert site.grid_phase_currents()["l1"] <= 25.0 - 0.7
        assert site.longest_run_above(phase_a=25.0) == 0
        # A fuller building on L1: the car is lowered at once, and paused
        # below 6 A, never left above the fuse.
        load.watts[0] = 20 * V
        await loop.cycle(20)
        assert site.history[-1].setpoints_a["Sun"] == 0.0
        # Above for at most the car's lag and one control cycle.
        assert site.longest_run_above(phase_a=25.0) <= 2
        assert site.switched_under_load == []


async def test_a_phase_write_that_times_out_is_taken_as_the_station_reads(
    hass: HomeAssistant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The station answers the phase write only after 1.5 s, past the bound:
    the balancer gives up on it (no switch counted, the car stays held) while
    the write lands late. The station then reads one phase: that is taken,
    the switch counted once, and the car charges on L1."""
    load = Load(0.0, 0.0, 0.0)
    load.exporting(2.5)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    assert site.station is not None
    site.station.slow_writes[ALFEN_PHASES.address] = 1.5
    async with closed_loop(
        hass, site, {"Sun": alfen_charger(1)}, site_data=site_data(), options=FAST
    ) as loop:
        await set_mode(hass, "sun", "solar")
        caplog.set_level(logging.WARNING)
        await run_until(loop, lambda: "Cannot switch Sun" in caplog.text, 150)
        assert memory(loop).switches == ()
        assert memory(loop).target == 1  # still held for the switch
        assert the_charger(loop).limited_by == "phase_switch"
        await run_until(loop, lambda: memory(loop).phases == 1, 200)
        assert len(memory(loop).switches) == 1
        await loop.cycle()  # the station applies it at its next step
        assert socket_phases(site) == 1
        await run_until(loop, lambda: site.cars["Sun"].draw_a > 0.0, 150)
        await loop.cycle(30)
        assert 10.0 <= site.history[-1].setpoints_a["Sun"] <= 11.0
        assert len(memory(loop).switches) == 1
        assert site.switched_under_load == []
        # Let a retried write the balancer gave up on land before the teardown.
        await asyncio.sleep(1.6)


async def test_a_station_that_drops_out_during_the_pause_starts_it_over(
    hass: HomeAssistant,
) -> None:
    """Unreadable, the car's draw is unknown: the pause is not counted across
    the gap, and the switch comes 30 s after the station answers again."""
    load = Load(0.0, 0.0, 0.0)
    load.exporting(2.5)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    assert site.station is not None
    async with closed_loop(
        hass, site, {"Sun": alfen_charger(1)}, site_data=site_data(), options=FAST
    ) as loop:
        await set_mode(hass, "sun", "solar")
        await run_until(loop, lambda: memory(loop).stopped_since is not None, 80)
        await loop.cycle(20)
        await site.station.stop()
        await loop.cycle(5)
        assert the_charger(loop).reading is None
        assert memory(loop).stopped_since is None and memory(loop).target == 1
        # Unknown: accounted on all three phases.
        assert the_charger(loop).wired_spec.phases == 3
        await site.station.start()
        for _ in range(100):  # the hub waits out its reconnect back-off
            await asyncio.sleep(0.1)
            await loop.cycle()
            if the_charger(loop).reading is not None:
                break
        back = loop.time_s
        assert memory(loop).stopped_since == back  # counted from here
        switched = await run_until(loop, lambda: socket_phases(site) == 1, 60)
        assert switched - back >= 30.0
        assert site.switched_under_load == []


def scenario(seed: int) -> dict[str, Any]:
    """A seeded site: one or two Alfen sockets (the first allows switching, the
    second maybe), a solar export that steps, more building load on L1."""
    rng = random.Random(seed)
    fuse = rng.choice([25.0, 32.0, 40.0])
    sockets = rng.choice([1, 2])
    segments = []
    for i in range(rng.randint(5, 7)):
        # kW exported net: by turns enough for one phase only and for three;
        # now and then nothing.
        export_kw = rng.uniform(1.6, 3.8) if i % 2 == 0 else rng.uniform(4.5, 9.0)
        if rng.random() < 0.2:
            export_kw = 0.0
        # The building draws this much more on L1 (exporting it on L2 and L3).
        l1_a = rng.uniform(0.0, 0.5) * fuse
        segments.append((rng.randint(100, 200), export_kw, l1_a))
    return {
        "fuse": fuse,
        "sockets": sockets,
        "second_switches": rng.random() < 0.5,
        "modes": ["solar", rng.choice(["solar", "min_solar", "fast"])][:sockets],
        "segments": segments,
    }


@pytest.mark.parametrize("seed", range(5))
async def test_random_surplus_never_switches_under_load_nor_overloads_l1(
    hass: HomeAssistant, seed: int
) -> None:
    """Every cycle: no setpoint between 0 and 6 A, and a socket on one phase
    is counted on L1 only. Over the run: no switch while a car drew, at most
    four switches per socket in any hour, no phase over its fuse for longer
    than the car's lag and one cycle (the building alone stays under it)."""
    s = scenario(seed)
    names = ["A", "B"][: s["sockets"]]
    load = Load(0.0, 0.0, 0.0)
    cars = {name: Car(name.lower()) for name in names}
    site = SimulatedSite(load, cars, alfen_sockets=len(names), start_s=NOON)
    site.allow_phase_switching("A")
    if s["second_switches"] and len(names) == 2:
        site.allow_phase_switching("B")
    switches: dict[str, list[float]] = {name: [] for name in names}
    last = dict.fromkeys(names, 3)

    def check(loop: Loop) -> None:
        for name in names:
            amps = loop.site.history[-1].setpoints_a[name]
            assert amps == 0.0 or amps >= 6.0, (name, amps, s)
            if socket_phases(loop.site, name) != last[name]:
                last[name] = socket_phases(loop.site, name)
                switches[name].append(loop.time_s)
            charger = the_charger(loop, name)
            if charger.reading is not None and charger.reading.phases == 1:
                assert charger.account is not None
                assert set(charger.account.credit_a) == {"l1"}, s

    async with closed_loop(
        hass,
        site,
        {name: alfen_charger(unit) for unit, name in enumerate(names, 1)},
        site_data=site_data(fuse_a=s["fuse"]),
        options=FAST,
    ) as loop:
        for name, mode in zip(names, s["modes"], strict=True):
            await set_mode(hass, name.lower(), mode)
        loop.on_cycle.append(check)
        for cycles, export_kw, l1_a in s["segments"]:
            load.exporting(export_kw)
            load.watts[0] += l1_a * V
            load.watts[1] -= l1_a * V / 2
            load.watts[2] -= l1_a * V / 2
            await loop.cycle(cycles)
        print(
            "SWITCHES",
            seed,
            {n: len(t) for n, t in switches.items()},
            s["modes"],
            s["second_switches"],
            flush=True,
        )
        assert site.switched_under_load == [], s
        for times in switches.values():
            for i, t in enumerate(times):
                assert sum(1 for u in times[i:] if u - t < 3600.0) <= 4, s
        assert site.longest_run_above(phase_a=s["fuse"]) <= 2, s


async def test_a_socket_raised_by_another_master_during_the_pause_is_not_switched(
    hass: HomeAssistant,
) -> None:
    """Mid-pause something else sets the socket to 10 A and the car draws: the
    pause starts over; the switch comes 30 s after the car stopped again."""
    load = Load(0.0, 0.0, 0.0)
    load.exporting(2.5)
    site = SimulatedSite(load, {"Sun": Car("sun")}, alfen_sockets=1, start_s=NOON)
    site.allow_phase_switching("Sun")
    assert site.station is not None
    async with closed_loop(
        hass, site, {"Sun": alfen_charger(1)}, site_data=site_data(), options=FAST
    ) as loop:
        await set_mode(hass, "sun", "solar")
        await run_until(loop, lambda: memory(loop).stopped_since is not None, 80)
        await loop.cycle(20)
        old_pause = memory(loop).stopped_since
        assert old_pause is not None
        site.station.set_fields(1, (ALFEN.setpoint,), {ALFEN.setpoint.key: 10.0})
        drew = []
        loop.on_cycle.append(
            lambda lp: drew.append(lp.time_s) if site.cars["Sun"].draw_a else None
        )
        switched = await run_until(loop, lambda: socket_phases(site) == 1, 80)
        assert drew  # the car drew, so the pause had to start over
        stopped = drew[-1] + 1.0  # first cycle it was measured stopped again
        assert switched - old_pause > 30.0 + 10.0
        assert switched - stopped >= 30.0
        assert site.switched_under_load == []


async def test_a_socket_added_through_the_flow_shows_its_phases(
    hass: HomeAssistant,
) -> None:
    """An Alfen socket added through the charger flow has a Phases in use
    sensor; one set up as one-phase does not (it never switches)."""
    load = Load(0.0, 0.0, 0.0)
    cars = {"Eve 1": Car("a"), "Eve 2": Car("b")}
    site = SimulatedSite(load, cars, alfen_sockets=2, start_s=NOON)
    await site.start()
    try:
        site.step(NOON, 1.0, {})
        entry = site_entry(modbus_meter(site.meter_port))
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        for unit, phases in ((1, "3"), (2, "1")):
            flow_id = await open_flow(hass, entry.entry_id, "modbus")
            result = await hass.config_entries.subentries.async_configure(
                flow_id,
                {
                    "name": f"Eve {unit}",
                    "host": "127.0.0.1",
                    "port": site.charger_port,
                    "unit_id": unit,
                    "profile": "alfen_eve",
                    **LIMITS,
                    "phases": phases,
                },
            )
            assert result["step_id"] == "verify"
            result = await hass.config_entries.subentries.async_configure(
                flow_id, {"next_step_id": "save"}
            )
            assert result["type"] is FlowResultType.CREATE_ENTRY
            await hass.async_block_till_done()
        state = hass.states.get("sensor.eve_1_phases_in_use")
        assert state is not None
        assert (state.state, state.name) == ("3", "Eve 1 Phases in use")
        assert hass.states.get("sensor.eve_2_phases_in_use") is None
        assert hass.states.get("sensor.eve_2_limited_by") is not None
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await site.stop()
