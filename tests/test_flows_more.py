"""More meters as subentries, reconfiguring the limits, options, diagnostics."""

import json
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.stekker import config_flow
from custom_components.stekker.const import DOMAIN, SUBENTRY_METER
from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.meter import meter_source
from simsite.modbus_server import ModbusSimServer

from .conftest import SDM630, modbus_meter, sdm630_values, site_entry

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "stekker"


async def add_meter(
    hass: HomeAssistant, entry_id: str, source: str, answer: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_METER), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": source}
    )
    assert result["step_id"] == source
    out: dict[str, Any] = await hass.config_entries.subentries.async_configure(
        result["flow_id"], answer
    )
    return out


async def test_add_solar_meter_as_subentry(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    await meter_server.stop()
    meter_server.set_meter(2, SDM630, sdm630_values())  # the solar meter
    await meter_server.start()
    entry = site_entry(modbus_meter(meter_server.port))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    answer = {
        k: v
        for k, v in modbus_meter(meter_server.port, role="solar").items()
        if k != "source"
    } | {"unit_id": 2}
    result = await add_meter(hass, entry.entry_id, "modbus_tcp", answer)
    assert result["step_id"] == "verify"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert len(entry.subentries) == 2
    # The site reloaded with the new meter: its sensors exist.
    assert hass.states.get("sensor.solar_meter_eastron_sdm630_power") is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_second_grid_meter_is_refused(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = site_entry(modbus_meter(meter_server.port))
    entry.add_to_hass(hass)
    hass.states.async_set("sensor.p1", "100", {"unit_of_measurement": "W"})
    result = await add_meter(
        hass, entry.entry_id, "sensors", {"power_entity": "sensor.p1", "role": "grid"}
    )
    assert result["errors"] == {"role": "role_taken"}
    assert len(entry.subentries) == 1


@pytest.mark.parametrize(
    ("source", "answer"),
    [
        (
            "modbus_tcp",
            {"host": "127.0.0.1", "port": 1502, "unit_id": 7, "profile": "sdm120"},
        ),
        # The same host, port and unit behind an RTU gateway is the same meter.
        (
            "modbus_rtu_tcp",
            {"host": "127.0.0.1 ", "port": 1502, "unit_id": 7, "profile": "sdm630"},
        ),
        (
            "modbus_serial",
            {
                "serial_port": "/dev/ttyUSB0",
                "baudrate": "9600",
                "parity": "none",
                "stopbits": "1",
                "bytesize": "8",
                "unit_id": 3,
                "profile": "sdm120",
            },
        ),
        ("sensors", {"power_entity": "sensor.p1"}),
    ],
)
async def test_the_same_meter_cannot_be_added_twice_across_sites(
    hass: HomeAssistant, source: str, answer: dict[str, Any]
) -> None:
    """The endpoint is refused before it is read: as another meter of the same
    site and as a meter of another site."""
    existing = [
        {**modbus_meter(1502), "unit_id": 7},
        {
            **modbus_meter(0, role="building"),
            "source": "modbus_serial",
            "serial_port": "/dev/ttyUSB0",
            "unit_id": 3,
        },
        {"source": "sensors", "power_entity": "sensor.p1", "role": "solar"},
    ]
    first = site_entry(*existing)
    first.add_to_hass(hass)
    other = site_entry()
    other.add_to_hass(hass)
    hass.config_entries.async_update_entry(other, title="Depot")
    hass.states.async_set("sensor.p1", "100", {"unit_of_measurement": "W"})
    for entry in (first, other):
        result = await add_meter(
            hass, entry.entry_id, source, {**answer, "role": "charger"}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": "meter_already_configured"}
        assert result["description_placeholders"]["site"] == "Office"
    assert len(first.subentries) == 3
    assert other.subentries == {}


async def test_a_site_without_ean_cannot_be_added_twice(hass: HomeAssistant) -> None:
    """Same name (any case), no EAN: refused on the name; its first meter would be
    refused as a duplicate endpoint too."""
    entry = site_entry(modbus_meter(1502))
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    site = {
        "name": " office ",
        "gtv_kw": 50,
        "phases": "3",
        "fuse_a": 80,
        "voltage_v": 230,
        "margin_kw": 1,
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], site)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"name": "site_name_taken"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**site, "name": "Office 2"}
    )
    assert result["step_id"] == "meter"
    await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "modbus_tcp"}
    )
    meter = {k: v for k, v in modbus_meter(1502).items() if k != "source"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], meter)
    assert result["errors"] == {"base": "meter_already_configured"}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.parametrize(
    ("choice", "stored"), [("none", "N"), ("even", "E"), ("odd", "O")]
)
async def test_serial_meter_that_is_not_there(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, choice: str, stored: str
) -> None:
    """The form offers lower-case parity keys; the meter is read with N, E or O."""
    seen: list[dict[str, Any]] = []

    def recording_meter_source(hass: HomeAssistant, data: dict[str, Any]) -> Any:
        seen.append(dict(data))
        return meter_source(hass, data)

    monkeypatch.setattr(config_flow, "meter_source", recording_meter_source)
    entry = site_entry()
    entry.add_to_hass(hass)
    result = await add_meter(
        hass,
        entry.entry_id,
        "modbus_serial",
        {
            "serial_port": "/dev/stekker-test-no-such-port",
            "baudrate": "9600",
            "parity": choice,
            "stopbits": "1",
            "bytesize": "8",
            "unit_id": 1,
            "profile": "sdm120",
            "role": "building",
        },
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.subentries == {}
    assert [data["parity"] for data in seen] == [stored]


async def test_parity_choices_are_the_translated_options() -> None:
    options = json.loads((COMPONENT / "strings.json").read_text())["selector"]["parity"]
    assert set(options["options"]) == set(config_flow.PARITY)


async def test_reconfigure_limits(hass: HomeAssistant) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure"
    limits = {"gtv_kw": 60, "phases": "3", "fuse_a": 80, "voltage_v": 230}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], limits)
    assert result["errors"] == {"gtv_kw": "gtv_above_fuse"}
    assert entry.data["gtv_kw"] == 50.0
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**limits, "gtv_kw": 55, "fuse_a": 100}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["gtv_kw"] == 55.0
    assert entry.data["fuse_a"] == 100.0
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


