"""The quarter-hour budget through the real integration: a short building peak
late in a quarter does not pause the car while the quarter's average stays
within the budget; the same peak at a quarter's start does; the month's peak
survives a restart and a peak of another month does not."""

from datetime import UTC, datetime, timedelta

import pytest
from homeassistant.core import HomeAssistant, State
from pytest_homeassistant_custom_component.common import (
    mock_restore_cache_with_extra_data,
)

from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.plan_inputs import async_site_series
from custom_components.stekker.site_limits import QuarterHourMeter, SiteLimits
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import Loop, closed_loop, entity_charger
from .conftest import SITE_OPTIONS, site_entry

BUDGET_KW = 20.0
BASE_W = 5_000.0
PEAK_W = 16_000.0
START_S = 12 * 3600.0  # a quarter-hour boundary
PEAK_LATE = (START_S + 600, START_S + 660)  # 10 minutes into the first quarter
PEAK_EARLY = (START_S + 930, START_S + 990)  # 30 s into the second
EPOCH = datetime(2026, 11, 30, tzinfo=UTC)
AVERAGE = "sensor.office_quarter_hour_average_demand"
PEAK = "sensor.office_month_peak_demand"


def building(seconds: float) -> tuple[float, float, float]:
    """5 kW, with two one-minute peaks to 16 kW."""
    peak = any(lo < seconds <= hi for lo, hi in (PEAK_LATE, PEAK_EARLY))
    watts = PEAK_W if peak else BASE_W
    return (watts / 3, watts / 3, watts / 3)


def quarter_average_kw(loop: Loop, start_s: float) -> float:
    """The grid's average import over the quarter from ``start_s``, as simulated."""
    return sum(
        max(0.0, s.power_w) * s.dt_s
        for s in loop.site.history
        if start_s < s.time_s <= start_s + 900
    ) / (900 * 1000)


def value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_a_short_peak_passes_while_the_quarter_stays_within_the_budget(
    hass: HomeAssistant,
) -> None:
    car = Car("a", max_a=16.0)
    site = SimulatedSite(building, {"A": car}, start_s=START_S)
    async with closed_loop(
        hass,
        site,
        {"A": entity_charger("A")},
        options={"quarter_budget_kw": BUDGET_KW},
    ) as loop:
        headroom = loop.entry.runtime_data.headroom
        # Quarters on the simulated clock; tracking starts with it.
        headroom.wall_clock = lambda: EPOCH + timedelta(seconds=loop.time_s)
        headroom.quarter = QuarterHourMeter(headroom.limits)

        await loop.cycle(600)
        assert car.draw_a == pytest.approx(16.0)  # 5 + 11 kW, within 20 kW
        # The plan sees what the quarter still allows now, then the budget.
        series = await async_site_series(hass, loop.entry, headroom.wall_clock(), 4)
        allowance = headroom.quarter.allowance_kw()
        assert allowance is not None
        assert allowance > BUDGET_KW
        margin = SITE_OPTIONS["margin_kw"]
        assert series.grid_limit_kw == (
            pytest.approx(min(50.0, allowance) - margin),
            BUDGET_KW - margin,
            BUDGET_KW - margin,
            BUDGET_KW - margin,
        )
        await loop.cycle(60)  # the building's peak: 16 + 11 kW for a minute
        during = [s.draws_a["A"] for s in site.history if PEAK_LATE[0] < s.time_s]
        assert min(during) >= 15.0  # the car kept charging
        assert max(s.power_w for s in site.history[-60:]) > BUDGET_KW * 1000
        await loop.cycle(240)  # to the quarter's end
        first = quarter_average_kw(loop, START_S)
        assert first <= BUDGET_KW
        assert value(hass, AVERAGE) == pytest.approx(first, rel=0.02)

        # The same peak 30 s into the next quarter: nothing is banked yet, so
        # the car makes way (an instantaneous 20 kW limit would do that always).
        await loop.cycle(90)
        assert value(hass, PEAK) == pytest.approx(first, rel=0.02)
        during = [s.draws_a["A"] for s in site.history if PEAK_EARLY[0] + 2 < s.time_s]
        assert max(during) == 0.0
        await loop.cycle(810)
        assert quarter_average_kw(loop, START_S + 900) <= BUDGET_KW

        diagnostics = await async_get_config_entry_diagnostics(hass, loop.entry)
        quarter_hour = diagnostics["headroom"]["quarter_hour"]
        assert quarter_hour["month_peak"]["peak_kw"] == pytest.approx(first, rel=0.02)
        assert quarter_hour["allowance_kw"] >= 0.0

        # A restart keeps the month's peak.
        peak = value(hass, PEAK)
        assert await hass.config_entries.async_reload(loop.entry.entry_id)
        await hass.async_block_till_done()
        assert value(hass, PEAK) == pytest.approx(peak)


