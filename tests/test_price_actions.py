"""Prices from the core Nord Pool and EnergyZero integrations' actions: chosen
in the options, asked for today and tomorrow, seen by the plan and priced into
the sessions; and what happens when the integration or its API fails."""

from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.plan_inputs import async_site_series
from simsite.cars import Car
from simsite.modbus_server import ModbusSimServer
from simsite.site import SimulatedSite

from .closed_loop import closed_loop
from .conftest import SITE_OPTIONS, site_entry
from .price_peers import (
    CET,
    PriceApis,
    energyzero_entry,
    energyzero_kwh,
    nord_pool_entry,
    nord_pool_mwh,
    serve_price_apis,
)
from .test_grid_limit import open_step, running_site
from .test_sessions import SITE, book, building, plug, ticking, wallbox

TODAY = date(2026, 11, 30)
TOMORROW = date(2026, 12, 1)
# 14:20 in Amsterdam: tomorrow's day-ahead prices are out.
pytestmark = pytest.mark.freeze_time("2026-11-30 13:20:00", tick=True)


@pytest.fixture
async def apis(hass: HomeAssistant, aioclient_mock: AiohttpClientMocker) -> PriceApis:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    served = PriceApis(days={TODAY - timedelta(days=1), TODAY, TOMORROW})
    serve_price_apis(aioclient_mock, served)
    return served


async def choose(hass: HomeAssistant, entry_id: str, **fields: Any) -> dict[str, Any]:
    flow_id = await open_step(hass, entry_id, "prices")
    result = await hass.config_entries.options.async_configure(flow_id, fields)
    await hass.async_block_till_done(wait_background_tasks=True)
    return dict(result)


def issue(
    hass: HomeAssistant, entry: MockConfigEntry, key: str
) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_{key}")


