"""The simulated site, read and driven over Modbus by the integration's own client."""

import math
from collections.abc import AsyncIterator

import pytest

from custom_components.stekker.modbus.codec import encode
from custom_components.stekker.modbus.profiles import CHARGER_PROFILES, METER_PROFILES
from custom_components.stekker.modbus.transport import (
    Endpoint,
    ModbusDeviceError,
    ModbusHub,
    read_meter,
)
from simsite.cars import Car
from simsite.load import BuildingLoad
from simsite.site import SimulatedSite

ALFEN = CHARGER_PROFILES["alfen_eve"]
SDM630 = METER_PROFILES["sdm630"]
NOON = 12 * 3600.0


def office_cars() -> dict[str, Car]:
    """Two Alfen sockets (a 3-phase and a 1-phase car) and one charger driven via HA."""
    return {
        "alfen_1": Car("hatchback", max_a=16.0),
        "alfen_2": Car("van", phases=1, phase="l2", max_a=32.0),
        "ocpp": Car("suv", max_a=16.0),
    }


@pytest.fixture
async def site() -> AsyncIterator[SimulatedSite]:
    site = SimulatedSite(
        BuildingLoad(), office_cars(), alfen_sockets=2, start_s=NOON, validity_s=60.0
    )
    await site.start()
    yield site
    await site.stop()


@pytest.fixture
async def hub() -> AsyncIterator[ModbusHub]:
    hub = ModbusHub(timeout=1.0)
    yield hub
    await hub.close()


def endpoint(hub: ModbusHub, port: int) -> Endpoint:
    result = Endpoint("tcp", host="127.0.0.1", port=port)
    hub.acquire(result)
    return result


async def write_setpoint(
    hub: ModbusHub, station: Endpoint, unit: int, amps: float
) -> None:
    """What the integration's Alfen driver does: both registers in one FC16 write."""
    await hub.write_registers(
        station, unit, ALFEN.setpoint.address, encode(ALFEN.setpoint, amps)
    )


async def test_alfen_sockets_follow_the_written_setpoint(
    site: SimulatedSite, hub: ModbusHub
) -> None:
    station = endpoint(hub, site.charger_port)
    await write_setpoint(hub, station, 1, 10.0)
    await write_setpoint(hub, station, 2, 20.0)
    sample = site.step(NOON + 10, 10.0, {"ocpp": 0.0})

    socket_1 = await read_meter(hub, station, 1, ALFEN)
    socket_2 = await read_meter(hub, station, 2, ALFEN)
    assert socket_1 | {"power_w": 0.0, "energy_kwh": 0.0} == pytest.approx(
        {
            "current_l1_a": 10.0,
            "current_l2_a": 10.0,
            "current_l3_a": 10.0,
            "power_w": 0.0,
            "energy_kwh": 0.0,
            "setpoint_a": 10.0,
            "valid_time_s": 60.0,
            "safe_current_a": 6.0,
            "setpoint_accounted": 1.0,
            "phases": 3.0,
            "mode3_state": float(ord("C") << 8 | ord("2")),  # charging
        }
    )
    assert socket_1["power_w"] == pytest.approx(3 * 10 * 230, rel=0.02)
    assert socket_1["energy_kwh"] == pytest.approx(socket_1["power_w"] * 10 / 3_600_000)
    assert (socket_2["current_l1_a"], socket_2["current_l2_a"]) == (0.0, 20.0)
    assert socket_2["current_l3_a"] == 0.0
    assert sample.setpoints_a == {"alfen_1": 10.0, "alfen_2": 20.0, "ocpp": 0.0}
    assert sample.draws_a == {"alfen_1": 10.0, "alfen_2": 20.0, "ocpp": 0.0}


async def test_watchdog_falls_back_to_the_safe_current(
    site: SimulatedSite, hub: ModbusHub
) -> None:
    station = endpoint(hub, site.charger_port)
    idle = {"ocpp": 0.0}
    # Before any write the station charges at its safe current.
    assert site.step(NOON, 10.0, idle).setpoints_a["alfen_1"] == 6.0

    await write_setpoint(hub, station, 1, 16.0)
    applied = [site.step(NOON + 20 * i, 20.0, idle).setpoints_a for i in range(4)]
    assert [a["alfen_1"] for a in applied] == [16.0, 16.0, 16.0, 6.0]
    assert [a["alfen_2"] for a in applied] == [6.0] * 4  # never written
    socket_1 = await read_meter(hub, station, 1, ALFEN)
    assert socket_1["valid_time_s"] == 0
    assert socket_1["setpoint_accounted"] == 0
    assert socket_1["setpoint_a"] == 16.0  # the register keeps what was written
    assert socket_1["current_l1_a"] == 6.0

    await write_setpoint(hub, station, 1, 16.0)  # a refresh restores control
    assert site.step(NOON + 80, 20.0, idle).setpoints_a["alfen_1"] == 16.0
    assert (await read_meter(hub, station, 1, ALFEN))["valid_time_s"] == 60


