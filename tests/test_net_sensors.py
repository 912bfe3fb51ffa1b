"""Any integration's meter as separate import/export sensors, and changing a
P1 meter's device, through the real config and subentry flows."""

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN, SUBENTRY_METER

from .conftest import SITE_DATA, SITE_OPTIONS
from .p1_meters import homewizard_meter
from .test_config_flow import start_to_meter
from .test_p1_meter import HW_FULL

POWER = {"unit_of_measurement": "kW", "device_class": "power"}
AMPS = {"unit_of_measurement": "A", "device_class": "current"}


def other_meter(hass: HomeAssistant) -> dict[str, Any]:
    """Another integration's meter: 3.2 kW in on L1, 1.1 kW out on L2, L3 idle."""
    sensors = {
        "import_power_entity": ("sensor.meter_import", "2.1", POWER),
        "export_power_entity": ("sensor.meter_export", "0", POWER),
        "import_power_l1_entity": ("sensor.meter_import_l1", "3.2", POWER),
        "export_power_l1_entity": ("sensor.meter_export_l1", "0", POWER),
        "import_power_l2_entity": ("sensor.meter_import_l2", "0", POWER),
        "export_power_l2_entity": ("sensor.meter_export_l2", "1.1", POWER),
        "current_l1_entity": ("sensor.meter_current_l1", "14", AMPS),
        "current_l2_entity": ("sensor.meter_current_l2", "5", AMPS),
    }
    for entity_id, value, attributes in sensors.values():
        hass.states.async_set(entity_id, value, attributes)
    return {key: entity_id for key, (entity_id, _, _) in sensors.items()}


async def test_separate_import_and_export_sensors(hass: HomeAssistant) -> None:
    fields = other_meter(hass)
    flow_id = await start_to_meter(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "net_sensors"}
    )
    assert result["step_id"] == "net_sensors"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**fields, "role": "grid"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "verify"
    placeholders = result["description_placeholders"]
    assert placeholders["power_kw"] == "2.10"
    # Whole amperes at their worst; L2's sign from its export.
    assert "| L1 | - | 15.00 | 3.20 |" in placeholders["phases"]
    assert "| L2 | - | -4.00 | -1.10 |" in placeholders["phases"]
    assert "| L3 | - | - | - |" in placeholders["phases"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    entry = result["result"]
    (meter,) = entry.subentries.values()
    assert meter.title == "Grid meter"
    assert dict(meter.data) == {"source": "net_sensors", "role": "grid", **fields}
    await hass.async_block_till_done()
    reading = entry.runtime_data.meters[meter.subentry_id].data
    assert reading.power_w == pytest.approx(2100.0)
    assert reading.signed_current("l2") == pytest.approx(-4.0)

    # A fraction of an ampere shows the meter is no whole-ampere meter.
    hass.states.async_set("sensor.meter_current_l1", "14.3", AMPS)
    await entry.runtime_data.meters[meter.subentry_id].async_refresh()
    reading = entry.runtime_data.meters[meter.subentry_id].data
    assert reading.signed_current("l1") == pytest.approx(14.3)
    assert reading.signed_current("l2") == pytest.approx(-5.0)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_same_import_sensor_twice_is_refused(hass: HomeAssistant) -> None:
    fields = other_meter(hass)
    site = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options=SITE_OPTIONS,
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                "data": {"source": "net_sensors", "role": "grid", **fields},
                "title": "Grid meter",
                "unique_id": None,
            }
        ],
    )
    site.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (site.entry_id, SUBENTRY_METER), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "net_sensors"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"import_power_entity": "sensor.meter_import", "role": "building"},
    )
    assert result["errors"] == {"base": "meter_already_configured"}
    assert len(site.subentries) == 1


