"""The allocator: share the chargers' headroom out as one setpoint per charger.

A cycle has three steps.

1. A safe *target* per charger. Chargers are admitted at their minimum, highest
   priority class first and within a class in turn order (a running charger
   keeps its place until it has run ``rotation_s``; then it yields to chargers
   that have waited at least as long, longest waiting first). Then, again
   highest class first, the admitted ones are water-filled: they rise together
   until each reaches its maximum or a phase or the kW limit it uses is full.
   The targets together fit every limit.
2. The *output* moves towards the target: down at once; up only once the target
   has stayed above the setpoint for ``hysteresis_s``, by at most ``ramp_step_a``
   and at most once per ``min_write_interval_s``. So no output exceeds its target.
3. A charger that has to come down may keep part of what it had (never more than
   its previous setpoint or its cap) out of the room the others leave unused, so a
   charger waiting out its hysteresis does not leave capacity idle.

Admission is greedy: in a mixed-phase site, letting in a three-phase charger that
one phase holds back can, rarely, lower the total below what the single-phase
chargers it displaced would have drawn.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from heapq import heappop, heappush
from math import inf

from .charger import ChargerSpec, ChargerStatus
from .site import PHASES

_EPS = 1e-9
# Resources: the three phases in A, and the kW limit as a sum of phase currents.
_KW = 3
_RESOURCE_NAMES = (*PHASES, "kW")
_THREE_PHASE_USES = ((0, 1), (1, 1), (2, 1), (_KW, 3))
_ONE_PHASE_USES = {p: ((i, 1), (_KW, 1)) for i, p in enumerate(PHASES)}
# Turn groups, admitted in this order within a priority class; a runner whose car
# takes (almost) nothing goes last, so an empty socket or a full car gives its
# turn to a car that charges.
_YOUNG, _DUE, _OLD, _WAITING, _IDLE = range(5)
# A car measured below this draws (almost) nothing.
IDLE_A = 1.0


class Reason(StrEnum):
    """Why a charger got its setpoint."""

    CHARGING = "charging"
    LIMITED = "limited"
    PAUSED = "paused"
    WAITING_FOR_TURN = "waiting_for_turn"
    IDLE = "idle"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class AllocatorConfig:
    """Tuning that keeps chargers and cars from being flapped."""

    voltage_v: float = 230.0
    ramp_step_a: float = 2.0
    hysteresis_s: float = 10.0
    min_write_interval_s: float = 30.0
    rotation_s: float = 900.0
    unused_threshold_a: float = 2.0
    unused_cycles: int = 5

    def __post_init__(self) -> None:
        if self.voltage_v <= 0 or self.ramp_step_a <= 0 or self.unused_cycles < 1:
            raise ValueError("voltage, ramp step and unused cycles must be positive")
        if (
            min(
                self.hysteresis_s,
                self.min_write_interval_s,
                self.rotation_s,
                self.unused_threshold_a,
            )
            < 0
        ):
            raise ValueError("times and thresholds must not be negative")


@dataclass(frozen=True, slots=True)
class ChargerMemory:
    """What the allocator remembers about one charger.

    To resume after a restart without pausing the cars, seed ``setpoint_a`` with
    what the charger is set to; a running charger without ``running_since`` counts
    as started now.
    """

    setpoint_a: float = 0.0
    raised_at: float | None = None
    want_since: float | None = None
    want_floor_a: float = 0.0
    running_since: float | None = None
    waiting_since: float | None = None
    unused_cycles: int = 0
    cap_a: float | None = None
    idle_cycles: int = 0


@dataclass(frozen=True, slots=True)
class AllocatorMemory:
    """The allocator's state between cycles, keyed by charger id."""

    chargers: Mapping[str, ChargerMemory] = field(default_factory=dict)


class Limit(StrEnum):
    """What holds a charger where it is (for a "limited by" sensor)."""

    NONE = "none"  # not charging and not wanting to
    MAXIMUM = "maximum"  # its own (or the user's) maximum
    CAR = "car"  # the car takes less
    RAMP = "ramp"  # on its way up: hysteresis, ramp step, write interval
    L1 = "l1"
    L2 = "l2"
    L3 = "l3"
    GTV = "gtv"
    TURN = "turn"  # waiting for its turn


@dataclass(frozen=True, slots=True)
class Allocation:
    """Setpoints (A, 0 = paused) with the reason and binding constraint of each.

    ``targets`` are the safe fair values the setpoints ramp towards.
    """

    setpoints: dict[str, float]
    reasons: dict[str, Reason]
    explain: dict[str, str]
    targets: dict[str, float]
    memory: AllocatorMemory
    limits: dict[str, Limit] = field(default_factory=dict)


_FRESH = ChargerMemory()


