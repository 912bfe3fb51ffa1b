"""One week of a residential complex's car park, quarter hour by quarter hour.

The site: 40 apartments on a 60 kW connection (3 x 90 A), a 60 kWp roof,
24 chargers (16 at 11 kW 3-phase, 8 at 3.7 kW 1-phase over the phases). The
building has a morning and a big evening peak, more at home at the weekend;
its expected load comes from four weeks of history through `load_profile`
(updated each midnight). Solar is the built-in model (engine/solar.py) for a
week in May near Utrecht, under an hourly cloud cover that the forecast gets
wrong by a random error per hour. Prices follow a day-ahead curve.

Cars: commuters arrive in the evening and leave in the morning, home-day
cars come in the morning and leave in the afternoon, each with its own need.
Each quarter hour the strategy sets every car's power for the slot; the real
building and solar of that slot then decide the import. The plan strategy
replans each quarter hour (the HA layer also replans on events and every 5
minutes), as the product with slot 0 measured and the forecast's upside of
the surplus counted on (engine/surplus.py), and runs each car at its planned
power for the slot, or at more when
the planned mode's rule (engine/modes.py) gives it a share of the live solar
surplus, capped by the real limits. The cap, like every baseline's, gives every car the same current
(water-filling) within the grid limit and the phase fuses.

Slot granularity: no lag of a charger within a slot is modelled, the cap sees
the slot's real mean load. The figures compare strategies, not control loops.
"""

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import highspy

from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.engine.load_profile import (
    expected_load_kw,
    gross_load_history,
)
from custom_components.stekker.engine.modes import (
    ChargeMode,
    ModeCharger,
    ModeLimit,
    ModeMemory,
    SlotPlan,
    SolarConfig,
    mode_ceilings,
)
from custom_components.stekker.engine.plan import PlanCar, PlanInput, make_plan
from custom_components.stekker.engine.solar import SolarArray, array_power_w
from custom_components.stekker.engine.surplus import upside_surplus_kw

SLOT_H = 0.25
SLOTS_PER_DAY = 96
DAYS = 7
WEEK = DAYS * SLOTS_PER_DAY
HORIZON = 192
START = datetime(2026, 5, 4, tzinfo=UTC)  # a Monday; times as local, UTC+0
LATITUDE, LONGITUDE = 52.09, 5.12
GTV_KW = 60.0
# The plan keeps this much of the GTV for the building's surprises.
PLAN_MARGIN_KW = 5.0
FUSE_A = 90.0
VOLTAGE = 230.0
PHASES = ("l1", "l2", "l3")
ROOF = SolarArray("roof", 150, 400.0, 180.0, 30.0, 50.0)
MIN_A = 6.0


@dataclass(frozen=True, slots=True)
class Session:
    """One car's stay: plugged in from `arrive` until `leave` (slot indices)."""

    car: int
    arrive: int
    leave: int
    need_kwh: float


@dataclass(frozen=True, slots=True)
class Charger:
    phases: int
    phase: str
    max_a: float

    @property
    def max_kw(self) -> float:
        return self.max_a * self.phases * VOLTAGE / 1000.0


@dataclass(slots=True)
class World:
    """Everything the week holds: what happens and what was forecast."""

    chargers: list[Charger]
    sessions: list[Session]
    building: list[float]  # real mean kW per slot of the week
    history: list[tuple[datetime, float]]  # the four weeks before
    solar: list[float]  # real
    solar_forecast: list[float]  # as forecast (for the week + 2 days)
    building_expected: list[list[float]] = field(default_factory=list)  # per day
    # Without a solar meter the history is net of the panels: the gross load
    # learned from it plus the forecast of those slots (the product, issue 14),
    # and the net history taken as gross (before the fix: the sun twice).
    building_expected_rebuilt: list[list[float]] = field(default_factory=list)
    building_expected_net: list[list[float]] = field(default_factory=list)
    price: list[float] = field(default_factory=list)


def _building_kw(when: datetime, rng: random.Random) -> float:
    hour = when.hour + when.minute / 60.0
    weekend = when.weekday() >= 5
    base = 9.0 + 3.0 * math.sin(math.pi * hour / 24.0)
    evening = 28.0 * math.exp(-(((hour - 19.0) / 1.6) ** 2))
    morning = 9.0 * math.exp(-(((hour - (8.5 if weekend else 7.3)) / 1.0) ** 2))
    midday = (8.0 if weekend else 2.0) * math.exp(-(((hour - 13.0) / 2.5) ** 2))
    return max(2.0, (base + evening + morning + midday) * rng.gauss(1.0, 0.08))


