"""Accounting: what a charger is credited with drawing and when it is held back.

Hand-worked cases of ``account`` and ``SetpointLog``. Times are seconds on the
balancer's clock; the lag is the IEC 61851-1 5 s unless a case says otherwise.
"""

import pytest

from custom_components.stekker.engine.accounting import (
    MEASUREMENT_MAX_AGE_S,
    ChargerObservation,
    SetpointLog,
    account,
    obey_tolerance_a,
    total_credit,
)
from custom_components.stekker.engine.charger import ChargerSpec

LAG = 5.0
ONE = ChargerSpec("one", 1, "l2", max_a=16.0)
THREE = ChargerSpec("three", 3, max_a=16.0)


def log_of(*writes: tuple[float, float]) -> SetpointLog:
    """A log after writing (amps, at) in order."""
    log = SetpointLog()
    for amps, at in writes:
        log = log.written(amps, at)
    return log


def per_phase(spec: ChargerSpec, amps: float) -> dict[str, float]:
    return dict.fromkeys(spec.loaded_phases, amps)


# --- SetpointLog -----------------------------------------------------------------


def test_log_starts_empty() -> None:
    log = SetpointLog()
    assert log.amps is None
    assert log.previous is None
    assert log.upper(0.0, LAG) is None


def test_log_records_a_write_and_the_value_before_it() -> None:
    log = log_of((10.0, 100.0), (16.0, 200.0))
    assert (log.amps, log.since, log.previous) == (16.0, 200.0, 10.0)


def test_rewriting_the_same_value_does_not_restart_the_lag() -> None:
    log = log_of((10.0, 100.0))
    assert log.written(10.0, 150.0) is log
    assert log.since == 100.0


def test_upper_allows_a_lagging_decrease_for_lag_s_only() -> None:
    log = log_of((16.0, 0.0), (10.0, 100.0))
    assert log.upper(100.0, LAG) == 16.0
    assert log.upper(104.9, LAG) == 16.0
    assert log.upper(105.0, LAG) == 10.0


def test_upper_after_a_raise_is_the_new_setpoint() -> None:
    log = log_of((10.0, 0.0), (16.0, 100.0))
    assert log.upper(101.0, LAG) == 16.0
    assert log.upper(200.0, LAG) == 16.0


# --- account: steered chargers ------------------------------------------------------


def test_unmeasured_charger_is_credited_at_its_setpoint() -> None:
    obs = ChargerObservation(spec=THREE, steered=True, log=log_of((12.0, 0.0)))
    acc = account(obs, 100.0, LAG)
    assert acc.credit_a == {"l1": 12.0, "l2": 12.0, "l3": 12.0}
    assert acc.reserve_a is None
    assert acc.obeying


def test_one_phase_charger_is_credited_on_its_own_phase_only() -> None:
    obs = ChargerObservation(spec=ONE, steered=True, log=log_of((12.0, 0.0)))
    assert account(obs, 100.0, LAG).credit_a == {"l2": 12.0}


def test_just_raised_is_credited_at_the_new_setpoint_not_the_lagging_sensor() -> None:
    """Issue 11.16: 10 -> 16 A at t=100; the power sensor still says 10 A.

    Crediting the 10 A it reports would leave 6 A of the car's real draw counted
    as building load once the car follows: phantom load, and the car cut for it.
    """
    log = log_of((10.0, 0.0), (16.0, 100.0))
    # Reported at 99, before the raise, and not since: it says nothing of now.
    obs = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log,
        device_setpoint_a=16.0,
        measured_a=per_phase(THREE, 10.0),
        measured_at=99.0,
    )
    for now in (101.0, 104.0, 110.0):
        acc = account(obs, now, LAG)
        assert acc.credit_a == per_phase(THREE, 16.0), now
        assert acc.reserve_a is None
        assert acc.obeying
        # Until the lag is over nobody rises on room the car may not yet leave.
        assert acc.settling is (now < 105.0)


def test_a_measurement_from_this_cycle_is_the_draw_even_while_ramping() -> None:
    """Issue 11.16 / closed-loop finding: a car measured this cycle at 13 A, on
    its way to 16 A, is credited 13 A: no room that is not there yet."""
    log = log_of((10.0, 0.0), (16.0, 100.0))
    obs = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log,
        measured_a=per_phase(THREE, 13.0),
        measured_at=102.0,
    )
    acc = account(obs, 102.0, LAG)
    assert acc.credit_a == per_phase(THREE, 13.0)
    assert not acc.settling


