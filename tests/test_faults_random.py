"""Random sites with a random fault, through the real HA layer.

The property tests of the closed loop (tests/engine) shrink failures over
thousands of pure-engine runs; these run fewer, whole sites through Home
Assistant: a seeded fleet of entity chargers (1- and 3-phase, on any phase, with
and without power sensors), a building that steps, a grid voltage of 207-253 V, a
grid meter over Modbus or as HA sensors, and one fault from the start of a run:
writes that fail, hang or are dropped, a charger that cannot be read for a while,
or a meter that stops. Every cycle: no setpoint between 0 and the minimum. Over a
run: a phase is over its fuse, where steering could have avoided it, for no
longer than the slowest car's lag + 2 cycles (the cycle that sees it, the one
that sees a charger did not follow), and never at the end.
"""

import asyncio
import random
from typing import Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from custom_components.stekker.meter import DATA_HUB
from custom_components.stekker.modbus.transport import ModbusHub
from simsite.cars import Car

from .closed_loop import Loop, closed_loop, entity_charger
from .test_faults import FAST, Load, never_below_minimum, site_of

FAULTS = ("none", "fail", "hang", "drop", "unreadable", "meter")


def scenario(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    fuse = rng.choice([25.0, 32.0, 40.0, 63.0])
    cars: dict[str, Car] = {}
    chargers: dict[str, dict[str, Any]] = {}
    for i in range(rng.randint(2, 4)):
        name = f"C{i}"
        phases = rng.choice([1, 3])
        phase = rng.choice(["l1", "l2", "l3"])
        top = rng.choice([16.0, 32.0])
        cars[name] = Car(
            name.lower(),
            phases=phases,  # type: ignore[arg-type]
            phase=phase,  # type: ignore[arg-type]
            max_a=rng.choice([top, rng.uniform(6.0, top)]),
            lag_cycles=rng.randint(1, 3),
        )
        data = entity_charger(name, phases=phases, phase=phase, max_a=top)
        if rng.random() < 0.3:
            data["power_entity"] = None
        chargers[name] = data
    return {
        "fuse": fuse,
        "gtv": round(3 * fuse * 0.23 * rng.uniform(0.6, 1.0), 1),
        "volts": rng.uniform(207.0, 253.0),
        "low": [rng.uniform(0.0, 0.4) * fuse for _ in range(3)],
        "high": [rng.uniform(0.2, 0.7) * fuse for _ in range(3)],
        "grid": rng.choice(["modbus", "currents"]),
        "fault": FAULTS[seed % len(FAULTS)],
        "victim": rng.choice(sorted(cars)),
        "cars": cars,
        "chargers": chargers,
    }


async def inject(loop: Loop, fault: str, victim: str, on: bool) -> None:
    if fault in ("fail", "hang", "drop"):
        loop.flag(victim, fault, on)
    elif fault == "unreadable":
        entity_id = f"number.{victim.lower()}_max_current"
        if on:
            loop.hass.states.async_set(entity_id, STATE_UNAVAILABLE)
        else:
            loop.hass.states.async_set(
                f"input_number.{victim.lower()}_value",
                str(loop.setpoints().get(victim, 0.0) + 0.001),
            )
    elif fault == "meter":
        loop.site.meter.latency = 1.0 if on else 0.0


@pytest.mark.parametrize("seed", range(12))
async def test_random_site_with_a_fault(hass: HomeAssistant, seed: int) -> None:
    hass.data[DATA_HUB] = ModbusHub(timeout=0.3, backoff_initial=0.01, backoff_max=0.05)
    s = scenario(seed)
    load = Load(*s["low"], volts=s["volts"])
    site = site_of(load, s["cars"])
    async with closed_loop(
        hass,
        site,
        s["chargers"],
        site_data={
            "gtv_kw": s["gtv"],
            "phases": 3,
            "fuse_a": s["fuse"],
            "voltage_v": 230.0,
        },
        options=FAST,
        grid=s["grid"],
    ) as loop:
        loop.on_cycle.append(never_below_minimum)
        await loop.cycle(30)
        await inject(loop, s["fault"], s["victim"], on=True)
        load.amps = list(s["high"])
        start = len(loop.site.history)
        await loop.cycle(15)
        await inject(loop, s["fault"], s["victim"], on=False)
        end = len(loop.site.history)
        load.amps = list(s["low"])
        await loop.cycle(30)
        lag = max(car.lag_cycles for car in s["cars"].values())
        assert avoidable_run(loop, s, start, end) <= lag + 2, s
        last = loop.site.history[-1]
        assert max(last.currents_a.values()) <= s["fuse"] + 1e-6, s
        loop.site.meter.latency = 0.0
        await asyncio.sleep(1.1)  # the meter's last slow answers


def avoidable_run(loop: Loop, s: dict[str, Any], start: int, end: int) -> int:
    """Longest run of cycles over the fuse that steering could have avoided.

    While the fault lasts, a victim that cannot be steered keeps drawing, and a
    stale meter puts every charger at its fail-safe current: the building plus
    what nobody can change may be over the fuse by itself, which no balancer helps.
    """
    longest = run = 0
    for index, sample in enumerate(loop.site.history):
        faulty = start <= index < end + 1 and s["fault"] != "none"
        if faulty and s["fault"] == "meter":
            run = 0
            continue
        fixed = dict.fromkeys(("l1", "l2", "l3"), 0.0)
        for name, car in s["cars"].items():
            loaded = ("l1", "l2", "l3") if car.phases == 3 else (car.phase,)
            if faulty and name == s["victim"]:
                for phase in loaded:
                    fixed[phase] += sample.draws_a[name]
        building = {
            phase: sample.currents_a[phase]
            - sum(
                sample.draws_a[name]
                for name, car in s["cars"].items()
                if car.phases == 3 or car.phase == phase
            )
            for phase in fixed
        }
        over = max(sample.currents_a.values()) > s["fuse"] + 1e-6
        helpless = any(building[p] + fixed[p] > s["fuse"] for p in fixed)
        run = run + 1 if over and not helpless else 0
        longest = max(longest, run)
    return longest
