"""The site plan: every planned car's power per slot, one linear program (HiGHS).

Variables are each planned car's average power per slot until its departure.
Per slot the site's import (building + cars - solar) stays under the grid limit
and every phase current under the fuse, with building and solar spread evenly
over the site's phases and a 1-phase car on its own phase. The objective is
lexicographic, solved stage by stage on one warm-started model; each stage's
optimum is kept, within a tiny tolerance, as a constraint of the next:

1. the most energy delivered by the departures (every need that can be met is
   met); then the shortfalls *relative to need* shared max-min fairly (the
   largest as small as possible, then the next, ...), so short cars miss the
   same share of what they asked for where they compete (an absolute share
   would leave a small need empty before a large one notices);
2. the most energy drawn from the solar surplus (solar - building, per slot,
   or the surplus the caller counts on: see engine/surplus.py);
3. the lowest cost: price x energy the cars draw (what they take from the
   surplus is valued at the same price, as export forgone) plus the capacity
   price x the rise of the month peak (the highest slot-average import);
4. every car as early as it can: charging in one block at the power it may
   take means few starts and stops; a penalty on power changes instead would
   spread a car thin over its whole stay, below the 6 A a charger can run at.
"""

import math
from dataclasses import dataclass
from typing import Final

import highspy
import numpy as np
from numpy.typing import NDArray

SLOT_H: Final = 0.25
# A stage's optimum is kept up to this much (relative, and as absolute floor).
_STAGE_TOL: Final = 1e-7
# Less than this (kW) is solver noise, no charging.
_ZERO_KW: Final = 1e-6
# Weight of the solar stage's cost in the energy stage's run (see solve).
_SOLAR_HINT: Final = 1e-2
# HiGHS simplex strategies.
_DUAL: Final = 1
_PRIMAL: Final = 4
# A car is done when its energy is within this of its need (kWh).
_DONE_TOL: Final = 1e-4
_PHASES: Final = ("l1", "l2", "l3")

type FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PlanCar:
    """A car in mode planned: what it needs and by when."""

    id: str
    phases: int  # 1 or 3
    phase: str = "l1"  # site phase of a 1-phase car ("l1"/"l2"/"l3")
    max_a: float = 16.0  # per-phase current ceiling (charger, cable, user)
    need_kwh: float = 0.0  # energy still wanted by departure
    departure_slot: int = 0  # due by the END of slot departure_slot - 1


@dataclass(frozen=True, slots=True)
class PlanInput:
    """The site over the planning horizon, one value per slot."""

    slot_h: tuple[float, ...]  # hours of each slot; slot 0 = rest of the quarter
    grid_limit_kw: tuple[float, ...]  # import limit per slot (margin taken off)
    building_kw: tuple[float, ...]  # expected building load per slot
    solar_kw: tuple[float, ...]  # expected solar production per slot
    fuse_a: float
    voltage_v: float
    site_phases: int  # 1 or 3
    cars: tuple[PlanCar, ...]
    price: tuple[float, ...] | None = None  # per kWh imported, per slot
    capacity_price_per_kw: float = 0.0  # per kW of month peak
    month_peak_kw: float = 0.0  # highest quarter-hour average import this month
    surplus_kw: tuple[float, ...] | None = None  # for stage 2; None: solar - building


@dataclass(frozen=True, slots=True)
class CarPlan:
    """One car's part of the plan."""

    power_kw: tuple[float, ...]  # average power per slot
    energy_kwh: float  # delivered by the departure
    shortfall_kwh: float  # need - energy (>= 0)
    done_slot: int | None  # slot in which the need is complete, None if never


@dataclass(frozen=True, slots=True)
class Plan:
    """Every planned car's power per slot."""

    cars: dict[str, CarPlan]
    peak_kw: float  # highest slot-average import of the plan


def car_max_kw(car: PlanCar, inp: PlanInput) -> float:
    """The car's highest power: its current ceiling on the phases it can use."""
    return max(0.0, car.max_a) * _car_phases(car, inp) * inp.voltage_v / 1000.0


