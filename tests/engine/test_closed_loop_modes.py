"""Property tests of the closed loop with what landed on top of the balancer:
charging modes as ceilings that change over time (off, fast, planned slots below
and above the minimum, solar and min+solar with changing export), a live grid
limit that steps down and up, and the quarter-hour budget's allowance.

The same pure loop as ``test_closed_loop_properties`` (meter -> accounting ->
headroom -> decide -> cars with lag), with ``mode_ceilings`` and the live limit
(``live_limit_kw`` of the limit now and the quarter's allowance, tracked by
``track_import`` from the metered import) in between, as the HA layer wires them.
"""

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.stekker.engine.accounting import (
    ChargerObservation,
    account,
    total_credit,
)
from custom_components.stekker.engine.control import ChargerInput, Mode, decide
from custom_components.stekker.engine.headroom import compute_headroom
from custom_components.stekker.engine.modes import (
    ChargeMode,
    ModeCharger,
    ModeMemory,
    SlotPlan,
    mode_ceilings,
)
from custom_components.stekker.engine.quarter_hour import (
    QUARTER_S,
    QuarterImport,
    allowance_kw,
    live_limit_kw,
    track_import,
)
from custom_components.stekker.engine.site import PHASES

from .test_closed_loop_properties import (
    DT,
    FULL,
    OVER_A,
    OVER_W,
    PHASE_POWER,
    TOTAL,
    World,
    meter_reading,
    sensor_a,
    worlds,
)

LOOP = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CYCLES = 150
SLOT_H = 0.25
STALE = 3  # cycles of a meter gap before the fail-safe