BALANCING = {
    "poll_interval": 2,
    "stale_s": 4,
    "ramp_step_a": 3,
    "hysteresis_s": 5,
    "min_write_interval_s": 20,
    "rotation_s": 600,
}


@pytest.mark.parametrize(
    ("answer", "errors"),
    [
        ({**BALANCING, "margin_kw": 60}, {"margin_kw": "margin_out_of_range"}),
        (
            {**BALANCING, "margin_kw": 2, "stale_s": 3},
            {"stale_s": "stale_below_cycles"},
        ),
        ({**BALANCING, "margin_kw": 2}, None),
    ],
)
async def test_options(
    hass: HomeAssistant, answer: dict[str, float], errors: dict[str, str] | None
) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "balancing"}
    )
    assert result["step_id"] == "balancing"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], answer
    )
    if errors:
        assert result["errors"] == errors
        assert entry.options["margin_kw"] == 1.0
    else:
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options == {
            "poll_interval": 2.0,
            "margin_kw": 2.0,
            "stale_s": 4.0,
            "ramp_step_a": 3.0,
            "hysteresis_s": 5.0,
            "min_write_interval_s": 20.0,
            "rotation_s": 600.0,
        }


async def test_diagnostics_redact_ean_and_host(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = site_entry(modbus_meter(meter_server.port))
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "ean": "871687120051234564"}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    text = str(diagnostics)
    assert "871687120051234564" not in text
    assert "127.0.0.1" not in text
    assert diagnostics["entry"]["data"]["ean"] == "**REDACTED**"
    (meter,) = diagnostics["meters"]
    assert meter["config"]["host"] == "**REDACTED**"
    assert meter["last_update_success"] is True
    assert meter["reading"]["power_w"] > 0
    assert diagnostics["headroom"]["data"]["available_kw"] > 0
    await hass.config_entries.async_unload(entry.entry_id)
