"""Hand-worked allocator examples: each number here was worked out on paper."""

from collections.abc import Mapping, Sequence

import pytest

from custom_components.stekker.engine.allocator import (
    Allocation,
    AllocatorConfig,
    AllocatorMemory,
    ChargerMemory,
    Reason,
    allocate,
)
from custom_components.stekker.engine.charger import ChargerSpec, ChargerStatus

CFG = AllocatorConfig()
PLUGGED = ChargerStatus(connected=True)
Fleet = Sequence[tuple[ChargerSpec, ChargerStatus]]


def phases(
    l1: float, l2: float | None = None, l3: float | None = None
) -> dict[str, float]:
    return {"l1": l1, "l2": l1 if l2 is None else l2, "l3": l1 if l3 is None else l3}


def one(
    cid: str,
    phase: str = "l1",
    *,
    min_a: float = 6.0,
    max_a: float = 16.0,
    priority: int = 0,
) -> ChargerSpec:
    return ChargerSpec(cid, 1, phase, min_a, max_a, priority)


def run(
    fleet: Fleet,
    available_a: Mapping[str, float],
    available_kw: float,
    *,
    until: float,
    start: float = 0.0,
    dt: float = 5.0,
    memory: AllocatorMemory | None = None,
    config: AllocatorConfig = CFG,
) -> dict[float, Allocation]:
    """Allocate every ``dt`` seconds from ``start`` to ``until`` inclusive."""
    out: dict[float, Allocation] = {}
    mem = memory or AllocatorMemory()
    t = start
    while t <= until:
        out[t] = allocate(available_a, available_kw, fleet, mem, t, config)
        mem = out[t].memory
        t += dt
    return out


def test_three_cars_on_l1_share_20_a_equally() -> None:
    fleet = [(one(c), PLUGGED) for c in ("a", "b", "c")]
    last = run(fleet, phases(20.0), 40.0, until=60.0)[60.0]
    assert last.setpoints == pytest.approx({"a": 20 / 3, "b": 20 / 3, "c": 20 / 3})
    assert set(last.reasons.values()) == {Reason.LIMITED}
    assert last.explain["a"] == "fair share: l1 full"


def test_three_cars_on_l1_with_16_a_take_turns() -> None:
    """16 A holds two minimums: the third waits its turn, then takes the slot of
    the charger that has run longest, without ever exceeding 16 A."""
    fleet = [(one(c), PLUGGED) for c in ("a", "b", "c")]
    steps = run(fleet, phases(16.0), 40.0, until=2000.0)
    assert steps[0.0].reasons["c"] is Reason.WAITING_FOR_TURN
    assert steps[0.0].explain["c"] == "waiting 0 s for a turn"
    assert steps[5.0].explain["a"] == "starting at 6 A in 5 s"
    assert steps[10.0].setpoints == {"a": 6.0, "b": 6.0, "c": 0.0}
    assert steps[40.0].setpoints == {"a": 8.0, "b": 8.0, "c": 0.0}
    # c has waited a full turn at 900 s and a and b have run one (since 10 s):
    # b (last in order) keeps its 8 A while c waits out its hysteresis.
    assert steps[910.0].targets == {"a": 8.0, "b": 0.0, "c": 8.0}
    assert steps[910.0].setpoints == {"a": 8.0, "b": 8.0, "c": 0.0}
    assert steps[910.0].explain["b"] == "coming down to 0.0 A as others start"
    assert steps[920.0].setpoints == {"a": 8.0, "b": 0.0, "c": 6.0}
    assert steps[950.0].setpoints == {"a": 8.0, "b": 0.0, "c": 8.0}
    # b has waited a turn at 1820; a has run longest and yields.
    assert steps[1830.0].setpoints == {"a": 0.0, "b": 6.0, "c": 8.0}
    for alloc in steps.values():
        assert sum(alloc.setpoints.values()) <= 16.0


def test_kw_limit_is_shared_by_current_across_phase_counts() -> None:
    """11.04 kW at 230 V is 48 A of phase current: a three-phase car at L and a
    one-phase car at L use 4 L, so L = 12 A for both."""
    fleet = [(ChargerSpec("three", 3), PLUGGED), (one("single"), PLUGGED)]
    last = run(fleet, phases(32.0), 11.04, until=100.0)[100.0]
    assert last.setpoints == pytest.approx({"three": 12.0, "single": 12.0})
    assert last.explain["three"] == "fair share: kW full"


