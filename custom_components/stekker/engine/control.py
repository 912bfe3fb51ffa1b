"""One control cycle's decision: what every charger is to be set to, and why.

The balancer reads the meters and chargers and writes the outcome; everything in
between is here, so the same code runs in Home Assistant and in the property
tests of the closed loop. Three modes, by how fresh the meter data is:

- fresh: unsteered chargers are held back at the most they may draw, the rest of
  the headroom is allocated to the steered ones;
- missing for less than the stale time: setpoints are held, never raised;
- stale (or never had data): every charger goes to its fail-safe current.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from .accounting import ChargerAccount, total_credit
from .allocator import (
    AllocatorConfig,
    AllocatorMemory,
    ChargerMemory,
    Limit,
    Reason,
    allocate,
)
from .charger import ChargerSpec, ChargerStatus
from .headroom import Headroom
from .modes import Ceiling
from .site import PHASES

_EPS = 1e-9


class Mode(StrEnum):
    """How the cycle decided."""

    ALLOCATE = "allocate"
    HOLD = "hold"
    FAIL_SAFE = "fail_safe"


class State(StrEnum):
    """A charger's balancing state beyond the allocator's reasons."""

    DISABLED = "disabled"
    FAIL_SAFE = "fail_safe"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class ChargerInput:
    """One charger for the decision.

    ``spec`` is already narrowed to what the charger can be set to exactly and to
    the user's maximum; ``readable`` is False when its last read failed.
    """

    spec: ChargerSpec
    account: ChargerAccount
    enabled: bool
    readable: bool
    connected: bool | None
    measured_a: float | None
    setpoint_a: float | None  # last written
    device_setpoint_a: float | None  # what the charger reports
    wanted_a: float | None  # last target it was meant to have
    fail_safe_a: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Targets (None: write nothing) with the state and reason of each charger."""

    mode: Mode
    targets: dict[str, float | None]
    states: dict[str, str]
    why: dict[str, str]
    memory: AllocatorMemory
    limits: dict[str, str] = field(default_factory=dict)


def decide(
    chargers: Sequence[ChargerInput],
    headroom: Headroom | None,
    stale: bool,
    memory: AllocatorMemory,
    now: float,
    config: AllocatorConfig,
    ceilings: Mapping[str, Ceiling] | None = None,
) -> Decision:
    """The cycle's targets; ``headroom`` is None when there is no fresh meter data.

    ``ceilings`` (from the chargers' modes) only lower what a steered charger may
    get, the fail-safe and held setpoints too: a car its mode pauses is not
    started when the meter goes stale.
    """
    ceilings = ceilings or {}
    if headroom is not None:
        return _allocate(chargers, headroom, memory, now, config, ceilings)
    if stale:
        return Decision(
            Mode.FAIL_SAFE,
            {
                c.spec.id: _under(c, _fail_safe(c), ceilings.get(c.spec.id))
                for c in chargers
            },
            {
                c.spec.id: State.FAIL_SAFE if c.enabled else State.DISABLED
                for c in chargers
            },
            dict.fromkeys((c.spec.id for c in chargers), "meter data stale or invalid"),
            AllocatorMemory(),
        )
    return Decision(
        Mode.HOLD,
        {
            c.spec.id: None
            if c.setpoint_a is None
            else _under(c, min(c.setpoint_a, c.spec.max_a), ceilings.get(c.spec.id))
            for c in chargers
        },
        {c.spec.id: "limited" if c.enabled else State.DISABLED for c in chargers},
        dict.fromkeys(
            (c.spec.id for c in chargers), "meter reading missing: setpoint held"
        ),
        memory,
    )


def _under(charger: ChargerInput, amps: float, ceiling: Ceiling | None) -> float:
    """A held setpoint under its mode's ceiling: paused when that is below the
    minimum of a charger that can pause."""
    if ceiling is None or charger.account.reserve_a is not None:
        return amps
    spec = charger.spec
    if ceiling.amps >= spec.min_a or not spec.can_pause:
        return min(amps, max(ceiling.amps, spec.min_a))
    return 0.0


def _fail_safe(charger: ChargerInput) -> float:
    """Its fail-safe current under its maximum; one that cannot pause gets its minimum."""
    spec = charger.spec
    amps = min(charger.fail_safe_a, spec.max_a)
    return amps if spec.can_pause or amps >= spec.min_a else spec.min_a


