"""One control decision: fail-safe when stale, hold when missing, allocate when fresh."""

from dataclasses import replace

import pytest

from custom_components.stekker.engine.accounting import (
    ChargerObservation,
    SetpointLog,
    account,
)
from custom_components.stekker.engine.allocator import (
    AllocatorConfig,
    AllocatorMemory,
    ChargerMemory,
)
from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.engine.control import (
    ChargerInput,
    Mode,
    State,
    decide,
)
from custom_components.stekker.engine.headroom import Headroom

NOW = 1000.0
# Outputs follow targets at once, so a case shows the room, not the ramp.
DIRECT = AllocatorConfig(hysteresis_s=0.0, min_write_interval_s=0.0, ramp_step_a=100.0)


def headroom(
    l1: float, l2: float, l3: float, kw: float, volts: float = 230.0
) -> Headroom:
    return Headroom(
        grid_kw=0.0,
        building_load_kw=0.0,
        building_net_kw=0.0,
        solar_kw=None,
        charger_kw=0.0,
        available_kw=kw,
        available_a={"l1": l1, "l2": l2, "l3": l3},
        utilisation_pct=0.0,
        phase_currents_measured=True,
        voltage_v=volts,
    )


def charger(
    spec: ChargerSpec,
    *,
    steered: bool = True,
    enabled: bool = True,
    readable: bool = True,
    connected: bool | None = True,
    setpoint: float | None = None,
    device: float | None = None,
    measured: float | None = None,
    wanted: float | None = None,
    fail_safe: float = 6.0,
) -> ChargerInput:
    """An input with its account worked out as the balancer does."""
    log = SetpointLog() if setpoint is None else SetpointLog().written(setpoint, 0.0)
    acc = account(
        ChargerObservation(
            spec=spec,
            steered=steered,
            log=log,
            device_setpoint_a=device,
            measured_a=None
            if measured is None
            else dict.fromkeys(spec.loaded_phases, measured),
            measured_at=None if measured is None else NOW,
        ),
        NOW,
    )
    return ChargerInput(
        spec=spec,
        account=acc,
        enabled=enabled,
        readable=readable,
        connected=connected,
        measured_a=measured,
        setpoint_a=setpoint,
        device_setpoint_a=device,
        wanted_a=wanted,
        fail_safe_a=fail_safe,
    )


A3 = ChargerSpec("a", 3, max_a=32.0)
B1 = ChargerSpec("b", 1, "l1", max_a=16.0)
C1 = ChargerSpec("c", 1, "l2", max_a=16.0)


# --- stale: fail-safe ----------------------------------------------------------------


def test_stale_sends_every_charger_to_its_fail_safe() -> None:
    memory = AllocatorMemory({"a": ChargerMemory(setpoint_a=20.0)})
    inputs = [
        charger(A3, setpoint=20.0, fail_safe=10.0),
        charger(B1, enabled=False, steered=False, fail_safe=8.0),
    ]
    decision = decide(inputs, None, True, memory, NOW, DIRECT)
    assert decision.mode is Mode.FAIL_SAFE
    assert decision.targets == {"a": 10.0, "b": 8.0}
    assert decision.states == {"a": State.FAIL_SAFE, "b": State.DISABLED}
    assert decision.memory == AllocatorMemory()  # a fresh start afterwards


def test_fail_safe_is_capped_by_a_lowered_maximum() -> None:
    """Issue 11.13: fail-safe 16 A, the user lowered the maximum to 10 A."""
    lowered = replace(A3, max_a=10.0)
    decision = decide(
        [charger(lowered, setpoint=10.0, fail_safe=16.0)],
        None,
        True,
        AllocatorMemory(),
        NOW,
        DIRECT,
    )
    assert decision.targets == {"a": 10.0}


def test_fail_safe_of_a_charger_that_cannot_pause_is_at_least_its_minimum() -> None:
    """Fail-safe 0 A on a charger whose control cannot go below 8 A: 8 A."""
    stuck = ChargerSpec("a", 3, min_a=8.0, max_a=32.0, can_pause=False)
    decision = decide(
        [charger(stuck, setpoint=10.0, fail_safe=0.0)],
        None,
        True,
        AllocatorMemory(),
        NOW,
        DIRECT,
    )
    assert decision.targets == {"a": 8.0}


# --- missing, not yet stale: hold -----------------------------------------------------