def test_phase_limit_binds_only_its_own_chargers() -> None:
    """l1 holds 10 A, not enough for the minimums of both the three-phase car and
    the l1 car; the first in turn gets all of l1, the l2 car is not held back."""
    fleet = [
        (ChargerSpec("three", 3), PLUGGED),
        (one("on_l1"), PLUGGED),
        (one("on_l2", "l2"), PLUGGED),
    ]
    first = allocate(phases(10.0, 32.0, 32.0), 50.0, fleet, AllocatorMemory(), 0.0, CFG)
    assert first.targets == {"three": 10.0, "on_l1": 0.0, "on_l2": 16.0}
    assert first.reasons["on_l1"] is Reason.WAITING_FOR_TURN
    assert first.explain["on_l2"] == "starting at 6 A in 10 s"


@pytest.mark.parametrize(
    ("l1", "high", "low", "why_low"),
    [
        (10.0, 10.0, 0.0, "no room for 6 A on l1"),
        (20.0, 14.0, 6.0, "fair share: l1 full"),
        (30.0, 16.0, 14.0, "fair share: l1 full"),
    ],
)
def test_higher_priority_gets_its_minimum_first_and_then_the_room_above(
    l1: float, high: float, low: float, why_low: str
) -> None:
    """The high class gets the room above the minimums, but never pauses a
    lower-class car that fits at its minimum."""
    fleet = [(one("low"), PLUGGED), (one("high", priority=1), PLUGGED)]
    last = run(fleet, phases(l1), 40.0, until=300.0)[300.0]
    assert last.setpoints == {"low": low, "high": high}
    assert last.explain["low"] == why_low


def test_a_higher_minimum_waits_at_its_minimum_until_the_others_catch_up() -> None:
    """20 A for min 6 and min 10 cars: the first rises from 6 to 10, both stop."""
    fleet = [(one("six"), PLUGGED), (one("ten", min_a=10.0), PLUGGED)]
    first = allocate(phases(20.0), 40.0, fleet, AllocatorMemory(), 0.0, CFG)
    assert first.targets == {"six": 10.0, "ten": 10.0}


def test_disabled_and_idle_chargers_get_nothing_and_take_nothing() -> None:
    fleet = [
        (one("off"), ChargerStatus(connected=True, enabled=False)),
        (one("empty"), ChargerStatus(connected=False)),
        (one("car", max_a=32.0), PLUGGED),
    ]
    seeded = AllocatorMemory({"off": ChargerMemory(16.0), "empty": ChargerMemory(16.0)})
    last = run(fleet, phases(20.0), 40.0, until=300.0, memory=seeded)[300.0]
    assert last.setpoints == {"off": 0.0, "empty": 0.0, "car": 20.0}
    assert last.reasons["off"] is Reason.DISABLED
    assert last.reasons["empty"] is Reason.IDLE
    assert last.explain["empty"] == "no car wants charge"
    assert set(last.memory.chargers) == {"car"}


def test_a_quick_replug_does_not_buy_an_early_increase() -> None:
    fleet = [(one("car"), PLUGGED)]
    started = run(fleet, phases(20.0), 40.0, until=10.0)[10.0]
    assert started.setpoints == {"car": 6.0}
    gone = allocate(
        phases(20.0),
        40.0,
        [(one("car"), ChargerStatus(False))],
        started.memory,
        15.0,
        CFG,
    )
    assert gone.memory.chargers["car"] == ChargerMemory(raised_at=10.0)
    back = run(fleet, phases(20.0), 40.0, start=20.0, until=40.0, memory=gone.memory)
    assert back[35.0].setpoints == {"car": 0.0}  # room since 20 s, but raised at 10 s
    assert back[40.0].setpoints == {"car": 6.0}


def test_a_phase_the_site_does_not_have_gives_nothing() -> None:
    fleet = [(ChargerSpec("three", 3), PLUGGED), (one("l1"), PLUGGED)]
    first = allocate({"l1": 25.0}, 5.75, fleet, AllocatorMemory(), 0.0, CFG)
    assert first.targets == {"three": 0.0, "l1": 16.0}
    assert first.explain["three"] == "no room for 6 A on l2"


