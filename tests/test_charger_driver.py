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
    assert await driver.write(driver.quantize(10.0)) == pytest.approx(10.0)
    assert hass.states.get("number.wallbox_power_limit").state == "6900.0"
    # 10.01 A = 6906.9 W, rounded down to the entity's 10 W step
    assert driver.quantize(10.01) == pytest.approx(10.0)
    assert driver.quantize(40.0) == pytest.approx(22000 / 690)  # entity's maximum
    await driver.write(driver.quantize(40.0))
    assert hass.states.get("number.wallbox_power_limit").state == "22000.0"
    hass.states.async_set("sensor.wb_power", "4.14", {"unit_of_measurement": "kW"})
    hass.states.async_set("binary_sensor.wb_plug", "on")
    volts = dict.fromkeys(("l1", "l2", "l3"), 230.0)
    reading = await driver.read(100.0, volts)
    assert reading.setpoint_a == pytest.approx(22000 / 690)
    assert reading.measured_a == pytest.approx(6.0)
    assert reading.connected is True
    hass.states.async_set(
        "sensor.wb_power", "unavailable", {"unit_of_measurement": "kW"}
    )
    hass.states.async_set("binary_sensor.wb_plug", "unavailable")
    reading = await driver.read(101.0, volts)
    assert reading.measured_a is None
    assert reading.measured_at is None
    assert reading.connected is None
    await driver.async_stop()


async def test_measured_power_converts_at_the_measured_voltage(
    hass: HomeAssistant,
) -> None:
    """Issue 11.7: 16 A at a real 253 V is 16 A, not 17.6 A; unknown: nominal."""
    await watt_number(hass)
    driver = EntityChargerDriver(
        hass, THREE, 230.0, "number.wallbox_power_limit", "sensor.wb_power"
    )
    hass.states.async_set(
        "sensor.wb_power", str(3 * 16 * 253.0), {"unit_of_measurement": "W"}
    )
    reading = await driver.read(0.0, dict.fromkeys(("l1", "l2", "l3"), 253.0))
    assert reading.phase_a == pytest.approx(dict.fromkeys(("l1", "l2", "l3"), 16.0))
    hass.states.async_set(
        "sensor.wb_power", str(3 * 16 * 230.0), {"unit_of_measurement": "W"}
    )
    reading = await driver.read(1.0, {})
    assert reading.measured_a == pytest.approx(16.0)  # no voltage known: nominal


async def test_a_measurement_is_timed_when_its_report_is_first_seen(
    hass: HomeAssistant,
) -> None:
    """Issue 11.16: the age of the charger's power reading is known to the balancer."""
    await watt_number(hass)
    driver = EntityChargerDriver(
        hass, THREE, 230.0, "number.wallbox_power_limit", "sensor.wb_power"
    )
    hass.states.async_set("sensor.wb_power", "1000", {"unit_of_measurement": "W"})
    first = await driver.read(50.0, {})
    assert first.measured_at == pytest.approx(50.0, abs=1.0)  # just reported
    again = await driver.read(60.0, {})
    assert again.measured_at == first.measured_at  # no new report: same age
    hass.states.async_set("sensor.wb_power", "1000", {"unit_of_measurement": "W"})
    fresh = await driver.read(61.0, {})
    assert fresh.measured_at == 61.0  # the same value reported again is fresh


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
        assert driver.quantize(13.57) == pytest.approx(13.5)  # 0.1 A steps
        assert driver.quantize(5.99) == 0.0
        assert driver.narrow(THREE) == THREE
        await driver.write(13.5)
        site.step(1.0, 1.0, {})
        reading = await driver.read(7.0, {})
        assert reading.setpoint_a == pytest.approx(13.5)
        assert reading.measured_a == pytest.approx(13.5)
        assert reading.measured_at == 7.0
        assert reading.connected is True  # the socket says C2: a car charges
        await site.stop()
        with pytest.raises(ChargerError) as err:
            await driver.write(6.0)
        assert err.value.translation_key == "charger_unreachable"
        with pytest.raises(ChargerError):
            await driver.read(8.0, {})
    finally:
        await driver.async_stop()
        await site.stop()


async def test_rounding_never_lands_below_the_minimum(hass: HomeAssistant) -> None:
    """6 A on three phases is 4140 W; a 100 W step would make it 5.94 A: pause.

    A charger turns watts into amperes at its own voltage, up to 253 V: 6 A there
    is 4554 W, so the least value is 4600 W (6.67 A at 230 V). The balancer learns
    it from `narrow` and allocates 0 or at least that.
    """
    await watt_number(hass, step=100)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    assert driver.quantize(6.0) == 0.0
    assert driver.quantize(6.5) == 0.0  # 4400 W: 5.8 A at 253 V
    assert driver.quantize(7.0) == pytest.approx(4800 / 690)
    narrowed = driver.narrow(THREE)
    assert narrowed.min_a == pytest.approx(4600 / 690)
    assert driver.quantize(narrowed.min_a) == narrowed.min_a
    assert await driver.write(driver.quantize(7.0)) == pytest.approx(4800 / 690)
    assert hass.states.get("number.wallbox_power_limit").state == "4800.0"