def _price(slot: int) -> float:
    hour = (slot % SLOTS_PER_DAY) / 4.0
    evening = 0.10 * math.exp(-(((hour - 19.0) / 2.0) ** 2))
    morning = 0.05 * math.exp(-(((hour - 8.0) / 1.5) ** 2))
    midday = -0.06 * math.exp(-(((hour - 13.5) / 2.5) ** 2))
    return 0.22 + evening + morning + midday


def build_world(seed: int = 7) -> World:
    rng = random.Random(seed)
    quarter = timedelta(minutes=15)
    history_start = START - timedelta(weeks=4)
    history = [
        (history_start + i * quarter, _building_kw(history_start + i * quarter, rng))
        for i in range(4 * WEEK)
    ]
    span = WEEK + HORIZON
    building = [_building_kw(START + i * quarter, rng) for i in range(WEEK)]
    cloud: list[float] = []
    level = 50.0
    for _ in range(span // 4 + 1):
        level = min(100.0, max(0.0, level + rng.gauss(0.0, 18.0)))
        cloud.append(level)
    cloud_forecast = [min(100.0, max(0.0, c + rng.gauss(0.0, 25.0))) for c in cloud]

    def solar_at(i: int, covers: Sequence[float]) -> float:
        when = START + i * quarter + quarter / 2
        return (
            array_power_w(
                ROOF, LATITUDE, LONGITUDE, when, cloud_cover_pct=covers[i // 4]
            )
            / 1000.0
        )

    solar = [solar_at(i, cloud) for i in range(WEEK)]
    solar_forecast = [solar_at(i, cloud_forecast) for i in range(span)]
    chargers = [
        Charger(3, "l1", 16.0) if i < 16 else Charger(1, PHASES[i % 3], 16.0)
        for i in range(24)
    ]
    sessions: list[Session] = []
    for car in range(24):
        home_day = car % 4 == 3
        for day in range(DAYS):
            weekend = (START + timedelta(days=day)).weekday() >= 5
            if rng.random() > (0.6 if weekend else 0.9):
                continue
            if home_day or (weekend and rng.random() < 0.4):
                arrive = day * SLOTS_PER_DAY + rng.randint(34, 46)  # 08:30-11:30
                leave = arrive + rng.randint(18, 32)
                need = rng.uniform(4.0, 16.0)
            else:
                arrive = day * SLOTS_PER_DAY + rng.randint(66, 80)  # 16:30-20:00
                leave = (day + 1) * SLOTS_PER_DAY + rng.randint(26, 36)
                need = rng.uniform(6.0, 32.0)
            if sessions and sessions[-1].car == car and sessions[-1].leave > arrive:
                continue
            sessions.append(Session(car, arrive, leave, need))
    world = World(chargers, sessions, building, history, solar, solar_forecast)
    world.price = [_price(i) for i in range(span)]
    # The history's sun, from a generator of its own so the week stays as it was.
    sky = random.Random(seed + 1)
    past_cover = []
    level = 50.0
    for _ in range(len(history) // 4):
        level = min(100.0, max(0.0, level + sky.gauss(0.0, 18.0)))
        past_cover.append(level)
    past_forecast_cover = [
        min(100.0, max(0.0, c + sky.gauss(0.0, 25.0))) for c in past_cover
    ]

    def past_sun(when: datetime, cover: float) -> float:
        middle = when + quarter / 2
        power_w = array_power_w(
            ROOF, LATITUDE, LONGITUDE, middle, cloud_cover_pct=cover
        )
        return power_w / 1000.0

    history_net = [
        (when, kw - past_sun(when, past_cover[i // 4]))
        for i, (when, kw) in enumerate(history)
    ]
    history_forecast = [
        (when, past_sun(when, past_forecast_cover[i // 4]))
        for i, (when, _) in enumerate(history)
    ]
    for day in range(DAYS):
        now = START + timedelta(days=day)
        week = range(day * SLOTS_PER_DAY)
        past = history + [(START + i * quarter, building[i]) for i in week]
        net = history_net + [
            (START + i * quarter, building[i] - solar[i]) for i in week
        ]
        forecast = history_forecast + [
            (START + i * quarter, solar_forecast[i]) for i in week
        ]
        slots = [now + i * quarter for i in range(SLOTS_PER_DAY + HORIZON)]
        world.building_expected.append(
            list(expected_load_kw(past, slots, fallback_kw=building[0]))
        )
        world.building_expected_rebuilt.append(
            list(
                expected_load_kw(
                    gross_load_history(net, forecast), slots, fallback_kw=building[0]
                )
            )
        )
        world.building_expected_net.append(
            list(expected_load_kw(net, slots, fallback_kw=building[0] - solar[0]))
        )
    return world


def water_fill(
    desired_a: dict[int, float],
    chargers: Sequence[Charger],
    room_kw: float,
    phase_room_a: Sequence[float],
) -> dict[int, float]:
    """Every car the same current, up to what it asks, within the limits."""

    def load(level: float) -> tuple[float, list[float]]:
        kw = 0.0
        amps = [0.0, 0.0, 0.0]
        for car, want in desired_a.items():
            a = min(want, level)
            ch = chargers[car]
            kw += a * ch.phases * VOLTAGE / 1000.0
            if ch.phases == 3:
                amps = [x + a for x in amps]
            else:
                amps[PHASES.index(ch.phase)] += a
        return kw, amps

    def fits(level: float) -> bool:
        kw, amps = load(level)
        return kw <= room_kw + 1e-9 and all(
            a <= r + 1e-9 for a, r in zip(amps, phase_room_a, strict=True)
        )

    top = max(desired_a.values(), default=0.0)
    if fits(top):
        return dict(desired_a)
    lo, hi = 0.0, top
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return {car: min(want, lo) for car, want in desired_a.items()}


@dataclass(slots=True)
class Result:
    """A strategy's week."""

    exceedance_slots: int = 0
    capped_slots: int = 0
    on_time_kwh: float = 0.0
    solar_kwh: float = 0.0
    peak_kw: float = 0.0
    plan_ms: list[float] = field(default_factory=list)


type Ask = tuple[dict[int, float], float]
type Strategy = Callable[[World, int, dict[int, tuple[Session, float]], float], Ask]
"""(world, slot, present car -> (session, energy so far), month peak so far)
-> (desired current per car (A per phase), highest import the slot may have)."""


def run_week(world: World, strategy: Strategy, *, capped: bool = True) -> Result:
    """Quarter hour by quarter hour: the strategy asks, the real limits cap."""
    result = Result()
    delivered: dict[Session, float] = {}
    for slot in range(WEEK):
        present = {
            s.car: (s, delivered.get(s, 0.0))
            for s in world.sessions
            if s.arrive <= slot < s.leave
        }
        desired, import_cap = strategy(world, slot, present, result.peak_kw)
        desired = {
            car: min(a, world.chargers[car].max_a)
            for car, a in desired.items()
            if a > 0.0 and car in present
        }
        base = world.building[slot] - world.solar[slot]
        room = max(0.0, min(GTV_KW, import_cap) - base)
        phase_room = [max(0.0, FUSE_A - base * 1000.0 / (3 * VOLTAGE))] * 3
        if capped:
            given = water_fill(desired, world.chargers, room, phase_room)
            if given != desired:
                result.capped_slots += 1
        else:
            given = desired
        total = 0.0
        amps = [base * 1000.0 / (3 * VOLTAGE)] * 3
        for car, a in given.items():
            session, so_far = present[car]
            ch = world.chargers[car]
            kw = a * ch.phases * VOLTAGE / 1000.0
            kw = min(kw, (session.need_kwh - so_far) / SLOT_H)
            a = kw * 1000.0 / (ch.phases * VOLTAGE)
            delivered[session] = so_far + kw * SLOT_H
            total += kw
            if ch.phases == 3:
                amps = [x + a for x in amps]
            else:
                amps[PHASES.index(ch.phase)] += a
        imported = base + total
        if imported > GTV_KW + 1e-6 or max(amps) > FUSE_A + 1e-6:
            result.exceedance_slots += 1
        result.solar_kwh += min(total, max(0.0, -base)) * SLOT_H
        result.peak_kw = max(result.peak_kw, imported)
    for session in world.sessions:
        if session.leave <= WEEK:
            result.on_time_kwh += min(session.need_kwh, delivered.get(session, 0.0))
    return result


def _remaining(entry: tuple[Session, float]) -> float:
    session, so_far = entry
    return max(0.0, session.need_kwh - so_far)


def uncontrolled(
    world: World, slot: int, present: dict[int, tuple[Session, float]], peak: float
) -> Ask:
    """Every car at its maximum until it is full."""
    asked = {
        car: world.chargers[car].max_a
        for car, e in present.items()
        if _remaining(e) > 1e-9
    }
    return asked, math.inf


def min_and_surplus(
    world: World, slot: int, present: dict[int, tuple[Session, float]], peak: float
) -> Ask:
    """From arrival: 6 A always, plus an equal share of the live solar surplus."""
    wanting = [car for car, e in present.items() if _remaining(e) > 1e-9]
    surplus = max(0.0, world.solar[slot] - world.building[slot])
    shares = water_fill(
        {car: world.chargers[car].max_a for car in wanting},
        world.chargers,
        surplus,
        [1e9, 1e9, 1e9],
    )
    return {car: max(MIN_A, shares[car]) for car in wanting}, math.inf


def equal_share(
    world: World, slot: int, present: dict[int, tuple[Session, float]], peak: float
) -> Ask:
    """Every car asks its maximum; the cap shares the room equally."""
    return uncontrolled(world, slot, present, peak)


def cheapest_slots(
    world: World, slot: int, present: dict[int, tuple[Session, float]], peak: float
) -> Ask:
    """Per charger, circuit-blind: full power in the cheapest slots before
    departure that hold the remaining need (replanned each slot)."""
    asked: dict[int, float] = {}
    for car, entry in present.items():
        need = _remaining(entry)
        if need <= 1e-9:
            continue
        ch = world.chargers[car]
        window = range(slot, entry[0].leave)
        wanted = math.ceil(need / (ch.max_kw * SLOT_H) - 1e-9)
        chosen = sorted(window, key=lambda i: (world.price[i], i))[:wanted]
        if slot in chosen:
            asked[car] = ch.max_a
    return asked, math.inf


def planner(
    capacity_price: float,
    timings: list[float],
    *,
    live_surplus: bool = True,
    budget: bool = False,
    upside: bool = True,
    forecast_error: bool = True,
    load_history: Literal["gross", "rebuilt", "net"] = "gross",
) -> Strategy:
    """The site plan, replanned each slot; a car runs at its slot-0 power.

    As in the product, slot 0's building load and solar are measured (the
    site has a solar meter): the slot's real values; the later slots are the
    expected load and the solar forecast. With `upside` (the product's
    behaviour) the plan's solar stage counts on the forecast's upside of the
    surplus (engine/surplus.py). Without `forecast_error` every slot is as it
    will really be (within the week).

    `load_history` other than "gross" is a site without a solar meter: slot 0
    is the net load measured plus the forecast (the product), and the load
    history is net of the panels, made gross again with the forecast of its
    slots ("rebuilt", the product) or taken as it is ("net", before issue 14's
    fix: the sun counted twice).

    With `budget` the live cap also holds the import at the month peak so
    far, unless the plan chose a higher import for this slot.

    With `live_surplus` (the product's behaviour) each car's ceiling is the
    planned mode's (`mode_ceilings`) given the slot's real surplus: where that
    is above the plan, the car takes its share of the surplus. The mode's
    start and stop waits are taken as over after the slot's first minutes:
    the ceiling is the one `mode_ceilings` gives `max(start_s, stop_s)` into
    the slot (the slot's surplus is constant).
    """
    memory: dict[str, ModeMemory] = {}
    config = SolarConfig()
    wait_s = max(config.start_s, config.stop_s)

    def strategy(
        world: World, slot: int, present: dict[int, tuple[Session, float]], peak: float
    ) -> Ask:
        cars = []
        for car, (session, so_far) in present.items():
            ch = world.chargers[car]
            cars.append(
                PlanCar(
                    str(car),
                    ch.phases,
                    ch.phase,
                    ch.max_a,
                    max(0.0, session.need_kwh - so_far),
                    session.leave - slot,
                )
            )
        if not cars:
            return {}, math.inf
        n = min(HORIZON, max(c.departure_slot for c in cars))
        day, offset = divmod(slot, SLOTS_PER_DAY)
        expected = {
            "gross": world.building_expected,
            "rebuilt": world.building_expected_rebuilt,
            "net": world.building_expected_net,
        }[load_history]
        building = list(expected[day][offset : offset + n])
        solar = world.solar_forecast[slot : slot + n]
        known = 1 if forecast_error else max(0, min(n, WEEK - slot))
        if load_history == "gross":
            building[:known] = world.building[slot : slot + known]
            solar[:known] = world.solar[slot : slot + known]
        else:  # the grid meter's net load, the panels' forecast put back
            building[0] = world.building[slot] - world.solar[slot] + solar[0]
        inp = PlanInput(
            slot_h=(SLOT_H,) * n,
            grid_limit_kw=(GTV_KW - PLAN_MARGIN_KW,) * n,
            building_kw=tuple(building),
            solar_kw=tuple(solar),
            fuse_a=FUSE_A,
            voltage_v=VOLTAGE,
            site_phases=3,
            cars=tuple(cars),
            price=tuple(world.price[slot : slot + n]),
            capacity_price_per_kw=capacity_price,
            month_peak_kw=peak,
            surplus_kw=upside_surplus_kw(building, solar) if upside else None,
        )
        started = time.perf_counter()
        plan = make_plan(inp)
        timings.append((time.perf_counter() - started) * 1000.0)
        asked = {}
        planned_kw = 0.0
        for car in present:
            kw = plan.cars[str(car)].power_kw[0]
            ch = world.chargers[car]
            asked[car] = kw * 1000.0 / (ch.phases * VOLTAGE)
            planned_kw += kw
        if live_surplus:
            nonlocal memory
            start = slot * SLOT_H * 3600.0
            chargers = []
            for car in present:
                ch = world.chargers[car]
                kw = plan.cars[str(car)].power_kw[0]
                spec = ChargerSpec(str(car), ch.phases, ch.phase, MIN_A, ch.max_a)
                slot_plan = SlotPlan(start, SLOT_H, kw)
                chargers.append(ModeCharger(spec, ChargeMode.PLANNED, kw, slot_plan))
            grid_kw = world.building[slot] - world.solar[slot] + planned_kw
            for now in (start, start + wait_s):
                out = mode_ceilings(chargers, grid_kw, VOLTAGE, memory, now, config)
                memory = out.memory
            for car in present:
                ceiling = out.ceilings[str(car)]
                if ceiling.limit is ModeLimit.SOLAR:
                    asked[car] = max(asked[car], ceiling.amps)
        if not budget:
            return asked, math.inf
        # The live budget: what the month peak allows, or the plan's import
        # in this slot when it chose to raise the peak.
        planned_import = building[0] - solar[0] + planned_kw
        return asked, max(peak, planned_import)

    return strategy


def perfect_foresight(world: World) -> tuple[float, float]:
    """Most on-time energy knowing the whole week, then most solar with it."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    by_slot: dict[int, list[tuple[Session, highspy.highs_var]]] = {}
    per_session = []
    for session in world.sessions:
        ch = world.chargers[session.car]
        powers = []
        for slot in range(session.arrive, min(session.leave, WEEK)):
            p = h.addVariable(lb=0.0, ub=ch.max_kw)
            powers.append(p)
            by_slot.setdefault(slot, []).append((session, p))
        energy = h.qsum(p * SLOT_H for p in powers)
        h.addConstr(energy <= session.need_kwh)
        if session.leave <= WEEK:
            per_session.append(energy)
    used = []
    for slot, entries in by_slot.items():
        base = world.building[slot] - world.solar[slot]
        h.addConstr(h.qsum(p for _, p in entries) <= max(0.0, GTV_KW - base))
        room_a = max(0.0, FUSE_A - base * 1000.0 / (3 * VOLTAGE))
        for phase in PHASES:
            amps = [
                p * (1000.0 / (world.chargers[s.car].phases * VOLTAGE))
                for s, p in entries
                if world.chargers[s.car].phases == 3
                or world.chargers[s.car].phase == phase
            ]
            if amps:
                h.addConstr(h.qsum(amps) <= room_a)
        surplus = max(0.0, -base)
        if surplus > 0:
            u = h.addVariable(lb=0.0, ub=surplus)
            h.addConstr(u <= h.qsum(p for _, p in entries))
            used.append(u * SLOT_H)
    on_time = h.qsum(per_session)
    h.maximize(on_time)
    best = float(h.getInfo().objective_function_value)
    h.addConstr(on_time >= best - 1e-6)
    h.maximize(h.qsum(used))
    return best, float(h.getInfo().objective_function_value)
