"""Property tests of the closed loop: meter, accounting, headroom, decision, cars.

A small pure simulation: a site with a building load per phase, grid voltages,
chargers with cars that follow their setpoint with a lag, a grid meter that tells
all, or only the phase powers, or only the total power, and power sensors on some
chargers that convert watts to amperes the way the driver does. Each cycle (1 s):
meter reading of the true state -> account every charger -> headroom with the
total credit -> decide -> the setpoints land -> the cars follow.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from custom_components.stekker.engine.accounting import (
    ChargerObservation,
    SetpointLog,
    account,
    total_credit,
)
from custom_components.stekker.engine.allocator import AllocatorConfig, AllocatorMemory
from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.engine.control import ChargerInput, decide
from custom_components.stekker.engine.headroom import compute_headroom
from custom_components.stekker.engine.readings import MeterReading, phase_key
from custom_components.stekker.engine.site import PHASES, Site
from simsite.cars import Car, Phase

DT = 1.0
TOL = 1e-6
# A limit counts as exceeded beyond this (float noise of lagging cars converging).
OVER_A, OVER_W = 0.05, 10.0
V_LOW, V_HIGH = 207.0, 253.0
FULL, PHASE_POWER, TOTAL = "full", "phase_power", "total"
LOOP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass
class Point:
    """One charger with its car and what the balancer keeps for it."""

    spec: ChargerSpec
    car: Car
    has_sensor: bool
    reports_connection: bool
    log: SetpointLog = field(default_factory=SetpointLog)
    wanted: float | None = None


@dataclass
class World:
    """The truth of the site, which the balancer sees only through its meters."""

    site: Site
    meter: str
    building: dict[str, float]  # signed current per phase, without chargers
    volts: dict[str, float]
    points: list[Point]
    config: AllocatorConfig
    steps: dict[int, dict[str, float]]  # cycle -> new building load
    walk: float  # volts per cycle of the random walk, 0: constant
    rng: random.Random
    memory: AllocatorMemory = field(default_factory=AllocatorMemory)


@dataclass(frozen=True)
class Cycle:
    """The true state at the start of one cycle and what was decided in it."""

    index: int
    grid_a: dict[str, float]
    import_w: float
    draws: dict[str, float]  # per charger, per loaded phase
    targets: dict[str, float | None]
    changed: bool  # building, voltage or a setpoint changed just before


def car_currents(world: World) -> dict[str, float]:
    out = dict.fromkeys(PHASES, 0.0)
    for point in world.points:
        for phase, amps in point.car.phase_currents().items():
            out[phase] += amps
    return out


def meter_reading(world: World) -> tuple[MeterReading, dict[str, float]]:
    """The grid meter's reading of the true state, and the true signed currents."""
    cars = car_currents(world)
    grid = {p: world.building[p] + cars[p] for p in PHASES}
    values: dict[str, float] = {}
    total = 0.0
    for phase in PHASES:
        power = grid[phase] * world.volts[phase]
        total += power
        if world.meter == FULL:
            values[phase_key("current", phase)] = abs(grid[phase])
            values[phase_key("voltage", phase)] = world.volts[phase]
        if world.meter in (FULL, PHASE_POWER):
            values[phase_key("power", phase)] = power
    if world.meter in (FULL, TOTAL):
        values["power_w"] = total
    return MeterReading(values), grid


def sensor_a(world: World, point: Point) -> dict[str, float]:
    """A power sensor's watts as current: at the meter's voltages, else 253 V."""
    phases = point.spec.loaded_phases
    watts = point.car.draw_a * sum(world.volts[p] for p in phases)
    known = sum(
        world.volts[p] if world.meter == FULL else world.site.v_max for p in phases
    )
    return dict.fromkeys(phases, watts / known)