async def test_station_refuses_what_a_real_alfen_refuses(
    site: SimulatedSite, hub: ModbusHub
) -> None:
    station = endpoint(hub, site.charger_port)
    refused = {
        (ALFEN.setpoint.address, (0x4120,)): 3,  # half of the float
        (ALFEN.setpoint.address, tuple(encode(ALFEN.setpoint, -1.0))): 3,
        (ALFEN.setpoint.address, tuple(encode(ALFEN.setpoint, math.nan))): 3,
        (320, (0, 0)): 2,  # measured current is read-only
        (ALFEN.setpoint.address, (0x4120, 0, 0)): 2,  # runs into 1212
    }
    for (address, words), code in refused.items():
        with pytest.raises(ModbusDeviceError) as err:
            await hub.write_registers(station, 1, address, list(words))
        assert err.value.exception_code == code
    sample = site.step(NOON, 10.0, {"ocpp": 0.0})
    assert sample.setpoints_a["alfen_1"] == 6.0  # no write reached the watchdog
    assert site.station is not None
    assert site.station.requests[(1, 16)] == len(refused)


async def test_grid_meter_shows_building_plus_every_car(
    site: SimulatedSite, hub: ModbusHub
) -> None:
    station = endpoint(hub, site.charger_port)
    meter = endpoint(hub, site.meter_port)
    await write_setpoint(hub, station, 1, 16.0)
    await write_setpoint(hub, station, 2, 32.0)
    t = NOON + 30
    site.step(t, 30.0, {"ocpp": 10.0})

    grid = await read_meter(hub, meter, 1, SDM630)
    building = BuildingLoad().meter_values(t)
    cars = {"l1": 16.0 + 10.0, "l2": 16.0 + 32.0 + 10.0, "l3": 16.0 + 10.0}
    for phase, amps in cars.items():
        assert grid[f"current_{phase}_a"] == pytest.approx(
            building[f"current_{phase}_a"] + amps, rel=1e-5
        )
        assert grid[f"voltage_{phase}_v"] == pytest.approx(
            building[f"voltage_{phase}_v"]
        )
    assert grid["power_w"] == pytest.approx(site.grid_power_w(), rel=1e-6)
    assert grid["power_w"] == pytest.approx(
        building["power_w"] + sum(cars.values()) * 230, rel=0.01
    )
    assert site.grid_phase_currents() == pytest.approx(
        {p: grid[f"current_{p}_a"] for p in cars}, rel=1e-6
    )
    assert grid["import_kwh"] == pytest.approx(grid["power_w"] * 30 / 3_600_000)
    assert grid["export_kwh"] == 0.0


def test_history_finds_runs_above_a_limit() -> None:
    # A flat building (10 A per phase), a solar surplus on L3, one car driven by HA.
    site = SimulatedSite(
        lambda _: (2300.0, 2300.0, -4600.0), {"ocpp": Car("ev", lag_cycles=2)}
    )
    setpoints = [16.0, 16.0, 16.0, 0.0, 16.0, 16.0, 16.0, 16.0]
    for i, amps in enumerate(setpoints):
        site.step(60.0 * i, 60.0, {"ocpp": amps})

    history = site.history
    assert [s.time_s for s in history] == [60.0 * i for i in range(len(setpoints))]
    assert [s.draws_a["ocpp"] for s in history] == [8, 16, 16, 0, 8, 16, 16, 16]
    assert history[1].currents_a == pytest.approx({"l1": 26.0, "l2": 26.0, "l3": 4.0})
    assert history[1].power_w == pytest.approx(3 * 16 * 230)
    # L1 above 20 A: steps 1-2 (16 A), then 5-7 (three in a row).
    assert site.longest_run_above(phase_a=20.0) == 3
    assert site.longest_run_above(phase_a=26.5) == 0
    assert site.longest_run_above(power_w=6000.0) == 3
    assert site.longest_run_above(power_w=3000.0) == 4  # 8 A (5.5 kW) counts too


