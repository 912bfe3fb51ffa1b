"""Meter and charger devices: manufacturer and model, and names without entity ids."""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN, SUBENTRY_CHARGER, SUBENTRY_METER
from custom_components.stekker.entity import NUMBER_MODEL, SENSORS_MODEL
from custom_components.stekker.modbus.profiles import (
    CHARGER_PROFILES,
    METER_PROFILES,
    manufacturer_and_model,
)
from simsite.modbus_server import ModbusSimServer

from .closed_loop import entity_charger
from .conftest import SITE_DATA, SITE_OPTIONS, modbus_meter


def subentry(kind: str, title: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"subentry_type": kind, "data": data, "title": title, "unique_id": None}


def owned_entity(
    hass: HomeAssistant, domain: str, object_id: str, **device: Any
) -> str:
    """An entity of another integration on a device of its own."""
    owner = MockConfigEntry(domain="other")
    owner.add_to_hass(hass)
    made = dr.async_get(hass).async_get_or_create(
        config_entry_id=owner.entry_id, identifiers={("other", object_id)}, **device
    )
    return (
        er.async_get(hass)
        .async_get_or_create(
            domain, "other", object_id, suggested_object_id=object_id, device_id=made.id
        )
        .entity_id
    )


def device(hass: HomeAssistant, entry: MockConfigEntry, title: str) -> dr.DeviceEntry:
    (sub,) = (s for s in entry.subentries.values() if s.title == title)
    found = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, sub.subentry_id), entry.entry_id
    )
    assert isinstance(found, dr.DeviceEntry)
    return found


def test_every_profile_has_a_manufacturer() -> None:
    for profile in (*METER_PROFILES.values(), *CHARGER_PROFILES.values()):
        manufacturer, model = manufacturer_and_model(profile.name)
        assert manufacturer, profile.name
        assert model and manufacturer not in model, profile.name
    assert manufacturer_and_model("Eastron SDM630") == ("Eastron", "SDM630")
    assert manufacturer_and_model("Schneider iEM3155") == (
        "Schneider Electric",
        "iEM3155",
    )


async def test_devices_have_manufacturer_and_model(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    p1 = owned_entity(
        hass, "sensor", "p1_power", manufacturer="Kaifa", model="MA304", name="P1"
    )
    hass.states.async_set(p1, "1500", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.pv_power", "800", {"unit_of_measurement": "W"})
    wallbox = owned_entity(
        hass,
        "number",
        "wallbox_max_current",
        manufacturer="Wallbox",
        model="Pulsar Plus",
        name="Wallbox",
    )
    for number in (wallbox, "number.shed_max_current"):
        hass.states.async_set(
            number, "0", {"unit_of_measurement": "A", "min": 0, "max": 32, "step": 1}
        )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options=SITE_OPTIONS,
        subentries_data=[
            subentry(
                SUBENTRY_METER,
                "Building meter",
                modbus_meter(meter_server.port, "building"),
            ),
            # Titled as sensor meters were before: the device name drops the entity id.
            subentry(
                SUBENTRY_METER,
                f"Grid meter ({p1})",
                {"source": "sensors", "power_entity": p1, "role": "grid"},
            ),
            subentry(
                SUBENTRY_METER,
                "Solar meter",
                {
                    "source": "sensors",
                    "power_entity": "sensor.pv_power",
                    "role": "solar",
                },
            ),
            subentry(
                SUBENTRY_CHARGER,
                "Wallbox",
                entity_charger("Wallbox", number_entity=wallbox),
            ),
            subentry(SUBENTRY_CHARGER, "Shed", entity_charger("Shed")),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    building = device(hass, entry, "Building meter")
    assert (building.manufacturer, building.model) == ("Eastron", "SDM630")
    grid = device(hass, entry, f"Grid meter ({p1})")
    assert grid.name == "Grid meter"
    assert (grid.manufacturer, grid.model) == ("Kaifa", "MA304")
    solar = device(hass, entry, "Solar meter")
    assert (solar.manufacturer, solar.model) == (None, SENSORS_MODEL)
    charger = device(hass, entry, "Wallbox")
    assert (charger.manufacturer, charger.model) == ("Wallbox", "Pulsar Plus")
    shed = device(hass, entry, "Shed")
    assert (shed.manufacturer, shed.model) == (None, NUMBER_MODEL)
    for found in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
        assert "sensor." not in (found.name or "")
    assert await hass.config_entries.async_unload(entry.entry_id)
