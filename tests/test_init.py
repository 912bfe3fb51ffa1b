"""A running site: sensors from real Modbus reads, failure and recovery, unload."""

import asyncio
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.meter import DATA_HUB
from custom_components.stekker.modbus.codec import plan_blocks
from custom_components.stekker.modbus.profiles import METER_PROFILES
from custom_components.stekker.modbus.transport import ModbusHub
from simsite.modbus_server import ModbusSimServer

from .conftest import SDM630, modbus_meter, sdm630_values, site_entry


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def cycle(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """One control cycle: every meter polled once, as its timer would."""
    for meter in entry.runtime_data.meters.values():
        await meter.async_refresh()
    await hass.async_block_till_done()


def value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_sensors_follow_the_meter(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = site_entry(modbus_meter(meter_server.port))
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    values = sdm630_values()
    grid_kw = values["power_w"] / 1000
    assert value(hass, "sensor.office_grid_power") == pytest.approx(grid_kw, abs=1e-3)
    assert value(hass, "sensor.office_building_load") == pytest.approx(
        grid_kw, abs=1e-3
    )
    assert value(hass, "sensor.office_available_charging_power") == pytest.approx(
        min(
            50 - 1 - grid_kw,
            sum(80 - 1000 / 690 - values[f"current_l{i}_a"] for i in (1, 2, 3)) * 0.23,
        ),
        abs=1e-3,
    )
    margin_a = 1000 / (3 * 230)
    assert value(hass, "sensor.office_available_current_l1") == pytest.approx(
        80 - margin_a - values["current_l1_a"], abs=1e-3
    )
    assert value(hass, "sensor.office_gtv_utilisation") == pytest.approx(
        grid_kw / 50 * 100, abs=1e-2
    )
    assert value(hass, "sensor.grid_meter_current_l2") == pytest.approx(
        values["current_l2_a"], abs=0.01
    )
    # Per-phase power is there, off by default (it moves every second).
    phase_power = er.async_get(hass).async_get("sensor.grid_meter_power_l2")
    assert phase_power is not None
    assert phase_power.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    energy = hass.states.get("sensor.grid_meter_energy_imported")
    assert energy is not None
    assert energy.attributes["state_class"] == "total_increasing"
    assert float(energy.state) == pytest.approx(1234.5, abs=1e-3)

    meter_server.set_meter(1, SDM630, sdm630_values(power_w=30_000.0))
    await cycle(hass, entry)
    assert value(hass, "sensor.office_grid_power") == pytest.approx(30.0)
    assert value(hass, "sensor.office_gtv_utilisation") == pytest.approx(60.0)

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_one_block_read_per_contiguous_range(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """A control cycle costs exactly one request per contiguous register range."""
    entry = site_entry(modbus_meter(meter_server.port))
    await setup(hass, entry)
    blocks = plan_blocks(SDM630.fields)
    assert len(blocks) == 3  # V/I/P per phase, total P, frequency + energies
    meter_server.requests.clear()
    for _ in range(5):
        await cycle(hass, entry)
    assert meter_server.requests == {(1, 4): 5 * len(blocks)}


async def test_meter_failure_and_recovery(
    hass: HomeAssistant,
    meter_server: ModbusSimServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The grid meter goes away: its sensors and the headroom go unavailable, then return."""
    # A hub that retries within milliseconds keeps the test short.
    hass.data[DATA_HUB] = ModbusHub(timeout=1.0, backoff_initial=0.02, backoff_max=0.1)
    building = ModbusSimServer()
    building.set_meter(1, SDM630, sdm630_values(power_w=5000.0))
    await building.start()
    try:
        entry = site_entry(
            modbus_meter(meter_server.port),
            modbus_meter(building.port, role="building"),
        )
        await setup(hass, entry)
        assert value(hass, "sensor.building_meter_power") == 5.0  # kW
        await meter_server.stop()
        for _ in range(3):
            await cycle(hass, entry)
        assert hass.states.get("sensor.grid_meter_power").state == STATE_UNAVAILABLE
        assert (
            hass.states.get("sensor.office_available_charging_power").state
            == STATE_UNAVAILABLE
        )
        # The other meter keeps working.
        assert value(hass, "sensor.building_meter_power") == 5.0  # kW
        assert caplog.text.count("Error fetching Office Grid meter data") == 1

        await meter_server.start()
        for _ in range(3):
            await asyncio.sleep(0.1)  # let the reconnect backoff pass
            await cycle(hass, entry)
        assert value(hass, "sensor.grid_meter_power") == pytest.approx(
            sdm630_values()["power_w"] / 1000.0, abs=1e-5
        )
        assert value(hass, "sensor.office_available_charging_power") > 0
        assert "Fetching Office Grid meter data recovered" in caplog.text
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await building.stop()


async def test_garbage_from_a_running_meter_is_not_a_zero(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = site_entry(modbus_meter(meter_server.port))
    await setup(hass, entry)
    meter_server.set_meter(1, SDM630, sdm630_values(power_w=float("nan")))
    await cycle(hass, entry)
    assert hass.states.get("sensor.grid_meter_power").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.office_grid_power").state == STATE_UNAVAILABLE
    await hass.config_entries.async_unload(entry.entry_id)


async def test_site_down_at_start_still_loads(hass: HomeAssistant) -> None:
    """A meter that does not answer at start-up does not block the site."""
    server = ModbusSimServer()
    server.set_meter(1, SDM630, sdm630_values())
    await server.start()
    port = server.port
    await server.stop()
    entry = site_entry(modbus_meter(port))
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.office_grid_power").state == STATE_UNAVAILABLE
    await hass.config_entries.async_unload(entry.entry_id)


async def test_building_meter_basis_with_solar_and_charger_meters(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """No grid meter: the building meter is the basis; solar and chargers add up."""
    meter_server.set_meter(1, SDM630, sdm630_values(power_w=10_000.0))
    solar = ModbusSimServer()
    solar.set_meter(2, SDM630, sdm630_values(power_w=-4_000.0))
    solar.set_meter(
        3,
        SDM630,
        sdm630_values(
            power_w=2_000.0, current_l1_a=3.0, current_l2_a=3.0, current_l3_a=3.0
        ),
    )
    await solar.start()
    try:
        solar_meter = {**modbus_meter(solar.port, role="solar"), "unit_id": 2}
        charger_meter = {**modbus_meter(solar.port, role="charger"), "unit_id": 3}
        entry = site_entry(
            modbus_meter(meter_server.port, role="building"), solar_meter, charger_meter
        )
        await setup(hass, entry)
        # Net building = 10 kW - 4 kW solar; grid = net + 2 kW chargers.
        assert value(hass, "sensor.office_building_load") == pytest.approx(10.0)
        assert value(hass, "sensor.office_grid_power") == pytest.approx(8.0)
        # Charger current converts to power at the highest measured phase voltage.
        volts = max(sdm630_values()[f"voltage_{p}_v"] for p in ("l1", "l2", "l3"))
        assert value(hass, "sensor.office_available_charging_power") == pytest.approx(
            min(
                50 - 1 - 6.0,
                sum(
                    value(hass, f"sensor.office_available_current_{p}")
                    for p in ("l1", "l2", "l3")
                )
                * volts
                / 1000.0,
            ),
            abs=1e-3,
        )
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await solar.stop()


async def test_devices_and_unique_ids(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = site_entry(modbus_meter(meter_server.port))
    await setup(hass, entry)
    devices = dr.async_get(hass)
    site = devices.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert site is not None
    assert site.name == "Office"
    (subentry_id,) = entry.subentries
    meter = devices.async_get_device_by_identifier(
        (DOMAIN, subentry_id), entry.entry_id
    )
    assert meter is not None
    assert meter.via_device_id == site.id
    assert (meter.manufacturer, meter.model) == ("Eastron", "SDM630")
    entities = er.async_get(hass)
    grid = entities.async_get("sensor.office_grid_power")
    assert grid is not None
    assert grid.unique_id == f"{entry.entry_id}_grid_power"
    power = entities.async_get("sensor.grid_meter_power")
    assert power is not None
    assert power.unique_id == f"{subentry_id}_power_w"
    assert power.config_subentry_id == subentry_id

    # Removing the meter removes its device and entities (no stale devices).
    assert hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    assert (
        devices.async_get_device_by_identifier((DOMAIN, subentry_id), entry.entry_id)
        is None
    )
    assert entities.async_get("sensor.grid_meter_power") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_single_phase_site_has_one_phase_current(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    entry = site_entry(modbus_meter(meter_server.port))
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={"gtv_kw": 11.0, "phases": 1, "fuse_a": 50.0, "voltage_v": 230.0}
    )
    meter_server.set_meter(1, SDM630, sdm630_values(power_w=2300.0, current_l1_a=10.0))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.office_available_current_l1") is not None
    assert hass.states.get("sensor.office_available_current_l2") is None
    assert value(hass, "sensor.office_available_current_l1") == pytest.approx(
        50 - 1000 / 230 - 10
    )
    await hass.config_entries.async_unload(entry.entry_id)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_sensor_meter_that_stops_reporting_goes_stale(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A P1 sensor whose integration stopped keeps its number: that is no reading.

    Issue 11.6: silence is measured on the monotonic clock from the moment a new
    report is seen, so a wall clock stepped back cannot hide a dead sensor.
    """
    hass.states.async_set("sensor.p1_power", "2300", {"unit_of_measurement": "W"})
    entry = site_entry(
        {"source": "sensors", "power_entity": "sensor.p1_power", "role": "grid"}
    )
    await setup(hass, entry)
    clock = Clock()
    entry.runtime_data.balancer.clock = clock
    assert value(hass, "sensor.office_grid_power") == pytest.approx(2.3)
    # It reports every second for a while: its silence deadline is the 5 s floor.
    for _ in range(5):
        clock.now += 1.0
        freezer.tick(timedelta(seconds=1))
        hass.states.async_set("sensor.p1_power", "2300", {"unit_of_measurement": "W"})
        await cycle(hass, entry)
    clock.now += 5.0
    await cycle(hass, entry)
    assert value(hass, "sensor.office_grid_power") == pytest.approx(2.3)
    # The wall clock steps back an hour; the sensor stays silent.
    freezer.move_to(dt_util.utcnow() - timedelta(hours=1))
    clock.now += 1.0
    await cycle(hass, entry)
    assert hass.states.get("sensor.office_grid_power").state == STATE_UNAVAILABLE
    meter = next(iter(entry.runtime_data.meters.values()))
    assert "has not reported for 6 s" in str(meter.last_exception)
    freezer.tick(timedelta(seconds=1))
    hass.states.async_set("sensor.p1_power", "2400", {"unit_of_measurement": "W"})
    await cycle(hass, entry)
    assert value(hass, "sensor.office_grid_power") == pytest.approx(2.4)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_slow_sensor_meter_is_given_its_own_interval(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A DSMR 4 meter reports every 10 s: stale only after 30 s of silence."""
    hass.states.async_set("sensor.p1_power", "2300", {"unit_of_measurement": "W"})
    entry = site_entry(
        {"source": "sensors", "power_entity": "sensor.p1_power", "role": "grid"}
    )
    await setup(hass, entry)
    clock = Clock()
    entry.runtime_data.balancer.clock = clock
    for _ in range(3):
        clock.now += 10.0
        freezer.tick(timedelta(seconds=10))
        hass.states.async_set("sensor.p1_power", "2300", {"unit_of_measurement": "W"})
        await cycle(hass, entry)
    clock.now += 29.0
    await cycle(hass, entry)
    assert value(hass, "sensor.office_grid_power") == pytest.approx(2.3)
    clock.now += 2.0
    await cycle(hass, entry)
    assert hass.states.get("sensor.office_grid_power").state == STATE_UNAVAILABLE
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_one_phase_charger_meter_credits_no_phase(
    hass: HomeAssistant, meter_server: ModbusSimServer
) -> None:
    """Review: an SDM120 as a charger sub-meter reports on its own L1, whatever
    site phase its charger is on: its current must not widen the site's L1."""
    sub = ModbusSimServer()
    sub.set_meter(
        3,
        METER_PROFILES["sdm120"],
        {"power_w": 3680.0, "current_l1_a": 16.0, "voltage_l1_v": 230.0},
    )
    await sub.start()
    try:
        charger_meter = {
            **modbus_meter(sub.port, role="charger", profile="sdm120"),
            "unit_id": 3,
        }
        entry = site_entry(modbus_meter(meter_server.port), charger_meter)
        await setup(hass, entry)
        values = sdm630_values()
        margin_a = 1000 / (3 * 230)
        # No credit on L1 from the one-phase meter: the room is the grid's alone.
        assert value(hass, "sensor.office_available_current_l1") == pytest.approx(
            80 - margin_a - values["current_l1_a"], abs=1e-3
        )
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sub.stop()