def test_just_raised_then_measured_after_the_lag_uses_the_measurement() -> None:
    log = log_of((10.0, 0.0), (16.0, 100.0))
    obs = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log,
        measured_a=per_phase(THREE, 13.5),
        measured_at=105.0,
    )
    assert account(obs, 106.0, LAG).credit_a == per_phase(THREE, 13.5)


def test_just_lowered_with_a_lagging_measurement_credits_the_previous_setpoint() -> (
    None
):
    """16 -> 10 A at t=100; the car may draw 16 A until t=105, then 10 A."""
    log = log_of((16.0, 0.0), (10.0, 100.0))
    lagging = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log,
        measured_a={"l2": 16.0},
        measured_at=99.0,
    )
    assert account(lagging, 102.0, LAG).credit_a == {"l2": 16.0}
    # Never above the previous setpoint, whatever the stale sensor says.
    higher = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log,
        measured_a={"l2": 20.0},
        measured_at=99.0,
    )
    assert account(higher, 102.0, LAG).credit_a == {"l2": 16.0}
    assert account(higher, 102.0, LAG).obeying
    # After the lag the car counts at the new setpoint (the old reading is not news).
    acc = account(lagging, 105.0, LAG)
    assert acc.credit_a == {"l2": 10.0}
    assert acc.reserve_a is None


def test_just_lowered_without_measurement_is_credited_the_new_setpoint() -> None:
    """No measurement: the new setpoint (the old one would hide building load)."""
    log = log_of((16.0, 0.0), (10.0, 100.0))
    obs = ChargerObservation(spec=ONE, steered=True, log=log)
    assert account(obs, 101.0, LAG).credit_a == {"l2": 10.0}
    assert account(obs, 200.0, LAG).credit_a == {"l2": 10.0}


def test_settled_measurement_is_used() -> None:
    """A car taking less than its setpoint is credited what it takes."""
    obs = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log_of((16.0, 0.0)),
        measured_a={"l1": 7.0, "l2": 6.5, "l3": 0.0},
        measured_at=50.0,
    )
    acc = account(obs, 51.0, LAG)
    assert acc.credit_a == {"l1": 7.0, "l2": 6.5, "l3": 0.0}
    assert acc.obeying


def test_settled_measurement_is_capped_at_the_setpoint() -> None:
    """Within the tolerance above the setpoint: obeying, credited the setpoint."""
    assert obey_tolerance_a(16.0) == pytest.approx(1.6)
    obs = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log_of((16.0, 0.0)),
        measured_a={"l2": 17.5},
        measured_at=50.0,
    )
    acc = account(obs, 51.0, LAG)
    assert acc.credit_a == {"l2": 16.0}
    assert acc.obeying
    assert acc.reserve_a is None


def test_a_measurement_older_than_the_maximum_age_is_ignored() -> None:
    log = log_of((12.0, 0.0))
    old = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log,
        measured_a={"l2": 3.0},
        measured_at=100.0,
    )
    just_fresh = account(old, 100.0 + MEASUREMENT_MAX_AGE_S, LAG)
    assert just_fresh.credit_a == {"l2": 3.0}
    too_old = account(old, 100.0 + MEASUREMENT_MAX_AGE_S + 1.0, LAG)
    assert too_old.credit_a == {"l2": 12.0}
    # Even an old reading far above the setpoint says nothing about obeying now.
    wild = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log,
        measured_a={"l2": 30.0},
        measured_at=100.0,
    )
    acc = account(wild, 100.0 + MEASUREMENT_MAX_AGE_S + 1.0, LAG)
    assert acc.obeying
    assert acc.credit_a == {"l2": 12.0}


def test_a_measurement_without_a_time_is_ignored() -> None:
    obs = ChargerObservation(
        spec=ONE, steered=True, log=log_of((12.0, 0.0)), measured_a={"l2": 3.0}
    )
    assert account(obs, 100.0, LAG).credit_a == {"l2": 12.0}


