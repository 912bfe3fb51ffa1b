"""Charging modes: what each charger's mode lets it have this cycle.

A mode gives a charger a *ceiling* (A per phase) that the allocator may only stay
under: live headroom still caps every charger, so a mode can lower what the
balancer gives, never raise it. A ceiling below the charger's minimum pauses it.

- off: paused.
- fast: no ceiling (the balancer's own behaviour).
- solar: the live solar surplus, shared among the cars in the solar modes. The
  surplus is what the grid meter exports plus what those cars draw now, so a car
  that starts does not eat its own surplus. A car starts after the surplus has
  covered its minimum power for ``start_s`` and stops after it has fallen short
  for ``stop_s`` (meanwhile it runs at its minimum), so a cloud does not
  start and stop it.
- min_solar: at least its minimum, more as the surplus allows.
- planned: the plan's average power for the current slot. Below the minimum a
  car runs at its minimum until the slot's planned energy is in, then pauses;
  what a slot falls short is left to the next plan. Solar first: the live
  surplus the solar-mode cars leave (counting the planned cars' own draw) is
  shared among the planned cars on top of their plans, so a surplus the
  forecast missed is not exported while a planned car could take it. A car
  with less than its minimum from the plan starts and stops on that surplus
  with the solar modes' hysteresis.

The memory (the solar waits, a slot's energy) counts on the control cycle's
clock, which a restart does not keep: after one, ``running_at_start`` says
which cars run. A slot's energy needs no keeping, as each plan starts a new
slot and is made from the session's energy so far.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from .charger import ChargerSpec

_EPS = 1e-9


class ChargeMode(StrEnum):
    """A charger's charging mode, as the user sets it."""

    OFF = "off"
    SOLAR = "solar"
    MIN_SOLAR = "min_solar"
    FAST = "fast"
    PLANNED = "planned"


class ModeLimit(StrEnum):
    """What holds a charger below what the balancer could give (a "limited by")."""

    MODE = "mode"  # the mode is off
    SOLAR = "solar"  # the solar surplus
    PLAN = "plan"  # the plan for this slot
    PHASE_SWITCH = "phase_switch"  # paused to switch its phases


@dataclass(frozen=True, slots=True)
class SolarConfig:
    """Hysteresis of the solar modes, in seconds."""

    start_s: float = 60.0
    stop_s: float = 120.0


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """A planned car's current slot: its average power and when it started.

    ``start`` identifies the slot (a new plan starts a new one); ``hours`` is the
    slot's length, so ``power_kw * hours`` is the energy it is to deliver.
    """

    start: float
    hours: float
    power_kw: float


@dataclass(frozen=True, slots=True)
class ModeCharger:
    """One charger for the mode ceilings this cycle.

    ``draw_kw`` is what it is counted to draw now; ``plan`` is None for a planned
    car without a plan (it then charges as fast: on time comes first).
    """

    spec: ChargerSpec
    mode: ChargeMode
    draw_kw: float = 0.0
    plan: SlotPlan | None = None


@dataclass(frozen=True, slots=True)
class ModeMemory:
    """Per charger between cycles: the solar state and the slot's energy so far."""

    solar_on: bool = False
    solar_since: float | None = None  # since when the surplus says otherwise
    slot_start: float | None = None
    slot_kwh: float = 0.0
    seen_at: float | None = None


@dataclass(frozen=True, slots=True)
class Ceiling:
    """The most a charger may get this cycle (A per phase, 0 = paused), and why."""

    amps: float
    limit: ModeLimit
    why: str


@dataclass(frozen=True, slots=True)
class ModeOutcome:
    ceilings: dict[str, Ceiling]
    memory: dict[str, ModeMemory]
    surplus_kw: float | None


_FRESH = ModeMemory()


