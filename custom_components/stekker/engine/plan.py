"""The site plan: every planned car's power per slot, one linear program (HiGHS).

Variables are each planned car's average power per slot until its departure.
Per slot the site's import (building + cars - solar) stays under the grid limit
and every phase current under the fuse, with building and solar spread evenly
over the site's phases and a 1-phase car on its own phase. The objective is
lexicographic, solved stage by stage on one warm-started model; each stage's
optimum is kept, within a tiny tolerance, as a constraint of the next:

1. the most energy delivered by the departures (every need that can be met is
   met); then the largest shortfall *relative to its need* as small as
   possible, so short cars miss the same share of what they asked for (an
   absolute share would leave a small need empty before a large one notices);
2. the most energy drawn from the solar surplus (solar - building, per slot);
3. the lowest cost: price x energy the cars draw (what they take from the
   surplus is valued at the same price, as export forgone) plus the capacity
   price x the rise of the month peak (the highest slot-average import);
4. every car as early as it can: charging in one block at the power it may
   take means few starts and stops; a penalty on power changes instead would
   spread a car thin over its whole stay, below the 6 A a charger can run at.
"""

from dataclasses import dataclass
from typing import Final

import highspy
import numpy as np
from numpy.typing import NDArray

SLOT_H: Final = 0.25
# A stage's optimum is kept up to this much (relative, at least absolute 1e-6).
_STAGE_TOL: Final = 1e-7
# A car is done when its energy is within this of its need (kWh).
_DONE_TOL: Final = 1e-4
_PHASES: Final = ("l1", "l2", "l3")

type FloatArray = NDArray[np.float64]
type IntArray = NDArray[np.int32]


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
    if inp.price is not None:
        series.append(inp.price)
    if any(len(s) != n for s in series):
        raise ValueError("every series needs one value per slot")
    if inp.site_phases not in (1, 3):
        raise ValueError("a site has 1 or 3 phases")
    ids = [car.id for car in inp.cars]
    if len(set(ids)) != len(ids):
        raise ValueError("car ids must be unique")
    for car in inp.cars:
        if car.phases not in (1, 3) or car.phase not in _PHASES:
            raise ValueError(f"car {car.id}: phases 1 or 3 on l1, l2 or l3")
    return n