def _allocate(
    chargers: Sequence[ChargerInput],
    headroom: Headroom,
    memory: AllocatorMemory,
    now: float,
    config: AllocatorConfig,
    ceilings: Mapping[str, Ceiling],
) -> Decision:
    config = replace(config, voltage_v=headroom.voltage_v)
    room = {p: float(headroom.available_a.get(p, 0.0)) for p in PHASES}
    room_kw = headroom.available_kw
    room_kw = _cut_unmeasured(chargers, room, room_kw, config.voltage_v)
    targets: dict[str, float | None] = {}
    states: dict[str, str] = {}
    why: dict[str, str] = {}
    steered: list[tuple[ChargerSpec, ChargerStatus]] = []
    capped: dict[str, Ceiling] = {}
    for charger in chargers:
        spec, acc = charger.spec, charger.account
        if acc.reserve_a is not None:
            for phase in spec.loaded_phases:
                room[phase] -= acc.reserve_a
            room_kw -= acc.reserve_a * spec.phases * config.voltage_v / 1000.0
            targets[spec.id], states[spec.id], why[spec.id] = _unsteered(charger)
            continue
        connected = True if charger.connected is None else charger.connected
        ceiling = ceilings.get(spec.id)
        if connected and ceiling is not None and ceiling.amps < spec.max_a - _EPS:
            capped[spec.id] = ceiling
            if ceiling.amps >= spec.min_a or not spec.can_pause:
                spec = replace(spec, max_a=max(ceiling.amps, spec.min_a))
            else:
                connected = False  # paused by its mode: left out like an empty socket
        steered.append(
            (
                spec,
                ChargerStatus(
                    connected=connected,
                    # Only a measurement that shows what the car does with its
                    # setpoint says it takes less (a slow sensor's 0 W from
                    # before a start does not).
                    measured_a=acc.observed_a,
                ),
            )
        )
        memory = _seed(memory, charger)
    allocation = allocate(
        {p: max(0.0, a) for p, a in room.items()},
        max(0.0, room_kw),
        steered,
        memory,
        now,
        config,
        hold_increases=any(c.account.settling for c in chargers),
    )
    limits: dict[str, str] = {}
    for spec, _ in steered:
        targets[spec.id] = allocation.setpoints[spec.id]
        states[spec.id] = allocation.reasons[spec.id].value
        why[spec.id] = allocation.explain.get(spec.id, "")
        limits[spec.id] = allocation.limits[spec.id].value
        ceiling = capped.get(spec.id)
        if ceiling is None or not (
            targets[spec.id] == 0.0 or allocation.limits[spec.id] is Limit.MAXIMUM
        ):
            continue
        if targets[spec.id] == 0.0 and ceiling.amps >= spec.min_a:
            continue  # the room, not the mode, keeps it paused
        states[spec.id] = (
            Reason.PAUSED.value if targets[spec.id] == 0.0 else Reason.LIMITED.value
        )
        why[spec.id] = ceiling.why
        limits[spec.id] = ceiling.limit.value
    # A charger left out this cycle keeps its memory (its turn, its start time).
    kept = AllocatorMemory({**memory.chargers, **allocation.memory.chargers})
    return Decision(Mode.ALLOCATE, targets, states, why, kept, limits)


def _cut_unmeasured(
    chargers: Sequence[ChargerInput],
    room: dict[str, float],
    room_kw: float,
    volts: float,
) -> float:
    """On a phase (or the GTV) measured over its limit, count unmeasured chargers
    at nothing; returns the kW room, ``room`` is changed in place.

    A car credited at its setpoint that draws less (full, or a lower own maximum)
    would otherwise keep part of the cut to itself, and the overload would only
    halve each cycle. The grid reading is over the limit: cut at once.
    """
    credit = total_credit({c.spec.id: c.account for c in chargers})
    assumed = total_credit(
        {c.spec.id: c.account for c in chargers if c.account.assumed}
    )
    for phase in PHASES:
        if room[phase] < credit.get(phase, 0.0) - 1e-6:
            room[phase] -= assumed.get(phase, 0.0)
    if room_kw < sum(credit.values()) * volts / 1000.0 - 1e-6:
        room_kw -= sum(assumed.values()) * volts / 1000.0
    return room_kw


def _unsteered(charger: ChargerInput) -> tuple[float | None, str, str]:
    """What a charger that is not steered now is told, if anything."""
    if not charger.enabled:
        return None, State.DISABLED, "balancing off: counted at its maximum"
    if not charger.account.obeying:
        why = f"not obeying ({charger.account.why}): counted at its maximum"
    else:
        why = "cannot be steered: counted at its maximum"
    if not charger.readable or charger.wanted_a is None:
        return None, State.FAULT, why  # a write would go nowhere known
    # Tell it again what it was last meant to have, never more than it has.
    wanted = charger.wanted_a
    if charger.setpoint_a is not None:
        wanted = min(wanted, charger.setpoint_a)
    return wanted, State.FAULT, why


def _seed(memory: AllocatorMemory, charger: ChargerInput) -> AllocatorMemory:
    """After a restart or an outage, start from what the car is doing, not zero."""
    spec = charger.spec
    if spec.id in memory.chargers:
        return memory
    running = max(charger.device_setpoint_a or 0.0, charger.measured_a or 0.0)
    running = min(running, spec.max_a)
    if running < spec.min_a:
        return memory
    return AllocatorMemory(
        {**memory.chargers, spec.id: ChargerMemory(setpoint_a=running)}
    )