def mode_ceilings(
    chargers: Sequence[ModeCharger],
    grid_kw: float | None,
    voltage_v: float,
    memory: Mapping[str, ModeMemory],
    now: float,
    config: SolarConfig = SolarConfig(),
) -> ModeOutcome:
    """Every charger's ceiling; ``grid_kw`` is the net import now (None: unknown).

    Without a grid reading the surplus is unknown: solar cars keep their state
    (running ones at their minimum), so nothing starts on a guess.
    """
    ceilings: dict[str, Ceiling] = {}
    new_memory: dict[str, ModeMemory] = {}
    solar: list[ModeCharger] = []
    planned: list[tuple[ModeCharger, SlotPlan]] = []
    for charger in chargers:
        spec = charger.spec
        match charger.mode:
            case ChargeMode.OFF:
                ceilings[spec.id] = Ceiling(0.0, ModeLimit.MODE, "mode off")
                new_memory[spec.id] = _FRESH
            case ChargeMode.PLANNED if charger.plan is not None:
                planned.append((charger, charger.plan))
            case ChargeMode.SOLAR | ChargeMode.MIN_SOLAR:
                solar.append(charger)
            case _:  # fast, or planned without a plan: charges as fast
                new_memory[spec.id] = _FRESH
    surplus = None
    if grid_kw is not None:
        surplus = -grid_kw + sum(c.draw_kw for c in solar)
    if solar:
        new_memory |= _share_surplus(
            solar, surplus, voltage_v, memory, now, config, ceilings
        )
    if planned:
        left = None
        if surplus is not None:
            taken = sum(_kw(c.spec, ceilings[c.spec.id].amps, voltage_v) for c in solar)
            left = surplus - taken + sum(c.draw_kw for c, _ in planned)
        new_memory |= _planned_cars(
            planned, left, voltage_v, memory, now, config, ceilings
        )
    return ModeOutcome(ceilings, new_memory, surplus)


def running_at_start(
    chargers: Sequence[ModeCharger], voltage_v: float
) -> dict[str, ModeMemory]:
    """The memory to start from (the waits are on a clock that does not
    survive a restart): a car found drawing at least half its minimum power
    (a car tapering off below its setpoint still runs) counts as running, so
    its stop wait starts afresh and it is not paused to wait for a start; any
    other car waits the whole start wait before it starts."""
    return {
        c.spec.id: ModeMemory(solar_on=True)
        for c in chargers
        if c.draw_kw >= 0.5 * _kw(c.spec, c.spec.min_a, voltage_v)
    }


def power_a(spec: ChargerSpec, kw: float, voltage_v: float) -> float:
    """The current per phase at which ``kw`` is drawn."""
    return kw * 1000.0 / (spec.phases * voltage_v)


def _kw(spec: ChargerSpec, amps: float, voltage_v: float) -> float:
    return amps * spec.phases * voltage_v / 1000.0


def _switch(
    mem: ModeMemory, enough: bool, now: float, config: SolarConfig
) -> tuple[bool, float | None]:
    """On/off on the surplus, switching only after it lasted start_s/stop_s."""
    since = mem.solar_since
    if enough == mem.solar_on:
        since = None
    elif since is None:
        since = now
    on = mem.solar_on
    wait = config.stop_s if on else config.start_s
    if since is not None and now - since >= wait:
        on, since = not on, None
    return on, since


