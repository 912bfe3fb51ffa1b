"""The real core homewizard integration as a P1 meter, its local API answered
through HA's aiohttp session (aioclient_mock) on a loopback address.

Responses in the format of HomeWizard's "Energy API v1" documentation
(``GET /api`` device information, ``GET /api/v1/data`` for the HWE-P1), the
per-phase values of a site that imports on L1 and L3 and exports on L2.
"""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)

from custom_components.stekker.const import DOMAIN

from .test_config_flow import start_to_meter

HOST = "127.0.0.1"
SERIAL = "5c2fafabcdef"
DEVICE = {
    "product_type": "HWE-P1",
    "product_name": "P1 meter",
    "serial": SERIAL,
    "firmware_version": "4.19",
    "api_version": "v1",
}
DATA: dict[str, Any] = {
    "wifi_ssid": "My Wi-Fi",
    "wifi_strength": 100,
    "smr_version": 50,
    "meter_model": "ISKRA 2M550T-101",
    "unique_id": "00112233445566778899AABBCCDDEEFF",
    "active_tariff": 2,
    "total_power_import_kwh": 13779.338,
    "total_power_import_t1_kwh": 10830.511,
    "total_power_import_t2_kwh": 2948.827,
    "total_power_export_kwh": 1523.202,
    "total_power_export_t1_kwh": 1000.0,
    "total_power_export_t2_kwh": 523.202,
    "active_power_w": 1610,
    "active_power_l1_w": 2300,
    "active_power_l2_w": -1150,
    "active_power_l3_w": 460,
    "active_voltage_l1_v": 231.0,
    "active_voltage_l2_v": 229.0,
    "active_voltage_l3_v": 230.0,
    "active_current_a": 17,
    "active_current_l1_a": 10,
    "active_current_l2_a": 5,
    "active_current_l3_a": 2,
    "voltage_sag_l1_count": 1,
    "voltage_sag_l2_count": 1,
    "voltage_sag_l3_count": 0,
    "voltage_swell_l1_count": 0,
    "voltage_swell_l2_count": 0,
    "voltage_swell_l3_count": 0,
    "any_power_fail_count": 4,
    "long_power_fail_count": 5,
    "active_power_average_w": 1200.0,
    "montly_power_peak_w": 4200.0,
    "montly_power_peak_timestamp": 261103080015,
}


async def test_real_homewizard_p1_meter(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(f"https://{HOST}/api", status=404)  # no v2 API
    aioclient_mock.get(f"http://{HOST}/api", json=DEVICE)
    aioclient_mock.get(f"http://{HOST}/api/v1/data", json=DATA)
    aioclient_mock.get(f"http://{HOST}/api/v1/system", status=404)
    aioclient_mock.get(f"http://{HOST}/api/v1/state", status=404)
    homewizard = MockConfigEntry(
        domain="homewizard",
        title="P1 meter",
        unique_id=f"HWE-P1_{SERIAL}",
        data={"ip_address": HOST},
    )
    homewizard.add_to_hass(hass)
    assert await hass.config_entries.async_setup(homewizard.entry_id)
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("homewizard", SERIAL), homewizard.entry_id
    )
    assert device is not None

    # The integration creates the phase currents disabled: they are named.
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "p1"})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"device_id": device.id, "role": "grid"}
    )
    assert result["errors"] == {"base": "p1_entities_disabled"}
    assert "current" in result["description_placeholders"]["entities"]

    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, homewizard.entry_id):
        if entity.disabled_by is not None:
            registry.async_update_entity(entity.entity_id, disabled_by=None)
    await hass.config_entries.async_reload(homewizard.entry_id)
    await hass.async_block_till_done()

    result = await hass.config_entries.flow.async_configure(
        flow_id, {"device_id": device.id, "role": "grid"}
    )
    assert result["step_id"] == "verify_p1_slow"
    placeholders = result["description_placeholders"]
    assert placeholders["power_kw"] == "1.61"
    assert "| L1 | 231.0 | 11.00 | 2.30 |" in placeholders["phases"]
    assert "| L2 | 229.0 | -4.00 | -1.15 |" in placeholders["phases"]
    assert placeholders["deadline_s"] == "19"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    entry = result["result"]
    (meter,) = entry.subentries.values()
    assert meter.title == "Grid meter (HomeWizard P1)"
    await hass.async_block_till_done()
    reading = entry.runtime_data.meters[meter.subentry_id].data
    assert reading.power_w == 1610.0
    assert reading.values["quarter_hour_avg_w"] == 1200.0
    assert reading.values["month_peak_w"] == 4200.0
    assert hass.config_entries.async_entries(DOMAIN) == [entry]
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(homewizard.entry_id)
