"""Charging modes: ceilings worked out by hand, and that they only ever lower."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.stekker.engine.allocator import AllocatorMemory
from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.engine.control import Mode, decide
from custom_components.stekker.engine.modes import (
    Ceiling,
    ChargeMode,
    ModeCharger,
    ModeLimit,
    ModeMemory,
    SlotPlan,
    SolarConfig,
    mode_ceilings,
    running_at_start,
)
from custom_components.stekker.engine.site import PHASES

from .test_control import DIRECT, NOW, charger, headroom

V = 230.0
A3 = ChargerSpec("a", 3, max_a=16.0)
B1 = ChargerSpec("b", 1, "l2", max_a=32.0)
# 6 A on three phases at 230 V: 4.14 kW; on one phase 1.38 kW.
MIN3_KW = 6 * 3 * V / 1000
MIN1_KW = 6 * V / 1000


def run(
    chargers: list[ModeCharger],
    grid_kw: float | None,
    memory: dict[str, ModeMemory] | None = None,
    now: float = NOW,
) -> tuple[dict[str, Ceiling], dict[str, ModeMemory]]:
    out = mode_ceilings(chargers, grid_kw, V, memory or {}, now, SolarConfig(60, 120))
    return out.ceilings, out.memory


# --- off, fast ------------------------------------------------------------------------


def test_off_pauses_and_fast_has_no_ceiling() -> None:
    ceilings, memory = run(
        [ModeCharger(A3, ChargeMode.OFF), ModeCharger(B1, ChargeMode.FAST)], 0.0
    )
    assert ceilings == {"a": Ceiling(0.0, ModeLimit.MODE, "mode off")}
    assert memory == {"a": ModeMemory(), "b": ModeMemory()}


# --- solar ----------------------------------------------------------------------------


def test_solar_starts_only_after_the_surplus_lasted_start_s() -> None:
    car = ModeCharger(A3, ChargeMode.SOLAR)
    # Exporting 5 kW: enough for 6 A on three phases (4.14 kW), not yet for long.
    ceilings, memory = run([car], -5.0)
    assert ceilings["a"].amps == 0.0
    assert ceilings["a"].limit is ModeLimit.SOLAR
    assert memory["a"] == ModeMemory(solar_on=False, solar_since=NOW)
    ceilings, memory = run([car], -5.0, memory, NOW + 59)
    assert ceilings["a"].amps == 0.0
    ceilings, memory = run([car], -5.0, memory, NOW + 60)
    # On: all 5 kW surplus, 5000 / (3 * 230) = 7.25 A.
    assert ceilings["a"].amps == pytest.approx(5000 / 690)
    assert memory["a"] == ModeMemory(solar_on=True)


def test_solar_surplus_counts_the_cars_own_draw_and_stops_after_stop_s() -> None:
    on = {"a": ModeMemory(solar_on=True)}
    # Drawing 5 kW, exporting 1 kW: the surplus is 6 kW, 8.70 A.
    ceilings, memory = run([ModeCharger(A3, ChargeMode.SOLAR, draw_kw=5.0)], -1.0, on)
    assert ceilings["a"].amps == pytest.approx(6000 / 690)
    # A cloud: importing 2 kW while drawing 4.14: surplus 2.14 < 4.14 kW.
    cloudy = ModeCharger(A3, ChargeMode.SOLAR, draw_kw=MIN3_KW)
    ceilings, memory = run([cloudy], 2.0, memory, NOW + 1)
    assert ceilings["a"].amps == 6.0  # runs on at its minimum meanwhile
    assert memory["a"] == ModeMemory(solar_on=True, solar_since=NOW + 1)
    ceilings, memory = run([cloudy], 2.0, memory, NOW + 120)
    assert ceilings["a"].amps == 6.0
    # The sun back before stop_s: the wait starts over.
    ceilings, back = run([cloudy], -1.0, memory, NOW + 100)
    assert back["a"] == ModeMemory(solar_on=True)
    ceilings, memory = run([cloudy], 2.0, memory, NOW + 121)
    assert ceilings["a"].amps == 0.0
    assert memory["a"] == ModeMemory(solar_on=False)


def test_surplus_is_shared_min_solar_first_then_running_solar_cars() -> None:
    c1 = ChargerSpec("c", 1, "l1", max_a=16.0)
    cars = [
        ModeCharger(A3, ChargeMode.SOLAR),
        ModeCharger(B1, ChargeMode.MIN_SOLAR),
        ModeCharger(c1, ChargeMode.SOLAR),
    ]
    memory = {"a": ModeMemory(solar_on=True), "c": ModeMemory(solar_on=True)}
    # 6 kW exported: b takes its 1.38 kW minimum, a its 4.14: 0.48 kW left, so c
    # (needs 1.38) is short and counts down to its stop; it runs at 6 A meanwhile.
    ceilings, memory = run(cars, -6.0, memory)
    left = 6.0 - MIN1_KW - MIN3_KW - MIN1_KW
    assert left < 0
    assert ceilings["b"].amps == 6.0
    assert ceilings["a"].amps == 6.0
    assert ceilings["c"].amps == 6.0
    assert memory["c"].solar_since == NOW
    # 20 kW: minimums 6.9 kW, 13.1 kW shared equally (4.37 kW each) up to each max:
    # b (1 phase, 32 A) +19.0 A; a (3 phases) +6.33 A to 12.33; c +16 - 6 = 10 A
    # max is 2.3 kW, so c is full and the rest is shared by a and b.
    ceilings, memory = run(cars, -20.0, {k: ModeMemory(solar_on=True) for k in "ac"})
    assert ceilings["c"].amps == pytest.approx(16.0)
    share = (20.0 - 2 * MIN1_KW - MIN3_KW - 2.3) / 2
    assert ceilings["a"].amps == pytest.approx(6 + share * 1000 / 690)
    assert ceilings["b"].amps == pytest.approx(6 + share * 1000 / 230)


def test_min_solar_gets_its_minimum_without_surplus_or_reading() -> None:
    car = ModeCharger(B1, ChargeMode.MIN_SOLAR, draw_kw=MIN1_KW)
    ceilings, _ = run([car], 3.0)
    assert ceilings["b"].amps == 6.0
    ceilings, _ = run([car], None)
    assert ceilings["b"] == Ceiling(
        6.0, ModeLimit.SOLAR, "solar surplus unknown: at its minimum"
    )


def test_unknown_surplus_keeps_the_solar_state() -> None:
    car = ModeCharger(A3, ChargeMode.SOLAR)
    waiting = {"a": ModeMemory(solar_since=NOW - 50)}
    ceilings, memory = run([car], None, waiting, NOW + 100)
    assert ceilings["a"] == Ceiling(0.0, ModeLimit.SOLAR, "solar surplus unknown")
    assert memory == waiting
    ceilings, memory = run([car], None, {"a": ModeMemory(solar_on=True)})
    assert ceilings["a"].amps == 6.0


# --- planned --------------------------------------------------------------------------


def test_planned_runs_at_the_plan_power() -> None:
    # 11 kW planned on three phases: 11000 / 690 = 15.9 A.
    plan = SlotPlan(start=NOW, hours=0.25, power_kw=11.0)
    ceilings, memory = run([ModeCharger(A3, ChargeMode.PLANNED, plan=plan)], 0.0)
    assert ceilings["a"].amps == pytest.approx(11000 / 690)
    assert ceilings["a"].limit is ModeLimit.PLAN
    assert memory["a"] == ModeMemory(slot_start=NOW, slot_kwh=0.0, seen_at=NOW)


def test_planned_below_the_minimum_runs_at_it_until_the_slot_energy_is_in() -> None:
    # 2 kW for a quarter hour is 0.5 kWh; at 6 A (4.14 kW) that takes 435 s.
    plan = SlotPlan(start=NOW, hours=0.25, power_kw=2.0)
    car = ModeCharger(A3, ChargeMode.PLANNED, draw_kw=MIN3_KW, plan=plan)
    ceilings, memory = run([car], 0.0)
    assert ceilings["a"].amps == 6.0
    now = NOW
    while ceilings["a"].amps > 0.0:
        now += 1.0
        ceilings, memory = run([car], 0.0, memory, now)
    assert now - NOW == pytest.approx(0.5 / MIN3_KW * 3600, abs=1.0)
    assert memory["a"].slot_kwh == pytest.approx(0.5, abs=0.002)
    assert ceilings["a"].why.startswith("plan: 0.50 of 0.50 kWh")
    # The next slot starts counting afresh.
    nxt = ModeCharger(
        A3, ChargeMode.PLANNED, plan=SlotPlan(now + 1, hours=0.25, power_kw=2.0)
    )
    ceilings, memory = run([nxt], 0.0, memory, now + 1)
    assert ceilings["a"].amps == 6.0
    assert memory["a"].slot_kwh == 0.0


def test_planned_without_a_plan_charges_as_fast_and_zero_power_pauses() -> None:
    ceilings, memory = run([ModeCharger(A3, ChargeMode.PLANNED)], 0.0)
    assert ceilings == {}
    assert memory == {"a": ModeMemory()}
    idle = SlotPlan(start=NOW, hours=0.25, power_kw=0.0)
    ceilings, _ = run([ModeCharger(A3, ChargeMode.PLANNED, plan=idle)], 0.0)
    assert ceilings["a"].amps == 0.0


def test_planned_takes_the_live_surplus_over_its_plan_at_once_when_running() -> None:
    # Plan 2 kW (runs at 6 A = 4.14 kW), exporting 5 kW: 9.14 kW is surplus.
    plan = SlotPlan(start=NOW, hours=0.25, power_kw=2.0)
    car = ModeCharger(A3, ChargeMode.PLANNED, draw_kw=MIN3_KW, plan=plan)
    ceilings, memory = run([car], -5.0)
    assert ceilings["a"].amps == pytest.approx((5.0 + MIN3_KW) * 1000 / 690)
    assert ceilings["a"].limit is ModeLimit.SOLAR
    assert ceilings["a"].why.startswith("solar surplus 9.14 kW over the plan: plan:")
    assert memory["a"].solar_on
    # Importing what it draws: no surplus, the plan's ceiling again.
    ceilings, memory = run([car], MIN3_KW, memory, NOW + 1)
    assert ceilings["a"] == Ceiling(6.0, ModeLimit.PLAN, ceilings["a"].why)
    assert not memory["a"].solar_on


def test_planned_with_its_slot_done_starts_and_stops_on_surplus_with_hysteresis() -> (
    None
):
    idle = SlotPlan(start=NOW, hours=0.25, power_kw=0.0)
    car = ModeCharger(A3, ChargeMode.PLANNED, plan=idle)
    # Exporting 5 kW: more than its 4.14 kW minimum, but only after start_s.
    ceilings, memory = run([car], -5.0)
    assert ceilings["a"].amps == 0.0
    assert ceilings["a"].limit is ModeLimit.PLAN
    ceilings, memory = run([car], -5.0, memory, NOW + 60)
    assert ceilings["a"].amps == pytest.approx(5000 / 690)
    assert memory["a"].slot_start == NOW  # the slot is still counted
    # A cloud: importing 1 kW while drawing 4.14: 3.14 < 4.14 kW. At its minimum
    # until stop_s, then paused.
    drawing = ModeCharger(A3, ChargeMode.PLANNED, draw_kw=MIN3_KW, plan=idle)
    ceilings, memory = run([drawing], 1.0, memory, NOW + 61)
    assert ceilings["a"].amps == 6.0
    ceilings, memory = run([drawing], 1.0, memory, NOW + 181)
    assert ceilings["a"].amps == 0.0
    # Unknown surplus: nothing starts on a guess, a running car stays at its
    # minimum.
    ceilings, _ = run([car], None, {"a": ModeMemory(solar_since=NOW - 500)})
    assert ceilings["a"].amps == 0.0
    ceilings, _ = run([car], None, {"a": ModeMemory(solar_on=True)})
    assert ceilings["a"].amps == 6.0
    assert ceilings["a"].why.startswith("solar surplus unknown over the plan")


def test_planned_cars_take_only_what_the_solar_cars_leave_shared_over_plans() -> None:
    c3 = ChargerSpec("c", 3, max_a=16.0)
    on = {k: ModeMemory(solar_on=True) for k in "abc"}
    # 20 kW exported: the solar car a takes its 11.04 kW maximum, b (1 phase,
    # 32 A, plan done) the 7.36 kW maximum of the 8.96 kW left.
    idle = SlotPlan(start=NOW, hours=0.25, power_kw=0.0)
    cars = [
        ModeCharger(A3, ChargeMode.SOLAR),
        ModeCharger(B1, ChargeMode.PLANNED, plan=idle),
    ]
    ceilings, _ = run(cars, -20.0, on)
    assert ceilings["a"].amps == pytest.approx(16.0)
    assert ceilings["b"].amps == pytest.approx(32.0)
    # 10 kW exported: a takes all, nothing is left for b (off: it stays off).
    ceilings, _ = run(cars, -10.0, {"a": ModeMemory(solar_on=True)})
    assert ceilings["a"].amps == pytest.approx(10000 / 690)
    assert ceilings["b"].amps == 0.0
    # Two planned cars: a plans 10 A (6.9 kW) and draws it, c's slot is done;
    # exporting 8 kW leaves 14.9 kW: an equal 7.45 kW each, a above its plan.
    plan = SlotPlan(start=NOW, hours=0.25, power_kw=6.9)
    cars = [
        ModeCharger(A3, ChargeMode.PLANNED, draw_kw=6.9, plan=plan),
        ModeCharger(c3, ChargeMode.PLANNED, plan=idle),
    ]
    ceilings, _ = run(cars, -8.0, on)
    assert ceilings["a"].amps == pytest.approx(7450 / 690)
    assert ceilings["c"].amps == pytest.approx(7450 / 690)
    # Exporting 2 kW leaves 8.9 kW: a keeps its plan, c gets 2 kW < its minimum.
    ceilings, memory = run(cars, -2.0, on)
    assert ceilings["a"].amps == pytest.approx(10.0)
    assert ceilings["a"].limit is ModeLimit.PLAN
    assert ceilings["c"].amps == 6.0  # counting down to its stop
    assert memory["c"].solar_since == NOW


def test_held_planned_cars_are_admitted_at_their_minimum_one_by_one() -> None:
    # Three 3-phase cars the plan holds off, 9 kW exported: z waited long
    # enough and takes it all; then two minimums (8.28 kW) fit, the third does
    # not, and the 0.72 kW left goes to the two.
    idle = SlotPlan(start=NOW, hours=0.25, power_kw=0.0)
    specs = [ChargerSpec(i, 3, max_a=16.0) for i in "xyz"]
    cars = [ModeCharger(spec, ChargeMode.PLANNED, plan=idle) for spec in specs]
    waiting = {"z": ModeMemory(solar_since=NOW - 100)}  # the longest waiting first
    ceilings, memory = run(cars, -9.0, waiting, NOW)
    assert [ceilings[i].amps for i in "zxy"] == [pytest.approx(9000 / 690), 0.0, 0.0]
    assert memory["z"].solar_on and memory["x"].solar_since == NOW
    ceilings, memory = run(cars, -9.0, memory, NOW + 60)
    assert ceilings["x"].amps == pytest.approx(4500 / 690)
    assert ceilings["z"].amps == pytest.approx(4500 / 690)
    assert ceilings["y"] == Ceiling(0.0, ModeLimit.PLAN, ceilings["y"].why)


# --- the decision under ceilings ------------------------------------------------------

ROOM = headroom(40.0, 40.0, 40.0, 30.0)


def test_a_ceiling_below_the_minimum_pauses_with_the_modes_reason() -> None:
    inputs = [charger(A3, setpoint=16.0, measured=16.0), charger(B1)]
    ceilings = {"a": Ceiling(0.0, ModeLimit.MODE, "mode off")}
    decision = decide(inputs, ROOM, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.targets["a"] == 0.0
    assert decision.states["a"] == "paused"
    assert decision.limits["a"] == "mode"
    assert decision.why["a"] == "mode off"
    # The room b gets is not lowered by a's mode.
    assert decision.targets["b"] == 32.0


def test_a_ceiling_above_the_minimum_caps_and_says_so() -> None:
    inputs = [charger(A3, setpoint=16.0, measured=16.0)]
    ceilings = {"a": Ceiling(9.5, ModeLimit.SOLAR, "solar surplus 6.55 kW")}
    decision = decide(inputs, ROOM, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.targets["a"] == 9.5
    assert decision.states["a"] == "limited"
    assert decision.limits["a"] == "solar"
    assert decision.why["a"] == "solar surplus 6.55 kW"


def test_the_live_headroom_caps_below_a_ceiling() -> None:
    tight = headroom(8.0, 8.0, 8.0, 30.0)
    inputs = [charger(A3, setpoint=8.0, measured=8.0)]
    ceilings = {"a": Ceiling(12.0, ModeLimit.PLAN, "plan")}
    decision = decide(inputs, tight, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.targets["a"] == 8.0
    assert decision.limits["a"] == "l1"
    # No room for the minimum: paused by the room, not by the plan.
    none = headroom(4.0, 4.0, 4.0, 30.0)
    decision = decide(inputs, none, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.targets["a"] == 0.0
    assert decision.limits["a"] == "l1"


def test_a_ceiling_on_an_unplugged_or_unsteered_charger_changes_nothing() -> None:
    ceilings = {"a": Ceiling(0.0, ModeLimit.MODE, "mode off")}
    empty = [charger(A3, connected=False)]
    decision = decide(empty, ROOM, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.states["a"] == "idle"
    wild = [charger(A3, steered=False, setpoint=10.0, wanted=10.0, measured=10.0)]
    decision = decide(wild, ROOM, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.states["a"] == "fault"
    assert decision.targets["a"] == 10.0


def test_a_cannot_pause_charger_keeps_its_minimum() -> None:
    spec = ChargerSpec("a", 3, min_a=8.0, max_a=16.0, can_pause=False)
    inputs = [charger(spec, setpoint=12.0, measured=12.0)]
    ceilings = {"a": Ceiling(0.0, ModeLimit.MODE, "mode off")}
    decision = decide(inputs, ROOM, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert decision.targets["a"] == 8.0
    held = decide(inputs, None, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert held.targets["a"] == 8.0


def test_holding_without_meter_data_and_the_fail_safe_obey_ceilings() -> None:
    inputs = [
        charger(A3, setpoint=16.0, measured=16.0),
        charger(B1, setpoint=16.0, measured=16.0),
        charger(ChargerSpec("c", 1, "l3"), setpoint=10.0, measured=10.0),
    ]
    ceilings = {
        "a": Ceiling(0.0, ModeLimit.MODE, "mode off"),
        "b": Ceiling(7.0, ModeLimit.SOLAR, "solar"),
        "c": Ceiling(12.0, ModeLimit.PLAN, "plan"),
    }
    held = decide(inputs, None, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert held.mode is Mode.HOLD
    assert held.targets == {"a": 0.0, "b": 7.0, "c": 10.0}  # never raised
    stale = decide(inputs, None, True, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert stale.targets == {"a": 0.0, "b": 6.0, "c": 6.0}


def test_the_fail_safe_never_starts_a_car_its_mode_pauses() -> None:
    """Review: the meter went stale with a car in mode off (or a planned car
    whose slot is in, or a solar car without surplus): the fail-safe set them to
    6 A, starting cars at the one moment nothing is measured. A mode only
    lowers: the fail-safe stays under the ceiling, paused below the minimum."""
    inputs = [
        charger(A3, setpoint=0.0, fail_safe=6.0),
        charger(B1, setpoint=0.0, fail_safe=10.0),
        charger(ChargerSpec("c", 1, "l3"), setpoint=0.0, fail_safe=10.0),
    ]
    ceilings = {
        "a": Ceiling(0.0, ModeLimit.MODE, "mode off"),
        "b": Ceiling(0.0, ModeLimit.PLAN, "plan: slot delivered"),
        "c": Ceiling(8.0, ModeLimit.PLAN, "plan"),
    }
    stale = decide(inputs, None, True, AllocatorMemory(), NOW, DIRECT, ceilings)
    assert stale.mode is Mode.FAIL_SAFE
    assert stale.targets == {"a": 0.0, "b": 0.0, "c": 8.0}
    assert stale.states == dict.fromkeys("abc", "fail_safe")


# --- property: a ceiling never gives more --------------------------------------------

PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def fleets(draw: st.DrawFn) -> list[tuple[ChargerSpec, float | None, bool]]:
    out = []
    for i in range(draw(st.integers(1, 5))):
        phases = draw(st.sampled_from([1, 3]))
        max_a = draw(st.floats(6.0, 32.0))
        spec = ChargerSpec(f"c{i}", phases, draw(st.sampled_from(PHASES)), 6.0, max_a)
        setpoint = draw(st.one_of(st.none(), st.floats(6.0, max_a)))
        out.append((spec, setpoint, draw(st.booleans())))
    return out


@PROPERTY
@given(
    fleet=fleets(),
    room=st.tuples(*(st.floats(0.0, 80.0) for _ in range(4))),
    cap=st.lists(st.one_of(st.none(), st.floats(0.0, 40.0)), min_size=5, max_size=5),
    fresh=st.booleans(),
)
def test_ceilings_only_lower(
    fleet: list[tuple[ChargerSpec, float | None, bool]],
    room: tuple[float, float, float, float],
    cap: list[float | None],
    fresh: bool,
) -> None:
    """Every target is at most its ceiling and at most what decide() gives that
    charger without modes when the others are as they were; a car whose ceiling
    is below 6 A is paused; never 0 < target < 6 A; totals fit the room."""
    ceilings = {
        spec.id: Ceiling(amps, ModeLimit.MODE, "")
        for (spec, _, _), amps in zip(fleet, cap, strict=False)
        if amps is not None
    }
    _assert_only_lower(fleet, room, fresh, ceilings)


@PROPERTY
@given(
    fleet=fleets(),
    room=st.tuples(*(st.floats(0.0, 80.0) for _ in range(4))),
    grid_kw=st.one_of(st.none(), st.floats(-60.0, 60.0)),
    plan_kw=st.lists(st.floats(0.0, 25.0), min_size=5, max_size=5),
    on=st.lists(st.booleans(), min_size=5, max_size=5),
    fresh=st.booleans(),
)
def test_planned_surplus_ceilings_only_lower(
    fleet: list[tuple[ChargerSpec, float | None, bool]],
    room: tuple[float, float, float, float],
    grid_kw: float | None,
    plan_kw: list[float],
    on: list[bool],
    fresh: bool,
) -> None:
    """The planned cars' ceilings with the live surplus: the same guarantees."""
    chargers = [
        ModeCharger(
            spec,
            ChargeMode.PLANNED,
            draw_kw=(setpoint or 0.0) * spec.phases * V / 1000.0,
            plan=SlotPlan(NOW, 0.25, kw),
        )
        for (spec, setpoint, _), kw in zip(fleet, plan_kw, strict=False)
    ]
    memory = {
        c.spec.id: ModeMemory(solar_on=o) for c, o in zip(chargers, on, strict=False)
    }
    out = mode_ceilings(chargers, grid_kw, V, memory, NOW)
    _assert_only_lower(fleet, room, fresh, out.ceilings)