class _Work:
    """One connected, enabled charger while a cycle is worked out."""

    __slots__ = (
        "bound",
        "cap",
        "effmax",
        "floor",
        "idle",
        "index",
        "key",
        "mem",
        "out",
        "prev",
        "ready_at",
        "spec",
        "target",
        "unused",
        "uses",
        "waiting_for_turn",
        "waiting_since",
        "want_since",
    )

    def __init__(
        self, index: int, spec: ChargerSpec, mem: ChargerMemory, prev: float
    ) -> None:
        self.index = index
        self.spec = spec
        self.mem = mem
        self.prev = prev
        self.uses = (
            _THREE_PHASE_USES if spec.phases == 3 else _ONE_PHASE_USES[spec.phase]
        )
        self.cap: float | None = None
        self.unused = 0
        self.idle = 0
        self.effmax = spec.max_a
        self.key: tuple[int, float, int] = (0, 0.0, 0)
        self.target = 0.0
        self.out = 0.0
        self.bound = _KW
        self.waiting_for_turn = False
        self.waiting_since = 0.0
        self.want_since: float | None = None
        self.floor = 0.0
        self.ready_at = inf


def allocate(
    available_a: Mapping[str, float],
    available_kw: float,
    chargers: Sequence[tuple[ChargerSpec, ChargerStatus]],
    memory: AllocatorMemory,
    now: float,
    config: AllocatorConfig,
    *,
    hold_increases: bool = False,
) -> Allocation:
    """Split ``available_a`` per phase and ``available_kw`` over the chargers.

    The availability is for all chargers together, their present draw included.
    Missing, negative or NaN availability counts as none. ``hold_increases`` keeps
    every charger from rising this cycle (decreases still apply).
    """
    room = [_clean(available_a.get(p, 0.0)) for p in PHASES]
    room.append(_clean(available_kw) * 1000.0 / config.voltage_v)
    setpoints: dict[str, float] = {}
    reasons: dict[str, Reason] = {}
    explain: dict[str, str] = {}
    targets: dict[str, float] = {}
    new_memory: dict[str, ChargerMemory] = {}
    limits = dict.fromkeys((spec.id for spec, _ in chargers), Limit.NONE)
    works: list[_Work] = []
    for index, (spec, status) in enumerate(chargers):
        if spec.id in setpoints:
            raise ValueError(f"duplicate charger id {spec.id!r}")
        setpoints[spec.id] = 0.0
        targets[spec.id] = 0.0
        if status.enabled and status.connected:
            works.append(_prepare(index, spec, status, memory, now, config))
            continue
        if not status.enabled:
            reasons[spec.id] = Reason.DISABLED
            explain[spec.id] = "balancing off"
        else:
            reasons[spec.id] = Reason.IDLE
            explain[spec.id] = "no car wants charge"
        # Only the last raise outlives a session: a quick replug is no free write.
        raised_at = memory.chargers.get(spec.id, _FRESH).raised_at
        if raised_at is not None:
            new_memory[spec.id] = ChargerMemory(raised_at=raised_at)

    _set_targets(works, room.copy())
    for work in works:
        _step(work, now, config, hold_increases)
    _keep(works, room)

    for work in works:
        spec_id = work.spec.id
        setpoints[spec_id] = work.out
        targets[spec_id] = work.target
        reasons[spec_id], explain[spec_id] = _why(work, now)
        limits[spec_id] = _limit(work)
        new_memory[spec_id] = _remember(work, now)
    return Allocation(
        setpoints, reasons, explain, targets, AllocatorMemory(new_memory), limits
    )


def _clean(value: float) -> float:
    """Negative and NaN become 0: no capacity rather than a guess."""
    return value if value > 0.0 else 0.0


def _prepare(
    index: int,
    spec: ChargerSpec,
    status: ChargerStatus,
    memory: AllocatorMemory,
    now: float,
    config: AllocatorConfig,
) -> _Work:
    """Normalise the remembered state, update the unused-capacity cap, turn order."""
    mem = memory.chargers.get(spec.id, _FRESH)
    prev = mem.setpoint_a
    if not prev >= spec.min_a:  # also NaN; a value below min cannot stand
        prev = 0.0
    work = _Work(index, spec, mem, prev)

    measured = status.measured_a
    threshold = config.unused_threshold_a
    if prev > 0.0 and measured is not None:
        work.cap = mem.cap_a
        if work.cap is not None and measured >= work.cap - threshold / 2:
            work.cap = None
        elif measured < prev - threshold:
            work.unused = mem.unused_cycles + 1
            if work.unused >= config.unused_cycles:
                work.cap = max(spec.min_a, measured + threshold)
                work.unused = 0
    elif prev > 0.0:
        work.cap = mem.cap_a  # no measurement: no news, keep the cap
    if work.cap is not None:
        work.effmax = min(spec.max_a, work.cap)
    if prev > 0.0 and measured is not None and measured < IDLE_A:
        work.idle = mem.idle_cycles + 1
    elif prev > 0.0 and measured is None:
        work.idle = mem.idle_cycles  # no news

    # Turn order: young runners keep their place; a waiter that has waited a full
    # turn goes before runners whose turn is over (longest running yields first);
    # other waiters only take room nobody else needs. Both sides waiting a whole
    # turn stops two runners whose turns end together from swapping twice.
    if prev > 0.0:
        started = now if mem.running_since is None else mem.running_since
        group = _YOUNG if now - started < config.rotation_s else _OLD
        if work.idle >= config.unused_cycles:
            group = _IDLE
        work.key = (group, -started, index)
        work.waiting_since = now  # if it stops now, it waits from now
    else:
        if mem.waiting_since is not None:
            work.waiting_since = mem.waiting_since
        else:
            work.waiting_since = now
        group = _DUE if now - work.waiting_since >= config.rotation_s else _WAITING
        work.key = (group, work.waiting_since, index)
    return work


