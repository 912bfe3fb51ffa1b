"""Cars: the closed-loop tests are only as honest as these are."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simsite.cars import Car

V = 230.0


def draws(car: Car, setpoints: list[float], dt_s: float = 10.0) -> list[float]:
    """The car's draw after each of ``setpoints``, one control cycle each."""
    result = []
    for setpoint in setpoints:
        car.step(setpoint, dt_s, V)
        result.append(car.draw_a)
    return result


def test_below_six_amps_pauses_at_once() -> None:
    car = Car("ev", lag_cycles=3)
    assert draws(car, [16.0] * 3 + [5.9, 6.0]) == [
        pytest.approx(16 / 3),
        pytest.approx(32 / 3),
        16.0,
        0.0,
        2.0,  # resuming ramps from zero again
    ]


def test_lag_reaches_the_setpoint_in_exactly_lag_cycles() -> None:
    car = Car("ev", max_a=32.0, lag_cycles=4)
    assert draws(car, [16.0] * 5) == pytest.approx([4.0, 8.0, 12.0, 16.0, 16.0])
    assert draws(car, [8.0] * 4) == pytest.approx([14.0, 12.0, 10.0, 8.0])
    # A new setpoint mid-ramp restarts the ramp from where the car is.
    assert draws(car, [20.0, 32.0, 32.0, 32.0, 32.0]) == pytest.approx(
        [11.0, 16.25, 21.5, 26.75, 32.0]
    )


def test_full_car_draws_nothing() -> None:
    car = Car("ev", soc=0.8, target_soc=0.8)
    assert draws(car, [16.0, 32.0]) == [0.0, 0.0]
    assert car.soc == 0.8


def test_car_stops_once_it_reaches_its_target() -> None:
    # 11.04 kW into 10 kWh: one 10-minute cycle adds 0.184 of the battery.
    car = Car("ev", battery_kwh=10.0, soc=0.5, target_soc=0.8)
    assert draws(car, [16.0] * 3, dt_s=600.0) == [16.0, 16.0, 0.0]
    assert car.soc == pytest.approx(0.5 + 2 * 0.184)
    assert car.full


def test_soc_counts_energy_over_all_loaded_phases() -> None:
    three = Car("three", battery_kwh=60.0, soc=0.0)
    one = Car("one", phases=1, battery_kwh=60.0, soc=0.0)
    for car in (three, one):
        car.step(16.0, 3600.0, V)
    assert three.soc == pytest.approx(3 * 16 * V / 1000 / 60)
    assert one.soc == pytest.approx(three.soc / 3)


def test_slow_on_board_charger_caps_the_draw() -> None:
    car = Car("slow", max_a=10.0)
    assert draws(car, [32.0, 8.0]) == [10.0, 8.0]


def test_unplugged_car_draws_nothing_and_keeps_its_charge() -> None:
    car = Car("ev", soc=0.3, connected=False)
    assert draws(car, [16.0]) == [0.0]
    assert car.soc == 0.3
    car.connected = True
    assert draws(car, [16.0]) == [16.0]


def test_phase_currents() -> None:
    three = Car("three")
    one = Car("one", phases=1, phase="l2", max_a=32.0)
    three.step(16.0, 1.0, V)
    one.step(32.0, 1.0, V)
    assert three.phase_currents() == {"l1": 16.0, "l2": 16.0, "l3": 16.0}
    assert one.phase_currents() == {"l1": 0.0, "l2": 32.0, "l3": 0.0}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"phases": 2},
        {"phase": "l4"},
        {"max_a": 5.0},
        {"battery_kwh": 0.0},
        {"soc": 1.1},
        {"target_soc": -0.1},
        {"lag_cycles": 0},
    ],
)
def test_invalid_cars_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Car("bad", **kwargs)  # type: ignore[arg-type]


def test_negative_time_is_refused() -> None:
    with pytest.raises(ValueError, match="dt_s"):
        Car("ev").step(16.0, -1.0, V)


@given(
    setpoints=st.lists(st.floats(0.0, 40.0), min_size=1, max_size=30),
    max_a=st.sampled_from([10.0, 16.0, 32.0]),
    lag=st.integers(1, 5),
)
def test_draw_stays_within_what_the_car_and_charger_allow(
    setpoints: list[float], max_a: float, lag: int
) -> None:
    car = Car("ev", max_a=max_a, lag_cycles=lag, battery_kwh=1e6)
    for setpoint in setpoints:
        before = car.draw_a
        target = min(setpoint, max_a) if setpoint >= 6.0 else 0.0
        car.step(setpoint, 10.0, V)
        # Each cycle moves toward the target without passing it.
        assert min(before, target) <= car.draw_a <= max(before, target)
        assert car.draw_a <= max_a
    # Held long enough, any setpoint is followed exactly.
    for _ in range(lag):
        car.step(setpoints[-1], 10.0, V)
    assert car.draw_a == pytest.approx(target)