@pytest.mark.parametrize(
    ("unit", "step", "phases"),
    [
        ("kW", 0.01, 3),
        ("W", 100, 3),
        ("W", 1380, 1),
        ("W", 1380, 3),
        ("A", 0.5, 3),
        ("A", 1, 1),
        ("kW", 0.001, 1),
    ],
)
async def test_the_exact_minimum_is_written_exactly(
    hass: HomeAssistant, unit: str, step: float, phases: int
) -> None:
    """Issue 11.10: 6 A -> 4.14 kW -> 5.999999 A -> 0 must not happen, on any step."""
    await watt_number(
        hass,
        unit=unit,
        high=22 if unit == "kW" else 22000 if unit == "W" else 32,
        step=step,
    )
    spec = ChargerSpec(id="c", phases=phases, max_a=16.0)
    driver = EntityChargerDriver(hass, spec, 230.0, "number.wallbox_power_limit")
    narrowed = driver.narrow(spec)
    assert narrowed.min_a >= 6.0
    assert driver.quantize(narrowed.min_a) == narrowed.min_a
    written = await driver.write(driver.quantize(narrowed.min_a))
    assert written == pytest.approx(narrowed.min_a)
    reading = await driver.read(0.0, {})
    assert reading.setpoint_a == pytest.approx(narrowed.min_a)
    assert reading.setpoint_a >= 6.0
    for amps in (narrowed.min_a + 0.3, narrowed.max_a, 11.0):
        value = driver.quantize(amps)
        assert value <= amps + 1e-9
        assert value == 0.0 or value >= narrowed.min_a


async def test_an_entity_minimum_above_the_allocation_is_never_written(
    hass: HomeAssistant,
) -> None:
    """Issue 11.5: entity minimum 8 A: an allocation of 6 A gives 0 A, not 8 A."""
    await watt_number(hass, unit="A", low=8, high=32, step=1)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    assert driver.narrow(THREE).min_a == 8.0
    assert driver.quantize(6.0) == 0.0
    assert driver.quantize(7.9) == 0.0
    assert driver.quantize(8.0) == 8.0


async def test_an_entity_minimum_between_zero_and_six_is_never_written(
    hass: HomeAssistant,
) -> None:
    """Issue 11.5: an entity that takes 3 A never gets 0 < x < 6 A."""
    await watt_number(hass, unit="A", low=3, high=32, step=1)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    assert driver.narrow(THREE).min_a == 6.0
    for amps in (3.0, 4.5, 5.99):
        assert driver.quantize(amps) == 0.0


async def test_limits_that_leave_nothing_are_an_error(hass: HomeAssistant) -> None:
    await watt_number(hass, unit="A", low=0, high=5, step=1)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    with pytest.raises(ChargerError) as err:
        driver.narrow(THREE)
    assert err.value.translation_key == "limits_conflict"


async def test_an_entity_that_cannot_go_to_zero_is_an_error(
    hass: HomeAssistant,
) -> None:
    await watt_number(hass, unit="A", low=6, high=32, step=1)
    driver = EntityChargerDriver(hass, THREE, 230.0, "number.wallbox_power_limit")
    assert await driver.write(10.0) == 10.0
    with pytest.raises(ChargerError) as err:
        await driver.write(0.0)
    assert err.value.translation_key == "cannot_pause"
    # Nothing written: 6 A would be more than the 0 A allocated.
    assert hass.states.get("number.wallbox_power_limit").state == "10.0"


async def test_abb_terra_ac_setpoint_in_milliamps(hass: HomeAssistant) -> None:
    """ABB Terra AC takes its current limit as uint32 mA at 0x4100."""
    profile = CHARGER_PROFILES["abb_terra_ac"]
    server = ModbusSimServer()
    server.set_meter(
        1,
        profile,
        {
            "charging_state": float(0x0200),
            "power_w": 5175.0,
            "session_energy_kwh": 12.0,
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
        reading = await driver.read(0.0, {})
        assert reading.measured_a == pytest.approx(7.5)
        assert reading.setpoint_a == pytest.approx(8.0)
        # State in byte 1 (bits 8-14) of 0x400C: 2 = plugged in, 0 = idle.
        assert reading.connected is True
        server.set_fields(1, profile.fields[:1], {"charging_state": 0x0000_0080})
        assert (await driver.read(1.0, {})).connected is False
    finally:
        await driver.async_stop()
        await server.stop()


async def test_alfen_phases_are_read_and_switched_where_allowed(
    hass: HomeAssistant,
) -> None:
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0), {"Alfen": Car("a")}, alfen_sockets=1
    )
    await site.start()
    hub = ModbusHub(timeout=1.0, backoff_initial=0.01, backoff_max=0.02)
    endpoint = Endpoint(kind="tcp", host="127.0.0.1", port=site.charger_port)
    driver = ModbusChargerDriver(hub, THREE, endpoint, 1, CHARGER_PROFILES["alfen_eve"])
    abb = ModbusChargerDriver(hub, THREE, endpoint, 1, CHARGER_PROFILES["abb_terra_ac"])
    await driver.async_start()
    assert (driver.switches_phases, abb.switches_phases) == (True, False)
    try:
        assert (await driver.read(1.0, {})).phases == 3
        assert await driver.write_phases(1) is False  # the station does not allow it
        site.step(1.0, 1.0, {})
        assert (await driver.read(2.0, {})).phases == 3
        site.allow_phase_switching("Alfen")
        assert await driver.write_phases(1) is True
        site.step(2.0, 1.0, {})
        assert (await driver.read(3.0, {})).phases == 1
        assert await abb.write_phases(3) is False  # no phase register at all
        assert (await driver.read(4.0, {})).phases == 1
        await site.stop()
        with pytest.raises(ChargerError) as err:
            await driver.write_phases(3)
        assert err.value.translation_key == "charger_unreachable"
    finally:
        await driver.async_stop()
        await site.stop()
