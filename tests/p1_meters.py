"""Smart meters as Home Assistant has them: the real dsmr integration on a
telegram stream, and HomeWizard entities registered like its integration does."""

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .dsmr_stream import (
    BE_SERIAL_HEX,
    NL_SERIAL_HEX,
    MeterState,
    P1Stream,
    PhaseValues,
    telegram,
)

DSMR_POWER = "sensor.electricity_meter_power_consumption"
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def meter_state(
    phases: Mapping[str, tuple[float, float, float]],
    quarter_hour_kw: float = 0.0,
    month_peak_kw: float = 0.0,
) -> MeterState:
    """Phase -> (kW consumed, kW produced, A)."""
    return MeterState(
        {p: PhaseValues(imp, exp, amps) for p, (imp, exp, amps) in phases.items()},
        NOW,
        quarter_hour_kw,
        month_peak_kw,
    )


async def dsmr_meter(
    hass: HomeAssistant,
    stream: P1Stream,
    version: str = "5",
    options: Mapping[str, float] | None = None,
) -> MockConfigEntry:
    """The core dsmr integration reading the stream (network port, as its
    config flow stores it), connected and waiting for telegrams."""
    entry = MockConfigEntry(
        domain="dsmr",
        title=f"socket://127.0.0.1:{stream.port}",
        data={
            "port": f"socket://127.0.0.1:{stream.port}",
            "dsmr_version": version,
            "protocol": "dsmr_protocol",
            "serial_id": BE_SERIAL_HEX if version == "5B" else NL_SERIAL_HEX,
            "serial_id_gas": None,
        },
        options=dict(options or {}),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await stream.wait_readers()
    return entry


async def publish(
    hass: HomeAssistant,
    stream: P1Stream,
    state: MeterState,
    belgian: bool = False,
    advance: Callable[[], None] | None = None,
    dsmr4: bool = False,
) -> None:
    """Send the telegram until the integration has shown it, as a meter sends
    one every second (dsmr drops those within its minimum time between
    updates). ``advance`` moves the integration's clock a step per send."""
    before = hass.states.get(DSMR_POWER)
    for _ in range(40):
        if advance is not None:
            advance()
        await stream.send(telegram(state, belgian=belgian, dsmr4=dsmr4))
        for _ in range(10):
            await asyncio.sleep(0.01)
            await hass.async_block_till_done()
            now = hass.states.get(DSMR_POWER)
            if now is not None and (
                before is None or now.last_reported != before.last_reported
            ):
                return
    raise AssertionError("the dsmr integration did not take the telegram")


async def enable_all(
    hass: HomeAssistant, entry: MockConfigEntry, stream: P1Stream
) -> None:
    """What an installer does on the meter's device page: enable the disabled
    entities; the integration is reloaded (HA does it 30 s later)."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.disabled_by is not None:
            registry.async_update_entity(entity.entity_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await stream.wait_readers()


def dsmr_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    """The electricity meter's device, as dsmr registers it (by its serial)."""
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("dsmr", entry.data["serial_id"]), entry.entry_id
    )
    assert device is not None
    return device


HW_SERIAL = "5c2fafabcdef"
HW_UNITS = {"w": ("W", "power"), "a": ("A", "current"), "v": ("V", "voltage")}


def homewizard_meter(
    hass: HomeAssistant, values: Mapping[str, float]
) -> tuple[dr.DeviceEntry, dict[str, str]]:
    """A HomeWizard P1 meter's entities as its integration registers them:
    config entry unique id ``HWE-P1_<serial>``, entity unique ids
    ``<that>_<key>``, W/A/V measurement sensors; ``values`` by key."""
    entry = MockConfigEntry(
        domain="homewizard",
        title="P1 meter",
        unique_id=f"HWE-P1_{HW_SERIAL}",
        data={"ip_address": "127.0.0.1", "token": "test"},
    )
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("homewizard", HW_SERIAL)},
        connections={(dr.CONNECTION_NETWORK_MAC, HW_SERIAL)},
        manufacturer="HomeWizard",
        model="Wi-Fi P1 Meter",
        name="P1 meter",
    )
    registry = er.async_get(hass)
    # Not a meter value: the device's identify button.
    registry.async_get_or_create(
        "button",
        "homewizard",
        f"{entry.unique_id}_identify",
        config_entry=entry,
        device_id=device.id,
    )
    entity_ids = {}
    for key, value in values.items():
        entity = registry.async_get_or_create(
            "sensor",
            "homewizard",
            f"{entry.unique_id}_{key}",
            config_entry=entry,
            device_id=device.id,
            suggested_object_id=f"p1_meter_{key}",
        )
        unit, device_class = HW_UNITS[key.rsplit("_", 1)[1]]
        hass.states.async_set(
            entity.entity_id,
            str(value),
            {
                "unit_of_measurement": unit,
                "device_class": device_class,
                "state_class": "measurement",
            },
        )
        entity_ids[key] = entity.entity_id
    return device, entity_ids
