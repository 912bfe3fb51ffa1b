"""The installer's path through the real config flow, against real Modbus servers."""

import math
from typing import Any

import probatio
import pytest
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import selector

from custom_components.stekker.config_flow import ean_valid
from custom_components.stekker.const import DOMAIN, SUBENTRY_METER
from custom_components.stekker.selectors import RangeNumberSelector, number_box
from simsite.modbus_server import ModbusSimServer

from .conftest import SDM630, sdm630_values, site_entry

SITE_INPUT: dict[str, Any] = {
    "name": "Office",
    "gtv_kw": 50,
    "phases": "3",
    "fuse_a": 80,
    "voltage_v": 230,
    "margin_kw": 1,
}
EAN = "871687120051234564"


def tcp_input(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "unit_id": 1,
        "profile": "sdm630",
        "role": "grid",
        **extra,
    }


async def start_to_meter(hass: HomeAssistant, **site: Any) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, **site}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "meter"
    flow_id: str = result["flow_id"]
    return flow_id


async def test_full_flow_shows_live_readings_then_saves(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    flow_id = await start_to_meter(hass, ean=EAN)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "modbus_tcp"}
    )
    assert result["step_id"] == "modbus_tcp"
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(meter_server.port)
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "verify"
    expected = sdm630_values()
    placeholders = result["description_placeholders"]
    assert placeholders["power_kw"] == f"{expected['power_w'] / 1000:.2f}"
    l1 = (
        f"| L1 | {expected['voltage_l1_v']:.1f} | {expected['current_l1_a']:.2f}"
        f" | {expected['power_l1_w'] / 1000:.2f} |"
    )
    assert l1 in placeholders["phases"]
    assert hass.config_entries.async_entries(DOMAIN) == []

    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Office"
    entry = result["result"]
    assert entry.unique_id == EAN
    assert entry.data == {
        "gtv_kw": 50.0,
        "phases": 3,
        "fuse_a": 80.0,
        "voltage_v": 230.0,
        "ean": EAN,
    }
    assert entry.options == {"margin_kw": 1.0, "poll_interval": 1.0}
    (meter,) = entry.subentries.values()
    assert meter.subentry_type == SUBENTRY_METER
    assert meter.title == "Grid meter (Eastron SDM630)"
    assert meter.data["port"] == meter_server.port
    await hass.async_block_till_done()
    state = hass.states.get("sensor.office_available_charging_power")
    assert state is not None
    assert float(state.state) > 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_rtu_over_tcp_and_going_back(hass: HomeAssistant) -> None:
    """A meter behind an RTU gateway; the installer goes back from the readings."""
    server = ModbusSimServer(framer="rtu")
    server.set_meter(1, SDM630, sdm630_values())
    await server.start()
    try:
        flow_id = await start_to_meter(hass)
        await hass.config_entries.flow.async_configure(
            flow_id, {"next_step_id": "modbus_rtu_tcp"}
        )
        result = await hass.config_entries.flow.async_configure(
            flow_id, tcp_input(server.port)
        )
        assert result["step_id"] == "verify"
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"next_step_id": "meter"}
        )
        assert result["type"] is FlowResultType.MENU
        assert result["step_id"] == "meter"
        assert hass.config_entries.async_entries(DOMAIN) == []
    finally:
        await server.stop()