def run(world: World, cycles: int) -> Iterator[Cycle]:
    """Drive the loop; yields each cycle's true state and the decision taken."""
    for index in range(cycles):
        now = index * DT
        changed = False
        if index in world.steps:
            world.building = dict(world.steps[index])
            changed = True
        if world.walk and index:
            for phase in PHASES:
                step = world.rng.choice((-world.walk, 0.0, world.walk))
                world.volts[phase] = min(V_HIGH, max(V_LOW, world.volts[phase] + step))
            changed = True
        reading, grid = meter_reading(world)
        import_w = sum(grid[p] * world.volts[p] for p in PHASES)
        inputs = []
        for point in world.points:
            measured = sensor_a(world, point) if point.has_sensor else None
            acc = account(
                ChargerObservation(
                    spec=point.spec,
                    steered=True,
                    log=point.log,
                    device_setpoint_a=point.log.amps,
                    measured_a=measured,
                    measured_at=now if measured is not None else None,
                ),
                now,
            )
            plugged = point.car.connected
            inputs.append(
                ChargerInput(
                    spec=point.spec,
                    account=acc,
                    enabled=True,
                    readable=True,
                    connected=plugged if point.reports_connection else None,
                    measured_a=None if measured is None else max(measured.values()),
                    setpoint_a=point.log.amps,
                    device_setpoint_a=point.log.amps,
                    wanted_a=point.wanted,
                    fail_safe_a=point.spec.min_a,
                )
            )
        credit = total_credit({i.spec.id: i.account for i in inputs})
        headroom = compute_headroom(world.site, grid=reading, charger_a=credit)
        decision = decide(inputs, headroom, False, world.memory, now, world.config)
        world.memory = decision.memory
        yield Cycle(
            index,
            grid,
            import_w,
            {p.spec.id: p.car.draw_a for p in world.points},
            decision.targets,
            changed,
        )
        for point in world.points:
            target = decision.targets[point.spec.id]
            if target is not None:
                point.wanted = target
                point.log = point.log.written(target, now)
            phase_v = world.volts[point.spec.loaded_phases[0]]
            point.car.step(point.log.amps or 0.0, DT, phase_v)


# --- strategies ------------------------------------------------------------------------


@st.composite
def sites(draw: st.DrawFn) -> Site:
    fuse = draw(st.floats(16.0, 80.0))
    fuse_kw = 3 * fuse * 230.0 / 1000.0
    gtv = fuse_kw * draw(st.floats(0.3, 1.0))
    margin = draw(st.sampled_from([0.0, 0.0, 0.5, 1.0]))
    assume(margin < gtv)
    return Site(gtv_kw=gtv, phases=3, fuse_a=fuse, margin_kw=margin)


def fit_building(site: Site, load: dict[str, float], meter: str) -> dict[str, float]:
    """A building that keeps the site within its limits on its own (at 253 V)."""
    low = 0.0 if meter == TOTAL else -15.0
    top = site.fuse_a - site.margin_a
    out = {p: min(top, max(low, a)) for p, a in load.items()}
    budget = (site.gtv_kw - site.margin_kw) * 1000.0 * 0.95
    used = sum(max(0.0, a) for a in out.values()) * V_HIGH
    if used > budget:
        scale = budget / used
        out = {p: a * scale if a > 0 else a for p, a in out.items()}
    return out


@st.composite
def buildings(draw: st.DrawFn, site: Site, meter: str) -> dict[str, float]:
    low = 0.0 if meter == TOTAL else -0.3
    return fit_building(
        site,
        {p: site.fuse_a * draw(st.floats(low, 0.9)) for p in PHASES},
        meter,
    )


@st.composite
def points(
    draw: st.DrawFn, n_min: int = 1, n_max: int = 8, blind_below_max: bool = True
) -> list[Point]:
    """Chargers with cars: some full or away, some with a maximum below the charger's.

    A charger without a power sensor is credited its setpoint; a car behind it that
    draws less (full, away without the charger telling, its own maximum lower)
    hides building load in the gap until the grid shows an overload (see the
    regression tests below). ``blind_below_max`` (the default) puts such cars
    behind chargers without a sensor too.
    """
    out = []
    for i in range(draw(st.integers(n_min, n_max))):
        n: Literal[1, 3] = draw(st.sampled_from([1, 3]))
        phase: Phase = draw(st.sampled_from(["l1", "l2", "l3"]))
        max_a = draw(st.one_of(st.sampled_from([10.0, 16.0, 32.0]), st.floats(10, 32)))
        spec = ChargerSpec(f"c{i}", n, phase, 6.0, max_a)
        has_sensor = draw(st.booleans())
        car_max = max_a
        if has_sensor or blind_below_max:
            car_max = draw(st.one_of(st.just(max_a), st.floats(6.0, max_a)))
        state = draw(st.sampled_from(["charging"] * 4 + ["full", "absent"]))
        reports_connection = draw(st.booleans())
        if not (has_sensor or blind_below_max):
            state = "charging" if state == "full" else state
            reports_connection = reports_connection or state == "absent"
        car = Car(
            f"car{i}",
            phases=n,
            phase=phase,
            max_a=car_max,
            soc=1.0 if state == "full" else 0.2,
            target_soc=1.0,
            connected=state != "absent",
            lag_cycles=draw(st.integers(1, 3)),
        )
        out.append(Point(spec, car, has_sensor, reports_connection))
    return out


