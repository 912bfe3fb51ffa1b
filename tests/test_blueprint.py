"""The blueprint that pauses a flexible load on low headroom, on a real site."""

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from .conftest import site_entry
from .test_init import setup

BLUEPRINT = Path(__file__).parent.parent / "blueprints/automation/stekker"
NAME = "pause_load_on_low_headroom.yaml"
HEADROOM = "sensor.office_available_charging_power"


def _install_blueprint(config_dir: str) -> None:
    """Where a user puts a blueprint: the config's blueprints folder."""
    target = Path(config_dir, "blueprints/automation/stekker")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT / NAME, target / NAME)


async def _site_with_boiler(hass: HomeAssistant) -> None:
    await hass.async_add_executor_job(_install_blueprint, hass.config.config_dir)
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"boiler": {"initial": True}}}
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "switch": [
                        {
                            "name": "Boiler",
                            "state": "{{ is_state('input_boolean.boiler', 'on') }}",
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": "input_boolean.boiler"},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": "input_boolean.boiler"},
                            },
                        }
                    ]
                }
            ]
        },
    )


class Grid:
    """The site's P1 meter, reporting every 5 s of time that the test moves on."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MockConfigEntry,
        freezer: FrozenDateTimeFactory,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.freezer = freezer

    async def run(self, kw: float, seconds: int) -> None:
        """Import ``kw`` for ``seconds``."""
        for _ in range(seconds // 5):
            self.freezer.tick(timedelta(seconds=5))
            self.hass.states.async_set(
                "sensor.p1_power", f"{kw * 1000:.0f}", {"unit_of_measurement": "W"}
            )
            for meter in self.entry.runtime_data.meters.values():
                await meter.async_refresh()
            async_fire_time_changed(self.hass)
            # Not async_block_till_done: a paused load's automation run waits
            # (wait_for_trigger) until the headroom returns, and would block it.
            for _ in range(20):
                await asyncio.sleep(0)


async def test_the_load_pauses_on_low_headroom_and_resumes_when_it_returns(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await _site_with_boiler(hass)
    hass.states.async_set("sensor.p1_power", "8000", {"unit_of_measurement": "W"})
    entry = site_entry(
        {"source": "sensors", "power_entity": "sensor.p1_power", "role": "grid"}
    )
    await setup(hass, entry)
    grid = Grid(hass, entry, freezer)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": f"stekker/{NAME}",
                    "input": {
                        "headroom_sensor": HEADROOM,
                        "load": "switch.boiler",
                        "off_below_kw": 1.0,
                        "on_above_kw": 4.0,
                        "off_delay": {"seconds": 30},
                        "on_delay": {"minutes": 5},
                    },
                }
            }
        },
    )
    # A power-only meter: the headroom assumes the worst phase split.
    await grid.run(8.0, 10)
    assert float(hass.states.get(HEADROOM).state) > 4.0
    assert hass.states.get("switch.boiler").state == "on"
    # A short dip below 1 kW is not long enough to pause.
    await grid.run(16.5, 20)
    await grid.run(8.0, 10)
    assert hass.states.get("switch.boiler").state == "on"
    # Low for longer than 30 s: paused.
    await grid.run(16.5, 40)
    assert float(hass.states.get(HEADROOM).state) < 1.0
    assert hass.states.get("switch.boiler").state == "off"
    # Back between the thresholds: stays paused.
    await grid.run(15.5, 400)
    assert 1.0 < float(hass.states.get(HEADROOM).state) < 4.0
    assert hass.states.get("switch.boiler").state == "off"
    # Above 4 kW, but not yet for 5 minutes: still paused; then resumed.
    await grid.run(8.0, 240)
    assert hass.states.get("switch.boiler").state == "off"
    await grid.run(8.0, 90)
    assert hass.states.get("switch.boiler").state == "on"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_load_the_user_switched_off_stays_off(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The blueprint resumes only what it paused."""
    await _site_with_boiler(hass)
    hass.states.async_set("sensor.p1_power", "8000", {"unit_of_measurement": "W"})
    entry = site_entry(
        {"source": "sensors", "power_entity": "sensor.p1_power", "role": "grid"}
    )
    await setup(hass, entry)
    grid = Grid(hass, entry, freezer)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": f"stekker/{NAME}",
                    "input": {"headroom_sensor": HEADROOM, "load": "switch.boiler"},
                }
            }
        },
    )
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.boiler"}, blocking=True
    )
    await grid.run(16.5, 60)
    await grid.run(8.0, 400)
    assert hass.states.get("switch.boiler").state == "off"
    await hass.config_entries.async_unload(entry.entry_id)
