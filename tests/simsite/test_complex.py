"""The demo's residential complex: PV meter, wallboxes driven via HA numbers, visits."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymodbus.client import AsyncModbusTcpClient

from custom_components.stekker.engine.solar import SolarArray, array_power_w
from custom_components.stekker.modbus.profiles import METER_PROFILES
from custom_components.stekker.modbus.transport import (
    Endpoint,
    ModbusHub,
    read_meter,
)
from simsite.cars import Car
from simsite.load import BuildingLoad
from simsite.site import SimulatedSite
from simsite.solar import SolarPlant
from simsite.visits import Driveway, Visit
from simsite.wallbox import WallboxStation

SDM630 = METER_PROFILES["sdm630"]
ROOF = SolarArray("Roof", 40, 400.0, 180.0, 35.0, 15.0)
PLANT = SolarPlant(ROOF, 52.09, 5.12)


@pytest.fixture
async def hub() -> AsyncIterator[ModbusHub]:
    hub = ModbusHub(timeout=1.0)
    yield hub
    await hub.close()


def endpoint(hub: ModbusHub, port: int) -> Endpoint:
    result = Endpoint("tcp", host="127.0.0.1", port=port)
    hub.acquire(result)
    return result


def test_residential_building_peaks_in_the_evening() -> None:
    flats = BuildingLoad(base_w=5_000.0, peak_w=26_000.0, seed=0, profile="residential")
    by_hour = {h: flats.power_w(h * 3600.0) for h in range(24)}
    assert max(by_hour, key=by_hour.__getitem__) in (18, 19, 20)
    assert by_hour[19] > 2 * by_hour[13] > 2 * by_hour[3]
    assert min(by_hour.values()) >= 5_000.0
    office = BuildingLoad(seed=0)
    assert office.power_w(13 * 3600.0) > office.power_w(19 * 3600.0)


def test_solar_follows_the_day_under_passing_clouds() -> None:
    night = datetime(2026, 6, 21, 1, 0, tzinfo=UTC)
    assert PLANT.power_w(night) == 0.0
    noon = [datetime(2026, 6, 21, 11, m, tzinfo=UTC) for m in range(0, 60, 5)]
    clear = [array_power_w(ROOF, 52.09, 5.12, t) for t in noon]
    cloudy = [PLANT.power_w(t) for t in noon]
    assert all(0.0 < c <= s for c, s in zip(cloudy, clear, strict=True))
    assert len({round(c) for c in cloudy}) > 1  # clouds come and go
    covers = [
        PLANT.cloud_cover_pct(datetime.fromtimestamp(t, UTC))
        for t in range(0, 86_400 * 3, 600)
    ]
    assert min(covers) < 20.0 < 80.0 < max(covers)  # clear spells and overcast ones
    assert all(0.0 <= c <= 100.0 for c in covers)


async def test_pv_meter_and_grid_meter_see_the_same_production(hub: ModbusHub) -> None:
    site = SimulatedSite(
        lambda _: (3000.0, 3000.0, 3000.0),
        {"ocpp": Car("ev", lag_cycles=1)},
        solar=lambda _: 6000.0,
        solar_unit_id=2,
    )
    await site.start()
    try:
        meter = endpoint(hub, site.meter_port)
        site.step(0.0, 3600.0, {"ocpp": 10.0})
        grid = await read_meter(hub, meter, 1, SDM630)
        pv = await read_meter(hub, meter, 2, SDM630)
    finally:
        await site.stop()
    assert pv["power_w"] == 6000.0
    assert pv["import_kwh"] == pytest.approx(6.0)
    assert pv["export_kwh"] == 0.0
    assert pv["current_l1_a"] == pytest.approx(2000.0 / 230.0)
    assert grid["power_w"] == pytest.approx(9000.0 + 3 * 10 * 230 - 6000.0)
    assert grid["power_l1_w"] == pytest.approx(3000.0 + 10 * 230 - 2000.0)


def test_batteries_fill_faster_than_the_meters_count() -> None:
    car = Car("ev", battery_kwh=60.0, soc=0.5, target_soc=1.0)
    site = SimulatedSite(lambda _: (0.0, 0.0, 0.0), {"ocpp": car}, battery_speedup=60.0)
    sample = site.step(0.0, 60.0, {"ocpp": 16.0})  # one minute, an hour for the car
    assert sample.power_w == pytest.approx(3 * 16 * 230)
    assert car.soc == pytest.approx(0.5 + 3 * 16 * 230 / 1000 / 60)


def test_site_errors_for_solar_and_speedup() -> None:
    flat = BuildingLoad()
    with pytest.raises(ValueError, match="solar meter"):
        SimulatedSite(flat, {}, solar_unit_id=2)
    with pytest.raises(ValueError, match="solar meter"):
        SimulatedSite(flat, {}, solar=lambda _: 0.0, solar_unit_id=1)
    with pytest.raises(ValueError, match="battery_speedup"):
        SimulatedSite(flat, {}, battery_speedup=0.5)


async def test_wallbox_takes_the_limit_and_reports_power_energy_and_card() -> None:
    """As Home Assistant's Modbus integration reads and writes it (FC4 reads, FC6)."""
    station = WallboxStation([1, 2])
    await station.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=station.port)
    try:
        await client.connect()

        async def read(count: int) -> list[int]:
            reply = await client.read_input_registers(0, count=count, device_id=1)
            assert not reply.isError()
            return list(reply.registers)

        assert station.limit_a(1) == 0.0  # paused until Home Assistant writes
        assert not (await client.write_register(0, 16, device_id=1)).isError()
        assert station.limit_a(1) == 16.0
        assert station.limit_a(2) == 0.0
        car = Car("ev", lag_cycles=1)
        car.step(16.0, 1.0, 230.0)
        station.publish(1, car, 230.0, 3600.0, "04A3F2B1C45E80")
        words = await read(13)
        assert words[0] == 0b11  # connected and charging
        assert words[1] << 16 | words[2] == 3 * 16 * 230
        assert words[3] << 16 | words[4] == 3 * 16 * 230  # one hour: Wh = W
        tag = b"".join(w.to_bytes(2, "big") for w in words[5:13]).decode()
        assert tag == "04A3F2B1C45E80  "
        car.step(0.0, 1.0, 230.0)  # paused: plugged in, not charging
        station.publish(1, car, 230.0, 1.0, "04A3F2B1C45E80")
        assert (await read(1))[0] == 0b01
        car.connected = False
        station.publish(1, car, 230.0, 1.0, "04A3F2B1C45E80")
        words = await read(13)
        assert words[0] == 0
        assert words[5:13] == [0x2020] * 8  # no car, no card
        for address, value, code in ((1, 6, 2), (0, 81, 3)):
            reply = await client.write_register(address, value, device_id=1)
            assert reply.isError()
            assert reply.exception_code == code
        reply = await client.write_registers(0, [6, 6], device_id=1)
        assert reply.exception_code == 2
        assert station.limit_a(1) == 16.0
    finally:
        client.close()
        await station.stop()


