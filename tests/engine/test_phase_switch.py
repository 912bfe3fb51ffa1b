"""Phase switching worked by hand at 230 V: 6 A is 1.38 kW on one phase, 4.14 kW on three."""

from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.engine.modes import ChargeMode
from custom_components.stekker.engine.phase_switch import (
    PhaseMemory,
    PhaseStep,
    PhaseSwitchConfig,
    phase_refused,
    phase_step,
    phases_read,
    switched_spec,
    wired_spec,
)

V = 230.0
A3 = ChargerSpec("a", 3, max_a=16.0)
FRESH = PhaseMemory()
CFG = PhaseSwitchConfig(start_s=60.0, pause_s=30.0, max_per_hour=4)


def step(
    mem: PhaseMemory,
    now: float,
    surplus_kw: float | None = 2.5,
    measured_a: float | None = 0.0,
    mode: ChargeMode = ChargeMode.SOLAR,
    spec: ChargerSpec = A3,
    connected: bool = True,
) -> PhaseStep:
    return phase_step(spec, mode, connected, surplus_kw, measured_a, V, mem, now, CFG)


def to_one_phase(now: float, mem: PhaseMemory = FRESH) -> PhaseMemory:
    """Drive a full switch to one phase from ``now``: wait, pause, write."""
    assert step(mem, now).write is None
    out = step(step(mem, now).memory, now + 60)
    assert out.hold and out.write is None  # waited: paused, car stopping
    out = step(out.memory, now + 90)
    assert out.write == 1
    return out.memory


def test_small_surplus_goes_to_one_phase_after_the_wait_and_pause() -> None:
    # 2.5 kW: covers 1.38 kW on one phase, not 4.14 kW on three.
    first = step(PhaseMemory(), 0.0, measured_a=3.6)
    assert (first.hold, first.write) == (False, None)
    assert first.memory.wanted_since == 0.0
    early = step(first.memory, 59.0, measured_a=3.6)
    assert (early.hold, early.write) == (False, None)
    # After 60 s: held at 0 A, but the car still draws: no write yet.
    paused = step(early.memory, 60.0, measured_a=3.6)
    assert (paused.hold, paused.write) == (True, None)
    assert paused.memory.target == 1
    # Measured stopped at 65 s; the pause counts from there, not from the decision.
    stopped = step(paused.memory, 65.0)
    assert (stopped.hold, stopped.write, stopped.memory.stopped_since) == (
        True,
        None,
        65.0,
    )
    assert step(stopped.memory, 94.0).write is None
    done = step(stopped.memory, 95.0)
    assert (done.hold, done.write) == (True, 1)
    assert done.memory.phases == 1 and done.memory.switches == (95.0,)
    # Next cycle the car may be raised again, as a one-phase charger on L1.
    after = step(done.memory, 100.0)
    assert (after.hold, after.write) == (False, None)
    spec = switched_spec(A3, after.memory)
    assert (spec.phases, spec.phase, spec.loaded_phases) == (1, "l1", ("l1",))


def test_pause_restarts_when_the_car_draws_again() -> None:
    mem = step(step(PhaseMemory(), 0.0).memory, 60.0).memory
    mem = step(mem, 60.0).memory  # stopped since 60
    mem = step(mem, 80.0, measured_a=6.0).memory  # draws again: pause restarts
    assert mem.stopped_since is None
    assert step(mem, 95.0).write is None
    unknown = step(step(mem, 95.0).memory, 130.0, measured_a=None)
    assert (unknown.hold, unknown.write) == (True, None)  # no reading: no write
    assert step(step(mem, 95.0).memory, 125.0).write == 1


def test_surplus_that_drops_back_before_the_wait_cancels() -> None:
    mem = step(PhaseMemory(), 0.0).memory
    mem = step(mem, 30.0, surplus_kw=5.0).memory  # enough for three: nothing wanted
    assert mem.wanted_since is None
    assert step(mem, 60.0).write is None and not step(mem, 60.0).hold


def test_back_to_three_phases_when_the_surplus_covers_them() -> None:
    mem = to_one_phase(0.0)
    # 4.2 kW covers 6 A x 3 (4.14 kW) for the wait: back to three.
    assert step(mem, 200.0, surplus_kw=4.2).memory.wanted_since == 200.0
    out = step(step(mem, 200.0, surplus_kw=4.2).memory, 260.0, surplus_kw=4.2)
    assert (out.hold, out.memory.target) == (True, 3)
    done = step(step(out.memory, 260.0).memory, 290.0)
    assert done.write == 3 and done.memory.phases == 3
    assert switched_spec(A3, done.memory) == A3


def test_too_little_or_unknown_surplus_keeps_the_phases() -> None:
    assert step(PhaseMemory(), 0.0, surplus_kw=1.0).memory == PhaseMemory()
    assert step(PhaseMemory(), 0.0, surplus_kw=None).memory == PhaseMemory()
    one = to_one_phase(0.0)
    assert step(one, 500.0, surplus_kw=0.5).memory.wanted_since is None


