"""Closed loop: the real integration keeps a simulated site under its limits."""

import asyncio

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.meter import DATA_HUB
from custom_components.stekker.modbus.transport import ModbusHub
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import Loop, alfen_charger, closed_loop, entity_charger

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


def two_charger_site() -> SimulatedSite:
    """An Alfen socket and a number-entity charger; the building steps up at 12:01."""
    return SimulatedSite(
        StepLoad(1150.0, 4600.0, 12 * 3600.0 + 60),
        {
            "Alfen": Car("Alfen car", max_a=16.0),
            "Wallbox": Car("Wallbox car", max_a=16.0, lag_cycles=2),
        },
        alfen_sockets=1,
        start_s=12 * 3600.0,
    )


TWO_CHARGERS = {"Alfen": alfen_charger(1), "Wallbox": entity_charger("Wallbox")}


def over_limit_run(site: SimulatedSite) -> int:
    return site.longest_run_above(phase_a=FUSE_A, power_w=GTV_KW * 1000.0)


async def test_overload_step_is_corrected_within_two_cycles(
    hass: HomeAssistant,
) -> None:
    site = two_charger_site()
    async with closed_loop(
        hass, site, TWO_CHARGERS, site_data=SITE, options=FAST
    ) as loop:
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


async def run_overload_two_chargers(hass: HomeAssistant) -> int:
    """Building jumps with an Alfen socket and a number-entity charger at 16 A."""
    site = two_charger_site()
    async with closed_loop(
        hass, site, TWO_CHARGERS, site_data=SITE, options=FAST
    ) as loop:
        await loop.cycle(75)
    return over_limit_run(site)


SIX = {f"Car {i}": ("l1", "l2", "l3")[i % 3] for i in range(6)}


def six_one_phase_site(load: StepLoad, **car: float) -> SimulatedSite:
    return SimulatedSite(
        load,
        {name: Car(name, phases=1, phase=phase, **car) for name, phase in SIX.items()},  # type: ignore[arg-type]
        start_s=12 * 3600.0,
    )


def six_chargers() -> dict[str, dict[str, object]]:
    return {
        name: entity_charger(name, phases=1, phase=phase) for name, phase in SIX.items()
    }


async def run_overload_one_phase(hass: HomeAssistant) -> int:
    """Six single-phase cars; L1's building load jumps by 15 A."""

    class L1Step(StepLoad):
        def __call__(self, seconds: float) -> tuple[float, float, float]:
            return (super().__call__(seconds)[0], self.low, self.low)

    site = six_one_phase_site(L1Step(1150.0, 4600.0, 12 * 3600.0 + 60))
    async with closed_loop(
        hass, site, six_chargers(), site_data=SITE, options=FAST
    ) as loop:
        await loop.cycle(80)
    return over_limit_run(site)


async def test_overload_two_chargers_corrected_within_two_cycles(
    hass: HomeAssistant,
) -> None:
    assert 1 <= await run_overload_two_chargers(hass) <= 2


async def test_overload_one_phase_corrected_within_two_cycles(
    hass: HomeAssistant,
) -> None:
    assert 1 <= await run_overload_one_phase(hass) <= 2


async def test_six_single_phase_chargers_share_fairly_and_take_turns(
    hass: HomeAssistant,
) -> None:
    """Room for one 6 A car per phase only: the two cars of each phase take turns."""
    site = six_one_phase_site(StepLoad(6900.0, 6900.0, 0.0), battery_kwh=500.0)
    async with closed_loop(
        hass, site, six_chargers(), site_data=SITE, options={**FAST, "rotation_s": 60.0}
    ) as loop:
        await loop.cycle(400)
        assert over_limit_run(site) == 0
        charged = {
            name: sum(1 for s in site.history if s.setpoints_a[name] >= 6.0)
            for name in SIX
        }
        # Every car charged for a fair part of the time: nobody starves.
        assert min(charged.values()) >= 100, charged
        states = {
            hass.states.get(
                f"sensor.{name.lower().replace(' ', '_')}_balancing_state"
            ).state
            for name in SIX
        }
        assert "waiting_for_turn" in states