def test_visits_plug_and_unplug_cars_as_the_day_passes() -> None:
    site = SimulatedSite(
        lambda _: (0.0, 0.0, 0.0),
        {"bay": Car("empty", connected=False), "other": Car("x", connected=False)},
    )
    night = Visit("bay", 20.0, 7.0, "SUV", soc=0.3, id_tag="04A3F2B1C45E80")
    day = Visit("bay", 9.0, 10.5, "Compact", soc=0.6, battery_kwh=40.0)
    driveway = Driveway(site, [night, day])
    driveway.update(6.5)
    assert driveway.parked == {"bay": night}
    assert site.cars["bay"].name == "SUV"
    assert site.cars["bay"].connected
    assert site.cars["bay"].soc == 0.3
    assert driveway.id_tag("bay") == "04A3F2B1C45E80"
    assert driveway.id_tag("other") == ""
    site.cars["bay"].soc = 0.8  # it charged overnight
    driveway.update(6.9)
    assert site.cars["bay"].soc == 0.8  # the same car, not a new one
    driveway.update(7.0)
    assert not site.cars["bay"].connected
    assert driveway.parked == {}
    assert driveway.id_tag("bay") == ""
    driveway.update(9.5)
    assert site.cars["bay"].name == "Compact"
    assert site.cars["bay"].battery_kwh == 40.0
    driveway.update(24.0 + 21.0)  # the next evening
    assert site.cars["bay"].name == "SUV"
    assert site.cars["bay"].soc == 0.3  # arrives with its own charge again


def test_visit_errors() -> None:
    site = SimulatedSite(lambda _: (0.0, 0.0, 0.0), {"bay": Car("x")})
    with pytest.raises(ValueError, match="hours"):
        Visit("bay", 24.0, 2.0, "car", soc=0.5)
    with pytest.raises(ValueError, match="needs time"):
        Visit("bay", 3.0, 3.0, "car", soc=0.5)
    with pytest.raises(ValueError, match="unknown chargers"):
        Driveway(site, [Visit("garage", 1.0, 2.0, "car", soc=0.5)])
    with pytest.raises(ValueError, match="two cars at bay"):
        Driveway(
            site,
            [
                Visit("bay", 22.0, 6.0, "a", soc=0.5),
                Visit("bay", 5.0, 8.0, "b", soc=0.5),
            ],
        )
    with pytest.raises(KeyError):
        site.plug("garage", Car("y"))