async def test_surplus_is_exported_and_metered_as_current(hub: ModbusHub) -> None:
    site = SimulatedSite(lambda _: (-2300.0, -2300.0, -2300.0), {})
    await site.start()
    try:
        meter = endpoint(hub, site.meter_port)
        site.step(0.0, 3600.0, {})
        grid = await read_meter(hub, meter, 1, SDM630)
    finally:
        await site.stop()
    assert grid["power_w"] == -6900.0
    assert grid["current_l1_a"] == 10.0  # meters show the magnitude
    assert grid["import_kwh"] == 0.0
    assert grid["export_kwh"] == pytest.approx(6.9)


def test_history_can_be_bounded() -> None:
    site = SimulatedSite(lambda _: (0.0, 0.0, 0.0), {}, history_len=2)
    for i in range(5):
        site.step(float(i), 1.0, {})
    assert [s.time_s for s in site.history] == [3.0, 4.0]


def test_configuration_errors() -> None:
    cars = office_cars()
    load = BuildingLoad()
    with pytest.raises(ValueError, match="alfen_sockets"):
        SimulatedSite(load, cars, alfen_sockets=3)
    with pytest.raises(ValueError, match="alfen_sockets"):
        SimulatedSite(load, {"one": Car("ev")}, alfen_sockets=2)
    with pytest.raises(ValueError, match="validity_s"):
        SimulatedSite(load, cars, validity_s=0.0)
    with pytest.raises(RuntimeError, match="no Alfen"):
        _ = SimulatedSite(load, cars).charger_port
    site = SimulatedSite(load, cars, alfen_sockets=1)
    assert site.alfen_units == {"alfen_1": 1}
    with pytest.raises(ValueError, match="cover exactly"):
        site.step(0.0, 1.0, {"ocpp": 6.0})  # alfen_2 is driven by the caller
    with pytest.raises(ValueError, match="cover exactly"):
        site.step(0.0, 1.0, {"alfen_1": 6.0, "alfen_2": 6.0, "ocpp": 6.0})
    with pytest.raises(ValueError, match="dt_s"):
        site.step(0.0, -1.0, {"alfen_2": 6.0, "ocpp": 6.0})


async def test_alfen_phases_switch_only_where_the_station_allows(
    site: SimulatedSite, hub: ModbusHub
) -> None:
    station = endpoint(hub, site.charger_port)
    idle = {"ocpp": 0.0}
    phases = ALFEN.fields[-1]
    assert phases.address == 1215
    with pytest.raises(ModbusDeviceError) as err:  # switching not allowed
        await hub.write_registers(station, 1, 1215, [1])
    assert err.value.exception_code == 3
    site.allow_phase_switching("alfen_1")
    with pytest.raises(ModbusDeviceError):  # neither 1 nor 3
        await hub.write_registers(station, 1, 1215, [2])

    await write_setpoint(hub, station, 1, 10.0)
    site.step(NOON, 10.0, idle)
    await hub.write_registers(station, 1, 1215, [1])  # while the car draws
    site.step(NOON + 10, 10.0, idle)
    assert site.switched_under_load == [("alfen_1", 10.0)]
    socket_1 = await read_meter(hub, station, 1, ALFEN)
    assert socket_1["phases"] == 1.0
    # On one phase the three-phase car draws on L1 only.
    currents = [socket_1[f"current_l{i}_a"] for i in (1, 2, 3)]
    assert currents == [10.0, 0.0, 0.0]
    assert socket_1["power_w"] == pytest.approx(10 * 230, rel=0.02)

    await write_setpoint(hub, station, 1, 0.0)  # paused first: no complaint
    site.step(NOON + 20, 10.0, idle)
    await hub.write_registers(station, 1, 1215, [3])
    site.step(NOON + 30, 10.0, idle)
    assert site.switched_under_load == [("alfen_1", 10.0)]
    assert (await read_meter(hub, station, 1, ALFEN))["phases"] == 3.0
    # A phase write alone does not refresh the setpoint watchdog.
    for t in range(40, 100, 10):
        await hub.write_registers(station, 1, 1215, [3])
        sample = site.step(NOON + t, 10.0, idle)
    assert sample.setpoints_a["alfen_1"] == 6.0
