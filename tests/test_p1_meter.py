"""Smart meters (P1) through the real config flow: the core dsmr integration
reading DSMR 5, 5B and 4 telegrams from 127.0.0.1, and HomeWizard P1 entities."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from homeassistant import util as ha_util
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN

from .dsmr_stream import P1Stream
from .p1_meters import (
    DSMR_POWER,
    dsmr_device,
    dsmr_meter,
    enable_all,
    homewizard_meter,
    meter_state,
    publish,
)
from .test_config_flow import start_to_meter

# dsmr_parser's keep-alive timer outlives the connection it watched.
pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])

# L1 imports 2.3 kW at 10 A, L2 exports 1.15 kW at 5 A, L3 imports 0.46 kW at 2 A.
MIXED = {"l1": (2.3, 0.0, 10), "l2": (0.0, 1.15, 5), "l3": (0.46, 0.0, 2)}
# The same as HomeWizard shows it (signed net power, per phase too).
HW_FULL = {
    "active_power_w": 1610.0,
    "active_power_l1_w": 2300.0,
    "active_power_l2_w": -1150.0,
    "active_power_l3_w": 460.0,
    "active_current_l1_a": 10.0,
    "active_current_l2_a": 5.0,
    "active_current_l3_a": 2.0,
    "active_voltage_l1_v": 231.0,
    "active_voltage_l2_v": 229.0,
    "active_voltage_l3_v": 230.0,
    "active_power_average_w": 1200.0,
    "monthly_power_peak_w": 4200.0,
}


@pytest.fixture
async def stream() -> AsyncIterator[P1Stream]:
    served = P1Stream()
    await served.start()
    yield served
    await served.stop()


async def pick_p1(hass: HomeAssistant, device_id: str, **site: Any) -> dict[str, Any]:
    flow_id = await start_to_meter(hass, **site)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "p1"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "p1"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"device_id": device_id, "role": "grid"}
    )
    return dict(result)


def meter_entity(hass: HomeAssistant, subentry_id: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{subentry_id}_{key}"
    )
    assert entity_id is not None
    return entity_id


async def test_dsmr5_disabled_entities_then_mapped_read_live_and_saved(
    hass: HomeAssistant, stream: P1Stream
) -> None:
    """The installer picks the meter; the per-phase entities dsmr creates
    disabled are named; once enabled, the mapping and live readings show, the
    deadline is the meter's rate's, and the meter balances the site."""
    dsmr = await dsmr_meter(hass, stream, options={"time_between_update": 1})
    await publish(hass, stream, meter_state(MIXED))
    device = dsmr_device(hass, dsmr)

    result = await pick_p1(hass, device.id)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "p1_entities_disabled"}
    disabled = result["description_placeholders"]["entities"]
    assert "sensor.electricity_meter_current_phase_l1" in disabled
    assert "sensor.electricity_meter_power_production_phase_l3" in disabled
    assert hass.config_entries.async_entries(DOMAIN) == []

    await enable_all(hass, dsmr, stream)
    await publish(hass, stream, meter_state(MIXED))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"device_id": device.id, "role": "grid"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "verify_p1"
    placeholders = result["description_placeholders"]
    # Net: 2.3 - 1.15 + 0.46 kW. Whole amperes at their worst: L1 imports
    # "10 A" -> 11 A, L2 exports "5 A" -> 4 A of export, L3 "2 A" -> 3 A.
    assert placeholders["power_kw"] == "1.61"
    assert "| L1 | 230.0 | 11.00 | 2.30 |" in placeholders["phases"]
    assert "| L2 | 230.0 | -4.00 | -1.15 |" in placeholders["phases"]
    assert "| L3 | 230.0 | 3.00 | 0.46 |" in placeholders["phases"]
    assert (
        "| import_power | sensor.electricity_meter_power_consumption |"
        in placeholders["mapping"]
    )
    assert (
        "| current_l2 | sensor.electricity_meter_current_phase_l2 |"
        in placeholders["mapping"]
    )
    # 1 s telegrams: stale after 5 s of silence, then the 3 s the balancer
    # holds the setpoints and the 1 s cycle that notices.
    assert placeholders["interval_s"] == "1"
    assert placeholders["deadline_s"] == "9"
    assert hass.config_entries.async_entries(DOMAIN) == []

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    (meter,) = entry.subentries.values()
    assert meter.title == "Grid meter (DSMR smart meter)"
    assert meter.data["source"] == "p1"
    assert meter.data["device_id"] == device.id
    assert meter.data["p1_integration"] == "dsmr"
    assert meter.data["export_power_l2_entity"] == (
        "sensor.electricity_meter_power_production_phase_l2"
    )
    await hass.async_block_till_done()
    power = meter_entity(hass, meter.subentry_id, "power_w")
    assert float(hass.states.get(power).state) == pytest.approx(1.61)
    current = meter_entity(hass, meter.subentry_id, "current_l1_a")
    assert float(hass.states.get(current).state) == pytest.approx(11.0)

    # Live: a new telegram is the next reading.
    await publish(hass, stream, meter_state({**MIXED, "l1": (4.6, 0.0, 20)}))
    coordinator = entry.runtime_data.meters[meter.subentry_id]
    await coordinator.async_refresh()
    assert coordinator.data.power_w == pytest.approx(3910.0)
    assert coordinator.data.signed_current("l1") == pytest.approx(21.0)
    assert coordinator.data.signed_current("l2") == pytest.approx(-4.0)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(dsmr.entry_id)


async def test_dsmr_at_its_default_rate_is_warned_about(
    hass: HomeAssistant, stream: P1Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dsmr's default passes one telegram per 30 s: the flow says the deadline
    that makes (30 s silence + 3 s + a cycle) and warns."""
    # dsmr's throttle reads HA's wall clock: each telegram comes 10 s later.
    later = [timedelta()]

    def advance() -> None:
        later[0] += timedelta(seconds=10)

    monkeypatch.setattr(ha_util, "utcnow", lambda: dt_util.utcnow() + later[0])
    dsmr = await dsmr_meter(hass, stream)
    await publish(hass, stream, meter_state(MIXED), advance=advance)
    await enable_all(hass, dsmr, stream)
    await publish(hass, stream, meter_state(MIXED), advance=advance)
    result = await pick_p1(hass, dsmr_device(hass, dsmr).id)
    assert result["step_id"] == "verify_p1_slow"
    assert result["description_placeholders"]["interval_s"] == "30"
    assert result["description_placeholders"]["deadline_s"] == "34"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "meter"}
    )
    assert result["step_id"] == "meter"
    assert hass.config_entries.async_entries(DOMAIN) == []
    await hass.config_entries.async_unload(dsmr.entry_id)