async def test_the_plan_sees_nord_pool_prices_per_kwh(
    hass: HomeAssistant, apis: PriceApis, meter_server: ModbusSimServer
) -> None:
    nord_pool = await nord_pool_entry(hass, ["NL", "BE"])
    entry = await running_site(hass, meter_server)
    result = await choose(hass, entry.entry_id, price_entry=nord_pool.entry_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {**SITE_OPTIONS, "price_entry": nord_pool.entry_id}

    now = datetime(2026, 11, 30, 14, 20, tzinfo=CET)
    series = await async_site_series(hass, entry, now, 48 * 4)
    assert series.price is not None
    # Slot 0 is 14:20-14:30; the NL price (the entry's first area) per kWh.
    assert series.price[0] == pytest.approx(nord_pool_mwh(14) / 1000)
    assert series.price[1] == pytest.approx(nord_pool_mwh(14) / 1000)
    # 15:00 is slot 3, so tomorrow 03:00 is slot 3 + 12 * 4.
    assert series.price[3] == pytest.approx(nord_pool_mwh(15) / 1000)
    assert series.price[3 + 12 * 4] == pytest.approx(nord_pool_mwh(3) / 1000)
    # Tomorrow is known to its end; beyond it the last price holds.
    assert series.price[-1] == pytest.approx(nord_pool_mwh(23) / 1000)


async def test_energyzero_all_in_prices_through_its_action(
    hass: HomeAssistant, apis: PriceApis, meter_server: ModbusSimServer
) -> None:
    energyzero = await energyzero_entry(hass)
    entry = await running_site(hass, meter_server)
    result = await choose(hass, entry.entry_id, price_entry=energyzero.entry_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY

    now = datetime(2026, 11, 30, 14, 20, tzinfo=CET)
    series = await async_site_series(hass, entry, now, 48 * 4)
    assert series.price is not None
    assert series.price[0] == pytest.approx(energyzero_kwh(14))
    assert series.price[3] == pytest.approx(energyzero_kwh(15))
    assert series.price[-1] == pytest.approx(energyzero_kwh(23))
    assert entry.runtime_data.prices is not None
    assert entry.runtime_data.prices.price_now() == pytest.approx(energyzero_kwh(14))


async def later(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int
) -> None:
    """Time passes; the price coordinator's timer fires (a quarter-hour and
    its jitter)."""
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def site_on(
    hass: HomeAssistant, server: ModbusSimServer, source: MockConfigEntry
) -> MockConfigEntry:
    entry = await running_site(hass, server, price_entry=source.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


async def plan_prices(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    series = await async_site_series(hass, entry, dt_util.now(), 8)
    return series.price


async def test_an_unloaded_integration_keeps_the_last_prices_and_raises_a_repair(
    hass: HomeAssistant,
    apis: PriceApis,
    meter_server: ModbusSimServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    nord_pool = await nord_pool_entry(hass, ["NL"])
    entry = await site_on(hass, meter_server, nord_pool)
    assert (await plan_prices(hass, entry))[0] == pytest.approx(0.15)
    assert await hass.config_entries.async_unload(nord_pool.entry_id)
    # Known prices are asked again after an hour: the action is refused.
    await later(hass, freezer, 61)
    found = issue(hass, entry, "price_action_failing")
    assert found is not None
    assert found.translation_placeholders is not None
    assert found.translation_placeholders["source"] == "Nord Pool"
    assert "get_prices_for_date" in found.translation_placeholders["error"]
    # The plan keeps the prices it had: 15:21 is priced at 15:00's.
    assert (await plan_prices(hass, entry))[0] == pytest.approx(
        nord_pool_mwh(15) / 1000
    )
    # Back: asked again within a quarter-hour, and the repair goes.
    assert await hass.config_entries.async_setup(nord_pool.entry_id)
    await later(hass, freezer, 16)
    assert issue(hass, entry, "price_action_failing") is None


async def test_no_prices_for_today_plans_without_prices(
    hass: HomeAssistant,
    apis: PriceApis,
    meter_server: ModbusSimServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    nord_pool = await nord_pool_entry(hass, ["NL"])
    apis.days.clear()  # the API answers 204: Nord Pool's action gives no prices
    entry = await site_on(hass, meter_server, nord_pool)
    assert await plan_prices(hass, entry) is None
    assert entry.runtime_data.prices is not None
    assert entry.runtime_data.prices.price_now() is None
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["prices"]["points"] == 0
    assert diagnostics["prices"]["last_update_success"] is False
    assert "no prices for 2026-11-30" in diagnostics["prices"]["last_exception"]
    found = issue(hass, entry, "price_action_failing")
    assert found is not None
    assert found.translation_placeholders is not None
    assert "no prices for 2026-11-30" in found.translation_placeholders["error"]
    apis.days.update({TODAY, TOMORROW})
    await later(hass, freezer, 16)
    assert issue(hass, entry, "price_action_failing") is None
    assert (await plan_prices(hass, entry))[0] == pytest.approx(0.15)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["prices"] == {
        "source_entry": nord_pool.entry_id,
        "asked_at": diagnostics["prices"]["asked_at"],
        "last_update_success": True,
        "last_exception": diagnostics["prices"]["last_exception"],
        "points": 2 * 96,  # today's and tomorrow's quarter-hours
        "from": "2026-11-29T23:00:00+00:00",  # midnight in Amsterdam
        "until": "2026-12-01T22:45:00+00:00",
    }


async def test_energyzero_api_down_raises_a_repair(
    hass: HomeAssistant,
    apis: PriceApis,
    meter_server: ModbusSimServer,
) -> None:
    energyzero = await energyzero_entry(hass)
    apis.energyzero_status = HTTPStatus.INTERNAL_SERVER_ERROR
    entry = await site_on(hass, meter_server, energyzero)
    # Its action raises the library's own error, not a Home Assistant one.
    found = issue(hass, entry, "price_action_failing")
    assert found is not None
    assert found.translation_placeholders is not None
    assert (
        "energyzero.get_energy_prices failed" in found.translation_placeholders["error"]
    )
    assert await plan_prices(hass, entry) is None


async def test_a_removed_integration_raises_a_repair(
    hass: HomeAssistant,
    apis: PriceApis,
    meter_server: ModbusSimServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    nord_pool = await nord_pool_entry(hass, ["NL"])
    entry = await site_on(hass, meter_server, nord_pool)
    assert await hass.config_entries.async_remove(nord_pool.entry_id)
    await later(hass, freezer, 61)
    assert issue(hass, entry, "price_entry_missing") is not None
    assert issue(hass, entry, "price_action_failing") is None
    # The site unloaded: its repairs go with it.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue(hass, entry, "price_entry_missing") is None


async def test_the_price_options_refuse_what_gives_no_prices(
    hass: HomeAssistant, apis: PriceApis
) -> None:
    hass.states.async_set("sensor.price", "0.25")
    nord_pool = MockConfigEntry(
        domain="nordpool", title="Nord Pool", data={"areas": ["NL"], "currency": "EUR"}
    )
    nord_pool.add_to_hass(hass)  # not set up
    entry = site_entry()
    entry.add_to_hass(hass)
    flow_id = await open_step(hass, entry.entry_id, "prices")
    for fields, errors in (
        ({"price_entry": entry.entry_id}, {"price_entry": "price_entry_domain"}),
        ({"price_entry": "no-such-entry"}, {"price_entry": "price_entry_domain"}),
        (
            {"price_entry": nord_pool.entry_id},
            {"price_entry": "price_entry_not_loaded"},
        ),
        (
            {"price_entry": nord_pool.entry_id, "price_entity": "sensor.price"},
            {"base": "price_source_both"},
        ),
    ):
        result = await hass.config_entries.options.async_configure(flow_id, fields)
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == errors
        assert entry.options == SITE_OPTIONS
    # A sensor replaces an integration chosen before, and the other way round.
    result = await hass.config_entries.options.async_configure(
        flow_id, {"price_entity": "sensor.price"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {**SITE_OPTIONS, "price_entity": "sensor.price"}
    assert await hass.config_entries.async_setup(nord_pool.entry_id)
    result = await choose(hass, entry.entry_id, price_entry=nord_pool.entry_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {**SITE_OPTIONS, "price_entry": nord_pool.entry_id}


async def test_a_session_costs_the_nord_pool_price_of_its_energy(
    hass: HomeAssistant, apis: PriceApis, freezer: FrozenDateTimeFactory
) -> None:
    nord_pool = await nord_pool_entry(hass, ["NL"])
    site = SimulatedSite(
        building(1000.0), {"Wallbox": Car("Wb", connected=False)}, start_s=51600.0
    )
    hass.states.async_set("binary_sensor.wallbox_plugged", "off")
    async with closed_loop(
        hass,
        site,
        {"Wallbox": wallbox()},
        site_data=SITE,
        options={"price_entry": nord_pool.entry_id},
    ) as loop:
        ticking(loop, freezer)
        await hass.async_block_till_done(wait_background_tasks=True)
        plug(hass, loop, "Wallbox", True)
        await loop.cycle(20)
        session = book(loop).open[next(iter(loop.entry.runtime_data.balancer.chargers))]
        assert session.energy_kwh > 0.3
        # All of it in the 14:00 hour: NL 150 EUR/MWh, 0.15 per kWh.
        assert session.cost == pytest.approx(session.energy_kwh * 0.15)
        cost = hass.states.get("sensor.wallbox_cost_this_month")
        assert cost is not None


async def test_tomorrow_is_asked_until_it_is_out_then_hourly(
    hass: HomeAssistant,
    apis: PriceApis,
    meter_server: ModbusSimServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    energyzero = await energyzero_entry(hass)
    apis.days.discard(TOMORROW)  # its action refuses a day without prices
    entry = await site_on(hass, meter_server, energyzero)
    assert apis.energyzero_quarters == [TODAY, TOMORROW]
    assert issue(hass, entry, "price_action_failing") is None  # that is expected
    series = await async_site_series(hass, entry, dt_util.now(), 48 * 4)
    assert series.price is not None
    assert series.price[-1] == pytest.approx(energyzero_kwh(23))  # today's last
    apis.days.add(TOMORROW)
    await later(hass, freezer, 16)
    assert apis.energyzero_quarters == [TODAY, TOMORROW] * 2
    # At 14:36 slot 2 starts at 15:00, so slot 51 is 03:15 tomorrow.
    series = await async_site_series(hass, entry, dt_util.now(), 48 * 4)
    assert series.price is not None
    assert series.price[51] == pytest.approx(energyzero_kwh(3))
    # Both days known: not asked again within the hour.
    await later(hass, freezer, 16)
    assert len(apis.energyzero_quarters) == 4
    await later(hass, freezer, 45)
    assert len(apis.energyzero_quarters) == 6


async def test_at_start_up_prices_are_asked_once_home_assistant_has_started(
    hass: HomeAssistant, apis: PriceApis, meter_server: ModbusSimServer
) -> None:
    """The site may be set up before the price integration: no repair for that."""
    nord_pool = MockConfigEntry(
        domain="nordpool", title="Nord Pool", data={"areas": ["NL"], "currency": "EUR"}
    )
    nord_pool.add_to_hass(hass)
    hass.set_state(CoreState.not_running)
    entry = await site_on(hass, meter_server, nord_pool)
    assert await plan_prices(hass, entry) is None
    assert await hass.config_entries.async_setup(nord_pool.entry_id)
    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue(hass, entry, "price_action_failing") is None
    assert (await plan_prices(hass, entry))[0] == pytest.approx(0.15)