def test_hold_keeps_setpoints_and_memory() -> None:
    memory = AllocatorMemory({"a": ChargerMemory(setpoint_a=20.0)})
    inputs = [
        charger(A3, setpoint=20.0, wanted=25.0),
        charger(B1, setpoint=8.0),
        charger(C1),  # never written
    ]
    decision = decide(inputs, None, False, memory, NOW, DIRECT)
    assert decision.mode is Mode.HOLD
    assert decision.targets == {"a": 20.0, "b": 8.0, "c": None}
    assert decision.memory is memory


def test_hold_never_raises_and_applies_a_lowered_maximum() -> None:
    lowered = replace(A3, max_a=12.0)
    decision = decide(
        [charger(lowered, setpoint=20.0, wanted=32.0, device=20.0)],
        None,
        False,
        AllocatorMemory(),
        NOW,
        DIRECT,
    )
    assert decision.targets == {"a": 12.0}


# --- fresh: allocate -------------------------------------------------------------------


def test_allocate_shares_the_room() -> None:
    decision = decide(
        [charger(A3, setpoint=6.0), charger(B1, setpoint=6.0)],
        headroom(30.0, 40.0, 40.0, 100.0),
        False,
        AllocatorMemory(),
        NOW,
        DIRECT,
    )
    assert decision.mode is Mode.ALLOCATE
    # L1 holds 30 A for both: water-filled 15 A each.
    assert decision.targets == {"a": pytest.approx(15.0), "b": pytest.approx(15.0)}


def test_reserve_of_an_unsteered_charger_comes_off_its_phases() -> None:
    """B (1-phase, L1) balancing off at 16 A: A gets L1's 30 A less 16 A."""
    inputs = [
        charger(A3, setpoint=6.0),
        charger(B1, steered=False, enabled=False, setpoint=16.0),
    ]
    decision = decide(
        inputs, headroom(30.0, 40.0, 40.0, 100.0), False, AllocatorMemory(), NOW, DIRECT
    )
    assert inputs[1].account.reserve_a == 16.0
    assert decision.targets["a"] == pytest.approx(14.0)
    assert decision.targets["b"] is None
    assert decision.states["b"] == State.DISABLED


def test_reserve_of_an_unsteered_charger_comes_off_the_kw_room() -> None:
    """Phases ample; kW: B's 16 A at 250 V (4 kW) plus 10 A x 3 for A (7.5 kW)."""
    inputs = [
        charger(A3, setpoint=6.0),
        charger(B1, steered=False, enabled=False),
    ]
    room = headroom(80.0, 80.0, 80.0, 4.0 + 7.5, volts=250.0)
    decision = decide(inputs, room, False, AllocatorMemory(), NOW, DIRECT)
    assert decision.targets["a"] == pytest.approx(10.0)


def test_reserve_larger_than_the_room_leaves_nothing_not_a_negative() -> None:
    hog = ChargerSpec("b", 3, max_a=32.0)
    inputs = [charger(A3, setpoint=6.0), charger(hog, steered=False, enabled=False)]
    decision = decide(
        inputs, headroom(20.0, 20.0, 20.0, 50.0), False, AllocatorMemory(), NOW, DIRECT
    )
    assert decision.targets["a"] == 0.0


def test_a_disobeying_charger_is_reserved_and_told_again() -> None:
    """Written 10 A, the device says 20 A: reserved at 20 A, told 10 A again."""
    inputs = [
        charger(A3, setpoint=6.0),
        charger(B1, setpoint=10.0, device=20.0, wanted=10.0),
    ]
    assert not inputs[1].account.obeying
    decision = decide(
        inputs, headroom(30.0, 40.0, 40.0, 100.0), False, AllocatorMemory(), NOW, DIRECT
    )
    assert decision.targets == {"a": pytest.approx(10.0), "b": 10.0}
    assert decision.states["b"] == State.FAULT
    assert "not obeying" in decision.why["b"]