async def test_plenty_of_room_is_shared_equally(hass: HomeAssistant) -> None:
    site = six_one_phase_site(StepLoad(1150.0, 1150.0, 0.0), max_a=32.0)
    async with closed_loop(
        hass,
        site,
        {n: {**d, "max_a": 32.0} for n, d in six_chargers().items()},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(60)
        last = site.history[-1].setpoints_a
        # 40 A fuse - 5 A building - 0.7 A margin per phase, two cars a phase.
        for name in SIX:
            assert 15.0 <= last[name] <= 17.2, last
        assert over_limit_run(site) == 0


async def test_full_car_gives_its_share_back(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        StepLoad(4600.0, 4600.0, 0.0),
        {"A": Car("full", soc=1.0, target_soc=1.0), "B": Car("hungry")},
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"A": entity_charger("A"), "B": entity_charger("B")},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(60)
        last = site.history[-1].setpoints_a
        # 40 - 20 - 0.7 A: without the full car's share B would get half.
        assert last["B"] >= 12.0
        assert last["A"] <= 8.0


async def test_meter_dropout_fail_safe_and_recovery(hass: HomeAssistant) -> None:
    hass.data[DATA_HUB] = ModbusHub(timeout=0.5, backoff_initial=0.01, backoff_max=0.05)
    site = SimulatedSite(
        StepLoad(1150.0, 1150.0, 0.0),
        {"A": Car("a"), "B": Car("b")},
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"A": entity_charger("A"), "B": entity_charger("B", fail_safe_a=0.0)},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(30)
        assert site.history[-1].setpoints_a["A"] == 16.0
        await site.meter.stop()
        await loop.cycle(2)
        # A reading or two missing: hold.
        assert site.history[-1].setpoints_a["A"] == 16.0
        assert not ir.async_get(hass).async_get_issue(
            DOMAIN, f"{loop.entry.entry_id}_meter_stale"
        )
        await loop.cycle(3)
        last = site.history[-1].setpoints_a
        assert last == {"A": 6.0, "B": 0.0}
        assert ir.async_get(hass).async_get_issue(
            DOMAIN, f"{loop.entry.entry_id}_meter_stale"
        )
        assert hass.states.get("binary_sensor.office_balancing_problem").state == "on"
        assert hass.states.get("sensor.a_balancing_state").state == "fail_safe"
        await site.meter.start()
        for _ in range(30):
            await asyncio.sleep(0.02)
            await loop.cycle()
        assert not ir.async_get(hass).async_get_issue(
            DOMAIN, f"{loop.entry.entry_id}_meter_stale"
        )
        assert hass.states.get("binary_sensor.office_balancing_problem").state == "off"
        assert site.history[-1].setpoints_a["A"] > 6.0


async def test_unavailable_charger_counts_at_its_maximum(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        StepLoad(2300.0, 2300.0, 0.0),
        {"A": Car("a"), "B": Car("b")},
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"A": entity_charger("A"), "B": entity_charger("B")},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(30)
        hass.states.async_set("number.a_max_current", STATE_UNAVAILABLE)
        await loop.cycle(20)
        # 40 - 10 - 0.7 A minus A's 16 A reserved leaves B 13 A at most.
        # A's real draw stays in the grid reading and its 16 A maximum is reserved
        # on top (its draw is unknown): 40 - 10 - 16 - 0.7 - 16 < 6, so B pauses.
        assert site.history[-1].setpoints_a["B"] == 0.0
        issue = ir.async_get(hass).async_get_issue(
            DOMAIN, f"{loop.entry.entry_id}_charger_unavailable_{charger_id(loop, 'A')}"
        )
        assert issue is not None
        assert issue.translation_placeholders == {"charger": "A"}
        assert hass.states.get("sensor.a_balancing_state").state == "fault"
        assert over_limit_run(site) == 0


def charger_id(loop: Loop, title: str) -> str:
    return next(
        s.subentry_id for s in loop.entry.subentries.values() if s.title == title
    )


async def test_restart_keeps_cars_charging(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        StepLoad(1150.0, 1150.0, 0.0),
        {"Alfen": Car("a")},
        alfen_sockets=1,
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"Alfen": alfen_charger(1)},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(30)
        assert site.history[-1].setpoints_a["Alfen"] == 16.0
        assert await hass.config_entries.async_reload(loop.entry.entry_id)
        await hass.async_block_till_done()
        loop.entry.runtime_data.balancer.clock = loop.now
        await loop.cycle(3)
        # The new balancer starts from what the charger has, not from a pause.
        assert all(s.setpoints_a["Alfen"] == 16.0 for s in site.history[-3:])


async def test_balancing_switch_and_max_current_override(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        StepLoad(1150.0, 1150.0, 0.0),
        {"A": Car("a"), "B": Car("b")},
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"A": entity_charger("A"), "B": entity_charger("B")},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(20)
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.a_maximum_current", "value": 10},
            blocking=True,
        )
        await loop.cycle(5)
        assert site.history[-1].setpoints_a["A"] == 10.0
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.b_balancing"}, blocking=True
        )
        await loop.cycle(5)
        assert hass.states.get("sensor.b_balancing_state").state == "disabled"
        assert hass.states.get("switch.b_balancing").state == "off"
        # The user drives B now: Stekker writes nothing to it, whatever happens.
        hass.states.async_set(
            "number.b_max_current",
            "13.0",
            {"unit_of_measurement": "A", "min": 0, "max": 32, "step": 1},
        )
        await loop.cycle(30)
        assert hass.states.get("number.b_max_current").state == "13.0"
        # A gets what is left after B's 16 A maximum: still its 10 A override.
        assert site.history[-1].setpoints_a["A"] == 10.0
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": "switch.b_balancing"}, blocking=True
        )
        await loop.cycle(30)
        assert hass.states.get("switch.b_balancing").state == "on"
        assert site.history[-1].setpoints_a["B"] == 16.0