@pytest.mark.parametrize("bad", [float("nan"), -5.0])
def test_unknown_or_negative_availability_means_none(bad: float) -> None:
    fleet = [(one("car"), PLUGGED)]
    seeded = AllocatorMemory({"car": ChargerMemory(10.0, running_since=0.0)})
    for available_a, available_kw in ((phases(bad), 40.0), (phases(20.0), bad)):
        alloc = allocate(available_a, available_kw, fleet, seeded, 1.0, CFG)
        assert alloc.setpoints == {"car": 0.0}
        assert alloc.reasons == {"car": Reason.PAUSED}


def test_ramps_up_slowly_and_comes_down_at_once() -> None:
    fleet = [(one("car"), PLUGGED)]
    steps = run(fleet, phases(32.0), 40.0, until=200.0)
    ramp = {t: steps[t].setpoints["car"] for t in (5, 10, 35, 40, 70, 100, 130, 160)}
    assert ramp == {5: 0, 10: 6, 35: 6, 40: 8, 70: 10, 100: 12, 130: 14, 160: 16}
    assert steps[35.0].explain["car"] == "ramping to 16.0 A, next step in 5 s"
    mem = steps[200.0].memory
    down = allocate(phases(10.0), 40.0, fleet, mem, 205.0, CFG)
    assert down.setpoints == {"car": 10.0}
    paused = allocate(phases(5.0), 40.0, fleet, down.memory, 210.0, CFG)
    assert paused.setpoints == {"car": 0.0}
    assert paused.explain["car"] == "no room for 6 A on l1"
    back = run(
        fleet, phases(32.0), 40.0, start=215.0, until=225.0, memory=paused.memory
    )
    assert [a.setpoints["car"] for a in back.values()] == [0.0, 0.0, 6.0]


def test_an_increase_only_goes_as_far_as_the_room_that_lasted() -> None:
    """Room for 16 A, then for 7 A, then 16 A again: after the hysteresis the car
    may only take what was there the whole time (7 A), not a full ramp step."""
    fleet = [(one("car"), PLUGGED)]
    mem = AllocatorMemory(
        {"car": ChargerMemory(6.0, raised_at=-100.0, running_since=-100.0)}
    )
    for t, l1 in ((0.0, 16.0), (5.0, 7.0), (10.0, 16.0)):
        alloc = allocate(phases(l1), 40.0, fleet, mem, t, CFG)
        mem = alloc.memory
    assert alloc.setpoints == {"car": 7.0}


def test_a_gap_in_the_room_restarts_the_hysteresis() -> None:
    fleet = [(one("car"), PLUGGED)]
    mem = AllocatorMemory(
        {"car": ChargerMemory(6.0, raised_at=-100.0, running_since=-100.0)}
    )
    seen = []
    for t, l1 in ((0.0, 16.0), (5.0, 6.0), (10.0, 16.0), (15.0, 16.0), (20.0, 16.0)):
        alloc = allocate(phases(l1), 40.0, fleet, mem, t, CFG)
        mem = alloc.memory
        seen.append(alloc.setpoints["car"])
    assert seen == [6.0, 6.0, 6.0, 6.0, 8.0]


def test_a_runner_keeps_its_current_until_the_newcomer_starts() -> None:
    """22 A on l1: a runs at 16 A, b plugs in. Fair is 11 A each. a keeps what b
    does not use yet, so no capacity sits idle while b waits out its hysteresis."""
    fleet = [(one("a"), PLUGGED), (one("b"), PLUGGED)]
    mem = AllocatorMemory(
        {"a": ChargerMemory(16.0, raised_at=-100.0, running_since=-100.0)}
    )
    steps = run(fleet, phases(22.0), 40.0, until=120.0, memory=mem)
    seen = {t: (a.setpoints["a"], a.setpoints["b"]) for t, a in steps.items()}
    assert seen[0.0] == (16.0, 0.0)
    assert seen[10.0] == (16.0, 6.0)
    assert seen[40.0] == (14.0, 8.0)
    assert seen[70.0] == (12.0, 10.0)
    assert seen[100.0] == (11.0, 11.0)
    assert steps[70.0].explain["a"] == "coming down to 11.0 A as others start"