# The defaults wait 10 s before a raise and write at most every 30 s; the options
# allow 0 for both (a raise every cycle), which is tested on its own below.
configs = st.builds(
    AllocatorConfig,
    ramp_step_a=st.sampled_from([2.0, 6.0]),
    hysteresis_s=st.sampled_from([5.0, 10.0]),
    min_write_interval_s=st.sampled_from([10.0, 30.0]),
    rotation_s=st.sampled_from([60.0, 900.0]),
)
voltages = st.floats(V_LOW, V_HIGH)


@st.composite
def worlds(
    draw: st.DrawFn,
    meters: tuple[str, ...] = (FULL, PHASE_POWER, TOTAL),
    cycles: int = 120,
    steady: bool = False,
    fleet: st.SearchStrategy[list[Point]] | None = None,
) -> World:
    site = draw(sites())
    meter = draw(st.sampled_from(meters))
    building = draw(buildings(site, meter))
    steps = {}
    if not steady:
        for _ in range(draw(st.integers(0, 2))):
            steps[draw(st.integers(1, cycles - 1))] = draw(buildings(site, meter))
    return World(
        site=site,
        meter=meter,
        building=building,
        volts={p: draw(voltages) for p in PHASES},
        points=draw(fleet if fleet is not None else points()),
        config=draw(configs),
        steps=steps,
        walk=0.0 if steady else draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
        rng=random.Random(draw(st.integers(0, 2**32))),
    )


# --- properties ------------------------------------------------------------------------


def violations(world: World, cycle: Cycle) -> list[str]:
    over = [
        f"{p} {cycle.grid_a[p]:.2f} A > fuse {world.site.fuse_a:.2f} A"
        for p in PHASES
        if cycle.grid_a[p] > world.site.fuse_a + OVER_A
    ]
    if cycle.import_w > world.site.gtv_kw * 1000.0 + OVER_W:
        over.append(f"import {cycle.import_w:.0f} W > GTV {world.site.gtv_kw:.3f} kW")
    return over


def check_loop(world: World, cycles: int) -> list[Cycle]:
    """Run, asserting (a) and (b) every cycle; returns the history."""
    max_lag = max(p.car.lag_cycles for p in world.points)
    specs = {p.spec.id: p.spec for p in world.points}
    history: list[Cycle] = []
    run_length = 0
    last_change = 0
    previous_targets: dict[str, float | None] = {}
    for cycle in run(world, cycles):
        # (a) never between 0 and the charger's minimum
        for cid, target in cycle.targets.items():
            assert target is None or target == 0.0 or target >= specs[cid].min_a, (
                cycle.index,
                cid,
                target,
            )
        if cycle.changed or cycle.index == 0:
            last_change = cycle.index
        over = violations(world, cycle)
        if over:
            run_length += 1
            # (b) only after a change of the load, the voltage or the setpoints ...
            assert run_length > 1 or cycle.index - last_change <= max_lag + 1, (
                cycle.index,
                last_change,
                over,
            )
            # ... and never for longer than the cars take to follow.
            assert run_length <= max_lag + 1, (cycle.index, run_length, over)
        else:
            run_length = 0
        if cycle.targets != previous_targets:
            last_change = cycle.index + 1  # the cars move in the next step
        previous_targets = dict(cycle.targets)
        history.append(cycle)
    return history


@LOOP
@given(worlds())
def test_the_loop_keeps_setpoints_valid_and_limits_exceeded_only_briefly(
    world: World,
) -> None:
    check_loop(world, 120)