def _set_targets(works: list[_Work], room: list[float]) -> None:
    """Admit at their minimum class by class, then water-fill class by class.

    Minimums go first so that a higher class never pauses a lower-class car to
    gain a few amperes; the room above the minimums goes to the highest class.
    A waiter whose turn has come but that cannot start yet reserves its phases,
    and the kW limit if that is what it lacks: no later waiter starts on them, so
    the runners holding them age out and it gets in, whatever the mix of sizes.
    """
    classes: dict[int, list[_Work]] = {}
    for work in works:
        classes.setdefault(work.spec.priority, []).append(work)
        if not work.spec.can_pause:
            # It draws its minimum whatever the room: that comes off first.
            for r, k in work.uses:
                room[r] -= k * work.spec.min_a
    admitted: list[list[_Work]] = []
    for priority in sorted(classes, reverse=True):
        before = room.copy()
        reserved: set[int] = set()
        members: list[_Work] = []
        for work in sorted(classes[priority], key=lambda w: w.key):
            min_a = work.spec.min_a
            if not work.spec.can_pause:
                members.append(work)
                continue
            short = _short_of(work, min_a, room)
            if short is None and work.key[0] in (_DUE, _WAITING, _IDLE):
                short = next((r for r, _ in work.uses if r in reserved), None)
            if short is None:
                for r, k in work.uses:
                    room[r] -= k * min_a
                members.append(work)
                continue
            work.bound = short
            work.waiting_for_turn = _short_of(work, min_a, before) is None
            if work.waiting_for_turn and work.key[0] == _DUE:
                reserved.update(r for r, _ in work.uses if r != _KW)
                if room[_KW] < work.spec.phases * min_a - _EPS:
                    reserved.add(_KW)
        admitted.append(members)
    for members in admitted:
        _fill(members, room)


def _short_of(work: _Work, current: float, room: list[float]) -> int | None:
    """The first resource that cannot give ``current`` to this charger, if any."""
    for r, k in work.uses:
        if room[r] < k * current - _EPS:
            return r
    return None


def _fill(admitted: list[_Work], room: list[float]) -> None:
    """Raise the admitted chargers together from their minimum (water-filling).

    ``room`` already has their minimums taken off. A charger below the water line
    waits at its minimum until the line reaches it, then rises with the others
    until its maximum or a resource it uses is full.
    """
    below = sorted(admitted, key=lambda w: w.spec.min_a, reverse=True)
    rising: dict[int, _Work] = {}
    tops: list[tuple[float, int]] = []
    rate = [0, 0, 0, 0]
    level = 0.0
    while below or rising:
        if not rising:
            level = max(level, below[-1].spec.min_a)
        while below and below[-1].spec.min_a <= level + _EPS:
            work = below.pop()
            rising[work.index] = work
            heappush(tops, (work.effmax, work.index))
            for r, k in work.uses:
                rate[r] += k
        step = tops[0][0] - level
        if below:
            step = min(step, below[-1].spec.min_a - level)
        for r in range(4):
            if rate[r]:
                step = min(step, room[r] / rate[r])
        step = max(step, 0.0)
        level += step
        for r in range(4):
            room[r] -= rate[r] * step
        while tops and tops[0][0] <= level + _EPS:
            top = rising.pop(heappop(tops)[1], None)
            if top is not None:
                _freeze(top, min(level, top.effmax), None, rate)
        for r in range(4):
            if rate[r] and room[r] <= _EPS:
                for index in [i for i, w in rising.items() if _uses(w, r)]:
                    _freeze(rising.pop(index), level, r, rate)


def _uses(work: _Work, resource: int) -> bool:
    return any(r == resource for r, _ in work.uses)