def _assert_only_lower(
    fleet: list[tuple[ChargerSpec, float | None, bool]],
    room: tuple[float, float, float, float],
    fresh: bool,
    ceilings: dict[str, Ceiling],
) -> None:
    inputs = [
        charger(spec, setpoint=setpoint, measured=setpoint, connected=plugged)
        for spec, setpoint, plugged in fleet
    ]
    room_now = headroom(*room) if fresh else None
    free = decide(inputs, room_now, False, AllocatorMemory(), NOW, DIRECT)
    capped = decide(inputs, room_now, False, AllocatorMemory(), NOW, DIRECT, ceilings)
    used = dict.fromkeys((*PHASES, "kW"), 0.0)
    for spec, _, _ in fleet:
        target = capped.targets[spec.id]
        if target is None:
            assert free.targets[spec.id] is None
            continue
        assert target == 0.0 or target >= spec.min_a - 1e-9
        ceiling = ceilings.get(spec.id)
        if ceiling is not None:
            assert target <= max(ceiling.amps, 0.0) + 1e-9 or (
                ceiling.amps >= spec.min_a and target <= spec.min_a
            )
            if ceiling.amps < spec.min_a:
                assert target == 0.0
        for phase in spec.loaded_phases:
            used[phase] += target
        used["kW"] += target * spec.phases * V / 1000.0
        if len(fleet) == 1 or not fresh:
            # Alone (or held), nothing else can leave it room: never above without.
            assert target <= (free.targets[spec.id] or 0.0) + 1e-9
    if fresh:
        for i, phase in enumerate(PHASES):
            assert used[phase] <= max(room[i], 0.0) + 1e-6
        assert used["kW"] <= room[3] + 1e-6