def fits_alone(world: World, point: Point, margin_a: float = 0.5) -> bool:
    """The car fits beside the building alone: min A on its phases, and the kW."""
    if not point.car.connected or point.car.full:
        return False
    site, spec = world.site, point.spec
    need = spec.min_a + margin_a
    for phase in spec.loaded_phases:
        if site.fuse_a - site.margin_a - world.building[phase] < need:
            return False
    building_kw = sum(world.building[p] * world.volts[p] for p in PHASES) / 1000.0
    volts = max(world.volts.values())
    return (
        site.gtv_kw - site.margin_kw - building_kw
        >= spec.phases * need * volts / 1000.0
    )


@LOOP
@given(worlds(meters=(FULL,), steady=True, fleet=points(1, 1)))
def test_a_car_that_fits_alone_charges(world: World) -> None:
    """(c) Full phase data, one car, room for its minimum: it charges, and keeps
    charging (no start-stop from its own draw counted as building load)."""
    point = world.points[0]
    assume(fits_alone(world, point))
    history = check_loop(world, 150)
    assert any(c.draws[point.spec.id] > 0.0 for c in history)
    assert all(c.draws[point.spec.id] > 0.0 for c in history[-30:])


def pessimistic_fit(world: World, point: Point) -> bool:
    """The car's minimum fits the room the meter can prove with the car off."""
    reading, _ = meter_reading_building_only(world)
    room = compute_headroom(world.site, grid=reading)
    spec = point.spec
    need = spec.min_a + 0.5
    return (
        point.car.connected
        and not point.car.full
        and all(room.available_a[p] >= need for p in spec.loaded_phases)
        and room.available_kw >= spec.phases * need * room.voltage_v / 1000.0
    )


def meter_reading_building_only(world: World) -> tuple[MeterReading, dict[str, float]]:
    """The reading before any car draws (only valid before the run)."""
    assert all(p.car.draw_a == 0.0 for p in world.points)
    return meter_reading(world)


@LOOP
@given(worlds(meters=(PHASE_POWER, TOTAL), steady=True, fleet=points(1, 1)))
def test_a_car_that_fits_alone_charges_behind_any_meter(world: World) -> None:
    """(c) Any meter: a car whose minimum fits the room the meter proves with the
    car off gets to charge."""
    point = world.points[0]
    assume(pessimistic_fit(world, point))
    history = check_loop(world, 150)
    assert any(c.draws[point.spec.id] > 0.0 for c in history)


@LOOP
@given(worlds(meters=(FULL,), steady=True, fleet=points(blind_below_max=False)))
def test_full_phase_data_never_settles_at_nothing_when_a_car_fits(
    world: World,
) -> None:
    """(d) Issue 11.11: with room for some car at its minimum, the site does not
    settle with every car at 0 A. (A full car behind a charger that measures
    nothing and reports no car cannot be told from one that charges: it keeps its
    turn, so such cars are left out here.)"""
    assume(any(fits_alone(world, p) for p in world.points))
    history = check_loop(world, 150)
    tail = history[-30:]
    assert any(sum(c.draws.values()) > 0.0 for c in tail), [
        c.targets for c in tail[-3:]
    ]


def test_simulator_sees_a_violation_when_the_engine_is_bypassed() -> None:
    """The checker can fail: a car forced to 32 A on a 16 A fuse is caught."""
    site = Site(gtv_kw=11.0, phases=3, fuse_a=16.0)
    spec = ChargerSpec("c0", 1, "l1", 6.0, 32.0)
    world = World(
        site=site,
        meter=FULL,
        building=dict.fromkeys(PHASES, 0.0),
        volts=dict.fromkeys(PHASES, 230.0),
        points=[Point(spec, Car("car", phases=1, max_a=32.0), True, True)],
        config=AllocatorConfig(),
        steps={},
        walk=0.0,
        rng=random.Random(0),
    )
    world.points[0].car.step(32.0, DT, 230.0)
    cycle = next(run(world, 1))
    assert violations(world, cycle)
    assert cycle.targets["c0"] is not None and cycle.targets["c0"] <= 16.0


# --- regressions found by the properties above ------------------------------------------
#
# Each is the shrunk failing example of the property over every cycle, kept as an
# explicit case. Both failed on the engine as first written and pass since the
# fixes named in their docstrings.