def test_a_charger_left_out_keeps_its_memory() -> None:
    """Issue 11.8: a charger unsteered for a cycle does not restart its turn."""
    mine = ChargerMemory(setpoint_a=10.0, running_since=100.0, raised_at=500.0)
    memory = AllocatorMemory({"b": mine})
    inputs = [charger(A3, setpoint=6.0), charger(B1, steered=False, setpoint=10.0)]
    decision = decide(
        inputs, headroom(40.0, 40.0, 40.0, 100.0), False, memory, NOW, DIRECT
    )
    assert decision.memory.chargers["b"] == mine
    assert "a" in decision.memory.chargers
    # Steered again next cycle: its run still dates from t=100.
    back = decide(
        [charger(A3, setpoint=6.0), charger(B1, setpoint=10.0)],
        headroom(40.0, 40.0, 40.0, 100.0),
        False,
        decision.memory,
        NOW + 1.0,
        DIRECT,
    )
    assert back.memory.chargers["b"].running_since == 100.0


@pytest.mark.parametrize(
    ("device", "measured", "expected"),
    [(16.0, None, 16.0), (None, 12.0, 12.0), (16.0, 11.0, 16.0), (40.0, None, 32.0)],
)
def test_after_a_restart_a_running_car_is_not_paused(
    device: float | None, measured: float | None, expected: float
) -> None:
    """Issue 11.18: empty memory, the car runs: it goes on (default hysteresis)."""
    config = AllocatorConfig()
    decision = decide(
        [charger(A3, device=device, measured=measured)],
        headroom(40.0, 40.0, 40.0, 100.0),
        False,
        AllocatorMemory(),
        NOW,
        config,
    )
    assert decision.targets["a"] == pytest.approx(expected)
    assert decision.memory.chargers["a"].setpoint_a == pytest.approx(expected)


def test_after_a_restart_an_idle_charger_starts_with_hysteresis() -> None:
    """Device set below the minimum and nothing drawn: no seed, start as usual."""
    decision = decide(
        [charger(A3, device=0.0, measured=0.5)],
        headroom(40.0, 40.0, 40.0, 100.0),
        False,
        AllocatorMemory(),
        NOW,
        AllocatorConfig(),
    )
    assert decision.targets["a"] == 0.0


def test_seed_never_overrides_memory() -> None:
    """Remembered 6 A; the device reports 8 A (so would the seed): memory wins."""
    memory = AllocatorMemory({"a": ChargerMemory(setpoint_a=6.0, running_since=0.0)})
    decision = decide(
        [charger(A3, setpoint=8.0, device=8.0)],
        headroom(40.0, 40.0, 40.0, 100.0),
        False,
        memory,
        NOW,
        AllocatorConfig(),
    )
    # No hysteresis waited yet: it stays at 6 A rather than jumping to 8 A.
    assert decision.targets["a"] == 6.0
    assert decision.memory.chargers["a"].running_since == 0.0


def test_an_unsteered_readable_charger_is_told_no_more_than_its_last_setpoint() -> None:
    unreadable_spec = ChargerSpec("d", 1, "l3")
    inputs = [
        charger(B1, steered=False, setpoint=10.0, wanted=16.0),
        charger(C1, steered=False, setpoint=12.0, wanted=8.0),
        charger(
            unreadable_spec, steered=False, readable=False, setpoint=10.0, wanted=10.0
        ),
        charger(A3, steered=False, setpoint=None, wanted=None),
    ]
    decision = decide(
        inputs, headroom(80.0, 80.0, 80.0, 100.0), False, AllocatorMemory(), NOW, DIRECT
    )
    assert decision.targets == {"b": 10.0, "c": 8.0, "d": None, "a": None}
    assert set(decision.states.values()) == {State.FAULT}


def test_unsteered_without_a_setpoint_is_told_what_it_was_meant_to_have() -> None:
    inputs = [charger(B1, steered=False, setpoint=None, wanted=9.0)]
    decision = decide(
        inputs, headroom(80.0, 80.0, 80.0, 100.0), False, AllocatorMemory(), NOW, DIRECT
    )
    assert decision.targets == {"b": 9.0}


def test_an_unknown_connection_counts_as_connected() -> None:
    decision = decide(
        [charger(B1, connected=None, setpoint=6.0)],
        headroom(20.0, 0.0, 0.0, 100.0),
        False,
        AllocatorMemory(),
        NOW,
        DIRECT,
    )
    assert decision.targets["b"] == pytest.approx(16.0)
    gone = decide(
        [charger(B1, connected=False, setpoint=6.0)],
        headroom(20.0, 0.0, 0.0, 100.0),
        False,
        AllocatorMemory(),
        NOW,
        DIRECT,
    )
    assert gone.targets["b"] == 0.0
