"""More meters as subentries, reconfiguring the limits, options, diagnostics."""

import json
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

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


async def open_meter_reconfigure(
    hass: HomeAssistant, entry_id: str, subentry_id: str
) -> dict[str, Any]:
    result: dict[str, Any] = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_METER),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    return result


def suggested(result: dict[str, Any]) -> dict[str, Any]:
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


async def test_reconfigure_a_meter_keeps_its_entities(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """The meter moved to another address: same subentry, same unique ids (so the
    same history), read live before saving, refused while unreachable."""
    moved = ModbusSimServer()
    moved.set_meter(4, SDM630, sdm630_values())
    await moved.start()
    try:
        entry = site_entry(modbus_meter(meter_server.port))
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        (subentry_id,) = entry.subentries
        registry = er.async_get(hass)
        before = {
            e.entity_id: e.unique_id
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
        result = await open_meter_reconfigure(hass, entry.entry_id, subentry_id)
        current = suggested(result)
        assert current["port"] == meter_server.port
        assert current["role"] == "grid"
        answer = {**current, "port": moved.port, "unit_id": 1}
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], answer
        )
        assert result["errors"] == {"base": "modbus_exception"}  # no unit 1 there
        answer["unit_id"] = 4
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], answer
        )
        assert result["type"] is FlowResultType.MENU
        assert result["step_id"] == "verify"
        assert result["menu_options"] == ["save", "reconfigure"]
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": "save"}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done(wait_background_tasks=True)
        assert list(entry.subentries) == [subentry_id]
        data = entry.subentries[subentry_id].data
        assert (data["port"], data["unit_id"]) == (moved.port, 4)
        after = {
            e.entity_id: e.unique_id
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
        assert after == before
        # The site reloaded: the same meter is now read at its new address.
        meter = entry.runtime_data.meters[subentry_id]
        reads = sum(n for (unit, _), n in moved.requests.items() if unit == 4)
        await meter.async_refresh()
        assert meter.last_update_success
        assert sum(n for (unit, _), n in moved.requests.items() if unit == 4) > reads
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await moved.stop()


async def test_reconfigure_a_sensor_meter(hass: HomeAssistant) -> None:
    """Its own role and endpoint are no conflict; another meter's endpoint is."""
    for sensor in ("sensor.p1", "sensor.p1_new", "sensor.pv"):
        hass.states.async_set(sensor, "100", {"unit_of_measurement": "W"})
    entry = site_entry(
        {"source": "sensors", "power_entity": "sensor.p1", "role": "grid"},
        {"source": "sensors", "power_entity": "sensor.pv", "role": "solar"},
    )
    entry.add_to_hass(hass)
    grid_id = next(
        sub.subentry_id
        for sub in entry.subentries.values()
        if sub.data["role"] == "grid"
    )
    result = await open_meter_reconfigure(hass, entry.entry_id, grid_id)
    assert suggested(result) == {"power_entity": "sensor.p1", "role": "grid"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"power_entity": "sensor.pv", "role": "grid"}
    )
    assert result["errors"] == {"base": "meter_already_configured"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"power_entity": "sensor.p1", "role": "grid"}
    )
    assert result["step_id"] == "verify"  # itself: no duplicate, role not taken
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure"}
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"power_entity": "sensor.p1_new", "role": "grid"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["reason"] == "reconfigure_successful"
    subentry = entry.subentries[grid_id]
    assert subentry.data["power_entity"] == "sensor.p1_new"
    assert subentry.title == "Grid meter"


async def test_reconfigure_a_serial_meter_shows_its_settings(
    hass: HomeAssistant,
) -> None:
    entry = site_entry(
        {
            "source": "modbus_serial",
            "serial_port": "/dev/ttyUSB0",
            "baudrate": "19200",
            "parity": "E",
            "stopbits": "1",
            "bytesize": "8",
            "unit_id": 2,
            "profile": "sdm120",
            "role": "building",
        }
    )
    entry.add_to_hass(hass)
    (subentry_id,) = entry.subentries
    result = await open_meter_reconfigure(hass, entry.entry_id, subentry_id)
    current = suggested(result)
    assert current["parity"] == "even"  # the form's choice, not the stored "E"
    assert current["baudrate"] == "19200"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {**current, "serial_port": "/dev/stekker-test-no-such-port"},
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.subentries[subentry_id].data["serial_port"] == "/dev/ttyUSB0"
