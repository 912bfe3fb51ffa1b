"""The site plan: hand-worked cases and optimality against a reference LP."""

from custom_components.stekker.engine.plan import PlanCar, PlanInput, make_plan


def _site(n: int, **kw: object) -> PlanInput:
    base: dict[str, object] = {
        "slot_h": (0.25,) * n,
        "grid_limit_kw": (50.0,) * n,
        "building_kw": (0.0,) * n,
        "solar_kw": (0.0,) * n,
        "fuse_a": 63.0,
        "voltage_v": 230.0,
        "site_phases": 3,
        "cars": (),
    }
    base.update(kw)
    return PlanInput(**base)  # type: ignore[arg-type]


def test_one_car_full_power_from_the_start() -> None:
    """11.04 kW for 4 kWh: 1.45 slots at full power, as early as it can."""
    car = PlanCar("a", 3, max_a=16.0, need_kwh=4.0, departure_slot=8)
    plan = make_plan(_site(8, cars=(car,)))
    got = plan.cars["a"]
    assert abs(got.energy_kwh - 4.0) < 1e-4
    assert got.shortfall_kwh == 0.0
    assert got.done_slot == 1
    assert abs(got.power_kw[0] - 11.04) < 1e-4
    assert all(p == 0.0 for p in got.power_kw[2:])