def _car_phases(car: PlanCar, inp: PlanInput) -> int:
    return 1 if inp.site_phases == 1 else (3 if car.phases == 3 else 1)


def _validate(inp: PlanInput) -> int:
    n = len(inp.slot_h)
    series = [inp.grid_limit_kw, inp.building_kw, inp.solar_kw]
    series += [s for s in (inp.price, inp.surplus_kw) if s is not None]
    if any(len(s) != n for s in series):
        raise ValueError("every series needs one value per slot")
    if inp.site_phases not in (1, 3):
        raise ValueError("a site has 1 or 3 phases")
    numbers = [*inp.slot_h, *inp.grid_limit_kw, *inp.building_kw, *inp.solar_kw]
    numbers += [*(inp.price or ()), *(inp.surplus_kw or ()), inp.fuse_a, inp.voltage_v]
    numbers += [inp.capacity_price_per_kw, inp.month_peak_kw]
    numbers += [v for car in inp.cars for v in (car.max_a, car.need_kwh)]
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError("every number must be finite")
    if inp.voltage_v <= 0.0 or any(h <= 0.0 for h in inp.slot_h):
        raise ValueError("voltage and slot lengths must be positive")
    ids = [car.id for car in inp.cars]
    if len(set(ids)) != len(ids):
        raise ValueError("car ids must be unique")
    for car in inp.cars:
        if car.phases not in (1, 3) or car.phase not in _PHASES:
            raise ValueError(f"car {car.id}: phases 1 or 3 on l1, l2 or l3")
    return n


