"""Property tests: the allocator's invariants over random sites, fleets and times."""

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from custom_components.stekker.engine.allocator import (
    Allocation,
    AllocatorConfig,
    AllocatorMemory,
    Reason,
    allocate,
)
from custom_components.stekker.engine.charger import ChargerSpec, ChargerStatus
from custom_components.stekker.engine.site import PHASES

TOL = 1e-6
KW = "kW"
FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
Fleet = Sequence[tuple[ChargerSpec, ChargerStatus]]


@dataclass(frozen=True)
class Step:
    dt: float
    available_a: dict[str, float]
    available_kw: float
    statuses: tuple[ChargerStatus, ...]


def uses(spec: ChargerSpec) -> dict[str, int]:
    """Resource -> phase current per ampere of setpoint (kW as phase current)."""
    if spec.phases == 3:
        return {"l1": 1, "l2": 1, "l3": 1, KW: 3}
    return {spec.phase: 1, KW: 1}


def capacity(
    available_a: Mapping[str, float], available_kw: float, volts: float
) -> dict[str, float]:
    room = {p: max(0.0, available_a.get(p, 0.0)) for p in PHASES}
    room[KW] = max(0.0, available_kw) * 1000.0 / volts
    return room


def load(specs: Sequence[ChargerSpec], values: Mapping[str, float]) -> dict[str, float]:
    used = dict.fromkeys((*PHASES, KW), 0.0)
    for spec in specs:
        for r, k in uses(spec).items():
            used[r] += k * values[spec.id]
    return used


amps = st.one_of(st.sampled_from([0.0, 6.0, 10.0, 16.0, 32.0]), st.floats(0.0, 80.0))
minimums = st.one_of(st.just(6.0), st.sampled_from([8.0, 10.0]), st.floats(6.0, 12.0))


@st.composite
def specs(
    draw: st.DrawFn, max_size: int = 6, one_phase: str | None = None
) -> list[ChargerSpec]:
    out = []
    for i in range(draw(st.integers(1, max_size))):
        min_a = draw(minimums)
        max_a = min_a + draw(
            st.one_of(st.sampled_from([0.0, 10.0, 26.0]), st.floats(0.0, 26.0))
        )
        if one_phase is None:
            n, phase = draw(st.sampled_from([1, 3])), draw(st.sampled_from(PHASES))
        else:
            n, phase = 1, one_phase
        prio = draw(st.sampled_from([0, 0, 1, 2]))
        out.append(ChargerSpec(f"c{i}", n, phase, min_a, max_a, prio))
    return out


configs = st.builds(
    AllocatorConfig,
    ramp_step_a=st.sampled_from([1.0, 2.0, 6.0]),
    hysteresis_s=st.sampled_from([0.0, 10.0]),
    min_write_interval_s=st.sampled_from([0.0, 30.0]),
    rotation_s=st.sampled_from([0.0, 60.0, 900.0]),
    unused_cycles=st.sampled_from([1, 5]),
)


def statuses(
    n: int, measured: bool = True
) -> st.SearchStrategy[tuple[ChargerStatus, ...]]:
    one = st.builds(
        ChargerStatus,
        connected=st.sampled_from([True, True, True, False]),
        enabled=st.sampled_from([True, True, True, False]),
        measured_a=st.one_of(st.none(), st.floats(0.0, 40.0))
        if measured
        else st.none(),
    )
    return st.tuples(*[one] * n)


@st.composite
def scenarios(
    draw: st.DrawFn, measured: bool = True
) -> tuple[list[ChargerSpec], AllocatorConfig, list[Step]]:
    fleet = draw(specs())
    steps = []
    available = {p: draw(amps) for p in PHASES}
    kw = draw(st.floats(0.0, 60.0))
    status = draw(statuses(len(fleet), measured))
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.booleans()):
            available = {p: draw(amps) for p in PHASES}
            kw = draw(st.floats(0.0, 60.0))
        if draw(st.integers(0, 3)) == 0:
            status = draw(statuses(len(fleet), measured))
        dt = draw(st.sampled_from([1.0, 5.0, 5.0, 10.0, 30.0, 120.0, 1000.0]))
        steps.append(Step(dt, available, kw, status))
    return fleet, draw(configs), steps


def simulate(
    fleet: list[ChargerSpec], config: AllocatorConfig, steps: list[Step]
) -> Iterator[tuple[float, Step, Allocation]]:
    memory, now = AllocatorMemory(), 0.0
    for step in steps:
        now += step.dt
        alloc = allocate(
            step.available_a,
            step.available_kw,
            list(zip(fleet, step.statuses, strict=True)),
            memory,
            now,
            config,
        )
        memory = alloc.memory
        yield now, step, alloc