@dataclass
class Timeline:
    """What changes over the run besides the building: modes, plan slots, the
    limit now and the quarter-hour budget."""

    modes: dict[int, dict[str, tuple[ChargeMode, float]]]  # cycle -> id -> (mode, kW)
    limits: dict[int, float]  # cycle -> the limit now (kW)
    budget_kw: float | None
    start_s: float  # wall seconds into a quarter at cycle 0
    fail_safe: dict[str, float] = field(default_factory=dict)
    # A meter gap (first cycle, length): held, then fail-safe after STALE cycles.
    gap: tuple[int, int] | None = None
    mode_now: dict[str, tuple[ChargeMode, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ModeCycle:
    index: int
    grid_a: dict[str, float]
    import_w: float
    car_w: float  # what the cars draw of it
    limit_kw: float  # the live limit used this cycle (limit now and allowance)
    targets: dict[str, float | None]
    ceilings: dict[str, float]
    plain: dict[str, float | None]  # decide() of the same cycle without modes
    mode: Mode = Mode.ALLOCATE
    before: dict[str, float | None] = field(default_factory=dict)  # setpoints


def run_modes(world: World, line: Timeline, cycles: int) -> list[ModeCycle]:
    """Drive the loop with modes, the live limit and the budget; returns the history."""
    out: list[ModeCycle] = []
    mode_memory: dict[str, ModeMemory] = {}
    quarter: QuarterImport | None = None
    limit_now = world.site.gtv_kw
    live = limit_now
    for index in range(cycles):
        blind = line.gap is not None and 0 <= index - line.gap[0] < line.gap[1]
        now = index * DT
        if index in world.steps:
            world.building = dict(world.steps[index])
        if index in line.limits:
            limit_now = line.limits[index]
        line.mode_now.update(line.modes.get(index, {}))
        reading, grid = meter_reading(world)
        import_w = sum(grid[p] * world.volts[p] for p in PHASES)
        car_w = sum(
            amps * world.volts[phase]
            for point in world.points
            for phase, amps in point.car.phase_currents().items()
        )
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
            inputs.append(
                ChargerInput(
                    spec=point.spec,
                    account=acc,
                    enabled=True,
                    readable=True,
                    connected=point.car.connected if point.reports_connection else None,
                    measured_a=None if measured is None else max(measured.values()),
                    setpoint_a=point.log.amps,
                    device_setpoint_a=point.log.amps,
                    wanted_a=point.wanted,
                    fail_safe_a=line.fail_safe.get(point.spec.id, point.spec.min_a),
                )
            )
        credit = total_credit({i.spec.id: i.account for i in inputs})
        # The quarter-hour tracker, as QuarterHourMeter samples the metered import.
        wall = line.start_s + now
        q = int(wall // QUARTER_S)
        into = wall - q * QUARTER_S
        metered_kw = (reading.power_w or import_w) / 1000.0
        headroom = None
        if not blind:
            quarter, _ = track_import(quarter, q, into, now, metered_kw)
            allowance = (
                None
                if line.budget_kw is None
                else allowance_kw(line.budget_kw, quarter.imported_kwh, into)
            )
            live = live_limit_kw(world.site.gtv_kw, limit_now, allowance)
            headroom = compute_headroom(
                world.site, grid=reading, charger_a=credit, limit_kw=live
            )
        stale = blind and line.gap is not None and index - line.gap[0] >= STALE
        volts = world.site.voltage_v
        modes = mode_ceilings(
            [
                ModeCharger(
                    i.spec,
                    line.mode_now.get(i.spec.id, (ChargeMode.FAST, 0.0))[0],
                    sum(i.account.credit_a.values()) * volts / 1000.0,
                    SlotPlan(
                        start=(wall // (SLOT_H * 3600)) * SLOT_H * 3600,
                        hours=SLOT_H,
                        power_kw=line.mode_now[i.spec.id][1],
                    )
                    if line.mode_now.get(i.spec.id, (None,))[0] is ChargeMode.PLANNED
                    else None,
                )
                for i in inputs
            ],
            None if headroom is None else headroom.grid_kw,
            volts,
            mode_memory,
            now,
        )
        mode_memory = modes.memory
        plain = decide(inputs, headroom, stale, world.memory, now, world.config)
        decision = decide(
            inputs, headroom, stale, world.memory, now, world.config, modes.ceilings
        )
        world.memory = decision.memory
        out.append(
            ModeCycle(
                index,
                grid,
                import_w,
                car_w,
                live,
                decision.targets,
                {k: c.amps for k, c in modes.ceilings.items()},
                plain.targets,
                decision.mode,
                {p.spec.id: p.log.amps for p in world.points},
            )
        )
        for point in world.points:
            target = decision.targets[point.spec.id]
            if target is not None:
                point.wanted = target
                point.log = point.log.written(target, now)
            point.car.step(
                point.log.amps or 0.0, DT, world.volts[point.spec.loaded_phases[0]]
            )
    return out


# --- strategies ------------------------------------------------------------------------

mode_draws = st.one_of(
    st.tuples(st.sampled_from([ChargeMode.OFF, ChargeMode.FAST]), st.just(0.0)),
    st.tuples(st.sampled_from([ChargeMode.SOLAR, ChargeMode.MIN_SOLAR]), st.just(0.0)),
    # planned: an average power below and above a 1-phase or 3-phase minimum
    st.tuples(
        st.just(ChargeMode.PLANNED),
        st.sampled_from([0.0, 0.5, 1.0, 3.0, 5.0, 11.0, 22.0]),
    ),
)


@st.composite
def timelines(draw: st.DrawFn, world: World, cycles: int = CYCLES) -> Timeline:
    ids = [p.spec.id for p in world.points]
    modes: dict[int, dict[str, tuple[ChargeMode, float]]] = {
        0: {cid: draw(mode_draws) for cid in ids}
    }
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(1, cycles - 1))
        modes.setdefault(at, {})[draw(st.sampled_from(ids))] = draw(mode_draws)
    gtv = world.site.gtv_kw
    limits = {
        draw(st.integers(1, cycles - 1)): gtv * draw(st.floats(0.2, 1.0))
        for _ in range(draw(st.integers(0, 3)))
    }
    # A budget the building fits under alone (else no loop can keep it).
    building_kw = max(
        sum(max(0.0, a) for a in load.values()) * 253.0 / 1000.0
        for load in [world.building, *world.steps.values()]
    )
    budget = draw(
        st.one_of(
            st.none(),
            st.floats(0.0, 1.0).map(
                lambda f: building_kw + 0.2 + f * max(0.0, gtv - building_kw)
            ),
        )
    )
    gap = None
    if draw(st.booleans()):
        gap = (draw(st.integers(1, cycles - 20)), draw(st.integers(1, 12)))
    fail_safe = {cid: draw(st.sampled_from([0.0, 6.0, 10.0])) for cid in ids}
    return Timeline(
        fail_safe=fail_safe,
        gap=gap,
        modes=modes,
        limits=limits,
        budget_kw=budget,
        start_s=draw(st.floats(QUARTER_S - cycles + 20, QUARTER_S - 20)),
    )


# --- properties ------------------------------------------------------------------------


def check(world: World, line: Timeline, cycles: int = CYCLES) -> list[ModeCycle]:
    max_lag = max(p.car.lag_cycles for p in world.points)
    specs = {p.spec.id: p.spec for p in world.points}
    fuse = world.site.fuse_a
    history = run_modes(world, line, cycles)
    runs = {"fuse": 0, "gtv": 0, "live": 0}
    step_down: int | None = None
    for cycle in history:
        for cid, target in cycle.targets.items():
            # (a) never between 0 and the minimum
            assert target is None or target == 0.0 or target >= specs[cid].min_a, (
                cycle.index,
                cid,
                target,
            )
            # (d) a ceiling is a ceiling (a paused one pauses)
            ceiling = cycle.ceilings.get(cid)
            if ceiling is not None and target is not None:
                assert target <= max(ceiling, specs[cid].min_a) + 1e-6, (
                    cycle.index,
                    cid,
                    target,
                    ceiling,
                )
                if ceiling < specs[cid].min_a:
                    assert target == 0.0, (cycle.index, cid, target, ceiling)
            # (f) without fresh data: held never raised, then the fail-safe
            before = cycle.before.get(cid)
            if cycle.mode is Mode.HOLD and target is not None:
                assert before is not None and target <= before + 1e-6, (
                    cycle.index,
                    cid,
                    target,
                    before,
                )
            if cycle.mode is Mode.FAIL_SAFE and target is not None:
                fail_safe = line.fail_safe.get(cid, specs[cid].min_a)
                assert target <= max(fail_safe, 0.0) + 1e-6, (cycle.index, cid)
        over = {
            "fuse": any(cycle.grid_a[p] > fuse + OVER_A for p in PHASES),
            "gtv": cycle.import_w > world.site.gtv_kw * 1000.0 + OVER_W,
            # The live limit may step below the building alone: only the part
            # the cars could take back counts.
            "live": min(cycle.import_w - cycle.limit_kw * 1000.0, cycle.car_w) > OVER_W,
        }
        previous = history[cycle.index - 1] if cycle.index else None
        if previous is not None and cycle.limit_kw < previous.limit_kw - 1e-9:
            step_down = cycle.index
        if cycle.mode is not Mode.ALLOCATE:
            # Blind: the fail-safe is the installer's; the bound holds again
            # from the first fresh reading on.
            over = dict.fromkeys(over, False)
        for name, is_over in over.items():
            runs[name] = runs[name] + 1 if is_over else 0
            # (b) over a limit no longer than the slowest car's lag + one cycle
            # (after the limit stepped down: counted from the step)
            assert runs[name] <= max_lag + 1, (name, cycle.index, step_down, runs)
    return history


def quarter_energy_ok(line: Timeline, history: list[ModeCycle]) -> None:
    """(c) The quarter that ended in the run averages within the budget, but for
    the energy imported above the loop's own live limit (the cars' lag)."""
    if line.budget_kw is None:
        return
    first_q = int(line.start_s // QUARTER_S)
    into0 = line.start_s - first_q * QUARTER_S
    # The tracker counts the unseen start of the quarter at the first import.
    kwh = history[0].import_w / 1000.0 * into0 / 3600.0
    excess = 0.0
    for prev, cycle in itertools.pairwise(history):
        if int((line.start_s + cycle.index * DT) // QUARTER_S) != first_q:
            break  # (the step into the next quarter, at most 1 s, is left out)
        kwh += (max(0.0, prev.import_w) + max(0.0, cycle.import_w)) / 2e3 * DT / 3600.0
        excess += max(0.0, cycle.import_w / 1000.0 - cycle.limit_kw) * DT / 3600.0
    budget_kwh = line.budget_kw * QUARTER_S / 3600.0
    assert kwh <= budget_kwh + excess + 1e-3, (kwh, budget_kwh, excess)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[World, Timeline]:
    world = draw(worlds(meters=(FULL, PHASE_POWER, TOTAL), cycles=CYCLES))
    return world, draw(timelines(world))


@LOOP
@given(scenarios())
def test_modes_live_limit_and_budget_keep_the_invariants(
    scenario: tuple[World, Timeline],
) -> None:
    world, line = scenario
    history = check(world, line)
    quarter_energy_ok(line, history)


@LOOP
@given(scenarios())
def test_a_lone_charger_never_gets_more_with_a_mode_than_without(
    scenario: tuple[World, Timeline],
) -> None:
    """(e) Same inputs and memory, one cycle: a mode's ceiling never raises the
    target above what decide() gives without modes (one charger: no room freed
    by another car's mode to share)."""
    world, line = scenario
    world.points = world.points[:1]
    for cycle in check(world, line):
        cid = world.points[0].spec.id
        with_mode, plain = cycle.targets[cid], cycle.plain[cid]
        if with_mode is not None and plain is not None:
            assert with_mode <= plain + 1e-6, (cycle.index, with_mode, plain)
