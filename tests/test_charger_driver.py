"""Charger drivers against real HA entities and a real Alfen server."""

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.stekker.charger_driver import (
    ChargerError,
    EntityChargerDriver,
    ModbusChargerDriver,
)
from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.modbus.profiles import CHARGER_PROFILES
from custom_components.stekker.modbus.transport import Endpoint, ModbusHub
from simsite.cars import Car
from simsite.modbus_server import ModbusSimServer
from simsite.site import SimulatedSite

THREE = ChargerSpec(id="c", phases=3)


async def watt_number(
    hass: HomeAssistant,
    unit: str = "W",
    low: float = 0,
    high: float = 22000,
    step: float = 10,
) -> None:
    """A charger whose limit is a power in W, like some wallbox integrations."""
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "number": [
                        {
                            "name": "Wallbox power limit",
                            "unit_of_measurement": unit,
                            "min": low,
                            "max": high,
                            "step": step,
                            "optimistic": True,
                            "state": "{{ 0 }}",
                            "set_value": [{"delay": 0}],
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()


async def test_power_entity_is_written_in_watts(hass: HomeAssistant) -> None:
    await watt_number(hass)
    driver = EntityChargerDriver(
        hass,
        THREE,
        230.0,
        "number.wallbox_power_limit",
        "sensor.wb_power",
        "binary_sensor.wb_plug",
    )
    await driver.async_start()
    await driver.write(10.0)
    assert hass.states.get("number.wallbox_power_limit").state == "6900.0"
    await driver.write(10.01)  # 6906.9 W, rounded down to the entity's 10 W step
    assert hass.states.get("number.wallbox_power_limit").state == "6900.0"
    await driver.write(40.0)  # clamped at the entity's maximum
    assert hass.states.get("number.wallbox_power_limit").state == "22000.0"
    hass.states.async_set("sensor.wb_power", "4.14", {"unit_of_measurement": "kW"})
    hass.states.async_set("binary_sensor.wb_plug", "on")
    reading = await driver.read()
    assert reading.setpoint_a == pytest.approx(22000 / 690)
    assert reading.measured_a == pytest.approx(6.0)
    assert reading.connected is True
    hass.states.async_set(
        "sensor.wb_power", "unavailable", {"unit_of_measurement": "kW"}
    )
    hass.states.async_set("binary_sensor.wb_plug", "unavailable")
    reading = await driver.read()
    assert reading.measured_a is None
    assert reading.connected is None
    await driver.async_stop()


async def test_unavailable_number_cannot_be_written(hass: HomeAssistant) -> None:
    hass.states.async_set("number.gone", "unavailable", {"unit_of_measurement": "A"})
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.gone")
    with pytest.raises(ChargerError) as err:
        await driver.write(6.0)
    assert err.value.translation_key == "charger_unavailable"


async def test_alfen_write_and_unreachable(hass: HomeAssistant) -> None:
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0), {"Alfen": Car("a")}, alfen_sockets=1
    )
    await site.start()
    hub = ModbusHub(timeout=1.0, backoff_initial=0.01, backoff_max=0.02)
    driver = ModbusChargerDriver(
        hub,
        THREE,
        Endpoint(kind="tcp", host="127.0.0.1", port=site.charger_port),
        1,
        CHARGER_PROFILES["alfen_eve"],
    )
    await driver.async_start()
    try:
        await driver.write(13.5)
        site.step(1.0, 1.0, {})
        reading = await driver.read()
        assert reading.setpoint_a == pytest.approx(13.5)
        assert reading.measured_a == pytest.approx(13.5)
        await site.stop()
        with pytest.raises(ChargerError) as err:
            await driver.write(6.0)
        assert err.value.translation_key == "charger_unreachable"
        with pytest.raises(ChargerError):
            await driver.read()
    finally:
        await driver.async_stop()
        await site.stop()


async def test_rounding_never_lands_below_the_minimum(hass: HomeAssistant) -> None:
    """6 A on three phases is 4140 W; a 100 W step would make it 5.94 A: pause."""
    await watt_number(hass, step=100)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    assert await driver.write(6.0) == 0.0
    assert hass.states.get("number.wallbox_power_limit").state == "0.0"
    assert await driver.write(6.5) == pytest.approx(4400 / 690)
    assert hass.states.get("number.wallbox_power_limit").state == "4400.0"


async def test_an_entity_that_cannot_go_to_zero_is_an_error(
    hass: HomeAssistant,
) -> None:
    await watt_number(hass, unit="A", low=6, high=32, step=1)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    assert await driver.write(10.0) == 10.0
    with pytest.raises(ChargerError) as err:
        await driver.write(0.0)
    assert err.value.translation_key == "cannot_pause"
    assert hass.states.get("number.wallbox_power_limit").state == "6.0"


async def test_abb_terra_ac_setpoint_in_milliamps(hass: HomeAssistant) -> None:
    """ABB Terra AC takes its current limit as uint32 mA at 0x4100."""
    profile = CHARGER_PROFILES["abb_terra_ac"]
    server = ModbusSimServer()
    server.set_meter(
        1,
        profile,
        {
            "charging_state": 2.0,
            "power_w": 5175.0,
            "energy_kwh": 12.0,
            "current_l1_a": 7.5,
            "current_l2_a": 7.5,
            "current_l3_a": 7.5,
            "setpoint_a": 8.0,
        },
    )
    server.set_fields(1, (profile.setpoint,), {profile.setpoint.key: 0.0})
    await server.start()
    hub = ModbusHub(timeout=1.0)
    driver = ModbusChargerDriver(
        hub, THREE, Endpoint(kind="tcp", host="127.0.0.1", port=server.port), 1, profile
    )
    await driver.async_start()
    try:
        assert await driver.write(10.0) == 10.0
        assert server.get_registers(1, 3, 0x4100, 2) == [0, 10_000]
        reading = await driver.read()
        assert reading.measured_a == pytest.approx(7.5)
        assert reading.setpoint_a == pytest.approx(8.0)
    finally:
        await driver.async_stop()
        await server.stop()