@FAST
@given(scenarios())
def test_every_output_respects_minimums_phases_and_kw(
    scenario: tuple[list[ChargerSpec], AllocatorConfig, list[Step]],
) -> None:
    fleet, config, steps = scenario
    for _, step, alloc in simulate(fleet, config, steps):
        room = capacity(step.available_a, step.available_kw, config.voltage_v)
        for values in (alloc.setpoints, alloc.targets):
            used = load(fleet, values)
            assert all(used[r] <= room[r] + TOL for r in room), (used, room)
        for spec, status in zip(fleet, step.statuses, strict=True):
            value, reason = alloc.setpoints[spec.id], alloc.reasons[spec.id]
            assert value == 0.0 or spec.min_a <= value <= spec.max_a
            assert (value > 0.0) == (reason in (Reason.CHARGING, Reason.LIMITED))
            if not status.enabled:
                assert reason is Reason.DISABLED
            elif not status.connected:
                assert reason is Reason.IDLE
            assert alloc.explain[spec.id]


@FAST
@given(scenarios())
def test_outputs_rise_only_slowly_and_never_above_a_safe_target(
    scenario: tuple[list[ChargerSpec], AllocatorConfig, list[Step]],
) -> None:
    """Down at once; up only after the target has allowed the new value for the
    hysteresis time, by one ramp step (a start: to the minimum), at most once per
    write interval; above the target only by keeping part of the last value."""
    fleet, config, steps = scenario
    previous = {s.id: 0.0 for s in fleet}
    raised: dict[str, float] = {}
    history: dict[str, list[tuple[float, float]]] = {s.id: [] for s in fleet}
    for now, step, alloc in simulate(fleet, config, steps):
        for spec, status in zip(fleet, step.statuses, strict=True):
            cid = spec.id
            out, target, before = (
                alloc.setpoints[cid],
                alloc.targets[cid],
                previous[cid],
            )
            if not (status.enabled and status.connected):
                history[cid] = []
                continue
            history[cid].append((now, target))
            assert out <= max(target, before) + TOL
            if out > target + TOL:
                assert before > 0.0 and out <= before + TOL
            if out > before + TOL:
                assert out <= max(spec.min_a, before + config.ramp_step_a) + TOL
                assert (
                    cid not in raised
                    or now - raised[cid] >= config.min_write_interval_s
                )
                since = now
                for t, tgt in reversed(history[cid]):
                    if tgt < out - TOL:
                        break
                    since = t
                assert now - since >= config.hysteresis_s
                raised[cid] = now
        previous = dict(alloc.setpoints)


def blocking_resource_ok(
    i: ChargerSpec,
    fleet: Sequence[ChargerSpec],
    targets: Mapping[str, float],
    slack: Mapping[str, float],
) -> bool:
    """Some full resource of i holds no charger above its minimum that is in a
    lower class, or in i's class with a higher value."""
    for r in uses(i):
        if slack[r] > TOL:
            continue
        blockers = [
            j
            for j in fleet
            if r in uses(j)
            and j.id != i.id
            and targets[j.id] > j.min_a + TOL
            and (
                (j.priority == i.priority and targets[j.id] > targets[i.id] + TOL)
                or j.priority < i.priority
            )
        ]
        if not blockers:
            return True
    return False


@FAST
@given(scenarios(measured=False))
def test_targets_are_max_min_fair_within_a_class_and_serve_higher_classes_first(
    scenario: tuple[list[ChargerSpec], AllocatorConfig, list[Step]],
) -> None:
    """A charger below its max can only be raised by lowering one in its class
    with an equal or lower value, or one of a higher class: every charger that
    could give way sits at its minimum."""
    fleet, config, steps = scenario
    for _, step, alloc in simulate(fleet, config, steps):
        active = [
            s
            for s, st_ in zip(fleet, step.statuses, strict=True)
            if st_.enabled and st_.connected
        ]
        room = capacity(step.available_a, step.available_kw, config.voltage_v)
        used = load(active, alloc.targets)
        slack = {r: room[r] - used[r] for r in room}
        for spec in active:
            if 0.0 < alloc.targets[spec.id] < spec.max_a - TOL:
                assert blocking_resource_ok(spec, active, alloc.targets, slack)