def _freeze(work: _Work, value: float, bound: int | None, rate: list[int]) -> None:
    work.target = max(value, work.spec.min_a)  # a join within _EPS of the line
    if bound is not None:
        work.bound = bound
    for r, k in work.uses:
        rate[r] -= k


def _step(work: _Work, now: float, config: AllocatorConfig, hold: bool) -> None:
    """Move from the previous setpoint towards the target: down now, up slowly.

    The want window (since when, and the lowest target since) tracks how long the
    room for an increase has lasted.
    """
    mem, prev, target = work.mem, work.prev, work.target
    work.out = prev
    if target < prev - _EPS:
        work.out = target
    elif target > prev + _EPS:
        if mem.want_since is None:
            work.want_since, work.floor = now, target
        else:
            work.want_since = mem.want_since
            work.floor = min(mem.want_floor_a, target)
        ready_at = work.want_since + config.hysteresis_s
        if mem.raised_at is not None:
            ready_at = max(ready_at, mem.raised_at + config.min_write_interval_s)
        work.ready_at = ready_at
        if now >= ready_at and not hold:
            # A start jumps to the minimum; the floor keeps it to room that lasted.
            work.out = min(work.floor, max(work.spec.min_a, prev + config.ramp_step_a))
            work.ready_at = now + max(config.hysteresis_s, config.min_write_interval_s)
            work.want_since, work.floor = (
                (now, target) if target > work.out else (None, 0.0)
            )
    if not work.spec.can_pause:
        work.out = max(work.out, work.spec.min_a)


def _keep(works: list[_Work], available: list[float]) -> None:
    """Let chargers that must come down keep what the others leave unused."""
    room = available.copy()
    for work in works:
        for r, k in work.uses:
            room[r] -= k * work.out
    keepers = [w for w in works if w.out < min(w.prev, w.effmax) - _EPS]
    keepers.sort(key=lambda w: (-w.spec.priority, w.target == 0.0, w.index))
    for work in keepers:
        free = min(room[r] / k for r, k in work.uses)
        value = min(work.prev, work.effmax, work.out + free)
        if value >= work.spec.min_a and value > work.out + _EPS:
            for r, k in work.uses:
                room[r] -= k * (value - work.out)
            work.out = value


def _why(work: _Work, now: float) -> tuple[Reason, str]:
    spec, out, target = work.spec, work.out, work.target
    if out > 0.0:
        if out >= spec.max_a - _EPS:
            return Reason.CHARGING, f"at max {spec.max_a:g} A"
        if work.cap is not None and out >= work.cap - _EPS:
            return Reason.CHARGING, f"car draws less: capped at {work.cap:.1f} A"
        if out > target + _EPS:
            return Reason.LIMITED, f"coming down to {target:.1f} A as others start"
        if out < target - _EPS:
            wait = max(0.0, work.ready_at - now)
            return (
                Reason.LIMITED,
                f"ramping to {target:.1f} A, next step in {wait:.0f} s",
            )
        return Reason.LIMITED, f"fair share: {_RESOURCE_NAMES[work.bound]} full"
    if target > 0.0:
        wait = max(0.0, work.ready_at - now)
        return Reason.PAUSED, f"starting at {spec.min_a:g} A in {wait:.0f} s"
    if work.waiting_for_turn:
        waited = now - work.waiting_since
        return Reason.WAITING_FOR_TURN, f"waiting {waited:.0f} s for a turn"
    name = _RESOURCE_NAMES[work.bound]
    return Reason.PAUSED, f"no room for {spec.min_a:g} A on {name}"


_RESOURCE_LIMITS = (Limit.L1, Limit.L2, Limit.L3, Limit.GTV)


def _limit(work: _Work) -> Limit:
    """The one thing that holds the charger, in the order a user would look."""
    spec, out, target = work.spec, work.out, work.target
    if out > 0.0 and out >= spec.max_a - _EPS:
        return Limit.MAXIMUM
    if out > 0.0 and work.cap is not None and out >= work.cap - _EPS:
        return Limit.CAR
    if out < target - _EPS:
        return Limit.RAMP
    if out <= 0.0 and work.waiting_for_turn:
        return Limit.TURN
    return _RESOURCE_LIMITS[work.bound]


def _remember(work: _Work, now: float) -> ChargerMemory:
    mem, out = work.mem, work.out
    raised_at = now if out > work.prev + _EPS else mem.raised_at
    if out > 0.0:
        started = mem.running_since if work.prev > 0.0 else None
        return ChargerMemory(
            setpoint_a=out,
            raised_at=raised_at,
            want_since=work.want_since,
            want_floor_a=work.floor,
            running_since=now if started is None else started,
            unused_cycles=work.unused,
            cap_a=work.cap,
            idle_cycles=work.idle,
        )
    return ChargerMemory(
        raised_at=raised_at,
        want_since=work.want_since,
        want_floor_a=work.floor,
        waiting_since=work.waiting_since,
    )