async def test_diagnostics_explain_the_allocation(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        StepLoad(1150.0, 1150.0, 0.0),
        {"Alfen": Car("a")},
        alfen_sockets=1,
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"Alfen": alfen_charger(1)},
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle(10)
        diagnostics = await async_get_config_entry_diagnostics(hass, loop.entry)
        (charger,) = diagnostics["balancer"]["chargers"]
        assert charger["config"]["host"] == "**REDACTED**"
        assert charger["state"] in {"charging", "limited"}
        assert charger["why"]
        assert charger["setpoint_a"] > 0
        assert diagnostics["balancer"]["state"]["fail_safe"] is False


async def test_fallbacks_that_exceed_the_fuse_raise_a_repair_issue(
    hass: HomeAssistant,
) -> None:
    """Three 16 A fail-safe chargers on one phase of a 40 A fuse: 48 A would not fit."""
    chargers = {
        name: entity_charger(name, phases=1, phase="l1", fail_safe_a=16.0)
        for name in ("A", "B", "C")
    }
    site = SimulatedSite(
        StepLoad(0.0, 0.0, 0.0),
        {name: Car(name, phases=1) for name in chargers},
        start_s=12 * 3600.0,
    )
    async with closed_loop(hass, site, chargers, site_data=SITE, options=FAST) as loop:
        await loop.cycle()
        issue = ir.async_get(hass).async_get_issue(
            DOMAIN, f"{loop.entry.entry_id}_fallback_too_high"
        )
        assert issue is not None
        assert issue.translation_placeholders["current"] == "48"


async def test_alfen_safe_current_counts_as_fallback(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        StepLoad(0.0, 0.0, 0.0),
        {"Left": Car("l"), "Right": Car("r")},
        alfen_sockets=2,
        safe_current_a=20.0,
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {
            "Left": alfen_charger(1, fail_safe_a=0.0),
            "Right": alfen_charger(2, fail_safe_a=0.0),
        },
        site_data=SITE,
        options=FAST,
    ) as loop:
        await loop.cycle()
        issue = ir.async_get(hass).async_get_issue(
            DOMAIN, f"{loop.entry.entry_id}_fallback_too_high"
        )
        assert issue is not None
        assert issue.translation_placeholders["current"] == "40"