def test_a_car_drawing_less_gives_its_room_away_and_gets_it_back() -> None:
    """a's car takes 3 A of its 16 A for 5 cycles: capped at 6 A (3 + 2 is below
    the minimum) and b may ramp up; when a draws 5.5 A, near its cap, the cap
    lifts and a ramps up again."""
    low = ChargerStatus(connected=True, measured_a=3.0)
    mem = AllocatorMemory(
        {
            "a": ChargerMemory(16.0, raised_at=-100.0, running_since=-100.0),
            "b": ChargerMemory(6.0, raised_at=-100.0, running_since=-100.0),
        }
    )
    fleet = [(one("a"), low), (one("b"), PLUGGED)]
    steps = run(fleet, phases(22.0), 40.0, until=20.0, memory=mem)
    # Fair is 11 A each; a keeps what b does not use while b ramps.
    assert steps[15.0].setpoints == {"a": 14.0, "b": 8.0}
    assert steps[20.0].setpoints == {"a": 6.0, "b": 8.0}
    assert steps[20.0].targets == {"a": 6.0, "b": 16.0}
    assert steps[20.0].reasons["a"] is Reason.CHARGING
    assert steps[20.0].explain["a"] == "car draws less: capped at 6.0 A"
    # No measurement is no news: the cap stays.
    unmeasured = [(one("a"), PLUGGED), (one("b"), PLUGGED)]
    quiet = allocate(phases(22.0), 40.0, unmeasured, steps[20.0].memory, 25.0, CFG)
    assert quiet.memory.chargers["a"].cap_a == 6.0
    fleet = [
        (one("a"), ChargerStatus(connected=True, measured_a=5.5)),
        (one("b"), PLUGGED),
    ]
    steps = run(fleet, phases(22.0), 40.0, start=30.0, until=100.0, memory=quiet.memory)
    assert steps[30.0].memory.chargers["a"].cap_a is None
    assert steps[30.0].targets == {"a": 11.0, "b": 11.0}
    assert steps[40.0].setpoints == {"a": 8.0, "b": 10.0}
    # Still drawing 5.5 A at 8 A: five cycles later capped again, at 5.5 + 2 A.
    assert steps[60.0].setpoints["a"] == 8.0
    assert steps[65.0].setpoints["a"] == 7.5


def test_a_car_that_settles_below_its_setpoint_is_capped_near_its_draw() -> None:
    mem = AllocatorMemory(
        {"a": ChargerMemory(16.0, raised_at=-100.0, running_since=-100.0)}
    )
    fleet = [(one("a"), ChargerStatus(connected=True, measured_a=10.0))]
    cfg = AllocatorConfig(unused_cycles=2)
    steps = run(fleet, phases(32.0), 40.0, until=5.0, memory=mem, config=cfg)
    assert steps[0.0].setpoints == {"a": 16.0}
    assert steps[5.0].setpoints == {"a": 12.0}
    assert steps[5.0].memory.chargers["a"].unused_cycles == 0
    again = run(
        fleet,
        phases(32.0),
        40.0,
        start=10.0,
        until=100.0,
        memory=steps[5.0].memory,
        config=cfg,
    )
    assert {a.setpoints["a"] for a in again.values()} == {12.0}


def test_pausing_clears_the_cap() -> None:
    mem = AllocatorMemory(
        {"a": ChargerMemory(6.0, running_since=0.0, cap_a=6.0, unused_cycles=3)}
    )
    fleet = [(one("a"), ChargerStatus(connected=True, measured_a=0.0))]
    paused = allocate(phases(3.0), 40.0, fleet, mem, 10.0, CFG)
    assert paused.memory.chargers["a"] == ChargerMemory(waiting_since=10.0)


def test_a_seeded_setpoint_resumes_without_pausing_the_car() -> None:
    mem = AllocatorMemory({"a": ChargerMemory(10.0)})
    alloc = allocate(phases(32.0), 40.0, [(one("a"), PLUGGED)], mem, 50.0, CFG)
    assert alloc.setpoints == {"a": 10.0}
    assert alloc.memory.chargers["a"].running_since == 50.0


def test_a_remembered_setpoint_below_the_minimum_counts_as_paused() -> None:
    mem = AllocatorMemory({"a": ChargerMemory(3.0, running_since=0.0)})
    alloc = allocate(phases(32.0), 40.0, [(one("a"), PLUGGED)], mem, 50.0, CFG)
    assert alloc.setpoints == {"a": 0.0}
    assert alloc.reasons == {"a": Reason.PAUSED}


