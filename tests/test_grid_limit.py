"""The grid limit below the GTV: the options (every error translated, nothing
saved), a limit entity lowering the live headroom at once (and its fallback),
and the limit, prices and budget as the plan sees them."""

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import (
    EventStateChangedData,
    async_track_state_change_event,
)
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.plan_inputs import async_site_series
from simsite.cars import Car
from simsite.load import BuildingLoad
from simsite.modbus_server import ModbusSimServer
from simsite.site import SimulatedSite

from .closed_loop import closed_loop, entity_charger
from .conftest import SITE_DATA, SITE_OPTIONS, modbus_meter, sdm630_values, site_entry

TRANSLATIONS = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "stekker"
    / "translations"
)
AMSTERDAM = dt_util.get_time_zone("Europe/Amsterdam")
SIGNAL = "sensor.grid_signal"
PRICES = "sensor.electricity_price"


def value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


def net_kw() -> float:
    return sdm630_values()["power_w"] / 1000.0


async def running_site(
    hass: HomeAssistant, server: ModbusSimServer, **options: Any
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options={**SITE_OPTIONS, **options},
        subentries_data=[
            {
                "subentry_type": "meter",
                "data": modbus_meter(server.port),
                "title": "Grid meter",
                "unique_id": None,
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def open_step(hass: HomeAssistant, entry_id: str, step: str) -> str:
    result = await hass.config_entries.options.async_init(entry_id)
    assert result["type"] is FlowResultType.MENU
    assert {"grid_limit", "prices"} <= set(result["menu_options"])
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["step_id"] == step
    flow_id: str = result["flow_id"]
    return flow_id


@pytest.mark.parametrize(
    ("answer", "errors", "placeholders"),
    [
        (
            {"limit_schedule": "mon-fri 16:00-21:00 12\n16-21 12"},
            {"limit_schedule": "schedule_invalid"},
            {"line": "16-21 12"},
        ),
        (
            {"limit_schedule": "16:00-21:00 60 kW"},
            {"limit_schedule": "schedule_above_gtv"},
            {"kw": "60", "gtv": "50"},
        ),
        (
            {"limit_entity": "sensor.charger_current"},
            {"limit_entity": "limit_entity_unit"},
            {"unit": "A"},
        ),
        (
            {"limit_entity": "sensor.bare_number"},
            {"limit_entity": "limit_entity_no_unit"},
            {},
        ),
        (
            {"limit_entity": "sensor.gone"},
            {"limit_entity": "entity_not_found"},
            {},
        ),
        (
            {"limit_entity": "sensor.office_grid_limit"},
            {"limit_entity": "limit_entity_own"},
            {},
        ),
        (
            {"quarter_budget_kw": 60.0, "capacity_price_per_kw": 4.0},
            {"quarter_budget_kw": "budget_above_gtv"},
            {"gtv": "50"},
        ),
    ],
    ids=[
        "bad_line",
        "above_gtv",
        "not_power",
        "no_unit",
        "missing",
        "own",
        "budget_above_gtv",
    ],
)
async def test_grid_limit_option_errors_save_nothing(
    hass: HomeAssistant,
    answer: dict[str, Any],
    errors: dict[str, str],
    placeholders: dict[str, str],
) -> None:
    hass.states.async_set("sensor.charger_current", "12", {"unit_of_measurement": "A"})
    hass.states.async_set("sensor.bare_number", "20")
    entry = site_entry()
    entry.add_to_hass(hass)
    # The site's own Grid limit sensor, as a running site registers it.
    er.async_get(hass).async_get_or_create(
        "sensor",
        DOMAIN,
        f"{entry.entry_id}_grid_limit",
        suggested_object_id="office_grid_limit",
        config_entry=entry,
    )
    hass.states.async_set(
        "sensor.office_grid_limit", "50", {"unit_of_measurement": "kW"}
    )
    flow_id = await open_step(hass, entry.entry_id, "grid_limit")
    result = await hass.config_entries.options.async_configure(flow_id, answer)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert placeholders.items() <= result["description_placeholders"].items()
    assert entry.options == SITE_OPTIONS
    # Each error is translated, and every placeholder it names is filled in.
    for language in ("en", "nl"):
        messages = json.loads((TRANSLATIONS / f"{language}.json").read_text())
        for key in errors.values():
            message = messages["options"]["error"][key]
            named = set(re.findall(r"{(\w+)}", message))
            assert named <= set(result["description_placeholders"]), (language, key)


async def test_grid_limit_options_are_saved_and_cleared(hass: HomeAssistant) -> None:
    hass.states.async_set(SIGNAL, "20000", {"unit_of_measurement": "W"})
    entry = site_entry()
    entry.add_to_hass(hass)
    flow_id = await open_step(hass, entry.entry_id, "grid_limit")
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            "limit_schedule": "  sat,sun 00:00-24:00 30\n",
            "limit_entity": SIGNAL,
            "quarter_budget_kw": 25.0,
            "capacity_price_per_kw": 4.5,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        **SITE_OPTIONS,
        "limit_schedule": "sat,sun 00:00-24:00 30",
        "limit_entity": SIGNAL,
        "quarter_budget_kw": 25.0,
        "capacity_price_per_kw": 4.5,
    }
    flow_id = await open_step(hass, entry.entry_id, "grid_limit")
    result = await hass.config_entries.options.async_configure(
        flow_id, {"limit_schedule": " "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == SITE_OPTIONS


def nord_pool(start: datetime, prices: list[float]) -> dict[str, Any]:
    """The custom Nord Pool integration's attribute: hourly entries."""
    return {
        "raw_today": [
            {
                "start": start + timedelta(hours=i),
                "end": start + timedelta(hours=i + 1),
                "value": price,
            }
            for i, price in enumerate(prices)
        ]
    }


async def test_price_option_needs_prices_it_can_read(hass: HomeAssistant) -> None:
    # Neither a price now nor a forecast.
    hass.states.async_set("sensor.flat_price", "n/a", {"unit_of_measurement": "€"})
    hass.states.async_set(
        PRICES, "0.25", nord_pool(datetime(2026, 11, 2, tzinfo=AMSTERDAM), [0.2])
    )
    entry = site_entry()
    entry.add_to_hass(hass)
    flow_id = await open_step(hass, entry.entry_id, "prices")
    result = await hass.config_entries.options.async_configure(
        flow_id, {"price_entity": "sensor.flat_price"}
    )
    assert result["errors"] == {"price_entity": "price_forecast_unreadable"}
    assert entry.options == SITE_OPTIONS
    result = await hass.config_entries.options.async_configure(
        flow_id, {"price_entity": PRICES}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {**SITE_OPTIONS, "price_entity": PRICES}


async def test_a_limit_entity_lowers_the_live_headroom_at_once(
    hass: HomeAssistant,
    meter_server: ModbusSimServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No meter poll in between: the entity's change alone runs a cycle."""
    hass.states.async_set(SIGNAL, "45", {"unit_of_measurement": "kW"})
    await running_site(
        hass,
        meter_server,
        limit_entity=SIGNAL,
        limit_schedule="00:00-24:00 48",
    )
    assert value(hass, "sensor.office_grid_limit") == 45.0
    available = "sensor.office_available_charging_power"
    assert value(hass, available) == pytest.approx(45 - 1 - net_kw(), abs=0.01)

    hass.states.async_set(SIGNAL, "38000", {"unit_of_measurement": "W"})
    await hass.async_block_till_done()
    assert value(hass, "sensor.office_grid_limit") == 38.0
    assert value(hass, available) == pytest.approx(38 - 1 - net_kw(), abs=0.01)

    # Unavailable: its last value holds (see the test of the hold below); said
    # once in the log.
    hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    assert value(hass, "sensor.office_grid_limit") == 38.0
    assert caplog.text.count(f"Limit entity {SIGNAL} has no value") == 1
    # A signal above the GTV does not raise it.
    hass.states.async_set(SIGNAL, "80", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    assert value(hass, "sensor.office_grid_limit") == 48.0
    # Gone altogether, or a unit that is no power: no limit either.
    hass.states.async_remove(SIGNAL)
    await hass.async_block_till_done()
    assert value(hass, "sensor.office_grid_limit") == 48.0
    hass.states.async_set(SIGNAL, "3", {"unit_of_measurement": "A"})
    await hass.async_block_till_done()
    assert value(hass, "sensor.office_grid_limit") == 48.0
    # Once more since the 80 kW: gone, then a current, is one spell without.
    assert caplog.text.count(f"Limit entity {SIGNAL} has no value") == 2
    hass.states.async_set(SIGNAL, "46", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    assert value(hass, "sensor.office_grid_limit") == 46.0
    assert f"Limit entity {SIGNAL} has a value again" in caplog.text


async def test_a_new_limit_from_the_entity_is_planned_for(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    hass.states.async_set(SIGNAL, "45", {"unit_of_measurement": "kW"})
    entry = await running_site(hass, meter_server, limit_entity=SIGNAL)
    planner = entry.runtime_data.planner
    before = planner.current
    assert before is not None
    hass.states.async_set(SIGNAL, "30", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    assert planner.current is not None
    assert planner.current is not before


async def test_the_plan_sees_the_schedule_the_entity_and_the_prices(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    now = datetime(2026, 11, 2, 15, 50, tzinfo=AMSTERDAM)
    midnight = datetime(2026, 11, 2, tzinfo=AMSTERDAM)
    hourly = [0.30 - 0.01 * hour for hour in range(24)]
    hass.states.async_set(PRICES, "0.15", nord_pool(midnight, hourly))
    hass.states.async_set(SIGNAL, "45", {"unit_of_measurement": "kW"})
    entry = await running_site(
        hass,
        meter_server,
        limit_schedule="mon 16:10-21:00 20\ntue 00:00-24:00 8",
        limit_entity=SIGNAL,
        price_entity=PRICES,
        capacity_price_per_kw=3.5,
    )

    series = await async_site_series(hass, entry, now, 40)

    margin = SITE_OPTIONS["margin_kw"]
    # Slot 0 15:50-16:00: the entity's 45; 16:00-16:15 sees the 16:10 block.
    assert series.grid_limit_kw[0] == 45 - margin
    assert series.grid_limit_kw[1:21] == (20 - margin,) * 20  # 16:00-21:00
    assert series.grid_limit_kw[21:33] == (45 - margin,) * 12  # 21:00-24:00
    assert series.grid_limit_kw[33:] == (8 - margin,) * 7  # Tuesday
    assert series.price is not None
    assert series.price[0] == pytest.approx(0.15)  # 15:00-16:00
    assert series.price[1:5] == pytest.approx((0.14,) * 4)  # 16:00-17:00
    assert series.price[32] == pytest.approx(0.07)  # 23:45
    # Beyond the known prices: the last known one, held.
    assert series.price[33:] == pytest.approx((0.07,) * 7)
    assert series.capacity_price_per_kw == 3.5
    assert series.month_peak_kw == 0.0  # no quarter-hour average counted yet


async def test_cars_follow_a_lower_limit_within_a_cycle_and_the_lag(
    hass: HomeAssistant,
) -> None:
    """Closed loop: two cars charging beside a 20 kW building; the operator's
    signal drops from above the GTV to 26 kW, then goes unavailable: the
    26 kW hold a quarter-hour, then the GTV."""
    hass.states.async_set(SIGNAL, "60", {"unit_of_measurement": "kW"})
    cars = {"A": Car("a"), "B": Car("b")}
    site = SimulatedSite(BuildingLoad(peak_w=12_000.0), cars, start_s=12 * 3600.0)
    chargers = {"A": entity_charger("A"), "B": entity_charger("B")}
    async with closed_loop(
        hass, site, chargers, options={"limit_entity": SIGNAL}
    ) as loop:
        # The wall clock follows the simulated time, and can skip ahead.
        skipped = timedelta()
        start_wall = dt_util.utcnow()
        headroom = loop.entry.runtime_data.headroom
        headroom.wall_clock = lambda: (
            start_wall + skipped + timedelta(seconds=loop.time_s - 12 * 3600.0)
        )
        await loop.cycle(300)
        assert site.history[-1].power_w > 28_000  # both cars charge
        hass.states.async_set(SIGNAL, "26", {"unit_of_measurement": "kW"})
        await hass.async_block_till_done()
        start = len(site.history)
        await loop.cycle(60)
        after = list(site.history)[start:]
        # One step for the cars' lag: from then on within the new limit.
        assert all(s.power_w <= 26_000 for s in after[1:])
        assert max(after[-1].draws_a.values()) >= 6.0  # one car in what is left
        hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
        await hass.async_block_till_done()
        start = len(site.history)
        await loop.cycle(300)
        assert all(s.power_w <= 26_000 for s in list(site.history)[start:])
        skipped = timedelta(minutes=15)
        await loop.cycle(300)
        assert site.history[-1].power_w > 28_000  # both back under the GTV
        assert site.longest_run_above(power_w=50_000) == 0


async def test_a_lost_limit_signal_holds_its_last_value_a_quarter_hour(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """An operator's signal that goes away (or reads no power) keeps its last
    value for 15 minutes, in the live limit and the plan; then the lowest of
    the GTV and the time blocks."""
    hass.states.async_set(SIGNAL, "30", {"unit_of_measurement": "kW"})
    entry = await running_site(
        hass, meter_server, limit_entity=SIGNAL, limit_schedule="00:00-24:00 48"
    )
    headroom = entry.runtime_data.headroom
    # Whole hours ahead of the clock the site started on (the plan read then).
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    start += timedelta(hours=2)
    wall = [start]
    headroom.wall_clock = lambda: wall[0]

    def limit_at(when: datetime) -> float:
        wall[0] = when
        headroom.async_recompute()
        return headroom.data.grid_limit_kw

    assert limit_at(start) == 30.0
    wall[0] = start + timedelta(minutes=1)
    hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    shown = hass.states.get("sensor.office_grid_limit")
    assert shown is not None
    assert float(shown.state) == 30.0
    assert (
        shown.attributes["limit_entity_held_until"]
        == (start + timedelta(minutes=15)).isoformat()
    )
    margin = SITE_OPTIONS["margin_kw"]
    series = await async_site_series(hass, entry, start + timedelta(minutes=1), 3)
    # Slot 0 (12:01-12:15) within the hold; from 12:15 the time block.
    assert series.grid_limit_kw == (30 - margin, 48 - margin, 48 - margin)
    assert limit_at(start + timedelta(minutes=14, seconds=59)) == 30.0
    assert limit_at(start + timedelta(minutes=15)) == 48.0
    shown = hass.states.get("sensor.office_grid_limit")
    assert shown is not None
    assert shown.attributes["limit_entity_held_until"] is None  # over
    hass.states.async_set(SIGNAL, "30", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    shown = hass.states.get("sensor.office_grid_limit")
    assert shown is not None
    assert shown.attributes["limit_entity_held_until"] is None  # a value again

    # A unit changed to one that is no power, or taken away: no value either.
    later = start + timedelta(hours=1)
    wall[0] = later
    hass.states.async_set(SIGNAL, "35", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    assert headroom.data.grid_limit_kw == 35.0
    hass.states.async_set(SIGNAL, "36", {"unit_of_measurement": "A"})
    await hass.async_block_till_done()
    assert headroom.data.grid_limit_kw == 35.0
    hass.states.async_set(SIGNAL, "36")
    await hass.async_block_till_done()
    assert limit_at(later + timedelta(minutes=14)) == 35.0
    assert limit_at(later + timedelta(minutes=15)) == 48.0
    # A value again: it counts at once, lower or higher.
    hass.states.async_set(SIGNAL, "40000", {"unit_of_measurement": "W"})
    await hass.async_block_till_done()
    assert headroom.data.grid_limit_kw == 40.0


async def test_the_hold_counts_from_when_the_signal_lost_its_value(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """Not from when the balancer last read it (say the meters were down):
    the value was the limit until the change that took it away."""
    hass.states.async_set(SIGNAL, "30", {"unit_of_measurement": "kW"})
    entry = await running_site(
        hass, meter_server, limit_entity=SIGNAL, limit_schedule="00:00-24:00 48"
    )
    headroom = entry.runtime_data.headroom
    read_at = dt_util.utcnow()
    headroom.wall_clock = lambda: read_at  # no read after this one
    headroom.async_recompute()
    changes: list[Event[EventStateChangedData]] = []
    async_track_state_change_event(hass, SIGNAL, changes.append)
    hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    (lost,) = changes
    assert lost.time_fired > read_at
    limit_entity = headroom.limit_entity
    assert limit_entity is not None
    assert limit_entity.held_until == lost.time_fired + timedelta(minutes=15)
    assert headroom.data.grid_limit_kw == 30.0


@pytest.mark.parametrize(
    ("before_kw", "after_kw"), [(30.0, 30.0), (60.0, 48.0)], ids=["lower", "higher"]
)
async def test_a_restart_without_the_signal_starts_from_its_last_value(
    hass: HomeAssistant,
    meter_server: ModbusSimServer,
    before_kw: float,
    after_kw: float,
) -> None:
    """The value from before the restart, no higher than the GTV and the time
    blocks, holds a quarter-hour from the start while the entity has none."""
    hass.states.async_set(SIGNAL, f"{before_kw:g}", {"unit_of_measurement": "kW"})
    entry = await running_site(
        hass, meter_server, limit_entity=SIGNAL, limit_schedule="00:00-24:00 48"
    )
    assert entry.runtime_data.headroom.data.grid_limit_kw == min(48.0, before_kw)
    hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
    await hass.async_block_till_done()

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    headroom = entry.runtime_data.headroom
    assert headroom.data.grid_limit_kw == after_kw
    assert value(hass, "sensor.office_grid_limit") == after_kw
    restarted = dt_util.utcnow()
    headroom.wall_clock = lambda: restarted + timedelta(minutes=15, seconds=1)
    headroom.async_recompute()
    assert headroom.data.grid_limit_kw == 48.0


async def test_a_restart_with_the_signal_back_uses_its_value(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    hass.states.async_set(SIGNAL, "30", {"unit_of_measurement": "kW"})
    entry = await running_site(hass, meter_server, limit_entity=SIGNAL)
    hass.states.async_set(SIGNAL, "42", {"unit_of_measurement": "kW"})
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.headroom.data.grid_limit_kw == 42.0


@pytest.mark.parametrize(
    "saved",
    [
        {"limit_entity": "sensor.old_signal", "limit_entity_kw": 20.0},
        {"limit_entity": SIGNAL, "limit_entity_kw": "n/a"},
    ],
    ids=["another_entity", "no_number"],
)
async def test_a_saved_value_of_another_entity_or_no_number_is_not_used(
    hass: HomeAssistant, meter_server: ModbusSimServer, saved: dict[str, Any]
) -> None:
    mock_restore_cache_with_extra_data(
        hass, [(State("sensor.office_grid_limit", "20"), saved)]
    )
    hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
    entry = await running_site(
        hass, meter_server, limit_entity=SIGNAL, limit_schedule="00:00-24:00 48"
    )
    assert entry.runtime_data.headroom.data.grid_limit_kw == 48.0


async def test_a_start_without_the_signal_or_its_last_value_uses_the_fallback(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    hass.states.async_set(SIGNAL, STATE_UNAVAILABLE)
    entry = await running_site(
        hass, meter_server, limit_entity=SIGNAL, limit_schedule="00:00-24:00 48"
    )
    assert entry.runtime_data.headroom.data.grid_limit_kw == 48.0
    hass.states.async_set(SIGNAL, "20", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    assert entry.runtime_data.headroom.data.grid_limit_kw == 20.0