@PROPERTY
@given(fleet=fleets(), room=st.tuples(*(st.floats(0.0, 80.0) for _ in range(4))))
def test_ceilings_at_or_above_the_maximum_change_nothing(
    fleet: list[tuple[ChargerSpec, float | None, bool]],
    room: tuple[float, float, float, float],
) -> None:
    inputs = [
        charger(spec, setpoint=setpoint, measured=setpoint, connected=plugged)
        for spec, setpoint, plugged in fleet
    ]
    ceilings = {
        spec.id: Ceiling(spec.max_a, ModeLimit.PLAN, "") for spec, _, _ in fleet
    }
    free = decide(inputs, headroom(*room), False, AllocatorMemory(), NOW, DIRECT)
    capped = decide(
        inputs, headroom(*room), False, AllocatorMemory(), NOW, DIRECT, ceilings
    )
    assert capped == free


@PROPERTY
@given(
    fleet=fleets(),
    modes=st.lists(st.sampled_from(list(ChargeMode)), min_size=5, max_size=5),
    grid_kw=st.one_of(st.none(), st.floats(-60.0, 60.0)),
    on=st.lists(st.booleans(), min_size=5, max_size=5),
    plan_kw=st.floats(0.0, 30.0),
)
def test_mode_ceilings_stay_within_what_each_mode_allows(
    fleet: list[tuple[ChargerSpec, float | None, bool]],
    modes: list[ChargeMode],
    grid_kw: float | None,
    on: list[bool],
    plan_kw: float,
) -> None:
    """Off pauses; a ceiling is never above the charger's maximum; the planned
    ceiling is the plan's power or the minimum, or more only from the surplus;
    above their minimums the solar cars share no more than the surplus, and the
    planned cars no more than what the solar cars leave them."""
    chargers = [
        ModeCharger(
            spec,
            mode,
            draw_kw=(setpoint or 0.0) * spec.phases * V / 1000.0,
            plan=SlotPlan(NOW, 0.25, plan_kw),
        )
        for (spec, setpoint, _), mode in zip(fleet, modes, strict=False)
    ]
    memory = {
        c.spec.id: ModeMemory(solar_on=o) for c, o in zip(chargers, on, strict=False)
    }
    out = mode_ceilings(chargers, grid_kw, V, memory, NOW)
    above_min_kw = 0.0
    over_plan_kw = 0.0
    for c in chargers:
        spec, ceiling = c.spec, out.ceilings.get(c.spec.id)
        if c.mode is ChargeMode.FAST:
            assert ceiling is None
            continue
        assert ceiling is not None
        assert ceiling.amps <= max(spec.max_a, spec.min_a) + 1e-9
        assert ceiling.amps == 0.0 or ceiling.amps >= spec.min_a - 1e-9
        if c.mode is ChargeMode.OFF:
            assert ceiling.amps == 0.0
        elif c.mode is ChargeMode.PLANNED:
            plan_a = plan_kw * 1000 / (spec.phases * V)
            top = min(spec.max_a, max(spec.min_a, plan_a))
            if ceiling.limit is ModeLimit.PLAN:
                assert ceiling.amps in (0.0, pytest.approx(top))
            else:
                assert ceiling.limit is ModeLimit.SOLAR
                if ceiling.amps > spec.min_a + 1e-9:
                    over_plan_kw += ceiling.amps * spec.phases * V / 1000
        elif ceiling.amps > 0.0:
            above_min_kw += (ceiling.amps - spec.min_a) * spec.phases * V / 1000
    if out.surplus_kw is not None:
        mins = sum(
            c.spec.min_a * c.spec.phases * V / 1000
            for c in chargers
            if c.mode in (ChargeMode.SOLAR, ChargeMode.MIN_SOLAR)
            and out.ceilings[c.spec.id].amps > 0.0
        )
        assert above_min_kw <= max(0.0, out.surplus_kw - mins) + 1e-6
        solar_kw = sum(
            out.ceilings[c.spec.id].amps * c.spec.phases * V / 1000
            for c in chargers
            if c.mode in (ChargeMode.SOLAR, ChargeMode.MIN_SOLAR)
        )
        planned_draw = sum(c.draw_kw for c in chargers if c.mode is ChargeMode.PLANNED)
        left = out.surplus_kw - solar_kw + planned_draw
        assert over_plan_kw <= max(0.0, left) + 1e-6
    else:
        assert above_min_kw == 0.0
        assert over_plan_kw == 0.0