def one_phase_world(
    site: Site,
    cars: list[tuple[Car, bool]],
    config: AllocatorConfig,
    steps: dict[int, dict[str, float]] | None = None,
) -> World:
    """1-phase chargers (6-10 A) on L1 at 207 V, building 0 A, full meter data."""
    return World(
        site=site,
        meter=FULL,
        building=dict.fromkeys(PHASES, 0.0),
        volts=dict.fromkeys(PHASES, 207.0),
        points=[
            Point(ChargerSpec(f"c{i}", 1, "l1", 6.0, 10.0), car, sensor, False)
            for i, (car, sensor) in enumerate(cars)
        ],
        config=config,
        steps=steps or {},
        walk=0.0,
        rng=random.Random(0),
    )


@pytest.mark.parametrize("sensor", [False, True])
def test_regression_raises_faster_than_the_lag_overshoot_the_fuse(
    sensor: bool,
) -> None:
    """Two cars on L1 of a 16 A fuse, hysteresis and write interval 0 (allowed
    options). Cycle 1: both set 6 A; car 1 (lag 2) draws 3 A, credited 6 A, so the
    building looks like -3 A and both are raised to 8 A, then 9.25 A: 18.5 A set
    on 16 A. Fixed: a measurement from this cycle is the draw, and while a car is
    credited at a setpoint it may not have reached, nobody is raised."""
    world = one_phase_world(
        Site(gtv_kw=11.04, phases=3, fuse_a=16.0),
        [
            (Car("car0", phases=1, max_a=10.0, lag_cycles=1), sensor),
            (Car("car1", phases=1, max_a=10.0, lag_cycles=2), sensor),
        ],
        AllocatorConfig(hysteresis_s=0.0, min_write_interval_s=0.0, rotation_s=60.0),
    )
    check_loop(world, 40)


@pytest.mark.parametrize(
    ("cars", "fuse", "step_a"),
    [
        # A full car: credited 10 A, draws 0 A. Building 0 -> 12 A on a 20 A fuse.
        ([(10.0, 0.2), (10.0, 1.0)], 20.0, 12.0),
        # A car that takes 9 A on a 10 A setpoint. Building 0 -> 8.5 A, 17 A fuse.
        ([(9.0, 0.2)], 17.0, 8.5),
    ],
)
def test_regression_a_blind_charger_drawing_less_than_set_slows_a_load_step_cut(
    cars: list[tuple[float, float]], fuse: float, step_a: float
) -> None:
    """Cars given as (own maximum, state of charge), lag 1, no power sensors.

    The cut used to be shared with the car that draws less than it is credited, so
    the excess halved each cycle. Fixed: on a phase the grid shows over its limit,
    chargers credited at their setpoint count at nothing, and the cut is at once.
    """
    world = one_phase_world(
        Site(gtv_kw=3 * fuse * 0.23, phases=3, fuse_a=fuse),
        [
            (Car(f"car{i}", phases=1, max_a=top, soc=soc), False)
            for i, (top, soc) in enumerate(cars)
        ],
        AllocatorConfig(hysteresis_s=5.0, min_write_interval_s=10.0, rotation_s=900.0),
        steps={26: {"l1": step_a, "l2": 0.0, "l3": 0.0}},
    )
    check_loop(world, 60)


@pytest.mark.parametrize("sensor", [False, True])
def test_the_same_sites_with_cars_that_follow_stay_within_the_bound(
    sensor: bool,
) -> None:
    """Control for the regressions: default tuning, cars drawing what they are
    set to, the same load step: the fuse holds beyond the cars' lag."""
    world = one_phase_world(
        Site(gtv_kw=13.8, phases=3, fuse_a=20.0),
        [
            (Car("car0", phases=1, max_a=10.0, lag_cycles=1), sensor),
            (Car("car1", phases=1, max_a=10.0, lag_cycles=2), sensor),
        ],
        AllocatorConfig(),
        steps={26: {"l1": 12.0, "l2": 0.0, "l3": 0.0}},
    )
    history = check_loop(world, 80)
    assert any(violations(world, c) for c in history)  # the step is felt ...
    assert not violations(world, history[-1])  # ... and handled
