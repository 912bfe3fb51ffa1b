"""Figures of balancing under faults: fail-safe deadline, writes, starts.

The fail-safe deadline is measured in real time on a running Home Assistant
(its own timers, a 1 s control cycle, a meter whose requests start to time out);
the others in simulated time through the closed loop.
"""

import asyncio
import json
import os
import time
from pathlib import Path

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN, SUBENTRY_CHARGER, SUBENTRY_METER
from simsite.cars import Car
from simsite.site import SimulatedSite
from tests.closed_loop import closed_loop, entity_charger, template_numbers
from tests.conftest import modbus_meter
from tests.test_faults import Load, limits, site_of, starts


async def record(hass: HomeAssistant, **figures: float) -> None:
    if out := os.environ.get("STEKKER_BENCH_OUT"):
        name = "_".join(figures)
        await hass.async_add_executor_job(
            (Path(out) / f"{name}.json").write_text, json.dumps(figures)
        )


async def test_failsafe_deadline(hass: HomeAssistant) -> None:
    """Seconds from a meter's requests starting to time out until every charger is
    at its fail-safe current, at the defaults (1 s cycle, stale after 3 s)."""
    cars = {"A": Car("a"), "B": Car("b")}
    site = SimulatedSite(Load(5, 5, 5), cars, start_s=12 * 3600.0)
    await site.start()
    await template_numbers(hass, ["A", "B"])
    chargers = {
        "A": entity_charger("A", fail_safe_a=6.0),
        "B": entity_charger("B", fail_safe_a=0.0),
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=limits(40, 27),
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                "data": modbus_meter(site.meter_port),
                "title": "Grid meter",
                "unique_id": None,
            },
            *(
                {
                    "subentry_type": SUBENTRY_CHARGER,
                    "data": data,
                    "title": name,
                    "unique_id": None,
                }
                for name, data in chargers.items()
            ),
        ],
    )
    entry.add_to_hass(hass)

    async def run_site() -> None:
        while True:
            values = {}
            for name in cars:
                state = hass.states.get(f"number.{name.lower()}_max_current")
                values[name] = float(state.state) if state else 0.0
            site.step(time.monotonic(), 0.25, values)
            await asyncio.sleep(0.25)

    runner = asyncio.get_running_loop().create_task(run_site())
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await asyncio.sleep(6.0)  # running normally on Home Assistant's own timers
        assert hass.states.get("sensor.a_balancing_state").state != "fail_safe"
        site.meter.latency = 2.0  # well beyond the 0.8 s request timeout
        start = time.monotonic()
        while time.monotonic() - start < 20.0:
            await asyncio.sleep(0.02)
            states = {
                hass.states.get(f"sensor.{n}_balancing_state").state for n in "ab"
            }
            a = hass.states.get("number.a_max_current").state
            b = hass.states.get("number.b_max_current").state
            if states == {"fail_safe"} and float(a) == 6.0 and float(b) == 0.0:
                break
        deadline = time.monotonic() - start
        assert deadline < 20.0
        await record(hass, failsafe_deadline_s=round(deadline, 2))
        assert await hass.config_entries.async_unload(entry.entry_id)
        site.meter.latency = 0.0
        await asyncio.sleep(2.5)  # the server's last slow answers
    finally:
        runner.cancel()
        await site.stop()


async def test_steady_writes_per_charger_per_minute(hass: HomeAssistant) -> None:
    """Entity chargers at a constant load, near the kW limit, over 10 minutes."""
    cars = {"A": Car("a", max_a=16), "B": Car("b", max_a=16), "C": Car("c", max_a=16)}
    chargers = {name: entity_charger(name) for name in cars}
    fast = {"hysteresis_s": 2.0, "min_write_interval_s": 2.0, "ramp_step_a": 4.0}
    async with closed_loop(
        hass,
        site_of(Load(13.3, 13.3, 13.3), cars),
        chargers,
        site_data=limits(40, 27),
        options={**fast, "margin_kw": 0.5},
    ) as loop:
        await loop.cycle(120)
        loop.writes.clear()
        await loop.cycle(600)
        per_minute = sum(loop.writes.values()) / len(cars) / 10.0
    await record(hass, steady_writes_per_charger_per_min=round(per_minute, 3))


async def test_starts_per_hour_without_power_sensor(hass: HomeAssistant) -> None:
    """Three 1-phase chargers without power sensors, 15 A building, 25 A fuse, 1 h."""
    phases = {"A": "l1", "B": "l2", "C": "l3"}
    cars = {n: Car(n.lower(), phases=1, phase=p) for n, p in phases.items()}  # type: ignore[arg-type]
    chargers = {
        n: {**entity_charger(n, phases=1, phase=p), "power_entity": None}
        for n, p in phases.items()
    }
    fast = {"hysteresis_s": 2.0, "min_write_interval_s": 2.0, "ramp_step_a": 4.0}
    async with closed_loop(
        hass,
        site_of(Load(15, 15, 15), cars),
        chargers,
        site_data=limits(25, 17),
        options={**fast, "margin_kw": 0.5},
    ) as loop:
        loop.dt_s = 2.0
        await loop.cycle(1800)
        worst = max(starts(loop, name) for name in cars)
    await record(hass, starts_per_hour_without_power_sensor=worst)
