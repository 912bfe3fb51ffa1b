"""The quarter-hour budget: hand-worked cases and the properties that make it
safe (the allowance never raises the GTV; following it keeps the quarter's
average within the budget)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.quarter_hour import (
    MonthPeak,
    QuarterImport,
    allowance_kw,
    live_limit_kw,
    month_peak,
    track_import,
)


def test_allowance_worked_example() -> None:
    """Budget 10 kW = 2.5 kWh a quarter. After 5 minutes at 18 kW (1.5 kWh),
    1 kWh is left for 10 minutes: 6 kW on average."""
    assert allowance_kw(10.0, 1.5, 300.0) == pytest.approx(6.0)
    # Nothing imported after 10 minutes: 2.5 kWh in 5 minutes = 30 kW.
    assert allowance_kw(10.0, 0.0, 600.0) == pytest.approx(30.0)
    # Over budget already: nothing more.
    assert allowance_kw(10.0, 3.0, 600.0) == 0.0
    # The last seconds spread what is left over 30 s, not 1 s.
    assert allowance_kw(10.0, 2.4, 899.0) == pytest.approx(0.1 * 3600 / 30)


def test_live_limit_is_the_lowest_and_never_above_the_gtv() -> None:
    assert live_limit_kw(50.0, 40.0, None) == 40.0
    assert live_limit_kw(50.0, 50.0, 120.0) == 50.0
    assert live_limit_kw(50.0, 40.0, 12.0) == 12.0


@given(
    st.floats(0.0, 1000.0),
    st.floats(0.0, 1000.0),
    st.floats(0.0, 1000.0),
    st.floats(0.0, 1000.0),
    st.floats(0.0, 900.0),
)
def test_the_allowance_never_raises_the_gtv(
    gtv: float, limit: float, budget: float, imported: float, into: float
) -> None:
    assert live_limit_kw(gtv, limit, allowance_kw(budget, imported, into)) <= gtv


@given(
    st.floats(0.5, 200.0),
    st.lists(st.floats(0.0, 300.0), min_size=1, max_size=60),
    st.floats(0.5, 30.0),
)
def test_following_the_allowance_keeps_the_quarter_within_the_budget(
    budget: float, wanted: list[float], step_s: float
) -> None:
    """Each step the site imports what it wants, cut to the allowance: the
    quarter's energy never exceeds the budget's."""
    imported, into = 0.0, 0.0
    index = 0
    while into < 900.0:
        dt = min(step_s, 900.0 - into)
        kw = min(wanted[index % len(wanted)], allowance_kw(budget, imported, into))
        imported += kw * dt / 3600.0
        into += dt
        index += 1
    assert imported <= budget * 0.25 * (1 + 1e-9)


def test_a_short_peak_passes_when_the_quarter_stays_within_the_budget() -> None:
    """10 kW budget; 4 kW for 5 minutes, 12 kW for 2, then 6 kW: the average
    is 6.13 kW, and at no moment was the allowance below what was drawn."""
    imported = 0.0
    for second in range(900):
        kw = 4.0 if second < 300 else 12.0 if second < 420 else 6.0
        assert allowance_kw(10.0, imported, float(second)) >= kw
        imported += kw / 3600.0
    assert imported * 4 == pytest.approx(92 / 15)


def test_track_import_integrates_and_closes_the_quarter() -> None:
    first, ended = track_import(None, 7, 60.0, 100.0, 12.0)
    # Joined a minute late: that minute counts at the first sample's 12 kW.
    assert first == QuarterImport(7, 0.2, 100.0, 12.0, 60.0)
    assert ended is None
    second, ended = track_import(first, 7, 120.0, 160.0, 0.0)
    assert second.imported_kwh == pytest.approx(0.2 + 0.1)  # 6 kW for a minute
    assert second.average_kw(120.0) == pytest.approx(9.0)
    assert ended is None
    # 60 s step at 4 kW throughout; 15 s of it in the next quarter.
    third, _ = track_import(second, 7, 160.0, 200.0, 4.0)
    fourth, ended = track_import(third, 8, 15.0, 260.0, 4.0)
    assert ended == pytest.approx((third.imported_kwh + 4.0 * 45 / 3600) * 4)
    assert fourth.imported_kwh == pytest.approx(4.0 * 15 / 3600)
    # Export counts as no import.
    fifth, _ = track_import(fourth, 8, 25.0, 270.0, -3.0)
    assert fifth.kw == 0.0
    assert fifth.imported_kwh == pytest.approx(fourth.imported_kwh + 2 * 10 / 3600)


def test_track_import_after_a_gap_and_from_a_meters_average() -> None:
    last = QuarterImport(7, 1.0, 0.0, 4.0)
    after_gap, ended = track_import(last, 9, 60.0, 1000.0, 4.0)
    assert ended == pytest.approx(4.0)  # what quarter 7 had, as seen
    assert after_gap.imported_kwh == pytest.approx(4.0 * 60 / 3600)
    # A Belgian P1 meter's running average replaces the integration.
    metered, ended = track_import(last, 7, 450.0, 5.0, 9.0, meter_average_kw=8.0)
    assert metered.imported_kwh == pytest.approx(1.0)
    assert ended is None
    metered, ended = track_import(metered, 8, 1.0, 6.0, 9.0, meter_average_kw=9.0)
    assert ended == pytest.approx(4.0)
    assert metered.imported_kwh == pytest.approx(9.0 / 3600)
    # A quarter never sampled yet has its first sample's import as average.
    assert QuarterImport(8, 0.0, 0.0, 5.0).average_kw(0.0) == 5.0


def test_month_peak_keeps_the_highest_and_starts_over_each_month() -> None:
    nov, dec = (2026, 11), (2026, 12)
    peak = month_peak(None, nov)
    assert peak == MonthPeak(nov, 0.0)
    peak = month_peak(peak, nov, (nov, 7.5))
    peak = month_peak(peak, nov, (nov, 6.0))
    assert peak.peak_kw == 7.5
    assert month_peak(peak, nov, meter_peak_kw=8.0).peak_kw == 8.0
    # The last quarter of November ends in December: it does not count there.
    assert month_peak(peak, dec, (nov, 9.0)) == MonthPeak(dec, 0.0)


@given(
    st.floats(0.0, 500.0),
    st.floats(0.0, 899.0),
    st.lists(st.floats(0.1, 120.0), min_size=1, max_size=80),
)
def test_a_steady_import_is_counted_exactly_across_quarters(
    kw: float, first_into: float, steps: list[float]
) -> None:
    """Whatever the sampling, a steady import's quarter so far is kw x time,
    and every quarter that ends averages kw."""
    clock = 7 * 900.0 + first_into
    state, ended = track_import(None, 7, first_into, clock, kw)
    for step in steps:
        clock += step
        quarter, into = int(clock // 900), clock % 900
        state, ended = track_import(state, quarter, into, clock, kw)
        assert state.imported_kwh == pytest.approx(kw * into / 3600, abs=1e-9)
        if ended is not None:
            assert ended == pytest.approx(kw, abs=1e-9)


def test_a_wall_clock_stepped_forward_within_a_quarter_counts_the_skipped_time() -> (
    None
):
    """Review: the wall clock steps 600 s forward (NTP on a board without a
    clock) in 1 s of the monotonic clock, staying in quarter 7. The 600 s it
    skipped were counted nowhere: 0.28 kWh in after "701 s" of 10 kW left an
    allowance of 40 kW for the last 199 s (the real quarter, on the meter's
    clock, was over budget). They count at the import now, as a late join."""
    first, _ = track_import(None, 7, 100.0, 0.0, 10.0)
    stepped, _ = track_import(first, 7, 701.0, 1.0, 10.0)
    assert stepped.imported_kwh == pytest.approx(10.0 * 701 / 3600)
    assert allowance_kw(10.0, stepped.imported_kwh, 701.0) == pytest.approx(10.0)
    # A step back keeps what was counted (the allowance only gets smaller).
    back, _ = track_import(stepped, 7, 200.0, 2.0, 10.0)
    assert back.imported_kwh == pytest.approx(stepped.imported_kwh + 10.0 / 3600)
    # The jitter of when a sample is taken (wall 2 s on, monotonic 1 s) is none.
    jitter, _ = track_import(back, 7, 202.0, 3.0, 10.0)
    assert jitter.imported_kwh == pytest.approx(back.imported_kwh + 10.0 / 3600)