async def test_charger_that_refuses_writes_counts_at_its_maximum(
    hass: HomeAssistant,
) -> None:
    """Its state still reads 16 A, but no write gets through: never trust it."""
    site = SimulatedSite(
        StepLoad(1150.0, 4600.0, 12 * 3600.0 + 40),
        {"A": Car("a"), "B": Car("b")},
        start_s=12 * 3600.0,
    )
    async with closed_loop(
        hass,
        site,
        {"A": entity_charger("A"), "B": entity_charger("B")},
        site_data=SITE,
        options=FAST,
        broken=frozenset({"a"}),
    ) as loop:
        await loop.cycle(70)
        # A keeps drawing 16 A; B gets at most what is left with A at its maximum.
        last = site.history[-1]
        assert last.setpoints_a["A"] == 16.0
        assert last.setpoints_a["B"] <= 40 - 20 - 16
        assert max(last.currents_a.values()) <= FUSE_A
        assert over_limit_run(site) <= 2
        issue_id = f"{loop.entry.entry_id}_charger_unavailable_{charger_id(loop, 'A')}"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
        assert hass.states.get("sensor.a_balancing_state").state == "fault"
        await hass.config_entries.async_unload(loop.entry.entry_id)
        # Nothing watches an unloaded site: its repair issues go with it.
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_an_unexpected_error_in_a_cycle_is_a_visible_problem(
    hass: HomeAssistant,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in a cycle (injected here) sends the chargers to fail-safe, visibly."""
    site = SimulatedSite(
        StepLoad(1150.0, 1150.0, 0.0), {"A": Car("a")}, start_s=12 * 3600.0
    )
    async with closed_loop(
        hass, site, {"A": entity_charger("A")}, site_data=SITE, options=FAST
    ) as loop:
        await loop.cycle(10)
        assert site.history[-1].setpoints_a["A"] == 16.0
        assert hass.states.get("binary_sensor.office_balancing_problem").state == "off"

        def bug(*_: object) -> None:
            raise RuntimeError("injected bug")

        monkeypatch.setattr("custom_components.stekker.balancer.decide", bug)
        await loop.cycle()
        problem = hass.states.get("binary_sensor.office_balancing_problem")
        assert problem.state == "on"
        assert "balancing cycle failed" in problem.attributes["problems"][0]
        assert "Balancing cycle failed; chargers go to fail-safe" in caplog.text
        await loop.cycle()
        assert site.history[-1].setpoints_a["A"] == 6.0  # its fail-safe current
        # The number entity itself breaks too: the fail-safe write says so.
        hass.states.async_set(
            "number.a_max_current",
            "16",
            {"unit_of_measurement": "A", "min": 0, "max": 32, "step": "fine"},
        )
        await loop.cycle()
        assert "Cannot set A to fail-safe" in caplog.text


async def test_alfen_that_ignores_modbus_setpoints_raises_a_repair(
    hass: HomeAssistant,
) -> None:
    """Register 1214 = 0 with a live setpoint: SCN mode or writing not allowed.

    Stekker does not steer it blind: it is counted at its maximum and a repair
    says why, and stays while the station keeps ignoring setpoints (also
    across validity times), until the station applies one again.
    """
    site = SimulatedSite(
        StepLoad(1150.0, 1150.0, 0.0),
        {"Alfen": Car("alfen car", max_a=16.0), "Wallbox": Car("w", max_a=16.0)},
        alfen_sockets=1,
        start_s=12 * 3600.0,
    )
    site.modbus_ignored.add("Alfen")
    async with closed_loop(
        hass, site, TWO_CHARGERS, site_data=SITE, options=FAST
    ) as loop:
        alfen = charger_id(loop, "Alfen")
        registry = ir.async_get(hass)
        ignored = f"{loop.entry.entry_id}_charger_ignores_setpoints_{alfen}"
        unavailable = f"{loop.entry.entry_id}_charger_unavailable_{alfen}"
        seen = []
        for _ in range(150):  # more than two validity times of 60 s
            await loop.cycle()
            if loop.cycles > 5:
                seen.append(registry.async_get_issue(DOMAIN, ignored) is not None)
            assert registry.async_get_issue(DOMAIN, unavailable) is None
        assert all(seen)
        issue = registry.async_get_issue(DOMAIN, ignored)
        assert issue is not None
        assert issue.translation_key == "charger_ignores_setpoints"
        assert issue.translation_placeholders == {"charger": "Alfen"}
        # Counted at its maximum: the wallbox never gets what the Alfen may take.
        assert over_limit_run(site) == 0

        site.modbus_ignored.clear()  # the installer fixes the station
        await loop.cycle(90)
        assert registry.async_get_issue(DOMAIN, ignored) is None
        assert site.history[-1].setpoints_a["Alfen"] >= 6.0
