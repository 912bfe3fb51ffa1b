"""Closed-loop harness: the real integration balancing a simulated site.

Each cycle the simulated cars follow the setpoints Home Assistant wrote (Alfen
sockets over Modbus, other chargers through template `number` entities), the
grid meter serves building + cars, and the real meter coordinators, headroom and
balancer run once. Simulated time drives the balancer's clock.
"""

from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.stekker.const import (
    DOMAIN,
    SUBENTRY_CHARGER,
    SUBENTRY_METER,
    SUBENTRY_SOLAR_ARRAY,
)
from custom_components.stekker.engine.site import PHASES
from simsite.site import SimulatedSite

from .conftest import SITE_DATA, SITE_OPTIONS, modbus_meter


def entity_charger(
    name: str, phases: int = 3, phase: str = "l1", **limits: Any
) -> dict[str, Any]:
    slug = name.lower().replace(" ", "_")
    return {
        "driver": "entity",
        "number_entity": f"number.{slug}_max_current",
        "power_entity": f"sensor.{slug}_power",
        "phases": phases,
        "phase": phase,
        "min_a": 6.0,
        "max_a": 16.0,
        "priority": 0,
        "fail_safe_a": 6.0,
        **limits,
    }


def alfen_charger(unit_id: int, phases: int = 3, **limits: Any) -> dict[str, Any]:
    """A socket of an Alfen station (`closed_loop` fills in the station's port)."""
    return {
        "driver": "modbus",
        "host": "127.0.0.1",
        "port": 0,  # the station's port: `closed_loop` fills it in once served
        "unit_id": unit_id,
        "profile": "alfen_eve",
        "phases": phases,
        "phase": "l1",
        "min_a": 6.0,
        "max_a": 16.0,
        "priority": 0,
        "fail_safe_a": 6.0,
        **limits,
    }


NUMBER_DEFAULTS: dict[str, Any] = {"unit": "A", "min": 0, "max": 32, "step": 1}


