"""Closed loop: the real integration keeps a simulated site under its limits."""

import pytest
from homeassistant.core import HomeAssistant

from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import alfen_charger, entity_charger, start_loop

FUSE_A = 40.0
GTV_KW = 27.0
SITE = {"gtv_kw": GTV_KW, "phases": 3, "fuse_a": FUSE_A, "voltage_v": 230.0}
FAST = {
    "hysteresis_s": 2.0,
    "min_write_interval_s": 2.0,
    "ramp_step_a": 4.0,
    "margin_kw": 0.5,
}


class StepLoad:
    """A building that jumps from `low` to `high` W per phase at `at_s`."""

    def __init__(self, low: float, high: float, at_s: float) -> None:
        self.low, self.high, self.at_s = low, high, at_s

    def __call__(self, seconds: float) -> tuple[float, float, float]:
        watts = self.high if seconds >= self.at_s else self.low
        return (watts, watts, watts)


@pytest.fixture
async def two_charger_site() -> SimulatedSite:
    load = StepLoad(1150.0, 4600.0, 12 * 3600.0 + 60)
    site = SimulatedSite(
        load,
        {
            "Alfen": Car("Alfen car", max_a=16.0),
            "Wallbox": Car("Wallbox car", max_a=16.0, lag_cycles=2),
        },
        alfen_sockets=1,
        start_s=12 * 3600.0,
    )
    await site.start()
    yield site
    await site.stop()


def over_limit_run(site: SimulatedSite) -> int:
    return site.longest_run_above(phase_a=FUSE_A, power_w=GTV_KW * 1000.0)


async def test_overload_step_is_corrected_within_two_cycles(
    hass: HomeAssistant, two_charger_site: SimulatedSite
) -> None:
    site = two_charger_site
    loop = await start_loop(
        hass,
        site,
        {
            "Alfen": alfen_charger(site.charger_port, 1),
            "Wallbox": entity_charger("Wallbox"),
        },
        site_data=SITE,
        options=FAST,
    )
    await loop.cycle(55)
    # Settled: building 5 A per phase leaves room for both at their 16 A.
    setpoints = site.history[-1].setpoints_a
    assert setpoints["Alfen"] == pytest.approx(16.0)
    assert setpoints["Wallbox"] == pytest.approx(16.0)
    assert over_limit_run(site) == 0
    # The building jumps to 20 A per phase: 20 + 32 > 40 A.
    await loop.cycle(20)
    # The jump overloads for a moment (the cars still draw what they had) ...
    assert 1 <= over_limit_run(site) <= 2
    after = site.history[-1]
    assert max(after.currents_a.values()) <= FUSE_A
    assert after.setpoints_a["Alfen"] + after.setpoints_a["Wallbox"] <= FUSE_A - 20
    # Fair: equal chargers get equal shares.
    assert after.setpoints_a["Alfen"] == pytest.approx(
        after.setpoints_a["Wallbox"], abs=1.0
    )
    await hass.config_entries.async_unload(loop.entry.entry_id)
