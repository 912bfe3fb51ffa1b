"""Adding a charger: through a number entity or natively over Modbus, read before saving."""

from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import SUBENTRY_CHARGER
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import template_numbers
from .conftest import site_entry

LIMITS = {
    "phases": "3",
    "phase": "l1",
    "min_a": 6,
    "max_a": 16,
    "priority": 0,
    "fail_safe_a": 6,
}


async def open_flow(hass: HomeAssistant, entry_id: str, driver: str) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_CHARGER), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": driver}
    )
    assert result["step_id"] == driver
    flow_id: str = result["flow_id"]
    return flow_id


async def test_entity_charger(hass: HomeAssistant) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"])
    hass.states.async_set("sensor.ocpp_power", "4140", {"unit_of_measurement": "W"})
    flow_id = await open_flow(hass, entry.entry_id, "entity")
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "Carport",
            "number_entity": "number.ocpp_max_current",
            "power_entity": "sensor.ocpp_power",
            **LIMITS,
        },
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "verify"
    assert result["description_placeholders"] == {
        "setpoint": "0.0",
        "currents": "L1 6.0 A, L2 6.0 A, L3 6.0 A",
    }
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (charger,) = entry.get_subentries_of_type(SUBENTRY_CHARGER)
    assert charger.title == "Carport"
    assert charger.data["phases"] == 3
    assert charger.data["min_a"] == 6.0
    assert charger.data["driver"] == "entity"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_alfen_charger_and_going_back(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0), {"Alfen": Car("car")}, alfen_sockets=1
    )
    await site.start()
    try:
        site.step(1.0, 1.0, {})
        entry = site_entry()
        entry.add_to_hass(hass)
        flow_id = await open_flow(hass, entry.entry_id, "modbus")
        result = await hass.config_entries.subentries.async_configure(
            flow_id,
            {
                "name": "Eve socket 1",
                "host": "127.0.0.1",
                "port": site.charger_port,
                "unit_id": 1,
                "profile": "alfen_eve",
                **LIMITS,
            },
        )
        assert result["step_id"] == "verify"
        assert result["description_placeholders"]["setpoint"] == "6.0"
        result = await hass.config_entries.subentries.async_configure(
            flow_id, {"next_step_id": "user"}
        )
        assert result["type"] is FlowResultType.MENU
        assert entry.subentries == {}
    finally:
        await site.stop()


@pytest.mark.parametrize(
    ("limits", "errors"),
    [
        ({"min_a": 5}, {"min_a": "min_below_6"}),
        ({"max_a": 5, "fail_safe_a": 0}, {"max_a": "max_below_min"}),
        ({"fail_safe_a": 3}, {"fail_safe_a": "fail_safe_invalid"}),
        ({"fail_safe_a": 20}, {"fail_safe_a": "fail_safe_invalid"}),
    ],
)
async def test_limit_errors(
    hass: HomeAssistant, limits: dict[str, Any], errors: dict[str, str]
) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"])
    flow_id = await open_flow(hass, entry.entry_id, "entity")
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "Carport",
            "number_entity": "number.ocpp_max_current",
            **LIMITS,
            **limits,
        },
    )
    assert result["errors"] == errors
    assert entry.subentries == {}


@pytest.mark.parametrize(
    ("state", "attributes", "error"),
    [
        (None, {}, "charger_unavailable"),
        ("unavailable", {"unit_of_measurement": "A"}, "charger_unavailable"),
        ("16", {"unit_of_measurement": "%"}, "number_unit"),
        ("fast", {"unit_of_measurement": "A"}, "charger_unavailable"),
    ],
)
async def test_number_entity_errors(
    hass: HomeAssistant, state: str | None, attributes: dict[str, str], error: str
) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    if state is not None:
        hass.states.async_set("number.wallbox", state, attributes)
    flow_id = await open_flow(hass, entry.entry_id, "entity")
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Wallbox", "number_entity": "number.wallbox", **LIMITS}
    )
    assert result["errors"] == {"base": error}
    assert entry.subentries == {}


async def test_unreachable_modbus_charger(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0), {"Alfen": Car("car")}, alfen_sockets=1
    )
    await site.start()
    port = site.charger_port
    await site.stop()
    entry = site_entry()
    entry.add_to_hass(hass)
    flow_id = await open_flow(hass, entry.entry_id, "modbus")
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "Eve",
            "host": "127.0.0.1",
            "port": port,
            "unit_id": 1,
            "profile": "alfen_eve",
            **LIMITS,
        },
    )
    assert result["errors"] == {"base": "charger_unreachable"}
    assert "retr" not in result["description_placeholders"]["error"]
    assert entry.subentries == {}