def test_a_car_above_setpoint_and_tolerance_is_not_obeying() -> None:
    """Issue 11.15: set to 10 A, measured 12 A (> 10 + 1.5): held back at the most
    it may draw, max(measured, spec max, device setpoint)."""
    spec = ChargerSpec("c", 1, "l1", max_a=16.0)
    obs = ChargerObservation(
        spec=spec,
        steered=True,
        log=log_of((10.0, 0.0)),
        device_setpoint_a=10.0,
        measured_a={"l1": 12.0},
        measured_at=50.0,
    )
    acc = account(obs, 50.0, LAG)
    assert not acc.obeying
    assert "12.0" in acc.why
    assert acc.credit_a == {"l1": 12.0}
    assert acc.reserve_a == 16.0
    # Drawing above the spec maximum: the measurement is the reserve.
    hungry = ChargerObservation(
        spec=spec,
        steered=True,
        log=log_of((10.0, 0.0)),
        device_setpoint_a=10.0,
        measured_a={"l1": 25.0},
        measured_at=50.0,
    )
    assert account(hungry, 50.0, LAG).reserve_a == 25.0


def test_just_inside_the_tolerance_is_obeying() -> None:
    obs = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log_of((10.0, 0.0)),
        measured_a={"l2": 11.5},
        measured_at=50.0,
    )
    acc = account(obs, 50.0, LAG)
    assert acc.obeying
    assert acc.credit_a == {"l2": 10.0}


def test_a_device_set_above_what_was_written_is_not_obeying_from_the_next_read() -> (
    None
):
    """Written 10 A at t=100; the charger says 20 A (a user app, another EMS).

    A charger shows a setpoint within DEVICE_GRACE_S (2 s: an entity that updates
    lazily), not the car's lag.
    """
    spec = ChargerSpec("c", 3, max_a=16.0)
    obs = ChargerObservation(
        spec=spec, steered=True, log=log_of((10.0, 100.0)), device_setpoint_a=20.0
    )
    assert account(obs, 100.0, LAG).obeying  # the read of the write's own cycle
    assert account(obs, 101.0, LAG).obeying  # an entity may take a moment
    after = account(obs, 102.0, LAG)
    assert not after.obeying
    assert "20.0" in after.why
    assert after.reserve_a == 20.0
    # Unmeasured: it is credited nothing; the reserve covers it.
    assert after.credit_a == per_phase(spec, 0.0)


def test_a_device_still_at_the_value_before_a_decrease_is_not_obeying() -> None:
    """16 -> 10 A at t=100: a read-back of 16 A says the decrease did not land,
    even though the car may lag the decrease for lag_s."""
    obs = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log_of((16.0, 0.0), (10.0, 100.0)),
        device_setpoint_a=16.0,
    )
    acc = account(obs, 102.0, LAG)
    assert not acc.obeying
    assert acc.reserve_a == 16.0


@pytest.mark.parametrize(("device", "obeying"), [(10.1, True), (10.2, False)])
def test_a_device_read_back_is_compared_with_a_small_tolerance(
    device: float, obeying: bool
) -> None:
    """Rounding of a read-back (0.1 A steps) is no disobedience."""
    obs = ChargerObservation(
        spec=ONE, steered=True, log=log_of((10.0, 0.0)), device_setpoint_a=device
    )
    assert account(obs, 50.0, LAG).obeying is obeying


def test_a_device_reporting_the_written_setpoint_is_obeying() -> None:
    obs = ChargerObservation(
        spec=ONE, steered=True, log=log_of((10.0, 0.0)), device_setpoint_a=10.0
    )
    acc = account(obs, 100.0, LAG)
    assert acc.obeying
    assert acc.reserve_a is None


@pytest.mark.parametrize("measured", [None, 0.0, 8.0, 32.0])
def test_an_unsteered_charger_is_credited_its_measurement_and_reserved(
    measured: float | None,
) -> None:
    """Issue 11.4: max 16 A configured, the user runs it at 32 A: reserve 32 A."""
    spec = ChargerSpec("c", 3, max_a=16.0)
    obs = ChargerObservation(
        spec=spec,
        steered=False,
        log=log_of((10.0, 0.0)),
        device_setpoint_a=32.0,
        measured_a=None if measured is None else per_phase(spec, measured),
        measured_at=None if measured is None else 99.0,
    )
    acc = account(obs, 100.0, LAG)
    assert acc.credit_a == per_phase(spec, measured or 0.0)
    assert acc.reserve_a == 32.0
    assert acc.obeying  # unsteered is not the same as disobeying