# --- after a restart -------------------------------------------------------------------


def test_after_a_restart_a_car_drawing_counts_as_running_and_others_wait() -> None:
    drawing = ModeCharger(A3, ChargeMode.SOLAR, draw_kw=0.5 * MIN3_KW)
    idle = ModeCharger(B1, ChargeMode.SOLAR, draw_kw=0.5 * MIN1_KW - 0.01)
    memory = running_at_start([drawing, idle], V)
    assert memory == {"a": ModeMemory(solar_on=True)}
    # No surplus: the running car keeps its minimum for the whole stop wait.
    ceilings, memory = run([drawing, idle], 0.5, memory)
    assert (ceilings["a"].amps, ceilings["b"].amps) == (6.0, 0.0)
    ceilings, _ = run([drawing, idle], 0.5, memory, NOW + 119)
    assert ceilings["a"].amps == 6.0
    ceilings, _ = run([drawing, idle], 0.5, memory, NOW + 120)
    assert ceilings["a"].amps == 0.0
    # A surplus for both: the idle car still waits its whole start wait.
    ceilings, memory = run([drawing, idle], -10.0, running_at_start([drawing, idle], V))
    assert ceilings["b"].amps == 0.0
    ceilings, _ = run([drawing, idle], -10.0, memory, NOW + 59)
    assert ceilings["b"].amps == 0.0