async def test_reconfigure_charger_limits(hass: HomeAssistant) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"])
    flow_id = await open_flow(hass, entry.entry_id, "entity")
    await hass.config_entries.subentries.async_configure(
        flow_id,
        {"name": "Carport", "number_entity": "number.ocpp_max_current", **LIMITS},
    )
    await hass.config_entries.subentries.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    await hass.async_block_till_done()
    (charger,) = entry.get_subentries_of_type(SUBENTRY_CHARGER)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CHARGER),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": charger.subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**LIMITS, "max_a": 4, "fail_safe_a": 0}
    )
    assert result["errors"] == {"max_a": "max_below_min"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {**LIMITS, "phases": "1", "phase": "l2", "max_a": 32, "priority": 2},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    charger = entry.subentries[charger.subentry_id]
    assert charger.data["phases"] == 1
    assert charger.data["phase"] == "l2"
    assert charger.data["max_a"] == 32.0
    assert charger.data["number_entity"] == "number.ocpp_max_current"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def add_entity_charger(
    hass: HomeAssistant, entry_id: str, name: str, number: str
) -> dict[str, Any]:
    flow_id = await open_flow(hass, entry_id, "entity")
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": name, "number_entity": number, **LIMITS}
    )
    return dict(result)


async def test_the_same_entity_is_refused_as_a_second_charger(
    hass: HomeAssistant,
) -> None:
    entry = site_entry()
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"])
    result = await add_entity_charger(
        hass, entry.entry_id, "A", "number.ocpp_max_current"
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await add_entity_charger(
        hass, entry.entry_id, "B", "number.ocpp_max_current"
    )
    assert result["errors"] == {"base": "charger_already_configured"}
    assert len(entry.get_subentries_of_type(SUBENTRY_CHARGER)) == 1
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_two_sockets_of_one_ocpp_charge_point_are_refused(
    hass: HomeAssistant,
) -> None:
    """Issue 11.19: the OCPP integration limits the whole charge point at once.

    The registry entries are laid out as the OCPP integration lays them out: a
    charge point device, a device per socket below it, a number per socket.
    """
    entry = site_entry()
    entry.add_to_hass(hass)
    owner = MockConfigEntry(domain="ocpp")
    owner.add_to_hass(hass)
    devices, entities = dr.async_get(hass), er.async_get(hass)
    point = devices.async_get_or_create(
        config_entry_id=owner.entry_id, identifiers={("ocpp", "cp1")}, name="cp1"
    )
    other_point = devices.async_get_or_create(
        config_entry_id=owner.entry_id, identifiers={("ocpp", "cp2")}, name="cp2"
    )
    numbers = {}
    for device_name, via in (
        ("cp1-conn1", point),
        ("cp1-conn2", point),
        ("cp2-conn1", other_point),
    ):
        socket = devices.async_get_or_create(
            config_entry_id=owner.entry_id,
            identifiers={("ocpp", device_name)},
            name=device_name,
            via_device_id=via.id,
        )
        registered = entities.async_get_or_create(
            "number",
            "ocpp",
            f"{device_name}_maximum_current",
            suggested_object_id=f"{device_name.replace('-', '_')}_maximum_current",
            device_id=socket.id,
        )
        numbers[device_name] = registered.entity_id
        hass.states.async_set(
            registered.entity_id,
            "16",
            {"unit_of_measurement": "A", "min": 0, "max": 32, "step": 1},
        )
    result = await add_entity_charger(
        hass, entry.entry_id, "Socket 1", numbers["cp1-conn1"]
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await add_entity_charger(
        hass, entry.entry_id, "Socket 2", numbers["cp1-conn2"]
    )
    assert result["errors"] == {"base": "ocpp_shared_charge_point"}
    assert result["description_placeholders"] == {"other": numbers["cp1-conn1"]}
    # A socket of another charge point is fine.
    result = await add_entity_charger(
        hass, entry.entry_id, "Other", numbers["cp2-conn1"]
    )
    assert result["type"] is FlowResultType.MENU
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_same_modbus_socket_is_refused_twice(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0), {"Alfen": Car("car")}, alfen_sockets=1
    )
    await site.start()
    try:
        site.step(1.0, 1.0, {})
        entry = site_entry()
        entry.add_to_hass(hass)
        socket = {
            "name": "Alfen",
            "host": "127.0.0.1",
            "port": site.charger_port,
            "unit_id": 1,
            "profile": "alfen_eve",
            **LIMITS,
        }
        flow_id = await open_flow(hass, entry.entry_id, "modbus")
        result = await hass.config_entries.subentries.async_configure(flow_id, socket)
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": "save"}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        flow_id = await open_flow(hass, entry.entry_id, "modbus")
        result = await hass.config_entries.subentries.async_configure(flow_id, socket)
        assert result["errors"] == {"base": "charger_already_configured"}
        await hass.async_block_till_done()
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await site.stop()


async def test_an_entity_that_cannot_reach_the_minimum_is_refused(
    hass: HomeAssistant,
) -> None:
    """Its own maximum (5 A) is below the charger's 6 A minimum."""
    entry = site_entry()
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"], numbers={"ocpp": {"max": 5}})
    result = await add_entity_charger(
        hass, entry.entry_id, "A", "number.ocpp_max_current"
    )
    assert result["errors"] == {"base": "limits_conflict"}
    assert result["description_placeholders"]["max"] == "5"
    await hass.async_block_till_done()


async def test_a_charger_must_fit_a_one_phase_site(hass: HomeAssistant) -> None:
    """Review: on a one-phase site a 3-phase charger, or one on L2, never charges."""
    entry = MockConfigEntry(
        domain="stekker",
        title="Flat",
        data={"gtv_kw": 9.0, "phases": 1, "fuse_a": 40.0, "voltage_v": 230.0},
        options={"margin_kw": 0.5, "poll_interval": 60.0},
    )
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"])
    flow_id = await open_flow(hass, entry.entry_id, "entity")
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "A", "number_entity": "number.ocpp_max_current", **LIMITS}
    )
    assert result["errors"] == {"phases": "phases_above_site"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "A",
            "number_entity": "number.ocpp_max_current",
            **LIMITS,
            "phases": "1",
            "phase": "l2",
        },
    )
    assert result["errors"] == {"phase": "phase_not_on_site"}