class _Model:
    """The LP, built with numpy in column-wise form.

    Columns: car powers (car by car, slot by slot); per slot the cars' total
    power and the part of it taken from the surplus; the largest relative
    shortfall; the rise of the month peak. The later stages' costs and kept
    optima are on the few aggregate columns, not on the powers: the rows stay
    sparse and the simplex fast.
    """

    def __init__(self, inp: PlanInput, n: int) -> None:
        self.n = n
        hours = np.asarray(inp.slot_h, dtype=np.float64)
        building = np.asarray(inp.building_kw, dtype=np.float64)
        solar = np.asarray(inp.solar_kw, dtype=np.float64)
        base = building - solar  # site import without the planned cars
        self.hours = hours
        self.base = base
        self.surplus = np.maximum(
            0.0, -base if inp.surplus_kw is None else inp.surplus_kw
        )
        self.price = None if inp.price is None else np.asarray(inp.price, np.float64)
        self.capacity_price = inp.capacity_price_per_kw
        self.capacity = inp.capacity_price_per_kw > 0.0

        planned = [
            (i, car)
            for i, car in enumerate(inp.cars)
            if car.need_kwh > _DONE_TOL
            and min(car.departure_slot, n) > 0
            and car_max_kw(car, inp) > 0.0
        ]
        self.planned = planned
        k = len(planned)
        slots = np.array([min(c.departure_slot, n) for _, c in planned], np.int64)
        car = np.repeat(np.arange(k), slots)
        starts = np.concatenate(([0], np.cumsum(slots)))
        t = np.arange(int(starts[-1])) - np.repeat(starts[:-1], slots)
        self.car_of = car
        self.slot_of = t
        self.car_start = starts
        n_p = int(starts[-1])
        self.n_p = n_p
        need = np.array([c.need_kwh for _, c in planned], np.float64)
        self.need = need
        self.max_kw = np.array([car_max_kw(c, inp) for _, c in planned], np.float64)

        # Phase rows: 3 per slot on a 3-phase site, 1 on a 1-phase site.
        n_ph = 3 if inp.site_phases == 3 else 1
        three = np.array([_car_phases(c, inp) == 3 for _, c in planned], dtype=bool)
        own = np.array(
            [_PHASES.index(c.phase) if n_ph == 3 else 0 for _, c in planned],
            np.int64,
        )

        # Row blocks.
        r_sum = 0
        r_phase = r_sum + n
        r_energy = r_phase + n_ph * n
        r_fair = r_energy + k
        r_surplus = r_fair + k
        r_peak = r_surplus + n
        n_row = r_peak + (n if self.capacity else 0)
        # Column blocks.
        self.c_s = n_p
        self.c_u = self.c_s + n
        self.c_z = self.c_u + n
        self.c_q = self.c_z + 1
        self.n_col = self.c_q + (1 if self.capacity else 0)

        # Power columns: slot total, phase(s), energy, fairness.
        width = 3 + n_ph
        rows = np.zeros((n_p, width), np.int32)
        vals = np.zeros((n_p, width), np.float64)
        mask = np.ones((n_p, width), dtype=bool)
        rows[:, 0] = r_sum + t
        vals[:, 0] = 1.0
        if n_ph == 3:
            is3 = three[car]
            for ph in range(3):
                rows[:, 1 + ph] = r_phase + 3 * t + ph
                vals[:, 1 + ph] = np.where(is3, 1.0 / 3.0, 1.0)
                mask[:, 1 + ph] = is3 | (own[car] == ph)
        else:
            rows[:, 1] = r_phase + t
            vals[:, 1] = 1.0
        rows[:, -2] = r_energy + car
        vals[:, -2] = hours[t]
        rows[:, -1] = r_fair + car
        vals[:, -1] = hours[t] / need[car]
        # Slot total columns: -1 in the slot's sum and surplus rows, 1 in peak.
        s_rows = [r_sum + np.arange(n), r_surplus + np.arange(n)]
        s_vals = [-np.ones(n), -np.ones(n)]
        if self.capacity:
            s_rows.append(r_peak + np.arange(n))
            s_vals.append(np.ones(n))
        s_width = len(s_rows)

        index = [
            rows[mask],
            np.stack(s_rows, axis=1).ravel(),
            r_surplus + np.arange(n),  # u
            r_fair + np.arange(k),  # z
        ]
        value = [
            vals[mask],
            np.stack(s_vals, axis=1).ravel(),
            np.ones(n),
            np.ones(k),
        ]
        count = [
            mask.sum(axis=1),
            np.full(n, s_width),
            np.ones(n, np.int64),
            np.array([k]),
        ]
        if self.capacity:
            index.append(r_peak + np.arange(n))
            value.append(-np.ones(n))
            count.append(np.array([n]))
        a_start = np.concatenate(([0], np.cumsum(np.concatenate(count))))

        inf = highspy.kHighsInf
        limit = np.asarray(inp.grid_limit_kw, np.float64)
        col_lower = np.zeros(self.n_col)
        col_upper = np.concatenate(
            (
                self.max_kw[car],
                np.maximum(0.0, limit - base),
                self.surplus,
                [1.0],
                [inf] if self.capacity else [],
            )
        )
        fuse_kw = inp.fuse_a * inp.voltage_v / 1000.0
        phase_room = np.maximum(0.0, fuse_kw - base / n_ph)
        row_lower = np.full(n_row, -inf)
        row_upper = np.full(n_row, inf)
        row_lower[r_sum : r_sum + n] = 0.0
        row_upper[r_sum : r_sum + n] = 0.0
        row_upper[r_phase : r_phase + n_ph * n] = np.repeat(phase_room, n_ph)
        row_upper[r_energy : r_energy + k] = need
        self.r_energy = r_energy
        # Fairness rows (e / need + z >= 1) stay free until a shortfall is
        # shared: the start (all zero) is then feasible.
        self.r_fair = r_fair
        row_upper[r_surplus : r_surplus + n] = 0.0
        if self.capacity:
            row_upper[r_peak : r_peak + n] = max(0.0, inp.month_peak_kw) - base

        a_index = np.concatenate(index).astype(np.int32)
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        # The array form: numpy buffers go in without a per-element copy.
        status = h.passModel(
            self.n_col,
            n_row,
            len(a_index),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            0.0,
            np.zeros(self.n_col),
            col_lower,
            col_upper,
            row_lower,
            row_upper,
            a_start[:-1].astype(np.int32),
            a_index,
            np.concatenate(value).astype(np.float64),
            np.zeros(self.n_col, np.int32),  # every column continuous
        )
        if status != highspy.HighsStatus.kOk:
            raise RuntimeError("plan LP: HiGHS refused the model")
        self.highs = h
        self.row_dual: list[float] = []  # of the last run

    def solve(self) -> FloatArray:
        """The stages in order; the car powers of the last.

        A stage's optimum is kept as a row over its aggregate columns; when
        every need is met, each car's energy row gets its energy as lower bound
        instead, and the fair share bounds its one column. Should a later stage
        fail on numerics, the last optimum stands: it keeps every limit and the
        earlier goals, only the later ones are not pursued.
        """
        if self.n_p == 0:
            return np.zeros(0)
        h = self.highs
        n, k = self.n, len(self.need)
        total = slice(self.c_s, self.c_s + n)
        cost = np.zeros(self.n_col)
        cost[: self.n_p] = -self.hours[self.slot_of]
        # A hint of the solar stage saves a quarter of the simplex iterations
        # over both stages. It cannot cost energy: a kWh given up frees room
        # for at most 3 kWh of surplus (a 1-phase car's room on a phase taken
        # by a 3-phase car), worth 3 x _SOLAR_HINT < 1 kWh here.
        hint = np.zeros(self.n_col)
        hint[self.c_u : self.c_u + n] = -_SOLAR_HINT * self.hours
        x = self._run(cost + hint, _DUAL)
        if x is None:  # all zero is always feasible, the energy bounded
            raise RuntimeError("plan LP: no optimum for the delivered energy")
        per_car = np.bincount(
            self.car_of, weights=-cost[: self.n_p] * x[: self.n_p], minlength=k
        )
        # Strategies as measured fastest: the energy and cost stages move
        # much (dual), the solar and earliest stages little (primal).
        stages: list[tuple[FloatArray, int]] = []
        if float(per_car.sum()) >= float(self.need.sum()) - _DONE_TOL:
            lower = np.minimum(per_car, self.need) - _STAGE_TOL * np.maximum(
                1.0, self.need
            )
            for j in range(k):
                h.changeRowBounds(self.r_energy + j, lower[j], self.need[j])
        else:
            # The delivered energy is the slot totals' energy: a short row.
            delivered = np.zeros(self.n_col)
            delivered[total] = -self.hours
            self._keep(delivered, x)
            shared = self._share_shortfalls()
            if shared is None:
                return x[: self.n_p]
            x = shared
        if self.surplus.any():
            cost = np.zeros(self.n_col)
            cost[self.c_u : self.c_u + n] = -self.hours
            stages.append((cost, _PRIMAL))
        if (self.price is not None and self.price.any()) or self.capacity:
            cost = np.zeros(self.n_col)
            if self.price is not None:
                cost[total] = self.price * self.hours
            if self.capacity:
                cost[self.c_q] = self.capacity_price
            stages.append((cost, _DUAL))
        cost = np.zeros(self.n_col)
        cost[total] = self.hours * np.arange(1, n + 1) / n
        stages.append((cost, _PRIMAL))
        for i, (cost, strategy) in enumerate(stages):
            last = i == len(stages) - 1
            found = self._run(cost, strategy)
            if found is None:
                break
            x = found
            if not last:
                self._keep(cost, x)
        return x[: self.n_p]

    def _share_shortfalls(self) -> FloatArray | None:
        """Max-min fair shortfalls relative to need, level by level (leximin).

        Each round makes the largest relative shortfall of the open cars as
        small as it can be; the cars that hold it there (a fairness row with a
        dual value) keep that share as a floor and leave the round, the others
        try for a smaller shortfall in the next. A round's level column is then
        fixed and the next round's comes in as a new column on the open cars'
        rows only: the basis stays valid, the simplex warm. None if a round
        fails.
        """
        h = self.highs
        k = len(self.need)
        for j in range(k):
            h.changeRowBounds(self.r_fair + j, 1.0, highspy.kHighsInf)
        level = self.c_z
        levels = [level]
        open_cars = np.ones(k, dtype=bool)
        cost = np.zeros(self.n_col)
        cost[level] = 1.0
        x = self._run(cost, _DUAL)
        while True:
            if x is None:
                return None
            value = float(x[level])
            h.changeColBounds(level, value, value)
            duals = np.asarray(self.row_dual, np.float64)
            holding = open_cars & (np.abs(duals[self.r_fair : self.r_fair + k]) > 1e-9)
            shortfall = float(x[levels].sum())
            if shortfall <= _STAGE_TOL or not holding.any():
                return x  # every open car is met, or all are at one level
            open_cars &= ~holding
            if not open_cars.any():
                return x
            rows = (self.r_fair + np.flatnonzero(open_cars)).astype(np.int32)
            h.addCol(1.0, -1.0, 0.0, len(rows), rows, np.ones(len(rows)))
            # Only the two level columns' costs change: a full cost vector
            # would cost more than the round's few iterations.
            h.changeColCost(level, 0.0)
            level = self.n_col
            levels.append(level)
            self.n_col += 1
            x = self._run(None, _PRIMAL)

    def _run(self, cost: FloatArray | None, strategy: int) -> FloatArray | None:
        """Solve for ``cost`` (None: the costs as they are in the model)."""
        h = self.highs
        h.setOptionValue("simplex_strategy", strategy)
        if cost is not None:
            cols = np.arange(self.n_col, dtype=np.int32)
            h.changeColsCost(self.n_col, cols, cost)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        solution = h.getSolution()
        self.row_dual = solution.row_dual
        values: FloatArray = np.asarray(solution.col_value, np.float64)
        return values

    def _keep(self, cost: FloatArray, x: FloatArray) -> None:
        """The next stages keep this cost at its optimum (within the tolerance)."""
        best = float(cost @ x)
        cols = np.flatnonzero(cost).astype(np.int32)
        tol = _STAGE_TOL * max(1.0, abs(best))
        self.highs.addRow(-highspy.kHighsInf, best + tol, len(cols), cols, cost[cols])