@FAST
@given(
    specs(),
    st.dictionaries(st.sampled_from(PHASES), amps, min_size=3),
    st.floats(0.0, 60.0),
)
def test_a_charger_left_out_does_not_fit_beside_the_minimums_of_its_class_and_above(
    fleet: list[ChargerSpec], available_a: dict[str, float], available_kw: float
) -> None:
    """On a first allocation (nobody's turn has come), a charger gets nothing
    only if its minimum does not fit beside the minimums of the chargers of its
    own and higher classes that got in; it is waiting for its turn exactly when
    it would fit beside those of the higher classes."""
    cfg = AllocatorConfig()
    alloc = allocate(
        available_a,
        available_kw,
        [(s, ChargerStatus(True)) for s in fleet],
        AllocatorMemory(),
        0.0,
        cfg,
    )
    room = capacity(available_a, available_kw, cfg.voltage_v)
    held = {s.id: s.min_a if alloc.targets[s.id] > 0.0 else 0.0 for s in fleet}
    for spec in fleet:
        if alloc.targets[spec.id] > 0.0:
            continue
        same_or_higher = load([j for j in fleet if j.priority >= spec.priority], held)
        higher = load([j for j in fleet if j.priority > spec.priority], held)
        need = {r: k * spec.min_a for r, k in uses(spec).items()}
        assert any(room[r] - same_or_higher[r] < need[r] - TOL for r in need)
        fits_beside_higher = all(room[r] - higher[r] >= need[r] - TOL for r in need)
        assert (alloc.reasons[spec.id] is Reason.WAITING_FOR_TURN) == fits_beside_higher


@settings(max_examples=40, deadline=None)
@given(
    specs(max_size=6),
    st.floats(6.0, 80.0),
    st.floats(6.0, 80.0),
    st.floats(6.0, 80.0),
    st.floats(1.5, 60.0),
)
def test_everyone_gets_a_turn_when_minimums_do_not_all_fit(
    fleet: list[ChargerSpec], l1: float, l2: float, l3: float, kw: float
) -> None:
    """Equal priority, fixed room that holds each minimum alone: over a long
    enough run every charger charges for a while."""
    fleet = [replace(s, priority=0) for s in fleet]
    cfg = AllocatorConfig(hysteresis_s=5.0, min_write_interval_s=10.0, rotation_s=60.0)
    room = capacity({"l1": l1, "l2": l2, "l3": l3}, kw, cfg.voltage_v)
    fits_alone = [
        s for s in fleet if all(room[r] >= k * s.min_a for r, k in uses(s).items())
    ]
    assume(fits_alone)
    plugged = [(s, ChargerStatus(True)) for s in fleet]
    charged: set[str] = set()
    memory, horizon = AllocatorMemory(), (len(fleet) + 2) * 3 * cfg.rotation_s
    now = 0.0
    while now <= horizon:
        alloc = allocate({"l1": l1, "l2": l2, "l3": l3}, kw, plugged, memory, now, cfg)
        memory = alloc.memory
        charged |= {cid for cid, value in alloc.setpoints.items() if value > 0.0}
        now += 5.0
    assert {s.id for s in fits_alone} <= charged


def settle(
    fleet: Fleet, available_a: Mapping[str, float], available_kw: float
) -> float:
    """Total kW once the outputs have reached their targets under fixed room."""
    cfg = AllocatorConfig(rotation_s=math.inf)
    memory = AllocatorMemory()
    for n in range(200):
        alloc = allocate(available_a, available_kw, fleet, memory, n * 60.0, cfg)
        memory = alloc.memory
        if all(abs(v - alloc.targets[c]) <= TOL for c, v in alloc.setpoints.items()):
            return (
                sum(
                    v * s.phases
                    for (s, _), v in zip(fleet, alloc.setpoints.values(), strict=True)
                )
                * cfg.voltage_v
                / 1000
            )
    raise AssertionError("outputs did not reach their targets")


@FAST
@given(
    specs(one_phase="l1"),
    st.floats(0.0, 80.0),
    st.floats(0.0, 40.0),
    st.floats(0.0, 20.0),
)
def test_more_room_on_one_phase_never_lowers_the_settled_total(
    fleet: list[ChargerSpec], l1: float, kw: float, extra: float
) -> None:
    plugged = [(s, ChargerStatus(True)) for s in fleet]
    base = settle(plugged, {"l1": l1}, kw)
    assert settle(plugged, {"l1": l1 + extra}, kw) >= base - TOL
    assert settle(plugged, {"l1": l1}, kw + extra) >= base - TOL


@FAST
@given(specs(), st.data())
def test_more_room_never_lowers_the_settled_total_when_all_minimums_fit(
    fleet: list[ChargerSpec], data: st.DataObject
) -> None:
    plugged = [(s, ChargerStatus(True)) for s in fleet]
    mins = load(fleet, {s.id: s.min_a for s in fleet})
    spare = st.floats(0.0, 40.0)
    available_a = {p: mins[p] + data.draw(spare) for p in PHASES}
    kw = (mins[KW] + data.draw(spare)) * 230.0 / 1000.0
    grow, extra = (
        data.draw(st.sampled_from([*PHASES, KW])),
        data.draw(st.floats(0.0, 20.0)),
    )
    bigger, more_kw = dict(available_a), kw
    if grow == KW:
        more_kw += extra
    else:
        bigger[grow] += extra
    assert settle(plugged, bigger, more_kw) >= settle(plugged, available_a, kw) - TOL