def _planned_cars(
    planned: list[tuple[ModeCharger, SlotPlan]],
    surplus: float | None,
    voltage_v: float,
    memory: Mapping[str, ModeMemory],
    now: float,
    config: SolarConfig,
    ceilings: dict[str, Ceiling],
) -> dict[str, ModeMemory]:
    """Each planned car's ceiling: the plan's, or more from ``surplus`` (what
    the solar modes leave, None: unknown). As in the solar modes, the cars the
    plan holds off are admitted at their minimum one by one while the surplus
    covers it (running ones first), then what is left is shared equally over
    the plans and minimums; returns their memory, ``ceilings`` is filled in
    place."""
    plans = {
        c.spec.id: _planned(c, plan, memory.get(c.spec.id, _FRESH), voltage_v, now)
        for c, plan in planned
    }
    floors: list[tuple[ChargerSpec, float]] = []
    held: list[ModeCharger] = []
    for charger, _ in planned:
        amps = plans[charger.spec.id][0].amps
        if amps > 0.0:
            floors.append((charger.spec, _kw(charger.spec, amps, voltage_v)))
        else:
            held.append(charger)
    left = None if surplus is None else surplus - sum(kw for _, kw in floors)
    remembered: dict[str, ModeMemory] = {}
    for charger in sorted(held, key=lambda c: _order(c, plans[c.spec.id][1], now)):
        spec = charger.spec
        mem = plans[spec.id][1]
        min_kw = _kw(spec, spec.min_a, voltage_v)
        on, since = mem.solar_on, mem.solar_since
        if left is not None:
            on, since = _switch(mem, left >= min_kw - _EPS, now, config)
        remembered[spec.id] = replace(mem, solar_on=on, solar_since=since)
        if on:
            floors.append((spec, min_kw))
            if left is not None:
                left -= min_kw
    total = sum(kw for _, kw in floors) + max(0.0, left or 0.0)
    shares = _fill_over(floors, total, voltage_v)
    for charger, _ in planned:
        spec, mem = charger.spec, plans[charger.spec.id][1]
        if charger not in held:
            # Running on the plan: it stays on the surplus, should the plan
            # pause it, while its share would cover its minimum.
            on = shares[spec.id] >= _kw(spec, spec.min_a, voltage_v) - _EPS
            remembered[spec.id] = replace(mem, solar_on=on, solar_since=None)
    for spec, floor_kw in floors:
        plan_ceiling = plans[spec.id][0]
        amps = power_a(spec, max(floor_kw, shares[spec.id]), voltage_v)
        if amps > plan_ceiling.amps + _EPS:
            shown = "unknown" if surplus is None else f"{surplus:.2f} kW"
            why = f"solar surplus {shown} over the plan: {plan_ceiling.why}"
            ceilings[spec.id] = Ceiling(amps, ModeLimit.SOLAR, why)
    for charger, _ in planned:
        ceilings.setdefault(charger.spec.id, plans[charger.spec.id][0])
    return remembered


def _order(charger: ModeCharger, mem: ModeMemory, now: float) -> tuple[int, float, str]:
    """Admission order on the surplus: running cars first, then the longest
    waiting."""
    since = mem.solar_since if mem.solar_since is not None else now
    return (0 if mem.solar_on else 1, since, charger.spec.id)


def _planned(
    charger: ModeCharger, plan: SlotPlan, mem: ModeMemory, voltage_v: float, now: float
) -> tuple[Ceiling, ModeMemory]:
    spec = charger.spec
    kwh = mem.slot_kwh if mem.slot_start == plan.start else 0.0
    if mem.slot_start == plan.start and mem.seen_at is not None:
        kwh += charger.draw_kw * max(0.0, now - mem.seen_at) / 3600.0
    remembered = ModeMemory(
        mem.solar_on, mem.solar_since, slot_start=plan.start, slot_kwh=kwh, seen_at=now
    )
    due = plan.power_kw * plan.hours
    if plan.power_kw <= _EPS or kwh >= due - 1e-6:
        why = f"plan: {kwh:.2f} of {due:.2f} kWh of this slot delivered"
        return Ceiling(0.0, ModeLimit.PLAN, why), remembered
    amps = min(spec.max_a, max(spec.min_a, power_a(spec, plan.power_kw, voltage_v)))
    why = f"plan: {plan.power_kw:.2f} kW this slot, {kwh:.2f} of {due:.2f} kWh in"
    return Ceiling(amps, ModeLimit.PLAN, why), remembered


