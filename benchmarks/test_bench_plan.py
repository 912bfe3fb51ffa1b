"""Speed of the site plan and its gap to a separately formulated reference LP.

The site: an apartment block's car park on a 3-phase connection sized so the
evening peak leaves little room, a solar roof, a day-ahead price curve and a
capacity price; cars mixed 1- and 3-phase, 16 or 32 A, arriving with 5-40 kWh
to charge and leaving within the day. Some needs cannot be met, each because
the car's own ceiling allows no more before it leaves: the plan sees that every
car gets all it can and needs no fair-shortfall rounds (a shortfall that a
shared limit causes would take them; docs/performance.md has their cost).
"""

import json
import math
import os
import random
from pathlib import Path
from typing import Any

from custom_components.stekker.engine.plan import PlanCar, PlanInput, make_plan
from tests.engine.test_plan import plan_figures, random_instance, reference

PHASES = ("l1", "l2", "l3")


def site_instance(cars: int, slots: int, seed: int) -> PlanInput:
    """A car park of `cars` over `slots` quarter hours from 17:00."""
    rng = random.Random(seed)
    hours = [(17.0 + t / 4.0) % 24.0 for t in range(slots)]
    evening = [math.exp(-(((h - 19.0) / 2.0) ** 2)) for h in hours]
    building = tuple(cars * (0.4 + 0.8 * e) * rng.uniform(0.9, 1.1) for e in evening)
    sun = [max(0.0, math.sin(math.pi * (h - 7.0) / 13.0)) for h in hours]
    solar = tuple(cars * 0.6 * s for s in sun)
    price = tuple(
        0.12 + 0.10 * e + 0.05 * math.cos(h / 24 * 2 * math.pi)
        for h, e in zip(hours, evening, strict=True)
    )
    fleet = tuple(
        PlanCar(
            f"car{i:03d}",
            3 if i % 3 == 0 else 1,
            PHASES[i % 3],
            max_a=32.0 if i % 5 == 0 else 16.0,
            need_kwh=rng.uniform(5.0, 40.0),
            departure_slot=rng.randint(slots // 4, slots),
        )
        for i in range(cars)
    )
    grid_kw = cars * 2.2
    return PlanInput(
        slot_h=(rng.uniform(0.02, 0.25), *(0.25,) * (slots - 1)),
        grid_limit_kw=(grid_kw,) * slots,
        building_kw=building,
        solar_kw=solar,
        fuse_a=grid_kw * 1000.0 / (3 * 230.0) * 1.05,
        voltage_v=230.0,
        site_phases=3,
        cars=fleet,
        price=price,
        capacity_price_per_kw=5.0,
        month_peak_kw=cars * 1.2,
    )


def record(**figures: float) -> None:
    if out := os.environ.get("STEKKER_BENCH_OUT"):
        name = "_".join(figures)
        (Path(out) / f"{name}.json").write_text(json.dumps(figures))


def test_plan_200x96(benchmark: Any) -> None:
    inp = site_instance(200, 96, seed=1)
    plan = benchmark.pedantic(make_plan, args=(inp,), rounds=15, warmup_rounds=1)
    assert len(plan.cars) == 200
    record(plan_200x96_ms=round(benchmark.stats.stats.median * 1000, 2))


def test_plan_20x96(benchmark: Any) -> None:
    inp = site_instance(20, 96, seed=2)
    plan = benchmark.pedantic(make_plan, args=(inp,), rounds=50, warmup_rounds=2)
    assert len(plan.cars) == 20
    record(plan_20x96_ms=round(benchmark.stats.stats.median * 1000, 2))


def test_plan_gap_vs_lp() -> None:
    """Largest relative gap (%) in delivered energy, each fair share of the
    needs, solar use and cost to the reference LP, over seeded random and
    car-park instances."""
    worst = 0.0
    instances = [random_instance(random.Random(1000 + s)) for s in range(60)]
    instances += [site_instance(12, 48, seed=s) for s in range(6)]
    for inp in instances:
        best, best_shares = reference(inp)
        got, shares = plan_figures(inp)
        pairs = [(got[key], best[key]) for key in ("energy", "solar", "cost")]
        pairs += list(zip(shares, best_shares, strict=True))
        for value, optimum in pairs:
            gap = abs(value - optimum) / max(1.0, abs(optimum)) * 100.0
            worst = max(worst, gap)
    assert worst < 0.1
    record(plan_gap_vs_lp_pct=round(worst, 6))