async def test_belgian_meter_quarter_hour_average_and_month_peak(
    hass: HomeAssistant, stream: P1Stream
) -> None:
    """DSMR 5B: 1-0:1.4.0 and 1-0:1.6.0 become the meter's quarter-hour
    average and month peak sensors; its currents have two decimals and are
    taken as they are."""
    phases = {"l1": (2.3, 0.0, 10.48), "l2": (0.0, 1.15, 5.02), "l3": (0.5, 0.0, 2.2)}
    dsmr = await dsmr_meter(hass, stream, "5B", {"time_between_update": 0})
    state = meter_state(phases, quarter_hour_kw=2.351, month_peak_kw=3.589)
    await publish(hass, stream, state, belgian=True)
    await enable_all(hass, dsmr, stream)
    await publish(hass, stream, state, belgian=True)
    result = await pick_p1(hass, dsmr_device(hass, dsmr).id)
    assert result["step_id"] == "verify_p1"
    assert (
        "| L1 | 230.0 | 10.48 | 2.30 |" in result["description_placeholders"]["phases"]
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    entry = result["result"]
    (meter,) = entry.subentries.values()
    await hass.async_block_till_done()
    reading = entry.runtime_data.meters[meter.subentry_id].data
    assert reading.values["quarter_hour_avg_w"] == pytest.approx(2351.0)
    assert reading.values["month_peak_w"] == pytest.approx(3589.0)
    assert reading.signed_current("l2") == pytest.approx(-5.02)
    average = hass.states.get(
        meter_entity(hass, meter.subentry_id, "quarter_hour_avg_w")
    )
    assert average.attributes["unit_of_measurement"] == "kW"
    assert float(average.state) == pytest.approx(2.351)
    peak = hass.states.get(meter_entity(hass, meter.subentry_id, "month_peak_w"))
    assert float(peak.state) == pytest.approx(3.589)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(dsmr.entry_id)


async def test_dsmr_meter_gone_is_refused(
    hass: HomeAssistant, stream: P1Stream
) -> None:
    """A meter whose connection dropped is unavailable: refused, nothing saved."""
    dsmr = await dsmr_meter(hass, stream, options={"time_between_update": 0})
    await publish(hass, stream, meter_state(MIXED))
    await enable_all(hass, dsmr, stream)
    await publish(hass, stream, meter_state(MIXED))
    await stream.stop()
    for _ in range(500):
        await asyncio.sleep(0.01)
        await hass.async_block_till_done()
        if hass.states.get(DSMR_POWER).state == STATE_UNAVAILABLE:
            break
    result = await pick_p1(hass, dsmr_device(hass, dsmr).id)
    assert result["errors"] == {"base": "entity_unavailable"}
    assert hass.config_entries.async_entries(DOMAIN) == []
    await hass.config_entries.async_unload(dsmr.entry_id)


async def test_silent_meter_is_refused(hass: HomeAssistant) -> None:
    """A meter that stopped reporting keeps its last numbers: refused as stale
    (last reported 20 s ago, its integration polls every 5 s)."""
    device, entity_ids = homewizard_meter(hass, HW_FULL)
    silent_since = dt_util.utcnow().timestamp() - 20.0
    state = hass.states.get(entity_ids["active_power_w"])
    hass.states.async_set(
        state.entity_id, state.state, state.attributes, timestamp=silent_since
    )
    result = await pick_p1(hass, device.id)
    assert result["errors"] == {"base": "entity_stale"}
    assert result["description_placeholders"] == {
        "entity_id": entity_ids["active_power_w"],
        "age": "20",
    }
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_homewizard_p1_is_mapped_and_warned_about_its_poll(
    hass: HomeAssistant,
) -> None:
    """HomeWizard gives a signed net power, per phase too; its integration
    polls every 5 s, so the fail-safe deadline is 15 + 3 + 1 s: a warning."""
    device, entity_ids = homewizard_meter(hass, HW_FULL)
    result = await pick_p1(hass, device.id)
    assert result["step_id"] == "verify_p1_slow"
    placeholders = result["description_placeholders"]
    assert placeholders["power_kw"] == "1.61"
    assert "| L2 | 229.0 | -4.00 | -1.15 |" in placeholders["phases"]
    assert placeholders["interval_s"] == "5"
    assert placeholders["deadline_s"] == "19"
    assert f"| net_power | {entity_ids['active_power_w']} |" in placeholders["mapping"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    entry = result["result"]
    (meter,) = entry.subentries.values()
    assert meter.title == "Grid meter (HomeWizard P1)"
    await hass.async_block_till_done()
    reading = entry.runtime_data.meters[meter.subentry_id].data
    assert reading.values["month_peak_w"] == 4200.0
    own = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, meter.subentry_id), entry.entry_id
    )
    assert own is not None
    assert (own.manufacturer, own.model) == ("HomeWizard", "Wi-Fi P1 Meter")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_meter_without_what_the_site_needs_is_refused(
    hass: HomeAssistant,
) -> None:
    """A P1 device lacking per-phase entities is named what it lacks; a
    device of another integration is no P1 meter. Nothing is saved."""
    device, _ = homewizard_meter(hass, {"active_power_w": 500.0})
    result = await pick_p1(hass, device.id)
    assert result["errors"] == {"base": "p1_entities_missing"}
    missing = result["description_placeholders"]["missing"]
    assert missing.split(", ") == [
        "active_power_l1_w",
        "active_current_l1_a",
        "active_power_l2_w",
        "active_current_l2_a",
        "active_power_l3_w",
        "active_current_l3_a",
    ]
    # A one-phase site needs L1 only.
    result = await pick_p1(hass, device.id, phases="1", fuse_a=40, gtv_kw=9)
    assert result["description_placeholders"]["missing"] == (
        "active_power_l1_w, active_current_l1_a"
    )

    not_a_meter = MockConfigEntry(domain="template", title="Helpers")
    not_a_meter.add_to_hass(hass)
    other = dr.async_get(hass).async_get_or_create(
        config_entry_id=not_a_meter.entry_id, identifiers={("template", "x")}
    )
    result = await pick_p1(hass, other.id)
    assert result["errors"] == {"base": "p1_not_a_meter"}
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_dsmr4_meter_reports_every_10_s(
    hass: HomeAssistant, stream: P1Stream
) -> None:
    """A DSMR 4 meter sends a telegram every 10 s, whatever dsmr's option:
    silent for 30 s before it counts as stale, so the flow warns."""
    dsmr = await dsmr_meter(hass, stream, "4", {"time_between_update": 0})
    await publish(hass, stream, meter_state(MIXED), dsmr4=True)
    await enable_all(hass, dsmr, stream)
    await publish(hass, stream, meter_state(MIXED), dsmr4=True)
    result = await pick_p1(hass, dsmr_device(hass, dsmr).id)
    assert result["step_id"] == "verify_p1_slow"
    placeholders = result["description_placeholders"]
    assert placeholders["interval_s"] == "10"
    assert placeholders["deadline_s"] == "34"
    assert placeholders["power_kw"] == "1.61"
    assert "| L2 | - | -4.00 | -1.15 |" in placeholders["phases"]
    await hass.config_entries.async_unload(dsmr.entry_id)
