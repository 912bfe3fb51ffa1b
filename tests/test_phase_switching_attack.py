"""Adversarial checks of phase switching's safety limits, through HA on the
simulated Alfen station (see test_phase_switching for the set-up)."""

from homeassistant.core import HomeAssistant

from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import alfen_charger, closed_loop
from .test_modes_loop import set_mode
from .test_phase_switching import (
    FAST,
    NOON,
    Load,
    memory,
    run_until,
    site_data,
    socket_phases,
)


async def test_a_reload_does_not_allow_a_fifth_switch_within_the_hour(
    hass: HomeAssistant,
) -> None:
    """Four switches, then the entry reloads (any options or charger change
    does this): the surplus still asks for one phase, and no fifth switch may
    come within the hour of the first (found by an attack: it came 370 s after)."""
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
        assert await hass.config_entries.async_reload(loop.entry.entry_id)
        await hass.async_block_till_done()
        loop.entry.runtime_data.balancer.clock = loop.now
        await set_mode(hass, "sun", "solar")
        load.exporting(2.5)
        while loop.time_s < times[0] + 3600.0 - 10.0:
            await loop.cycle()
            assert socket_phases(site) == 3, (
                f"a fifth switch {loop.time_s - times[0]:.0f} s after the first"
            )