def test_an_unsteered_unreadable_charger_is_reserved_at_its_maximum() -> None:
    obs = ChargerObservation(spec=ONE, steered=False, log=log_of((10.0, 0.0)))
    acc = account(obs, 100.0, LAG)
    assert acc.credit_a == {"l2": 0.0}
    assert acc.reserve_a == 16.0


def test_an_unsteered_charger_drawing_above_everything_is_reserved_at_its_draw() -> (
    None
):
    obs = ChargerObservation(
        spec=ONE,
        steered=False,
        device_setpoint_a=20.0,
        measured_a={"l2": 24.0},
        measured_at=100.0,
    )
    assert account(obs, 100.0, LAG).reserve_a == 24.0


def test_a_never_written_charger_is_credited_only_its_measurement() -> None:
    """Nothing written yet (first cycle): the device setpoint is no credit."""
    measured = ChargerObservation(
        spec=THREE,
        steered=True,
        device_setpoint_a=16.0,
        measured_a=per_phase(THREE, 7.0),
        measured_at=99.0,
    )
    acc = account(measured, 100.0, LAG)
    assert acc.credit_a == per_phase(THREE, 7.0)
    assert acc.reserve_a is None
    assert acc.obeying
    blind = ChargerObservation(spec=THREE, steered=True, device_setpoint_a=16.0)
    assert account(blind, 100.0, LAG).credit_a == per_phase(THREE, 0.0)


def test_negative_measurements_are_never_credited() -> None:
    obs = ChargerObservation(
        spec=ONE,
        steered=True,
        log=log_of((10.0, 0.0)),
        measured_a={"l2": -2.0},
        measured_at=50.0,
    )
    assert account(obs, 50.0, LAG).credit_a == {"l2": 0.0}


def test_total_credit_sums_per_phase() -> None:
    a = account(
        ChargerObservation(spec=THREE, steered=True, log=log_of((10.0, 0.0))), 50.0
    )
    b = account(
        ChargerObservation(spec=ONE, steered=True, log=log_of((8.0, 0.0))), 50.0
    )
    assert total_credit({"a": a, "b": b}) == {"l1": 10.0, "l2": 18.0, "l3": 10.0}


def test_a_draw_measured_during_the_lag_is_judged_by_the_setpoint_then() -> None:
    """Review: 16 -> 6 A at t=100; a report at 104.2 still shows 12 A. Judged at
    105 against the setpoint of 104.2 (16 A), the car obeys."""
    obs = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log_of((16.0, 0.0), (6.0, 100.0)),
        measured_a=per_phase(THREE, 12.0),
        measured_at=104.2,
    )
    acc = account(obs, 105.0, LAG)
    assert acc.obeying
    assert acc.reserve_a is None


def test_an_unsteered_charger_counts_only_a_measurement_of_this_cycle() -> None:
    """Review: a reading 30 s old may show a car that stopped since; crediting it
    would hide building load the reservation then does not cover."""
    old = ChargerObservation(
        spec=THREE,
        steered=False,
        measured_a=per_phase(THREE, 16.0),
        measured_at=70.0,
    )
    acc = account(old, 100.0, LAG)
    assert acc.credit_a == per_phase(THREE, 0.0)
    assert acc.reserve_a == 16.0
    fresh = ChargerObservation(
        spec=THREE,
        steered=False,
        measured_a=per_phase(THREE, 16.0),
        measured_at=99.5,
    )
    assert account(fresh, 100.0, LAG).credit_a == per_phase(THREE, 16.0)


def test_only_a_measurement_after_the_lag_says_what_the_car_does() -> None:
    """Review: a slow sensor's 0 W from before a start must not make the car look
    idle (it would give its turn away before it could start)."""
    before = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log_of((0.0, 0.0), (6.0, 100.0)),
        measured_a=per_phase(THREE, 0.0),
        measured_at=99.0,
    )
    assert account(before, 110.0, LAG).observed_a is None
    after = ChargerObservation(
        spec=THREE,
        steered=True,
        log=log_of((0.0, 0.0), (6.0, 100.0)),
        measured_a=per_phase(THREE, 0.2),
        measured_at=106.0,
    )
    assert account(after, 110.0, LAG).observed_a == 0.2
