"""What a site costs the recorder: state changes written per minute.

A site with one SDM630 and two chargers, at the defaults (1 s control cycle),
with the office load's ripple of a few per cent a minute. The control cycle
still runs every second; only what is recorded is thinned.
"""

import pytest
from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.history import get_significant_states
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from simsite.cars import Car
from simsite.load import BuildingLoad
from simsite.site import SimulatedSite

from .closed_loop import closed_loop, entity_charger


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None, socket_enabled: None
) -> None:
    """The recorder must be there before Home Assistant starts."""


async def test_a_site_writes_fewer_than_60_state_changes_a_minute(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    cars = {"A": Car("a"), "B": Car("b")}
    site = SimulatedSite(BuildingLoad(), cars, start_s=12 * 3600.0)
    chargers = {"A": entity_charger("A"), "B": entity_charger("B")}
    async with closed_loop(
        hass, site, chargers, site_data={"gtv_kw": 50.0, "phases": 3, "fuse_a": 80.0}
    ) as loop:
        await loop.cycle(120)
        await async_wait_recording_done(hass)
        start = dt_util.utcnow()
        await loop.cycle(60)
        await async_wait_recording_done(hass)
        ours = [
            e.entity_id
            for e in er.async_entries_for_config_entry(
                er.async_get(hass), loop.entry.entry_id
            )
        ]
        states = await get_instance(hass).async_add_executor_job(
            get_significant_states, hass, start, None, ours, None, False, False
        )
        changes = {entity_id: len(rows) for entity_id, rows in states.items()}
        total = sum(changes.values())
        print(f"recorded state changes in 60 s: {total} over {len(changes)} entities")
        assert total < 60, changes
        # An energy counter is written once a minute, a moving power when it moves.
        assert changes["sensor.grid_meter_energy_imported"] <= 1
        assert changes["sensor.grid_meter_power"] >= 1
        # The site is really balanced meanwhile: both cars charge.
        assert min(site.history[-1].draws_a.values()) > 0.0