class _Model:
    """The LP's columns and rows, built with numpy in column-wise form.

    Columns: car powers (car by car, slot by slot), then per slot the power
    taken from the surplus, the largest relative shortfall and the rise of the
    month peak. Rows: per slot grid, phases, surplus and peak; per car energy
    and relative shortfall.
    """

    def __init__(self, inp: PlanInput, n: int) -> None:
        self.n = n
        hours = np.asarray(inp.slot_h, dtype=np.float64)
        building = np.asarray(inp.building_kw, dtype=np.float64)
        solar = np.asarray(inp.solar_kw, dtype=np.float64)
        base = building - solar  # site import without the planned cars
        self.hours = hours
        self.base = base
        self.surplus = np.maximum(0.0, -base)
        self.month_peak = max(0.0, inp.month_peak_kw)

        planned = [
            (i, car)
            for i, car in enumerate(inp.cars)
            if car.need_kwh > 0.0
            and min(car.departure_slot, n) > 0
            and car_max_kw(car, inp) > 0.0
        ]
        self.planned = planned
        k = len(planned)
        slots = np.array([min(c.departure_slot, n) for _, c in planned], np.int64)
        self.car_of = np.repeat(np.arange(k), slots)
        starts = np.concatenate(([0], np.cumsum(slots)))
        self.car_start = starts
        self.slot_of = np.arange(int(starts[-1])) - np.repeat(starts[:-1], slots)
        n_p = int(starts[-1])
        self.n_p = n_p
        need = np.array([c.need_kwh for _, c in planned], np.float64)
        self.need = need
        max_kw = np.array([car_max_kw(c, inp) for _, c in planned], np.float64)

        # Phase rows: 3 per slot on a 3-phase site, 1 on a 1-phase site.
        n_ph = 3 if inp.site_phases == 3 else 1
        three = np.array([_car_phases(c, inp) == 3 for _, c in planned], dtype=bool)
        own = np.array(
            [_PHASES.index(c.phase) if n_ph == 3 else 0 for _, c in planned],
            np.int64,
        )
        fuse_kw = inp.fuse_a * inp.voltage_v / 1000.0

        self.capacity = inp.capacity_price_per_kw > 0.0
        # Row blocks.
        r_grid = 0
        r_phase = r_grid + n
        r_surplus = r_phase + n_ph * n
        r_peak = r_surplus + n
        r_energy = r_peak + (n if self.capacity else 0)
        r_fair = r_energy + k
        n_row = r_fair + k
        # Column blocks.
        c_u = n_p
        self.c_u = c_u
        self.c_z = c_u + n
        self.c_q = self.c_z + 1
        n_col = self.c_q + (1 if self.capacity else 0)
        self.n_col = n_col

        # Power columns: grid, phase(s), surplus, peak, energy, fairness.
        t = self.slot_of
        car = self.car_of
        is3 = three[car]
        width = 3 + n_ph + (1 if self.capacity else 0) + 2
        rows = np.zeros((n_p, width), np.int32)
        vals = np.zeros((n_p, width), np.float64)
        mask = np.ones((n_p, width), dtype=bool)
        col = 0
        rows[:, col] = r_grid + t
        vals[:, col] = 1.0
        col += 1
        if n_ph == 3:
            for ph in range(3):
                rows[:, col] = r_phase + 3 * t + ph
                vals[:, col] = np.where(is3, 1.0 / 3.0, 1.0)
                mask[:, col] = is3 | (own[car] == ph)
                col += 1
        else:
            rows[:, col] = r_phase + t
            vals[:, col] = 1.0
            col += 1
        rows[:, col] = r_surplus + t
        vals[:, col] = -1.0
        col += 1
        if self.capacity:
            rows[:, col] = r_peak + t
            vals[:, col] = 1.0
            col += 1
        rows[:, col] = r_energy + car
        vals[:, col] = hours[t]
        col += 1
        rows[:, col] = r_fair + car
        vals[:, col] = hours[t] / need[car]
        col += 1
        mask[:, col:] = False
        p_index = rows[mask]
        p_value = vals[mask]
        p_count = mask.sum(axis=1)

        # Surplus columns u_t: one entry in surplus row t.
        u_index = (r_surplus + np.arange(n)).astype(np.int32)
        # z: one entry per fairness row; q: -1 in every peak row.
        z_index = (r_fair + np.arange(k)).astype(np.int32)
        q_index = (r_peak + np.arange(n)).astype(np.int32) if self.capacity else None

        counts = [p_count, np.ones(n, np.int64), np.array([k])]
        index = [p_index, u_index, z_index]
        value = [p_value, np.ones(n), np.ones(k)]
        if q_index is not None:
            counts.append(np.array([n]))
            index.append(q_index)
            value.append(-np.ones(n))
        count = np.concatenate(counts)
        a_start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int32)
        a_index = np.concatenate(index).astype(np.int32)
        a_value = np.concatenate(value).astype(np.float64)

        col_lower = np.zeros(n_col)
        col_upper = np.empty(n_col)
        col_upper[:n_p] = max_kw[car]
        col_upper[c_u : c_u + n] = self.surplus
        col_upper[self.c_z] = 1.0
        if self.capacity:
            col_upper[self.c_q] = highspy.kHighsInf

        inf = highspy.kHighsInf
        row_lower = np.full(n_row, -inf)
        row_upper = np.full(n_row, inf)
        limit = np.asarray(inp.grid_limit_kw, np.float64)
        row_upper[r_grid : r_grid + n] = np.maximum(0.0, limit - base)
        phase_room = np.maximum(0.0, fuse_kw - base / n_ph)
        row_upper[r_phase : r_phase + n_ph * n] = np.repeat(phase_room, n_ph)
        row_upper[r_surplus : r_surplus + n] = 0.0
        if self.capacity:
            row_upper[r_peak : r_peak + n] = self.month_peak - base
        row_upper[r_energy : r_energy + k] = need
        row_lower[r_fair : r_fair + k] = 1.0

        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        lp = highspy.HighsLp()
        lp.num_col_ = n_col
        lp.num_row_ = n_row
        lp.col_cost_ = np.zeros(n_col)
        lp.col_lower_ = col_lower
        lp.col_upper_ = col_upper
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = n_col
        lp.a_matrix_.num_row_ = n_row
        lp.a_matrix_.start_ = np.append(a_start, len(a_index)).astype(np.int32)
        lp.a_matrix_.index_ = a_index
        lp.a_matrix_.value_ = a_value
        h.passModel(lp)
        self.highs = h
        self.price = (
            np.asarray(inp.price, np.float64) if inp.price is not None else None
        )
        self.capacity_price = inp.capacity_price_per_kw

    def _energy_cost(self) -> FloatArray:
        """Per power column: the energy one kW in that slot gives."""
        energy: FloatArray = self.hours[self.slot_of]
        return energy

    def stage(self, cost: FloatArray) -> FloatArray:
        """Minimise cost, keep the optimum (within the tolerance) as a row."""
        h = self.highs
        cols = np.flatnonzero(cost).astype(np.int32)
        all_cols = np.arange(self.n_col, dtype=np.int32)
        h.changeColsCost(self.n_col, all_cols, cost)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"plan LP: {h.modelStatusToString(h.getModelStatus())}")
        best = float(h.getInfo().objective_function_value)
        if len(cols):
            tol = max(1e-6, _STAGE_TOL * abs(best))
            h.addRow(-highspy.kHighsInf, best + tol, len(cols), cols, cost[cols])
        values: FloatArray = np.asarray(h.getSolution().col_value, np.float64)
        return values

    def solve(self) -> FloatArray:
        """The stages in order; the car powers of the last."""
        n_col = self.n_col
        x = np.zeros(n_col)
        if self.n_p == 0:
            return x[:0]
        energy = self._energy_cost()
        cost = np.zeros(n_col)
        cost[: self.n_p] = -energy
        x = self.stage(cost)
        delivered = float(energy @ x[: self.n_p])
        if delivered < float(self.need.sum()) - 1e-6:
            cost = np.zeros(n_col)
            cost[self.c_z] = 1.0
            x = self.stage(cost)
        if self.surplus.any():
            cost = np.zeros(n_col)
            cost[self.c_u : self.c_u + self.n] = -self.hours
            x = self.stage(cost)
        if (self.price is not None and self.price.any()) or self.capacity:
            cost = np.zeros(n_col)
            if self.price is not None:
                cost[: self.n_p] = self.price[self.slot_of] * energy
            if self.capacity:
                cost[self.c_q] = self.capacity_price
            x = self.stage(cost)
        cost = np.zeros(n_col)
        cost[: self.n_p] = energy * (self.slot_of + 1) / self.n
        x = self.stage(cost)
        return x[: self.n_p]


def make_plan(inp: PlanInput) -> Plan:
    """The site plan for the planned cars (see the module docstring)."""
    n = _validate(inp)
    model = _Model(inp, n)
    powers = model.solve()
    max_of = np.zeros(len(model.planned))
    for k, (_, planned) in enumerate(model.planned):
        max_of[k] = car_max_kw(planned, inp)
    powers = np.clip(powers, 0.0, max_of[model.car_of] if model.n_p else 0.0)
    powers[powers < 1e-9] = 0.0

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
        if need <= 0.0:
            done = 0
        elif shortfall <= _DONE_TOL:
            done = int(np.argmax(cumulative >= need - _DONE_TOL))
            shortfall = 0.0
        else:
            done = None
        cars[car.id] = CarPlan(
            power_kw=tuple(float(v) for v in row),
            energy_kwh=energy,
            shortfall_kwh=shortfall,
            done_slot=done,
        )
    peak = max(0.0, float(total.max())) if n else 0.0
    return Plan(cars=cars, peak_kw=peak)