async def test_unreachable_host_saves_nothing(hass: HomeAssistant) -> None:
    server = ModbusSimServer()
    server.set_meter(1, SDM630, sdm630_values())
    await server.start()
    port = server.port
    await server.stop()  # nothing listens on this loopback port now
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "modbus_tcp"}
    )
    result = await hass.config_entries.flow.async_configure(flow_id, tcp_input(port))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    placeholders = result["description_placeholders"]
    assert f"127.0.0.1:{port}" in placeholders["endpoint"]
    # The form reads once: it does not promise a retry it will not make.
    assert placeholders["error"].endswith("cannot connect")
    assert "retr" not in placeholders["error"]
    assert "next attempt" not in placeholders["error"]
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_wrong_profile_is_a_modbus_exception(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """An ABB B23 map on an SDM630: the registers are not there."""
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "modbus_tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(meter_server.port, profile="abb_b23")
    )
    assert result["errors"] == {"base": "modbus_exception"}
    # The meter answered: the message names the code and the unit id to check.
    assert result["description_placeholders"]["code"] == "2"
    assert result["description_placeholders"]["unit_id"] == "1"
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_a_number_out_of_range_says_what_is_allowed(
    hass: HomeAssistant,
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {**SITE_INPUT, "gtv_kw": 20000}
        )
    assert err.value.schema_errors == {
        "gtv_kw": "Value 20000 is too large: allowed is 1 to 10000 kW"
    }
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {**SITE_INPUT, "fuse_a": 2.5}
        )
    assert err.value.schema_errors == {
        "fuse_a": "Value 2.5 is too small: allowed is 6 to 4000 A"
    }


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"power_w": math.nan}, "power_w"),
        ({"power_l2_w": 5.0e7}, "power_l2_w"),
        ({"current_l3_a": -4.0}, "current_l3_a"),
        ({"voltage_l1_v": math.inf}, "voltage_l1_v"),
    ],
)
async def test_garbage_registers_are_refused(
    hass: HomeAssistant,
    meter_server: ModbusSimServer,
    overrides: dict[str, float],
    key: str,
) -> None:
    meter_server.set_meter(1, SDM630, sdm630_values(**overrides))
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "modbus_tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(meter_server.port)
    )
    assert result["errors"] == {"base": "implausible_reading"}
    assert result["description_placeholders"]["key"] == key
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.mark.parametrize(
    ("site", "errors"),
    [
        ({"gtv_kw": 60}, {"gtv_kw": "gtv_above_fuse"}),
        ({"ean": "12345"}, {"ean": "invalid_ean"}),
        ({"ean": EAN[:-1] + "0"}, {"ean": "invalid_ean"}),
        ({"name": "  "}, {"name": "name_required"}),
        ({"margin_kw": 50}, {"margin_kw": "margin_out_of_range"}),
        ({"voltage_v": 400, "fuse_a": 6, "phases": "1"}, {"gtv_kw": "gtv_above_fuse"}),
    ],
)
async def test_site_field_errors(
    hass: HomeAssistant, site: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, **site}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # The form keeps what was typed so the installer only fixes the field.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], SITE_INPUT
    )
    assert result["step_id"] == "meter"


async def test_same_ean_cannot_be_added_twice(hass: HomeAssistant) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, unique_id=EAN)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, "ean": f"{EAN[:6]} {EAN[6:]}"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def test_ean_check_digit() -> None:
    assert ean_valid(EAN)
    assert not ean_valid("871687120051234560")
    assert not ean_valid("87168712005123456a")


async def _sensor_flow(hass: HomeAssistant, answer: dict[str, Any]) -> dict[str, Any]:
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "sensors"})
    result: dict[str, Any] = await hass.config_entries.flow.async_configure(
        flow_id, {"role": "grid", **answer}
    )
    return result


async def test_existing_sensors_as_meter(hass: HomeAssistant) -> None:
    hass.states.async_set(
        "sensor.p1_power",
        "12.5",
        {"unit_of_measurement": "kW", "device_class": "power"},
    )
    hass.states.async_set(
        "sensor.p1_current_l1", "30000", {"unit_of_measurement": "mA"}
    )
    result = await _sensor_flow(
        hass,
        {
            "power_entity": "sensor.p1_power",
            "current_l1_entity": "sensor.p1_current_l1",
        },
    )
    assert result["step_id"] == "verify"
    assert result["description_placeholders"]["power_kw"] == "12.50"
    assert "| L1 | - | 30.00 | - |" in result["description_placeholders"]["phases"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (meter,) = result["result"].subentries.values()
    assert meter.title == "Grid meter"  # the device's name: no entity id
    await hass.async_block_till_done()
    assert hass.states.get("sensor.office_grid_power").state == "12.5"
    await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("state", "attributes", "error"),
    [
        (None, {}, "entity_not_found"),
        ("unavailable", {"unit_of_measurement": "W"}, "entity_unavailable"),
        ("1200", {"unit_of_measurement": "Wh"}, "wrong_unit"),
        ("1200", {}, "wrong_unit"),
        ("lots", {"unit_of_measurement": "W"}, "implausible_reading"),
        ("nan", {"unit_of_measurement": "W"}, "implausible_reading"),
    ],
)
async def test_sensor_meter_errors(
    hass: HomeAssistant, state: str | None, attributes: dict[str, str], error: str
) -> None:
    if state is not None:
        hass.states.async_set("sensor.p1_power", state, attributes)
    result = await _sensor_flow(hass, {"power_entity": "sensor.p1_power"})
    assert result["errors"] == {"base": error}
    assert hass.config_entries.async_entries(DOMAIN) == []


def test_number_box_errors_name_the_range_only_for_numbers() -> None:
    box = number_box(0, 10, 0.5, "A")
    assert box(7.5) == 7.5
    with pytest.raises(probatio.Invalid, match="allowed is 0 to 10 A"):
        box("12")
    with pytest.raises(probatio.Invalid) as err:
        box("lots")  # not a number: Home Assistant's own message
    assert "allowed" not in str(err.value)
    unbounded = RangeNumberSelector(
        selector.NumberSelectorConfig(min=1, mode=selector.NumberSelectorMode.BOX)
    )
    with pytest.raises(probatio.Invalid) as err:
        unbounded(0)
    assert "allowed" not in str(err.value)
