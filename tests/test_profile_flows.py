"""Issue 13's profile fixes through the real config flows and the running site."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from simsite.modbus_server import ModbusSimServer

from .conftest import modbus_meter, site_entry
from .modbus.test_vendor_maps import (
    HOLDING,
    INPUT,
    alfen_socket,
    em24_exporting,
    sdm72d_m_v1_map,
    serve,
    zeros,
)
from .test_charger_flow import LIMITS, open_flow
from .test_config_flow import start_to_meter, tcp_input

type Device = Callable[[int, dict[int, list[int]]], Any]


@pytest.fixture
async def device() -> AsyncIterator[Device]:
    """Serve one unit-1 device from a register map written from its document."""
    servers: list[ModbusSimServer] = []

    async def start(function: int, registers: dict[int, list[int]]) -> ModbusSimServer:
        server = ModbusSimServer()
        serve(server, function, registers)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def meter_step(
    hass: HomeAssistant, port: int, profile: str
) -> tuple[str, dict[str, Any]]:
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "modbus_tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(port, profile=profile)
    )
    return flow_id, result


async def test_exporting_em24_without_export_register_is_a_grid_meter(
    hass: HomeAssistant, device: Device
) -> None:
    """Issue 13 points 1 and 2: exception 2 at 005Ch and negative currents."""
    server = await device(INPUT, em24_exporting(False))
    flow_id, result = await meter_step(hass, server.port, "em24")
    assert result["step_id"] == "verify", result.get("errors")
    assert result["description_placeholders"]["power_kw"] == "-4.92"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = result["result"]
    current = hass.states.get("sensor.grid_meter_carlo_gavazzi_em24_rs_485_current_l1")
    assert current is not None
    assert float(current.state) == pytest.approx(-8.25)
    assert float(hass.states.get("sensor.office_grid_power").state) == pytest.approx(
        -4.924
    )
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    (meter,) = diagnostics["meters"]
    assert meter["last_update_success"] is True
    assert meter["missing_registers"] == ["export_kwh"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_sdm72d_m_v1_read_as_v2_says_so_then_v1_works(
    hass: HomeAssistant, device: Device
) -> None:
    server = await device(INPUT, sdm72d_m_v1_map())
    flow_id, result = await meter_step(hass, server.port, "sdm72d_m_v2")
    assert result["step_id"] == "modbus_tcp"
    assert result["errors"] == {"base": "hint_sdm72d_m_v1"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, tcp_input(server.port, profile="sdm72d_m_v1")
    )
    assert result["step_id"] == "verify", result.get("errors")
    assert result["description_placeholders"]["power_kw"] == "3.46"


async def test_shelly_in_its_monophase_profile_says_so(
    hass: HomeAssistant, device: Device
) -> None:
    server = await device(INPUT, zeros(2000, 2060))
    _, result = await meter_step(hass, server.port, "shelly_pro_3em")
    assert result["errors"] == {"base": "hint_shelly_monophase"}


async def test_running_meter_that_turns_out_a_v1_names_the_cause(
    hass: HomeAssistant, device: Device
) -> None:
    server = await device(INPUT, sdm72d_m_v1_map())
    entry = site_entry(modbus_meter(server.port, profile="sdm72d_m_v2"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (meter,) = entry.runtime_data.meters.values()
    assert meter.last_update_success is False
    assert meter.last_exception is not None
    assert meter.last_exception.translation_key == "hint_sdm72d_m_v1"  # type: ignore[attr-defined]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_alfen_station_unit_is_refused(hass: HomeAssistant) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    flow_id = await open_flow(hass, entry.entry_id, "modbus")
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "Eve",
            "host": "127.0.0.1",
            "port": 1,  # never reached: refused before any read
            "unit_id": 200,
            "profile": "alfen_eve",
            **LIMITS,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"unit_id": "station_unit_id"}


async def test_alfen_that_ignores_modbus_setpoints_is_refused_in_the_flow(
    hass: HomeAssistant, device: Device
) -> None:
    server = await device(HOLDING, alfen_socket(valid_s=50, accounted=0))
    entry = site_entry()
    entry.add_to_hass(hass)
    flow_id = await open_flow(hass, entry.entry_id, "modbus")
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "Eve",
            "host": "127.0.0.1",
            "port": server.port,
            "unit_id": 1,
            "profile": "alfen_eve",
            **LIMITS,
        },
    )
    assert result["errors"] == {"base": "setpoint_ignored"}
    assert result["description_placeholders"]["unit_id"] == "1"