async def test_p1_meter_reconfigured_to_another_device(hass: HomeAssistant) -> None:
    """A saved P1 meter keeps its subentry; its mapping follows the device
    picked now, read first (HomeWizard: with the slow-poll warning)."""
    device, entity_ids = homewizard_meter(hass, HW_FULL)
    site = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options=SITE_OPTIONS,
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                # A meter whose device is gone: its saved entities still read.
                "data": {
                    "source": "p1",
                    "role": "grid",
                    "device_id": "gone",
                    "p1_integration": "homewizard",
                    "net_power_entity": entity_ids["active_power_w"],
                },
                "title": "Grid meter (HomeWizard P1)",
                "unique_id": None,
            }
        ],
    )
    site.add_to_hass(hass)
    assert await hass.config_entries.async_setup(site.entry_id)
    await hass.async_block_till_done()
    (meter,) = site.subentries.values()
    assert site.runtime_data.meters[meter.subentry_id].data.power_w == 1610.0
    result = await site.start_subentry_reconfigure_flow(hass, meter.subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": device.id, "role": "grid"}
    )
    assert result["step_id"] == "verify_p1_slow"
    assert result["menu_options"] == ["save", "reconfigure"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    saved = site.subentries[meter.subentry_id]
    assert saved.data["device_id"] == device.id
    assert saved.data["current_l3_entity"] == entity_ids["active_current_l3_a"]
    assert saved.title == "Grid meter (HomeWizard P1)"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(site.entry_id)


async def test_the_same_p1_meter_twice_is_refused(hass: HomeAssistant) -> None:
    """One meter read twice counts its power twice: refused by its device name."""
    device, entity_ids = homewizard_meter(hass, HW_FULL)
    site = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options=SITE_OPTIONS,
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                "data": {
                    "source": "p1",
                    "role": "grid",
                    "device_id": device.id,
                    "p1_integration": "homewizard",
                    "net_power_entity": entity_ids["active_power_w"],
                },
                "title": "Grid meter (HomeWizard P1)",
                "unique_id": None,
            }
        ],
    )
    site.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (site.entry_id, SUBENTRY_METER), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "p1"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"device_id": device.id, "role": "building"}
    )
    assert result["errors"] == {"base": "meter_already_configured"}
    assert result["description_placeholders"] == {
        "meter": "P1 meter",
        "site": "Office",
    }
    assert len(site.subentries) == 1


async def test_extras_that_cannot_be_read_never_take_the_meter_down(
    hass: HomeAssistant,
) -> None:
    """A quarter-hour average or a voltage that is unavailable is left out and
    listed as missing; the power and currents still balance the site."""
    device, entity_ids = homewizard_meter(hass, HW_FULL)
    site = MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options=SITE_OPTIONS,
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                "data": {
                    "source": "p1",
                    "role": "grid",
                    "device_id": device.id,
                    "p1_integration": "homewizard",
                    "net_power_entity": entity_ids["active_power_w"],
                    "voltage_l1_entity": entity_ids["active_voltage_l1_v"],
                    "quarter_hour_avg_entity": entity_ids["active_power_average_w"],
                },
                "title": "Grid meter (HomeWizard P1)",
                "unique_id": None,
            }
        ],
    )
    site.add_to_hass(hass)
    hass.states.async_set(entity_ids["active_power_average_w"], "unavailable")
    hass.states.async_set(entity_ids["active_voltage_l1_v"], "unknown")
    assert await hass.config_entries.async_setup(site.entry_id)
    await hass.async_block_till_done()
    (meter,) = site.subentries.values()
    coordinator = site.runtime_data.meters[meter.subentry_id]
    assert coordinator.last_update_success
    assert coordinator.data.values == {"power_w": 1610.0}
    assert coordinator.source.missing == {"quarter_hour_avg", "voltage_l1"}
    # The power itself unavailable is a failed read.
    hass.states.async_set(entity_ids["active_power_w"], "unavailable")
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    await hass.config_entries.async_unload(site.entry_id)


async def test_import_and_export_of_different_moments_count_at_their_worst(
    hass: HomeAssistant,
) -> None:
    """Review: separate sensors report at different moments. The site exported
    3 kW and now imports 5 kW; the import sensor has reported, the export sensor
    not yet: import 5 - export 3 (old) read as 2 kW, 3 kW less than the truth.
    One meter never imports and exports at once: the import alone counts."""
    fields = other_meter(hass)
    flow_id = await start_to_meter(hass)
    await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "net_sensors"}
    )
    await hass.config_entries.flow.async_configure(flow_id, {**fields, "role": "grid"})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "save"}
    )
    entry = result["result"]
    (meter,) = entry.subentries.values()
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.meters[meter.subentry_id]
    hass.states.async_set("sensor.meter_import", "0", POWER)
    hass.states.async_set("sensor.meter_export", "3.0", POWER)
    await coordinator.async_refresh()
    assert coordinator.data.power_w == pytest.approx(-3000.0)
    hass.states.async_set("sensor.meter_import", "5.0", POWER)  # export not yet
    hass.states.async_set("sensor.meter_import_l2", "1.5", POWER)  # per phase too
    await coordinator.async_refresh()
    assert coordinator.data.power_w == pytest.approx(5000.0)
    assert coordinator.data.phase("power", "l2") == pytest.approx(1500.0)
    await hass.config_entries.async_unload(entry.entry_id)
