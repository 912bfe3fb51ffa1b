"""Closed-loop harness: the real integration balancing a simulated site.

Each cycle the simulated cars follow the setpoints Home Assistant wrote (Alfen
sockets over Modbus, other chargers through template `number` entities), the
grid meter serves building + cars, and the real meter coordinators, headroom and
balancer run once. Simulated time drives the balancer's clock.
"""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN, SUBENTRY_CHARGER, SUBENTRY_METER
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


async def template_numbers(
    hass: HomeAssistant, names: list[str], broken: frozenset[str] = frozenset()
) -> None:
    """`number` entities in A as another integration (e.g. OCPP) would offer.

    A `broken` one shows 16 A but refuses every write, like a charger that went
    offline behind an integration that keeps its last state.
    """
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "number": [
                        {
                            "name": f"{name} max current",
                            "unit_of_measurement": "A",
                            "min": 0,
                            "max": 32,
                            "step": 1,
                            "optimistic": name not in broken,
                            "state": "{{ 16 }}" if name in broken else "{{ 0 }}",
                            "set_value": [
                                {"action": "charger.offline"}
                                if name in broken
                                else {"delay": 0}
                            ],
                        }
                        for name in names
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()


@dataclass
class Loop:
    """Drives one simulated site through the real integration, cycle by cycle."""

    hass: HomeAssistant
    site: SimulatedSite
    entry: MockConfigEntry
    entity_chargers: Mapping[str, str]  # charger name -> slug of its entities
    time_s: float = 12 * 3600.0
    dt_s: float = 1.0
    on_cycle: list[Callable[[Loop], None]] = field(default_factory=list)

    def now(self) -> float:
        return self.time_s

    def setpoints(self) -> dict[str, float]:
        """What each entity charger is set to; one that is unavailable keeps its last."""
        last = self.site.history[-1].setpoints_a if self.site.history else {}
        values = {}
        for name, slug in self.entity_chargers.items():
            state = self.hass.states.get(f"number.{slug}_max_current")
            assert state is not None
            try:
                values[name] = float(state.state)
            except ValueError:
                values[name] = last.get(name, 0.0)
        return values

    async def cycle(self, count: int = 1) -> None:
        for _ in range(count):
            self.time_s += self.dt_s
            self.site.step(self.time_s, self.dt_s, self.setpoints())
            for name, slug in self.entity_chargers.items():
                car = self.site.cars[name]
                watts = car.draw_a * car.phases * 230.0
                self.hass.states.async_set(
                    f"sensor.{slug}_power",
                    f"{watts:.1f}",
                    {"unit_of_measurement": "W", "device_class": "power"},
                )
            for meter in self.entry.runtime_data.meters.values():
                await meter.async_refresh()
            await self.hass.async_block_till_done()
            # What the balancer's watchdog timer does once per control cycle.
            self.entry.runtime_data.balancer.async_watchdog()
            await self.hass.async_block_till_done()


async def start_loop(
    hass: HomeAssistant,
    site: SimulatedSite,
    chargers: Mapping[str, dict[str, Any]],
    *,
    site_data: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    broken: frozenset[str] = frozenset(),
) -> Loop:
    """Set the site up in HA with the given chargers (by name) and start the loop."""
    entity_chargers = {
        name: data["number_entity"].removeprefix("number.").removesuffix("_max_current")
        for name, data in chargers.items()
        if data["driver"] == "entity"
    }
    await template_numbers(
        hass, [slug.replace("_", " ") for slug in entity_chargers.values()], broken
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data={**SITE_DATA, **(site_data or {})},
        options={**SITE_OPTIONS, **(options or {})},
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
    loop = Loop(hass, site, entry, entity_chargers)
    # Serve a full first sample (every register) before the first read.
    site.step(loop.time_s, loop.dt_s, dict.fromkeys(entity_chargers, 0.0))
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