def make_plan(inp: PlanInput) -> Plan:
    """The site plan for the planned cars (see the module docstring)."""
    n = _validate(inp)
    model = _Model(inp, n)
    powers = model.solve()
    powers = np.clip(powers, 0.0, model.max_kw[model.car_of])
    powers[powers < _ZERO_KW] = 0.0

    total = model.base.copy()
    cars: dict[str, CarPlan] = {}
    by_index = {i: j for j, (i, _) in enumerate(model.planned)}
    for i, car in enumerate(inp.cars):
        row = np.zeros(n)
        j = by_index.get(i)
        if j is not None:
            lo, hi = int(model.car_start[j]), int(model.car_start[j + 1])
            row[: hi - lo] = powers[lo:hi]
            total += row
        cumulative = np.cumsum(row * model.hours)
        energy = float(cumulative[-1]) if n else 0.0
        need = max(0.0, car.need_kwh)
        energy = min(energy, need)
        shortfall = need - energy
        done: int | None
        if need <= _DONE_TOL:  # nothing worth planning
            done, shortfall = 0, 0.0
        elif shortfall <= _DONE_TOL:
            done = int(np.argmax(cumulative >= need - _DONE_TOL))
            energy, shortfall = need, 0.0
        else:
            done = None
        cars[car.id] = CarPlan(
            power_kw=tuple(row.tolist()),
            energy_kwh=energy,
            shortfall_kwh=shortfall,
            done_slot=done,
        )
    peak = max(0.0, float(total.max())) if n else 0.0
    return Plan(cars=cars, peak_kw=peak)