def test_a_waiter_whose_turn_has_come_reserves_its_phases() -> None:
    """l1 holds 10 A and a young runner uses 6 of it. The three-phase car has
    waited a full turn but cannot start; the l2 car may not start on a phase it
    needs, or a stream of small cars could keep the big one out for ever."""
    fleet = [
        (one("runner"), PLUGGED),
        (ChargerSpec("three", 3), PLUGGED),
        (one("small", "l2"), PLUGGED),
    ]
    mem = AllocatorMemory(
        {
            "runner": ChargerMemory(6.0, raised_at=500.0, running_since=500.0),
            "three": ChargerMemory(waiting_since=0.0),
            "small": ChargerMemory(waiting_since=800.0),
        }
    )
    now = allocate(phases(10.0, 32.0, 32.0), 40.0, fleet, mem, 1000.0, CFG)
    assert now.targets == {"runner": 10.0, "three": 0.0, "small": 0.0}
    assert now.reasons["small"] is Reason.WAITING_FOR_TURN
    later = allocate(phases(10.0, 32.0, 32.0), 40.0, fleet, now.memory, 1400.0, CFG)
    assert later.targets == {"runner": 0.0, "three": 10.0, "small": 16.0}


def test_a_waiter_short_of_kw_reserves_the_kw_limit() -> None:
    """2.76 kW is 12 A of phase current. The young l2 runner holds 6 A of it; the
    due car needs 8 A, so it reserves the kW limit and the l3 car, which would
    fit in the 6 A left, must not start on it."""
    fleet = [
        (one("runner", "l2"), PLUGGED),
        (one("due", min_a=8.0), PLUGGED),
        (one("other", "l3"), PLUGGED),
    ]
    mem = AllocatorMemory(
        {
            "runner": ChargerMemory(6.0, raised_at=500.0, running_since=500.0),
            "due": ChargerMemory(waiting_since=0.0),
            "other": ChargerMemory(waiting_since=800.0),
        }
    )
    alloc = allocate(phases(32.0), 2.76, fleet, mem, 1000.0, CFG)
    assert alloc.targets == {"runner": 12.0, "due": 0.0, "other": 0.0}
    assert alloc.reasons["due"] is Reason.WAITING_FOR_TURN
    assert alloc.reasons["other"] is Reason.WAITING_FOR_TURN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"phases": 2},
        {"phases": 1, "phase": "l4"},
        {"phases": 1, "min_a": 5.0},
        {"phases": 3, "min_a": 10.0, "max_a": 8.0},
    ],
)
def test_charger_spec_rejects_impossible_wiring(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="charger x"):
        ChargerSpec("x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"voltage_v": 0.0},
        {"ramp_step_a": 0.0},
        {"unused_cycles": 0},
        {"hysteresis_s": -1.0},
    ],
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AllocatorConfig(**kwargs)  # type: ignore[arg-type]


def test_duplicate_charger_ids_are_refused() -> None:
    fleet = [(one("a"), PLUGGED), (one("a", "l2"), PLUGGED)]
    with pytest.raises(ValueError, match="duplicate"):
        allocate(phases(32.0), 40.0, fleet, AllocatorMemory(), 0.0, CFG)


def test_what_limits_each_charger_is_named() -> None:
    """The binding limit per charger, for the "limited by" sensor."""
    fleet = [
        (one("at_max", "l1", max_a=10.0), PLUGGED),
        (one("phase", "l2", max_a=32.0), PLUGGED),
        (one("idle", "l3"), ChargerStatus(connected=False)),
    ]
    memory = AllocatorMemory(
        {
            "at_max": ChargerMemory(setpoint_a=10.0),
            "phase": ChargerMemory(setpoint_a=20.0),
        }
    )
    result = allocate(phases(30.0, 20.0, 30.0), 100.0, fleet, memory, 0.0, CFG)
    assert result.limits == {"at_max": "maximum", "phase": "l2", "idle": "none"}
    # The kW limit binds before the phases do.
    result = allocate(phases(30.0, 30.0, 30.0), 6.9, fleet, memory, 0.0, CFG)
    assert result.limits["phase"] == "gtv"
    # A car that could rise waits out its hysteresis: it is ramping.
    result = allocate(phases(30.0, 30.0, 30.0), 100.0, fleet, memory, 0.0, CFG)
    assert result.limits["phase"] == "ramp"


def test_a_car_waiting_for_its_turn_is_limited_by_the_turn() -> None:
    fleet = [(one("a"), PLUGGED), (one("b"), PLUGGED)]
    memory = AllocatorMemory({"a": ChargerMemory(setpoint_a=6.0, running_since=0.0)})
    result = allocate(phases(8.0), 100.0, fleet, memory, 10.0, CFG)
    assert result.setpoints == {"a": 6.0, "b": 0.0}
    assert result.limits["b"] == "turn"