async def test_a_charger_that_answers_with_an_exception_was_reached(
    hass: HomeAssistant,
) -> None:
    """A wrong unit id: the station answers, so the error says so, not "Could not
    reach"."""
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0), {"Alfen": Car("car")}, alfen_sockets=1
    )
    await site.start()
    try:
        entry = site_entry()
        entry.add_to_hass(hass)
        flow_id = await open_flow(hass, entry.entry_id, "modbus")
        result = await hass.config_entries.subentries.async_configure(
            flow_id,
            {
                "name": "Eve",
                "host": "127.0.0.1",
                "port": site.charger_port,
                "unit_id": 3,
                "profile": "alfen_eve",
                **LIMITS,
            },
        )
    finally:
        await site.stop()
    assert result["errors"] == {"base": "charger_modbus_exception"}
    placeholders = result["description_placeholders"]
    assert placeholders["unit_id"] == "3"
    assert placeholders["code"].isdigit()
    assert entry.subentries == {}


async def test_id_tag_and_energy_sensors_are_optional_and_can_be_cleared(
    hass: HomeAssistant,
) -> None:
    """A charger may name where its integration reports the session's id tag
    and its energy counter; a charger saved without them stays valid."""
    entry = site_entry()
    entry.add_to_hass(hass)
    await template_numbers(hass, ["ocpp"])
    flow_id = await open_flow(hass, entry.entry_id, "entity")
    await hass.config_entries.subentries.async_configure(
        flow_id,
        {
            "name": "Carport",
            "number_entity": "number.ocpp_max_current",
            "energy_entity": "sensor.ocpp_energy",
            "id_tag_entity": "sensor.ocpp_id_tag",
            **LIMITS,
        },
    )
    await hass.config_entries.subentries.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    await hass.async_block_till_done()
    (charger,) = entry.get_subentries_of_type(SUBENTRY_CHARGER)
    assert charger.data["energy_entity"] == "sensor.ocpp_energy"
    assert charger.data["id_tag_entity"] == "sensor.ocpp_id_tag"
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CHARGER),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": charger.subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], LIMITS
    )
    assert result["reason"] == "reconfigure_successful"
    charger = entry.subentries[charger.subentry_id]
    assert "id_tag_entity" not in charger.data
    assert charger.data["energy_entity"] == "sensor.ocpp_energy"
    await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CHARGER),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": charger.subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**LIMITS, "id_tag_entity": "sensor.other_id_tag"}
    )
    assert entry.subentries[charger.subentry_id].data["id_tag_entity"] == (
        "sensor.other_id_tag"
    )
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)