async def template_numbers(
    hass: HomeAssistant,
    names: list[str],
    broken: frozenset[str] = frozenset(),
    numbers: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """`number` entities as another integration (e.g. OCPP) would offer.

    Each keeps its value in `input_number.<slug>_value` and has three fault
    switches, as a charger behind another integration can fail:
    `input_boolean.<slug>_fail` (every write raises), `<slug>_hang` (a write never
    returns) and `<slug>_drop` (a write is accepted and does nothing). A `broken`
    one shows 16 A and refuses every write. `numbers` gives a charger's entity its
    own unit, minimum, maximum and step.
    """
    numbers = numbers or {}
    slugs = {name: name.lower().replace(" ", "_") for name in names}
    flags = {
        f"{slug}_{flag}": {"initial": flag == "fail" and name in broken}
        for name, slug in slugs.items()
        for flag in ("fail", "hang", "drop")
    }
    values = {
        f"{slug}_value": {
            "min": -1,
            "max": 1_000_000,
            "step": 0.0001,
            "mode": "box",
            "initial": 16 if name in broken else 0,
        }
        for name, slug in slugs.items()
    }
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": flags})
    assert await async_setup_component(hass, "input_number", {"input_number": values})
    entities = []
    for name, slug in slugs.items():
        spec = {**NUMBER_DEFAULTS, **numbers.get(name, {})}
        entities.append(
            {
                "name": f"{name} max current",
                "unit_of_measurement": spec["unit"],
                "min": spec["min"],
                "max": spec["max"],
                "step": spec["step"],
                "state": f"{{{{ states('input_number.{slug}_value') | float(0) }}}}",
                "set_value": [
                    {
                        "if": f"{{{{ is_state('input_boolean.{slug}_fail', 'on') }}}}",
                        "then": [{"action": "charger.offline"}],
                    },
                    {
                        "if": f"{{{{ is_state('input_boolean.{slug}_hang', 'on') }}}}",
                        "then": [{"delay": 3600}],
                    },
                    {
                        "if": f"{{{{ is_state('input_boolean.{slug}_drop', 'off') }}}}",
                        "then": [
                            {
                                "action": "input_number.set_value",
                                "target": {"entity_id": f"input_number.{slug}_value"},
                                "data": {"value": "{{ value }}"},
                            }
                        ],
                    },
                ],
            }
        )
    assert await async_setup_component(
        hass, "template", {"template": [{"number": entities}]}
    )
    await hass.async_block_till_done()


@dataclass
class Loop:
    """Drives one simulated site through the real integration, cycle by cycle."""

    hass: HomeAssistant
    site: SimulatedSite
    entry: MockConfigEntry
    entity_chargers: Mapping[str, str]  # charger name -> slug of its entities
    chargers: Mapping[str, Mapping[str, Any]]  # charger name -> its config data
    grid: str = "modbus"
    time_s: float = 12 * 3600.0
    dt_s: float = 1.0
    cycles: int = 0
    power_every: Mapping[str, int] = field(default_factory=dict)
    writes: Counter[str] = field(default_factory=Counter)
    on_cycle: list[Callable[[Loop], None]] = field(default_factory=list)
    # What another integration publishes for a meter of its entities, before the read.
    publish: list[Callable[[Loop], None]] = field(default_factory=list)

    def now(self) -> float:
        return self.time_s

    def setpoints(self) -> dict[str, float]:
        """What each entity charger is set to (in A per phase); one that is
        unavailable keeps its last."""
        last = self.site.history[-1].setpoints_a if self.site.history else {}
        values = {}
        for name, slug in self.entity_chargers.items():
            state = self.hass.states.get(f"number.{slug}_max_current")
            assert state is not None
            try:
                value = float(state.state)
            except ValueError:
                values[name] = last.get(name, 0.0)
                continue
            unit = state.attributes.get("unit_of_measurement")
            per_amp = self.site.cars[name].phases * 230.0
            values[name] = {"A": value, "W": value / per_amp}.get(
                unit, value * 1000.0 / per_amp
            )
        return values

    def flag(self, name: str, flag: str, on: bool = True) -> None:
        """Switch a fault of an entity charger's number (fail, hang or drop)."""
        slug = self.entity_chargers[name]
        self.hass.states.async_set(
            f"input_boolean.{slug}_{flag}", "on" if on else "off"
        )

    async def cycle(self, count: int = 1) -> None:
        for _ in range(count):
            self.time_s += self.dt_s
            self.cycles += 1
            self.site.step(self.time_s, self.dt_s, self.setpoints())
            self._publish_sensors()
            for publish in self.publish:
                publish(self)
            for meter in self.entry.runtime_data.meters.values():
                await meter.async_refresh()
            await self.hass.async_block_till_done()
            # What the balancer's watchdog timer does once per control cycle.
            self.entry.runtime_data.balancer.async_watchdog()
            await self.hass.async_block_till_done()
            for hook in self.on_cycle:
                hook(self)

    def _publish_sensors(self) -> None:
        """The chargers' power sensors and, for sensor meters, the grid's."""
        for name, slug in self.entity_chargers.items():
            every = self.power_every.get(name, 1)
            if not self.chargers[name].get("power_entity") or self.cycles % every:
                continue
            car = self.site.cars[name]
            watts = car.draw_a * car.phases * self.site.voltage_v
            self.hass.states.async_set(
                f"sensor.{slug}_power",
                f"{watts:.1f}",
                {"unit_of_measurement": "W", "device_class": "power"},
            )
        if self.grid not in ("total", "currents") or not self.site.history:
            return
        sample = self.site.history[-1]
        self.hass.states.async_set(
            "sensor.grid_power", f"{sample.power_w:.1f}", {"unit_of_measurement": "W"}
        )
        if self.grid == "currents":
            for phase, amps in sample.currents_a.items():
                self.hass.states.async_set(
                    f"sensor.grid_current_{phase}",
                    f"{amps:.2f}",
                    {"unit_of_measurement": "A"},
                )


def follow_clock(
    freezer: FrozenDateTimeFactory, fire: bool = False
) -> Callable[[Loop], None]:
    """A hook that moves Home Assistant's clock along with the loop's simulated
    time (and with ``fire`` runs the timers due, such as the planner's)."""

    def hook(loop: Loop) -> None:
        freezer.tick(timedelta(seconds=loop.dt_s))
        if fire:
            async_fire_time_changed(loop.hass)

    return hook


async def start_loop(
    hass: HomeAssistant,
    site: SimulatedSite,
    chargers: Mapping[str, dict[str, Any]],
    *,
    site_data: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    broken: frozenset[str] = frozenset(),
    numbers: Mapping[str, Mapping[str, Any]] | None = None,
    grid: str = "modbus",
    power_every: Mapping[str, int] | None = None,
    meter: Mapping[str, Any] | None = None,
    arrays: Mapping[str, Mapping[str, Any]] | None = None,
) -> Loop:
    """Set the site up in HA with the given chargers (by name) and start the loop.

    ``grid`` is the site's grid meter: the simulated SDM630 over Modbus, or HA
    sensors with only the total power (``total``) or also phase currents
    (``currents``), or the given ``meter`` (its entities published by the
    test, ``Loop.publish``). ``power_every`` makes a charger's power sensor
    report only every so many cycles. ``arrays`` are solar arrays (by name)
    for the forecast, which the simulated meter does not see.
    """
    entity_chargers = {
        name: data["number_entity"].removeprefix("number.").removesuffix("_max_current")
        for name, data in chargers.items()
        if data["driver"] == "entity"
    }
    await template_numbers(
        hass,
        [slug.replace("_", " ") for slug in entity_chargers.values()],
        broken,
        {
            entity_chargers[name].replace("_", " "): spec
            for name, spec in (numbers or {}).items()
        },
    )
    if meter is not None:
        grid = "own"
    elif grid == "modbus":
        meter = modbus_meter(site.meter_port)
    else:
        meter = {
            "source": "sensors",
            "power_entity": "sensor.grid_power",
            "role": "grid",
        }
        if grid == "currents":
            meter |= {f"current_{p}_entity": f"sensor.grid_current_{p}" for p in PHASES}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data={**SITE_DATA, **(site_data or {})},
        options={**SITE_OPTIONS, **(options or {})},
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                "data": meter,
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
            *(
                {
                    "subentry_type": SUBENTRY_SOLAR_ARRAY,
                    "data": data,
                    "title": name,
                    "unique_id": None,
                }
                for name, data in (arrays or {}).items()
            ),
        ],
    )
    entry.add_to_hass(hass)
    loop = Loop(
        hass,
        site,
        entry,
        entity_chargers,
        chargers,
        grid,
        power_every=power_every or {},
    )

    @callback
    def count_write(event: Event) -> None:
        if event.data["domain"] == "number":
            target = event.data["service_data"]["entity_id"]
            for entity_id in [target] if isinstance(target, str) else target:
                loop.writes[entity_id] += 1

    hass.bus.async_listen(EVENT_CALL_SERVICE, count_write)
    # Serve a full first sample (every register) before the first read.
    site.step(loop.time_s, loop.dt_s, loop.setpoints())
    loop._publish_sensors()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entry.runtime_data.balancer.clock = loop.now
    return loop


@asynccontextmanager
async def closed_loop(
    hass: HomeAssistant,
    site: SimulatedSite,
    chargers: Mapping[str, dict[str, Any]],
    **kwargs: Any,
) -> AsyncIterator[Loop]:
    """Serve the site, set it up in HA, and tear both down again afterwards."""
    await site.start()
    try:
        # Alfen sockets live on the site's station, whose port exists only now.
        served = {
            name: {**data, "port": site.charger_port}
            if data["driver"] == "modbus"
            else data
            for name, data in chargers.items()
        }
        loop = await start_loop(hass, site, served, **kwargs)
        yield loop
        if loop.entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(loop.entry.entry_id)
    finally:
        await site.stop()
