"""Headroom: hand-worked cases and the invariants that keep a site under its limits."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from custom_components.stekker.engine.headroom import (
    NoGridBasisError,
    charging_limit_kw,
    compute_headroom,
)
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
    # The fuse is guarded against the gross 4.6 kW (solar's phase is not known), as
    # a current at the lowest voltage the grid may have: 4600 / 207 V.
    assert room.available_a == {"l1": pytest.approx(50.0 - 4600.0 / 207.0)}
    assert not room.phase_currents_measured


def test_phase_power_without_currents_is_used() -> None:
    """Without voltages, power converts to current at the lowest grid voltage."""
    grid = MeterReading({"power_l1_w": 2300.0, "power_l2_w": 0.0, "power_l3_w": 0.0})
    room = compute_headroom(Site(gtv_kw=30.0, phases=3, fuse_a=63.0), grid=grid)
    assert room.available_a["l1"] == pytest.approx(63.0 - 2300.0 / 207.0)
    assert room.available_a["l2"] == pytest.approx(63.0)
    assert room.grid_kw == pytest.approx(2.3)
    assert room.voltage_v == pytest.approx(253.0)


def test_phase_power_at_a_measured_low_voltage() -> None:
    """Issue 11.1: 30 A at a real 207 V leaves 10 A on a 40 A fuse, not 13 A."""
    values = {"power_l1_w": 30 * 207.0, "power_l2_w": 0.0, "power_l3_w": 0.0}
    values |= {phase_key("voltage", p): 207.0 for p in PHASES}
    site = Site(gtv_kw=27.0, phases=3, fuse_a=40.0)
    room = compute_headroom(site, grid=MeterReading(values))
    assert room.available_a["l1"] == pytest.approx(10.0)
    assert room.voltage_v == pytest.approx(207.0)


TOTAL_ONLY_SITE = Site(gtv_kw=17.0, phases=3, fuse_a=25.0)


@pytest.mark.parametrize("car_a", [0.0, 6.0, 16.0, 32.0])
def test_total_power_only_the_car_gains_no_room_from_its_own_draw(car_a: float) -> None:
    """Issue 11.1: a meter with only total power and a 1-phase car on L1.

    Building 8 A per phase (5.52 kW). Before, L1 was estimated at total / 3 and the
    car's own draw subtracted from it, so the more the car drew, the more room L1
    seemed to have (L1 settled at 40 A on a 25 A fuse). Now the building's power,
    whatever the car draws, may be on any one phase.
    """
    total = 3 * 8 * 230.0 + car_a * 230.0
    room = compute_headroom(
        TOTAL_ONLY_SITE,
        grid=MeterReading({"power_w": total}),
        charger_a={"l1": car_a},
    )
    building_w = 3 * 8 * 230.0
    expected = max(0.0, 25.0 - building_w / 207.0)
    for phase in PHASES:
        assert room.available_a[phase] == pytest.approx(expected)
    assert not room.phase_currents_measured


def test_unbalanced_building_behind_a_total_power_meter() -> None:
    """Issue 11.1: building 35 A on L1 behind a 40 A fuse, meter with total power only."""
    site = Site(gtv_kw=27.0, phases=3, fuse_a=40.0)
    room = compute_headroom(site, grid=MeterReading({"power_w": 35 * 230.0}))
    # 8.05 kW may all be on L1: 38.9 A at 207 V; only 1.1 A is left anywhere.
    assert room.available_a["l1"] == pytest.approx(40.0 - 35 * 230.0 / 207.0)
    assert 35.0 + room.available_a["l1"] <= 40.0


def test_partial_phase_currents_are_used_and_the_rest_assumed_at_its_worst() -> None:
    """Two phase currents known: they count; the third takes all unexplained power."""
    values = {
        "power_w": 10_000.0,
        "current_l1_a": 10.0,
        "power_l1_w": 2300.0,
        "current_l2_a": 5.0,
        "power_l2_w": 1150.0,
    }
    room = compute_headroom(
        Site(gtv_kw=40.0, phases=3, fuse_a=63.0), grid=MeterReading(values)
    )
    assert room.available_a["l1"] == pytest.approx(53.0)
    assert room.available_a["l2"] == pytest.approx(58.0)
    assert room.available_a["l3"] == pytest.approx(63.0 - (10_000 - 3450) / 207.0)


def test_no_total_and_a_phase_missing_leaves_no_room_there() -> None:
    values = {"power_l1_w": 2300.0, "power_l2_w": 0.0}
    room = compute_headroom(
        Site(gtv_kw=40.0, phases=3, fuse_a=63.0), grid=MeterReading(values)
    )
    assert room.available_a["l3"] == 0.0


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


phase_amps = st.floats(-30.0, 60.0)
volts = st.floats(207.0, 253.0)
flags = st.tuples(st.booleans(), st.booleans(), st.booleans())


@given(
    building=st.tuples(phase_amps, phase_amps, phase_amps),
    cars=st.tuples(st.floats(0.0, 32.0), st.floats(0.0, 32.0), st.floats(0.0, 32.0)),
    credit_share=st.floats(0.0, 1.0),
    voltages=st.tuples(volts, volts, volts),
    has_current=flags,
    has_power=flags,
    has_voltage=flags,
    has_total=st.booleans(),
)
def test_room_never_exceeds_the_true_room(
    building: tuple[float, float, float],
    cars: tuple[float, float, float],
    credit_share: float,
    voltages: tuple[float, float, float],
    has_current: tuple[bool, bool, bool],
    has_power: tuple[bool, bool, bool],
    has_voltage: tuple[bool, bool, bool],
    has_total: bool,
) -> None:
    """Whatever part of the truth a meter tells, the room per phase is no larger
    than the true room (fuse - margin - true building current), for voltages
    anywhere in 207-253 V and chargers credited with at most what they draw.

    The one thing no rule can see: export on a phase the meter tells nothing about
    hides as much load on another (the README asks for phase data with solar).
    """
    blind = [not (c or p) for c, p in zip(has_current, has_power, strict=True)]
    assume(not any(b and building[i] < 0 for i, b in enumerate(blind)))
    site = Site(gtv_kw=40.0, phases=3, fuse_a=63.0, margin_kw=0.5)
    values: dict[str, float] = {}
    total = 0.0
    for i, phase in enumerate(PHASES):
        current = building[i] + cars[i]
        power = current * voltages[i]
        total += power
        if has_current[i]:
            values[phase_key("current", phase)] = abs(current)
        if has_power[i]:
            values[phase_key("power", phase)] = power
        if has_voltage[i]:
            values[phase_key("voltage", phase)] = voltages[i]
    if has_total or not any(has_power):
        values["power_w"] = total
    reading = MeterReading(values)
    credit = {p: cars[i] * credit_share for i, p in enumerate(PHASES)}
    room = compute_headroom(site, grid=reading, charger_a=credit)
    for i, phase in enumerate(PHASES):
        true_room = site.fuse_a - site.margin_a - building[i]
        # The chargers' uncredited draw counts as building, so it is taken off too.
        assert room.available_a[phase] <= max(0.0, true_room) + 1e-6


def test_the_plans_limit_is_the_room_the_live_cap_gives_at_nominal_voltage() -> None:
    """No voltage measured: the cap converts the room at 253 V, so 10 kW of
    room is 13.18 A a phase, 9.09 kW at 230 V; no room stays no room, and a
    measured voltage below nominal does not raise the limit."""
    got = charging_limit_kw((50.0, 50.0, 20.0), (40.0, 60.0, 0.0), 230.0, 253.0)
    assert got[0] == pytest.approx(40.0 + 10.0 * 230.0 / 253.0)
    assert got[1] == 50.0
    assert got[2] == pytest.approx(20.0 * 230.0 / 253.0)
    assert charging_limit_kw((50.0,), (-20.0,), 230.0, 225.0) == (50.0,)
    amps = (got[0] - 40.0) * 1000.0 / (3 * 230.0)
    assert amps == pytest.approx(10.0 * 1000.0 / (3 * 253.0))