def test_at_most_four_switches_an_hour() -> None:
    mem = PhaseMemory()
    t = 0.0
    for _ in range(2):  # four switches: 1, 3, 1, 3
        mem = to_one_phase(t, mem)
        t += 200
        mem = step(step(mem, t, surplus_kw=5.0).memory, t + 60, surplus_kw=5.0).memory
        mem = step(step(mem, t + 60).memory, t + 90).memory
        assert mem.phases == 3
        t += 200
    assert len(mem.switches) == 4  # at 90, 290, 490, 690
    held = step(step(mem, t).memory, t + 600)
    assert (held.hold, held.write, held.memory.phases) == (False, None, 3)
    # An hour after the first switch (at 90 s) one may be made again.
    again = step(step(mem, t).memory, 3690.0)
    assert again.hold and again.memory.target == 1
    assert again.memory.switches == (290.0, 490.0, 690.0)


def test_outside_the_solar_modes_or_unplugged_it_goes_back_at_once() -> None:
    one = to_one_phase(0.0)
    fast = step(one, 100.0, mode=ChargeMode.FAST, surplus_kw=None)
    assert (fast.hold, fast.memory.target) == (True, 3)
    gone = step(one, 100.0, connected=False)
    assert gone.memory.target == 3
    # Not switched, fast mode: stays on three.
    assert step(PhaseMemory(), 0.0, mode=ChargeMode.FAST).memory == PhaseMemory()


def test_one_phase_chargers_and_refused_writes_never_switch() -> None:
    b1 = ChargerSpec("b", 1, "l2")
    out = step(PhaseMemory(), 100.0, spec=b1)
    assert (out.hold, out.write, out.memory) == (False, None, PhaseMemory())
    assert switched_spec(b1, PhaseMemory(phases=1)) == b1
    # One that cannot be paused could not be held at 0 A for the switch.
    steady = ChargerSpec("c", 3, can_pause=False)
    assert step(step(FRESH, 0.0, spec=steady).memory, 60.0, spec=steady) == PhaseStep(
        FRESH, hold=False, write=None
    )
    refused = phase_refused(PhaseMemory(target=1), 3)
    assert refused == PhaseMemory(phases=3, refused=True)
    for t in (0.0, 60.0, 120.0):
        assert step(refused, t) == PhaseStep(refused, hold=False, write=None)


def test_the_station_reading_wins_and_unknown_is_three_phases() -> None:
    # Unknown: accounted as configured, on all three phases (the worse).
    assert wired_spec(A3, None) == A3
    assert wired_spec(A3, 3) == A3
    assert wired_spec(A3, 1).loaded_phases == ("l1",)
    b1 = ChargerSpec("b", 1, "l2")
    assert wired_spec(b1, 3) == b1
    # A write that timed out but landed: memory takes it, counted as a switch.
    pausing = PhaseMemory(target=1, stopped_since=10.0, switches=(5.0,))
    assert phases_read(pausing, 1, 50.0) == PhaseMemory(phases=1, switches=(5.0, 50.0))
    assert phases_read(pausing, 3, 50.0) is pausing
    assert phases_read(pausing, None, 50.0) is pausing
    refused = phase_refused(FRESH, 3)
    assert phases_read(refused, 1, 9.0) == PhaseMemory(1, switches=(9.0,), refused=True)


SOLAR_MOSTLY = [ChargeMode.SOLAR] * 4 + [ChargeMode.MIN_SOLAR, *ChargeMode]


@given(
    st.lists(
        st.tuples(
            st.integers(1, 30),  # cycles this lasts
            st.sampled_from(SOLAR_MOSTLY),
            st.sampled_from([True, True, True, False]),  # connected
            st.one_of(  # surplus kW: for one phase, for three, too little, unknown
                st.floats(1.4, 4.1),
                st.floats(4.2, 10.0),
                st.floats(0.0, 1.3),
                st.none(),
            ),
            st.sampled_from([0.0, 0.0, 0.0, 0.3, 0.49, 0.5, 6.0, None]),  # measured A
            st.floats(1.0, 20.0),  # seconds per cycle
            st.sampled_from([True] * 9 + [False]),  # the station accepts a write
        ),
        max_size=60,
    ),
    st.integers(1, 4),  # switches an hour
)
@settings(max_examples=300, deadline=None)
def test_switches_only_after_a_measured_pause_and_within_the_cap(
    spans: list[tuple[int, ChargeMode, bool, float | None, float | None, float, bool]],
    cap: int,
) -> None:
    """Whatever the modes, surpluses and readings: a write comes only on a held
    cycle after the car measured below 0.5 A on every cycle of the last 30 s
    (30 s at least), at most the cap in any hour, none after a refusal."""
    config = PhaseSwitchConfig(max_per_hour=cap)
    mem, now = FRESH, 0.0
    stopped_from: float | None = None  # since when every reading was < 0.5 A
    writes: list[float] = []
    refused = False
    for count, mode, connected, surplus, measured, dt, accepts in spans:
        for _ in range(count):
            now += dt
            if measured is None or measured >= 0.5:
                stopped_from = None
            elif stopped_from is None:
                stopped_from = now
            out = phase_step(
                A3, mode, connected, surplus, measured, V, mem, now, config
            )
            mem = out.memory
            if out.write is None:
                continue
            assert out.hold and not refused
            assert stopped_from is not None and now - stopped_from >= config.pause_s
            writes.append(now)
            assert sum(1 for t in writes if now - t < 3600.0) <= cap
            if not accepts:
                mem, refused = phase_refused(mem, 3), True
