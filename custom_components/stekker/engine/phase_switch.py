"""Phase switching: run a three-phase car on one phase to use a small surplus.

Six amps on three phases is 4.1 kW at 230 V, on one phase 1.4 kW: between the
two a solar car either stops (the surplus is exported) or, where the charger can
switch phases (Alfen register 1215), runs on one phase. A switch is slow and
wears the contactor, so it is made only after the surplus asked for it for
``start_s``, at most ``max_per_hour`` times in any hour, and always as: setpoint
0, the car measured at 0 A for ``pause_s``, write the phases, then the car may
be raised again. On one phase an Alfen socket loads L1, so it is accounted as a
one-phase charger on L1 (:func:`switched_spec`).

Only three-phase chargers that can be paused, in a solar mode, switch down;
outside the solar modes, or without a car, a switched charger goes back to three
phases at once (still paused first, and within the cap).
A write the station refuses is never tried again: the caller records it with
:func:`phase_refused` and the charger carries on as the station reads.
What the station reads always wins over memory (:func:`phases_read`): a write
that timed out may have landed, and until the station tells, the charger is
accounted on three phases (:func:`wired_spec`), which loads L1 as much as one
phase would and the other phases too.
"""

from dataclasses import dataclass, replace

from .charger import ChargerSpec
from .modes import ChargeMode

_HOUR_S = 3600.0
# A car drawing less than this is taken as stopped for the pause.
STOPPED_A = 0.5
_SOLAR_MODES = (ChargeMode.SOLAR, ChargeMode.MIN_SOLAR)


@dataclass(frozen=True, slots=True)
class PhaseSwitchConfig:
    """How patiently phases are switched: seconds, and switches per hour."""

    start_s: float = 60.0
    pause_s: float = 30.0
    max_per_hour: int = 4


@dataclass(frozen=True, slots=True)
class PhaseMemory:
    """Per charger between cycles.

    ``phases`` is what the charger is set to; ``target`` the phases it is
    pausing to switch to (None: not switching); ``switches`` when the switches
    of the last hour were made.
    """

    phases: int = 3
    target: int | None = None
    wanted_since: float | None = None
    stopped_since: float | None = None
    switches: tuple[float, ...] = ()
    refused: bool = False


@dataclass(frozen=True, slots=True)
class PhaseStep:
    """This cycle: whether the car is held at 0 A, and which phases to write."""

    memory: PhaseMemory
    hold: bool
    write: int | None


def switched_spec(spec: ChargerSpec, memory: PhaseMemory) -> ChargerSpec:
    """The charger as wired now: a switched three-phase socket is one-phase on L1."""
    if spec.phases == 3 and memory.phases == 1:
        return replace(spec, phases=1, phase="l1")
    return spec


def wired_spec(spec: ChargerSpec, phases_read: int | None) -> ChargerSpec:
    """The charger as its station reads it; as configured while it cannot tell."""
    if phases_read is None:
        return spec
    return switched_spec(spec, PhaseMemory(phases=phases_read))


def phases_read(memory: PhaseMemory, phases: int | None, now: float) -> PhaseMemory:
    """Memory as the station reads: a switch memory does not know of (a write
    that timed out but landed, or one made elsewhere) counts as made now."""
    if phases is None or phases == memory.phases:
        return memory
    return PhaseMemory(
        phases=phases, switches=(*memory.switches, now), refused=memory.refused
    )


def phase_refused(memory: PhaseMemory, phases_read: int) -> PhaseMemory:
    """After the station refused a write: never switch again, keep what it reads."""
    return PhaseMemory(phases=phases_read, refused=True)


def phase_step(
    spec: ChargerSpec,
    mode: ChargeMode,
    connected: bool,
    surplus_kw: float | None,
    measured_a: float | None,
    voltage_v: float,
    memory: PhaseMemory,
    now: float,
    config: PhaseSwitchConfig = PhaseSwitchConfig(),
) -> PhaseStep:
    """One cycle of a charger's phase switching.

    ``spec`` is the charger as configured (three-phase for a switchable socket);
    ``surplus_kw`` is the solar surplus this car could have (None: unknown, no
    switch on a guess); ``measured_a`` its highest phase current now.
    """
    if spec.phases != 3 or not spec.can_pause or memory.refused:
        return PhaseStep(memory, hold=False, write=None)
    recent = tuple(t for t in memory.switches if now - t < _HOUR_S)
    mem = replace(memory, switches=recent)
    if mem.target is not None:
        return _pause(mem, mem.target, measured_a, now, config)
    want = _wanted(spec, mode, connected, surplus_kw, voltage_v, mem.phases)
    if want == mem.phases:
        return PhaseStep(replace(mem, wanted_since=None), hold=False, write=None)
    since = now if mem.wanted_since is None else mem.wanted_since
    at_once = mode not in _SOLAR_MODES or not connected
    waited = at_once or now - since >= config.start_s
    if not waited or len(recent) >= config.max_per_hour:
        return PhaseStep(replace(mem, wanted_since=since), hold=False, write=None)
    pausing = replace(mem, target=want, wanted_since=None, stopped_since=None)
    return _pause(pausing, want, measured_a, now, config)


def _wanted(
    spec: ChargerSpec,
    mode: ChargeMode,
    connected: bool,
    surplus_kw: float | None,
    voltage_v: float,
    phases: int,
) -> int:
    """The phases the surplus asks for; the current ones when it is unknown."""
    if mode not in _SOLAR_MODES or not connected:
        return 3
    if surplus_kw is None:
        return phases
    one_phase_min_kw = spec.min_a * voltage_v / 1000.0
    if surplus_kw >= 3 * one_phase_min_kw:
        return 3
    if surplus_kw >= one_phase_min_kw:
        return 1
    return phases  # too little for either: the solar mode pauses the car


def _pause(
    mem: PhaseMemory,
    target: int,
    measured_a: float | None,
    now: float,
    config: PhaseSwitchConfig,
) -> PhaseStep:
    """Hold the car at 0 A; write once it has measured stopped for ``pause_s``."""
    if measured_a is None or measured_a >= STOPPED_A:
        return PhaseStep(replace(mem, stopped_since=None), hold=True, write=None)
    stopped = now if mem.stopped_since is None else mem.stopped_since
    if now - stopped < config.pause_s:
        return PhaseStep(replace(mem, stopped_since=stopped), hold=True, write=None)
    done = PhaseMemory(phases=target, switches=(*mem.switches, now))
    return PhaseStep(done, hold=True, write=target)