@pytest.mark.parametrize(
    ("written", "stored", "restored"),
    [
        (datetime(2026, 11, 3, 9, tzinfo=UTC), 7.5, 7.5),
        (datetime(2026, 10, 31, tzinfo=UTC), 7.5, 0),
        (datetime(2026, 11, 3, 9, tzinfo=UTC), None, 0),
    ],
    ids=["this_month", "last_month", "was_unavailable"],
)
async def test_the_month_peak_is_restored_within_its_month(
    hass: HomeAssistant, written: datetime, stored: float | None, restored: float
) -> None:
    """No meter: nothing is sampled, so only the restored peak is there."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(PEAK, str(stored), last_updated=written),
                {"native_value": stored, "native_unit_of_measurement": "kW"},
            )
        ],
    )
    entry = site_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={**SITE_OPTIONS, "capacity_price_per_kw": 4.0}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    headroom = entry.runtime_data.headroom
    headroom.wall_clock = lambda: datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert headroom.quarter is not None
    assert headroom.quarter.month_peak_kw(headroom.wall_clock()) == restored


def test_a_restored_peak_never_lowers_one_already_counted() -> None:
    meter = QuarterHourMeter(SiteLimits(gtv_kw=50.0, budget_kw=20.0))
    assert meter.average_kw is None  # nothing sampled yet
    assert meter.allowance_kw() is None
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    meter.restore_peak(now, 9.0)
    meter.restore_peak(now, 6.0)
    meter.restore_peak(datetime(2026, 10, 30, 12, tzinfo=UTC), 12.0)
    assert meter.month_peak_kw(now) == 9.0


def early_peak(seconds: float) -> tuple[float, float, float]:
    """25 kW for the first 5 minutes of the quarter, then 5 kW."""
    watts = 25_000.0 if START_S < seconds <= START_S + 300 else BASE_W
    return (watts / 3, watts / 3, watts / 3)


@pytest.mark.parametrize(
    "restart",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.xfail(
                strict=True,
                reason="review: the quarter's import so far is not kept over a "
                "restart; the new tracker counts the quarter's first minutes at "
                "the import after the restart, so an earlier peak is forgotten "
                "and the allowance is too large",
            ),
        ),
    ],
)
async def test_a_restart_mid_quarter_keeps_what_the_quarter_imported(
    hass: HomeAssistant, restart: bool
) -> None:
    """Budget 15 kW: a 25 kW building peak for 5 minutes uses 2.08 of the
    quarter's 3.75 kWh; HA restarts at 5:20 and the car may not take more than
    what is left (10 kW on average with the building's 5 kW). Measured with
    the restart: 18.1 kW."""
    car = Car("a", max_a=16.0)
    site = SimulatedSite(early_peak, {"A": car}, start_s=START_S)
    async with closed_loop(
        hass, site, {"A": entity_charger("A")}, options={"quarter_budget_kw": 15.0}
    ) as loop:

        def quarters_on_the_loop_clock() -> None:
            headroom = loop.entry.runtime_data.headroom
            headroom.wall_clock = lambda: EPOCH + timedelta(seconds=loop.time_s)
            headroom.quarter = QuarterHourMeter(headroom.limits)

        quarters_on_the_loop_clock()
        await loop.cycle(320)
        if restart:
            assert await hass.config_entries.async_reload(loop.entry.entry_id)
            await hass.async_block_till_done()
            loop.entry.runtime_data.balancer.clock = loop.now
            quarters_on_the_loop_clock()  # what a restart starts from
        await loop.cycle(580)
        after = [s.draws_a["A"] for s in site.history if s.time_s > START_S + 320]
        assert max(after) >= 6.0  # the car used what was left
        assert quarter_average_kw(loop, START_S) <= 15.0 + 0.1
