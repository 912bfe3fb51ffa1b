"""Signed currents (Carlo Gavazzi in bidirectional mode) against unsigned ones."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.headroom import compute_headroom
from custom_components.stekker.engine.readings import (
    MeterReading,
    ReadingError,
    check_reading,
)
from custom_components.stekker.engine.site import Site

SITE = Site(gtv_kw=40.0, phases=3, fuse_a=63.0, voltage_v=230.0, margin_kw=0.5)


def exporting(signed: bool) -> MeterReading:
    """8 A per phase exported; a signed meter says -8 A, an unsigned one 8 A."""
    current = -8.0 if signed else 8.0
    values = {"power_w": -3 * 8.0 * 230.0}
    for phase in ("l1", "l2", "l3"):
        values[f"current_{phase}_a"] = current
        values[f"power_{phase}_w"] = -8.0 * 230.0
    return MeterReading(values)


def test_negative_current_is_export_on_a_signed_meter() -> None:
    check_reading(exporting(signed=True), SITE, signed_currents=True)
    with pytest.raises(ReadingError):
        check_reading(exporting(signed=True), SITE)  # unsigned meter: a fault


@pytest.mark.parametrize(
    "current", [math.nan, math.inf, -math.inf, -631.0, 631.0, -1e9]
)
def test_signed_meters_still_reject_garbage(current: float) -> None:
    reading = MeterReading({"power_w": 100.0, "current_l1_a": current})
    with pytest.raises(ReadingError):
        check_reading(reading, SITE, signed_currents=True)


def test_signed_and_unsigned_meters_give_the_same_headroom() -> None:
    signed, unsigned = exporting(signed=True), exporting(signed=False)
    for phase in ("l1", "l2", "l3"):
        assert signed.signed_current(phase) == unsigned.signed_current(phase) == -8.0
    assert compute_headroom(SITE, grid=signed) == compute_headroom(SITE, grid=unsigned)


def test_signed_current_without_phase_power_keeps_its_sign() -> None:
    assert MeterReading({"current_l1_a": -3.0}).signed_current("l1") == -3.0
    assert MeterReading({"current_l1_a": 3.0}).signed_current("l1") == 3.0


@given(
    amps=st.floats(0.0, 500.0),
    watts=st.floats(-100_000.0, 100_000.0),
    negative=st.booleans(),
)
def test_signed_current_follows_the_phase_power(
    amps: float, watts: float, negative: bool
) -> None:
    """Whatever sign the meter gave, the magnitude takes the sign of the power."""
    current = -amps if negative else amps
    reading = MeterReading({"current_l1_a": current, "power_l1_w": watts})
    assert reading.signed_current("l1") == (-amps if watts < 0 else amps)
