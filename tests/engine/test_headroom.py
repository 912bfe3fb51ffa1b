"""Headroom: hand-worked cases and the invariants that keep a site under its limits."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.headroom import NoGridBasisError, compute_headroom
from custom_components.stekker.engine.readings import (
    MeterReading,
    ReadingError,
    check_reading,
    phase_key,
)
from custom_components.stekker.engine.site import PHASES, Site, site_errors

SITE = Site(gtv_kw=40.0, phases=3, fuse_a=80.0, voltage_v=230.0, margin_kw=1.0)


def three_phase(currents: tuple[float, float, float], signs=(1, 1, 1)) -> MeterReading:
    values = {
        "power_w": sum(c * s * 230.0 for c, s in zip(currents, signs, strict=True))
    }
    for phase, current, sign in zip(PHASES, currents, signs, strict=True):
        values[phase_key("current", phase)] = current
        values[phase_key("power", phase)] = sign * current * 230.0
    return MeterReading(values)


def test_grid_meter_worked_example() -> None:
    """20/10/5 A import, 6 A per phase of it a 3-phase charger."""
    grid = three_phase((20.0, 10.0, 5.0))
    room = compute_headroom(
        SITE, grid=grid, charger_w=3 * 6 * 230.0, charger_a={"l1": 6, "l2": 6, "l3": 6}
    )
    assert room.grid_kw == pytest.approx(35 * 0.23)
    assert room.building_net_kw == pytest.approx((35 - 18) * 0.23)
    margin_a = 1000.0 / (3 * 230.0)
    assert room.available_a["l1"] == pytest.approx(80 - margin_a - 14)
    assert room.available_a["l3"] == pytest.approx(80 - margin_a + 1)
    assert room.available_kw == pytest.approx(40 - 1 - (35 - 18) * 0.23)
    assert room.utilisation_pct == pytest.approx(35 * 0.23 / 40 * 100)
    assert room.phase_currents_measured


def test_export_raises_headroom_above_gtv() -> None:
    """Solar export shows as negative phase power: the fuse room grows."""
    grid = three_phase((10.0, 10.0, 10.0), signs=(-1, -1, -1))
    room = compute_headroom(Site(gtv_kw=17.0, phases=3, fuse_a=25.0), grid=grid)
    assert room.available_a["l1"] == pytest.approx(35.0)
    assert room.available_kw == pytest.approx(min(17 + 6.9, 3 * 35 * 0.23))
    assert room.available_kw > 17.0
    assert room.utilisation_pct == 0.0


def test_building_meter_with_solar_and_estimated_phases() -> None:
    site = Site(gtv_kw=10.0, phases=1, fuse_a=50.0)
    building = MeterReading({"power_w": 4600.0})
    solar = MeterReading({"power_w": -2300.0})
    room = compute_headroom(site, building=building, solar=solar, charger_w=1380.0)
    assert room.building_net_kw == pytest.approx(2.3)
    assert room.building_load_kw == pytest.approx(4.6)
    assert room.solar_kw == pytest.approx(2.3)
    assert room.grid_kw == pytest.approx(2.3 + 1.38)
    # The fuse is guarded against the gross 20 A: solar's phase is not known.
    assert room.available_a == {"l1": pytest.approx(30.0)}
    assert not room.phase_currents_measured


def test_phase_power_without_currents_is_used() -> None:
    grid = MeterReading({"power_l1_w": 2300.0, "power_l2_w": 0.0, "power_l3_w": 0.0})
    room = compute_headroom(Site(gtv_kw=30.0, phases=3, fuse_a=63.0), grid=grid)
    assert room.available_a["l1"] == pytest.approx(53.0)
    assert room.available_a["l2"] == pytest.approx(63.0)
    assert room.grid_kw == pytest.approx(2.3)


def test_no_basis() -> None:
    with pytest.raises(NoGridBasisError):
        compute_headroom(SITE)


@pytest.mark.parametrize(
    ("site", "field", "error"),
    [
        (Site(gtv_kw=30.0, phases=2, fuse_a=50.0), "phases", "invalid_phases"),
        (Site(gtv_kw=30.0, phases=3, fuse_a=0.5), "fuse_a", "fuse_out_of_range"),
        (
            Site(gtv_kw=30.0, phases=3, fuse_a=50, voltage_v=50),
            "voltage_v",
            "voltage_out_of_range",
        ),
        (Site(gtv_kw=0.0, phases=3, fuse_a=50.0), "gtv_kw", "gtv_out_of_range"),
        (Site(gtv_kw=40.0, phases=3, fuse_a=50.0), "gtv_kw", "gtv_above_fuse"),
        (
            Site(gtv_kw=10.0, phases=3, fuse_a=50.0, margin_kw=10),
            "margin_kw",
            "margin_out_of_range",
        ),
    ],
)
def test_site_errors(site: Site, field: str, error: str) -> None:
    assert site_errors(site)[field] == error


def test_valid_site_has_no_errors() -> None:
    assert site_errors(SITE) == {}
    assert SITE.fuse_kw == pytest.approx(55.2)


@pytest.mark.parametrize(
    "values",
    [
        {"power_w": math.nan},
        {"power_w": math.inf},
        {"power_w": 5e6},
        {"power_w": 1.0, "current_l1_a": -1.0},
        {"power_w": 1.0, "voltage_l1_v": 5000.0},
        {"power_w": 1.0, "import_kwh": -3.0},
        {"power_w": 1.0, "frequency_hz": 400.0},
        {"voltage_l1_v": 230.0},
    ],
)
def test_implausible_readings_are_faults(values: dict[str, float]) -> None:
    with pytest.raises(ReadingError):
        check_reading(MeterReading(values), SITE)


def test_plausible_reading_passes() -> None:
    check_reading(three_phase((10.0, 12.0, 8.0)), SITE)


sites = st.builds(
    Site,
    gtv_kw=st.floats(1.0, 500.0),
    phases=st.sampled_from([1, 3]),
    fuse_a=st.floats(16.0, 1000.0),
    voltage_v=st.sampled_from([220.0, 230.0, 240.0]),
    margin_kw=st.floats(0.0, 1.0),
)
amps = st.floats(0.0, 400.0)
signs = st.sampled_from([-1, 1])


@given(
    site=sites,
    currents=st.tuples(amps, amps, amps),
    sign=st.tuples(signs, signs, signs),
    charger=st.floats(0.0, 64.0),
)
def test_charging_at_headroom_keeps_site_within_limits(
    site: Site,
    currents: tuple[float, float, float],
    sign: tuple[int, int, int],
    charger: float,
) -> None:
    """Whatever the building does, chargers drawing the headroom never exceed a limit.

    Chargers draw `charger` A per phase now; if they drew the available current per
    phase instead (capped by available kW), grid current per phase stays within the
    fuse minus margin, and grid power within GTV minus margin.
    """
    charger_a = dict.fromkeys(site.phase_names, charger)
    grid = three_phase(currents, sign)
    room = compute_headroom(
        site,
        grid=grid,
        charger_w=charger * site.phases * site.voltage_v,
        charger_a=charger_a,
    )
    assert room.available_kw >= 0.0
    assert all(a >= 0.0 for a in room.available_a.values())
    building_a = {
        p: (grid.signed_current(p) or 0.0) - charger for p in site.phase_names
    }
    # Chargers take the per-phase room, scaled down to fit the kW budget.
    draw = dict(room.available_a)
    total_kw = sum(draw.values()) * site.voltage_v / 1000.0
    scale = min(1.0, room.available_kw / total_kw) if total_kw > 0 else 0.0
    for phase in site.phase_names:
        after = building_a[phase] + draw[phase] * scale
        if room.available_a[phase] > 0:
            assert after <= site.fuse_a - site.margin_a + 1e-6
    net_kw = room.building_net_kw + total_kw * scale
    if room.available_kw > 0:
        assert net_kw <= site.gtv_kw - site.margin_kw + 1e-6


@given(site=sites, load=st.floats(0.0, 100_000.0), more=st.floats(0.0, 50_000.0))
def test_more_building_load_never_raises_headroom(
    site: Site, load: float, more: float
) -> None:
    low = compute_headroom(site, building=MeterReading({"power_w": load}))
    high = compute_headroom(site, building=MeterReading({"power_w": load + more}))
    assert high.available_kw <= low.available_kw + 1e-9
    for phase in site.phase_names:
        assert high.available_a[phase] <= low.available_a[phase] + 1e-9