def _share_surplus(
    solar: list[ModeCharger],
    surplus: float | None,
    voltage_v: float,
    memory: Mapping[str, ModeMemory],
    now: float,
    config: SolarConfig,
    ceilings: dict[str, Ceiling],
) -> dict[str, ModeMemory]:
    """Admit cars at their minimum (min_solar first, then running solar cars),
    then share what is left of the surplus up to each car's maximum; returns
    their memory, ``ceilings`` is filled in place."""

    def order(c: ModeCharger) -> tuple[int, float, str]:
        mem = memory.get(c.spec.id, _FRESH)
        first = c.mode is ChargeMode.MIN_SOLAR or mem.solar_on
        since = mem.solar_since if mem.solar_since is not None else now
        return (0 if first else 1, since, c.spec.id)

    left = surplus
    remembered: dict[str, ModeMemory] = {}
    admitted: list[ModeCharger] = []
    for charger in sorted(solar, key=order):
        spec = charger.spec
        mem = memory.get(spec.id, _FRESH)
        min_kw = spec.min_a * spec.phases * voltage_v / 1000.0
        if charger.mode is ChargeMode.MIN_SOLAR:
            remembered[spec.id] = ModeMemory(solar_on=True)
            admitted.append(charger)
            if left is not None:
                left -= min_kw
            continue
        if left is None:  # surplus unknown: keep the state, start nothing
            remembered[spec.id] = mem
            on = mem.solar_on
        else:
            on, since = _switch(mem, left >= min_kw - _EPS, now, config)
            remembered[spec.id] = ModeMemory(solar_on=on, solar_since=since)
            if on:
                left -= min_kw
        if on:
            admitted.append(charger)
        else:
            why = (
                "solar surplus unknown"
                if surplus is None
                else f"solar surplus {surplus:.2f} kW, starts at {min_kw:.2f} kW"
            )
            ceilings[spec.id] = Ceiling(0.0, ModeLimit.SOLAR, why)
    extra = _fill([c.spec for c in admitted], max(0.0, left or 0.0), voltage_v)
    for charger in admitted:
        spec = charger.spec
        amps = spec.min_a + extra[spec.id]
        why = (
            "solar surplus unknown: at its minimum"
            if surplus is None
            else f"solar surplus {surplus:.2f} kW"
        )
        ceilings[spec.id] = Ceiling(amps, ModeLimit.SOLAR, why)
    return remembered


def _fill(specs: list[ChargerSpec], kw: float, voltage_v: float) -> dict[str, float]:
    """Share ``kw`` over the chargers above their minimum, equal power each,
    none above its maximum (water-filling); returns the extra A per phase."""
    extra = dict.fromkeys((s.id for s in specs), 0.0)
    rising = sorted(specs, key=lambda s: (s.max_a - s.min_a) * s.phases)
    while rising and kw > _EPS:
        share = kw / len(rising)
        spec = rising[0]
        room_kw = (spec.max_a - spec.min_a) * spec.phases * voltage_v / 1000.0
        if room_kw <= share:
            extra[spec.id] = spec.max_a - spec.min_a
            kw -= room_kw
            rising.pop(0)
            continue
        for spec in rising:
            extra[spec.id] = power_a(spec, share, voltage_v)
        break
    return extra


def _fill_over(
    floors: list[tuple[ChargerSpec, float]], kw: float, voltage_v: float
) -> dict[str, float]:
    """Each charger's equal share of ``kw`` counting what it has already
    (``floors``, kW): the level L with sum(max(floor, min(L, max))) = kw, each
    share min(L, max) (kW); all 0 when ``kw`` does not cover the floors."""
    tops = {s.id: _kw(s, s.max_a, voltage_v) for s, _ in floors}

    def used(level: float) -> float:
        return sum(max(f, min(level, tops[s.id])) for s, f in floors)

    lo, hi = 0.0, max(tops.values(), default=0.0)
    if used(lo) >= kw:
        return dict.fromkeys(tops, 0.0)
    if used(hi) <= kw:
        return tops
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if used(mid) <= kw else (lo, mid)
    return {i: min(lo, top) for i, top in tops.items()}
