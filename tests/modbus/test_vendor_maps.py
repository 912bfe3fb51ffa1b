"""Each meter and charger profile against a device served from its vendor's document.

The register maps below are written here from the manufacturers' documents (cited
per device), as raw words: never from ``modbus/profiles.py``, so a wrong address,
type, word order or scale in a profile fails here instead of agreeing with itself.
"""

import struct

import pytest
from pymodbus.constants import ExcCodes

from custom_components.stekker.charger_driver import (
    SETPOINT_IGNORED,
    ChargerError,
    ChargerReading,
    ModbusChargerDriver,
)
from custom_components.stekker.engine.charger import ChargerSpec
from custom_components.stekker.engine.readings import MeterReading
from custom_components.stekker.engine.site import Site
from custom_components.stekker.meter import (
    MeterReadError,
    ModbusMeterSource,
    read_checked,
)
from custom_components.stekker.modbus.codec import plan_blocks
from custom_components.stekker.modbus.profiles import (
    CHARGER_PROFILES,
    METER_PROFILES,
)
from custom_components.stekker.modbus.transport import ModbusHub
from simsite.modbus_server import ModbusSimServer

from .conftest import ServerFactory, tcp

INPUT, HOLDING = 4, 3
UNIT = 1
SITE = Site(gtv_kw=40.0, phases=3, fuse_a=63.0, voltage_v=230.0, margin_kw=0.5)
THREE = ChargerSpec(id="c", phases=3, phase="l1", min_a=6.0, max_a=16.0)


# Words as the documents describe them (bytes always high first in a word).
def i16(value: int) -> list[int]:
    return [value & 0xFFFF]


def i32_low_first(value: int) -> list[int]:
    """Carlo Gavazzi INT32: least significant word first."""
    raw = value & 0xFFFF_FFFF
    return [raw & 0xFFFF, raw >> 16]


def u32(value: int) -> list[int]:
    return [value >> 16 & 0xFFFF, value & 0xFFFF]


def u64(value: int) -> list[int]:
    return [value >> shift & 0xFFFF for shift in (48, 32, 16, 0)]


def f32(value: float) -> list[int]:
    return list(struct.unpack(">2H", struct.pack(">f", value)))


def f32_low_first(value: float) -> list[int]:
    return f32(value)[::-1]


def f64(value: float) -> list[int]:
    return list(struct.unpack(">4H", struct.pack(">d", value)))


def serve(
    server: ModbusSimServer, function: int, registers: dict[int, list[int]]
) -> None:
    for address, words in registers.items():
        server.set_registers(UNIT, function, address, words)


def zeros(start: int, end: int) -> dict[int, list[int]]:
    """Registers a device has but this test does not look at."""
    return {start: [0] * (end - start)}


def meter(server: ModbusSimServer, profile: str, hub: ModbusHub) -> ModbusMeterSource:
    return ModbusMeterSource(hub, tcp(server), UNIT, METER_PROFILES[profile])


def requests(server: ModbusSimServer) -> int:
    return sum(server.requests.values())


# --- Carlo Gavazzi EM24-DIN, RS-485 -------------------------------------------
# "EM24-DIN PFA, PFB & X models communication protocol", version 4 revision 0,
# tables of instantaneous variables and energy meters (0-based addresses, INT32
# least significant word first, INT16 for Hz): V L1-N 0000h (V x10), A L1 000Ch
# (A x1000, signed in bidirectional mode), W L1 0012h (W x10), W sys 0028h,
# Hz 0037h (x10), kWh(+) TOT 003Eh (x10), kWh(-) TOT 005Ch (x10). At most 11
# registers per request. Victron's dbus-cgwacs reads the same 003Eh and 005Ch.
def em24_exporting(with_export: bool) -> dict[int, list[int]]:
    registers = zeros(0x00, 0x5C) | {
        0x00: i32_low_first(2301) + i32_low_first(2312) + i32_low_first(2298),
        # Exporting solar: every phase's current and power negative.
        0x0C: i32_low_first(-8_250) + i32_low_first(-7_125) + i32_low_first(-6_000),
        0x12: i32_low_first(-18_980) + i32_low_first(-16_470) + i32_low_first(-13_790),
        0x28: i32_low_first(-49_240),
        0x37: i16(500),
        0x3E: i32_low_first(123_456),
    }
    if with_export:
        registers[0x5C] = i32_low_first(7_890)
    return registers


async def test_em24_without_export_register_still_reads(
    start_server: ServerFactory, hub: ModbusHub, caplog: pytest.LogCaptureFixture
) -> None:
    """Some EM24 variants answer exception 2 at 005Ch: the meter must not go down."""
    server = await start_server(lambda s: serve(s, INPUT, em24_exporting(False)))
    source = meter(server, "em24", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
        assert reading.power_w == pytest.approx(-4924.0)
        assert reading.values["import_kwh"] == pytest.approx(12345.6)
        assert reading.values["frequency_hz"] == pytest.approx(50.0)
        assert "export_kwh" not in reading.values
        assert source.missing == {"export_kwh"}
        assert caplog.text.count("has no register 92") == 1
        # Found once: later reads leave 005Ch out, with no failing request.
        server.requests.clear()
        await read_checked(source, SITE)
        await read_checked(source, SITE)
        assert caplog.text.count("has no register 92") == 1
        reads = plan_blocks(source.reader.fields, source.profile.max_registers)
        assert requests(server) == 2 * len(reads)
    finally:
        await source.async_stop()


async def test_em24_reads_export_where_the_variant_has_it(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(lambda s: serve(s, INPUT, em24_exporting(True)))
    source = meter(server, "em24", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
        assert reading.values["export_kwh"] == pytest.approx(789.0)
        assert source.missing == frozenset()
    finally:
        await source.async_stop()


async def test_em24_signed_currents_are_accepted_and_agree_with_power(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    """Bidirectional mode: currents are negative while exporting; not a fault."""
    server = await start_server(lambda s: serve(s, INPUT, em24_exporting(True)))
    source = meter(server, "em24", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
    finally:
        await source.async_stop()
    assert reading.phase("current", "l1") == pytest.approx(-8.25)
    # The engine's signed current follows the phase power: export stays negative.
    assert reading.signed_current("l1") == pytest.approx(-8.25)
    assert reading.signed_current("l3") == pytest.approx(-6.0)


class AtMost(ModbusSimServer):
    """A device that refuses reads of more than ``limit`` registers."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def refusal(
        self,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_VALUE if count > self.limit else None


async def read_limited(
    limit: int, registers: dict[int, list[int]], profile: str, hub: ModbusHub
) -> MeterReading:
    server = AtMost(limit)
    serve(server, INPUT, registers)
    await server.start()
    try:
        source = meter(server, profile, hub)
        await source.async_start()
        try:
            return await read_checked(source, SITE)
        finally:
            await source.async_stop()
    finally:
        await server.stop()


async def test_em24_reads_stay_within_eleven_registers(hub: ModbusHub) -> None:
    """The EM24 answers at most 11 registers a read: a longer read would fail."""
    reading = await read_limited(11, em24_exporting(True), "em24", hub)
    assert reading.values["import_kwh"] == pytest.approx(12345.6)


# --- Carlo Gavazzi EM24_E1 (Ethernet) and EM330/EM340 ------------------------
# "EM24_E1 (Ethernet) communication protocol", version 0 revision 1.3, sections
# 2.3.1-2.5, and "EM300 series and ET300 series communication protocol",
# version 2 revision 17, table of instantaneous variables and meters: V, A, W as
# on the EM24; Hz 0033h (INT16 x10), kWh(+) TOT 0034h, kWh(-) TOT 004Eh (INT32
# least significant word first, x10), kvarh(+) TOT 0036h. 0037h, 003Eh and
# 005Ch, the EM24 RS-485 addresses, hold other values here.
def gavazzi_e1_map() -> dict[int, list[int]]:
    return zeros(0x00, 0x60) | {
        0x00: i32_low_first(2301) + i32_low_first(2312) + i32_low_first(2298),
        0x0C: i32_low_first(5_000) + i32_low_first(-2_500) + i32_low_first(1_000),
        0x12: i32_low_first(11_500) + i32_low_first(-5_780) + i32_low_first(2_300),
        0x28: i32_low_first(8_020),
        0x33: i16(499),
        0x34: i32_low_first(98_765),
        0x36: i32_low_first(33_333),  # kvarh(+) TOT: 0037h is not Hz here
        0x3E: i32_low_first(22_222),  # another meter, not kWh(+) TOT
        0x4E: i32_low_first(4_321),
    }


@pytest.mark.parametrize("profile", ["em24_e1", "em340"])
async def test_gavazzi_e1_and_em340_map(
    profile: str, start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(lambda s: serve(s, INPUT, gavazzi_e1_map()))
    source = meter(server, profile, hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
    finally:
        await source.async_stop()
    assert reading.values["frequency_hz"] == pytest.approx(49.9)
    assert reading.values["import_kwh"] == pytest.approx(9876.5)
    assert reading.values["export_kwh"] == pytest.approx(432.1)
    assert reading.phase("current", "l2") == pytest.approx(-2.5)
    assert reading.power_w == pytest.approx(802.0)


async def test_em340_reads_stay_within_twenty_registers(hub: ModbusHub) -> None:
    reading = await read_limited(20, gavazzi_e1_map(), "em340", hub)
    assert reading.values["export_kwh"] == pytest.approx(432.1)


async def test_em24_rs485_profile_is_not_for_the_ethernet_model(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    """The RS-485 map on an EM24_E1 reads other values: the profiles differ."""
    server = await start_server(lambda s: serve(s, INPUT, gavazzi_e1_map()))
    source = meter(server, "em24", hub)
    await source.async_start()
    try:
        values = await source.read()
    finally:
        await source.async_stop()
    assert values["import_kwh"] != pytest.approx(9876.5)


# --- ABB B23 / B24 ------------------------------------------------------------
# ABB "B23/B24 user manual", Modbus mapping tables (holding registers, big
# endian): total energies 5000h active import, 5004h active export (UINT64,
# 0.01 kWh); instantaneous values 5B00h V L1-N (UINT32, 0.1 V), 5B0Ch I L1
# (UINT32, 0.01 A), 5B14h total active power and 5B16h L1 (INT32, 0.01 W),
# 5B2Ch frequency (UINT16, 0.01 Hz). A quantity the meter does not have reads
# all ones when unsigned and the signed maximum (7FFF...) when signed.
def abb_b23_map(export: list[int], power_l3: list[int]) -> dict[int, list[int]]:
    return (
        zeros(0x5000, 0x5010)
        | zeros(0x5B00, 0x5B30)
        | {
            0x5000: u64(12_345_678),
            0x5004: export,
            0x5B00: u32(2301) + u32(2312) + u32(2298),
            0x5B0C: u32(1_250) + u32(1_100) + u32(0xFFFF_FFFF),
            0x5B14: u32(651_000),
            0x5B16: u32(287_500) + u32(254_300) + power_l3,
            0x5B2C: [5002],
        }
    )


@pytest.mark.parametrize(
    "export",
    [[0xFFFF] * 4, [0x7FFF] + [0xFFFF] * 3],
    ids=["all_ones", "signed_max"],
)
async def test_abb_b23_not_available_is_dropped(
    export: list[int], start_server: ServerFactory, hub: ModbusHub
) -> None:
    """A B23 without export: 1.8e17 kWh would pass every check; it means 'none'."""
    server = await start_server(
        lambda s: serve(s, HOLDING, abb_b23_map(export, [0x7FFF, 0xFFFF]))
    )
    source = meter(server, "abb_b23", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
    finally:
        await source.async_stop()
    assert reading.values["import_kwh"] == pytest.approx(123456.78)
    assert "export_kwh" not in reading.values
    assert "power_l3_w" not in reading.values  # INT32 7FFF FFFFh: not available
    assert "current_l3_a" not in reading.values  # UINT32 FFFF FFFFh
    assert reading.power_w == pytest.approx(6510.0)
    assert reading.values["frequency_hz"] == pytest.approx(50.02)


async def test_abb_b23_signed_minus_one_is_a_value(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    """All ones in a signed register is -1 (-0.01 W), a true reading."""
    server = await start_server(
        lambda s: serve(s, HOLDING, abb_b23_map(u64(789), [0xFFFF, 0xFFFF]))
    )
    source = meter(server, "abb_b23", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
    finally:
        await source.async_stop()
    assert reading.values["power_l3_w"] == pytest.approx(-0.01)
    assert reading.values["export_kwh"] == pytest.approx(7.89)


# --- Eastron SDM72D-M ---------------------------------------------------------
# "SDM72D-M user manual" (the first version), Modbus input registers (FC4,
# float32 big endian): 30053 total system power (0034h, W), 30073 import active
# energy (0048h, kWh), 30075 export active energy (004Ah, kWh). Nothing else.
def sdm72d_m_v1_map() -> dict[int, list[int]]:
    return {0x34: f32(3456.5), 0x48: f32(1234.5) + f32(67.25)}


async def test_sdm72d_m_v1_profile(start_server: ServerFactory, hub: ModbusHub) -> None:
    server = await start_server(lambda s: serve(s, INPUT, sdm72d_m_v1_map()))
    source = meter(server, "sdm72d_m_v1", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
    finally:
        await source.async_stop()
    assert reading.values == pytest.approx(
        {"power_w": 3456.5, "import_kwh": 1234.5, "export_kwh": 67.25}
    )


async def test_sdm72d_m_v1_read_as_v2_names_the_cause(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(lambda s: serve(s, INPUT, sdm72d_m_v1_map()))
    source = meter(server, "sdm72d_m_v2", hub)
    await source.async_start()
    try:
        with pytest.raises(MeterReadError) as err:
            await source.read()
    finally:
        await source.async_stop()
    assert err.value.translation_key == "hint_sdm72d_m_v1"
    assert err.value.placeholders["unit_id"] == "1"


# --- Shelly Pro 3EM -----------------------------------------------------------
# Shelly Gen2 API documentation, components EM and EMData, "Modbus registers"
# (input registers, 3xxxx notation, float32 low word first): EM 31013 total
# active power (W); phase A 31020 voltage, 31022 current, 31024 active power,
# phase B and C 20 registers on; EMData 31162 total active energy, 31164 total
# active returned energy (Wh). Only in the triphase profile: in the monophase
# profile the device has three EM1 components from 32000 instead.
def shelly_triphase_map() -> dict[int, list[int]]:
    registers = zeros(1000, 1080) | zeros(1160, 1170)
    registers[1013] = f32_low_first(4140.0)
    for index, (volts, amps, watts) in enumerate(
        [(230.0, 6.0, 1380.0), (231.0, 7.0, 1610.0), (229.0, 5.0, 1150.0)]
    ):
        base = 1020 + 20 * index
        registers[base] = (
            f32_low_first(volts) + f32_low_first(amps) + f32_low_first(watts)
        )
    registers[1162] = f32_low_first(2_500_000.0) + f32_low_first(125_000.0)
    return registers


async def test_shelly_pro_3em_triphase(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(lambda s: serve(s, INPUT, shelly_triphase_map()))
    source = meter(server, "shelly_pro_3em", hub)
    await source.async_start()
    try:
        reading = await read_checked(source, SITE)
    finally:
        await source.async_stop()
    assert reading.power_w == pytest.approx(4140.0)
    assert reading.phase("voltage", "l2") == pytest.approx(231.0)
    assert reading.phase("current", "l3") == pytest.approx(5.0)
    assert reading.phase("power", "l1") == pytest.approx(1380.0)
    assert reading.values["import_kwh"] == pytest.approx(2500.0)
    assert reading.values["export_kwh"] == pytest.approx(125.0)


async def test_shelly_pro_3em_monophase_names_the_cause(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(lambda s: serve(s, INPUT, zeros(2000, 2060)))
    source = meter(server, "shelly_pro_3em", hub)
    await source.async_start()
    try:
        with pytest.raises(MeterReadError) as err:
            await source.read()
    finally:
        await source.async_stop()
    assert err.value.translation_key == "hint_shelly_monophase"


async def test_other_exceptions_stay_a_modbus_error(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    """A profile without a hint, or another unit, says what the device said."""
    server = await start_server(lambda s: serve(s, INPUT, zeros(2000, 2060)))
    source = meter(server, "sdm630", hub)
    await source.async_start()
    try:
        with pytest.raises(MeterReadError) as err:
            await source.read()
    finally:
        await source.async_stop()
    assert err.value.translation_key == "modbus_exception"


# --- Alfen Eve (NG9xx) ---------------------------------------------------------
# "Implementation of Modbus Slave TCP/IP for Alfen NG9xx platform", socket
# registers (unit 1 = socket 1; FC3, big endian): currents L1-L3 float32 320,
# 322, 324 (A); real power sum float32 344 (W); real energy delivered sum
# float64 374 (Wh); mode 3 state string 1201 (5 registers); remaining valid time
# uint32 1208 (s); max current float32 1210 (A); active safe current float32
# 1212 (A); setpoint accounted for uint16 1214 (1 yes, 0 no); phases uint16 1215.
def alfen_socket(*, valid_s: int, accounted: int) -> dict[int, list[int]]:
    return {
        320: f32(10.0) + f32(10.0) + f32(10.0),
        344: f32(6900.0),
        374: f64(1_234_500.0),
        1201: [ord("C") << 8 | ord("2"), 0, 0, 0, 0],
        1206: [0, 0],
        1208: u32(valid_s),
        1210: f32(10.0),
        1212: f32(6.0),
        1214: [accounted],
        1215: [3],
    }


async def alfen_read(server: ModbusSimServer, hub: ModbusHub) -> ChargerReading:
    driver = ModbusChargerDriver(
        hub,
        THREE,
        tcp(server),
        UNIT,
        CHARGER_PROFILES["alfen_eve"],
    )
    await driver.async_start()
    try:
        return await driver.read(0.0, {})
    finally:
        await driver.async_stop()


async def test_alfen_setpoint_accounted_for(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(
        lambda s: serve(s, HOLDING, alfen_socket(valid_s=45, accounted=1))
    )
    reading = await alfen_read(server, hub)
    assert reading.setpoint_accounted is True
    assert reading.setpoint_a == 10.0
    assert reading.connected is True
    assert reading.safe_a == 6.0


async def test_alfen_that_ignores_modbus_setpoints_is_not_steered(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    """A live setpoint (1208 > 0) not accounted for (1214 = 0): SCN mode or
    'allow writing maximum currents' off. Steering it would be blind."""
    server = await start_server(
        lambda s: serve(s, HOLDING, alfen_socket(valid_s=45, accounted=0))
    )
    with pytest.raises(ChargerError) as err:
        await alfen_read(server, hub)
    assert err.value.translation_key == SETPOINT_IGNORED


async def test_alfen_without_a_live_setpoint_is_not_a_refusal(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    """Before the first write (or after the validity time) 1214 reads 0 too."""
    server = await start_server(
        lambda s: serve(s, HOLDING, alfen_socket(valid_s=0, accounted=0))
    )
    reading = await alfen_read(server, hub)
    assert reading.setpoint_accounted is None


def test_alfen_profile_refuses_the_station_unit() -> None:
    """Unit 200 is the station (active max current 1100, sockets 1105): no socket."""
    assert 200 in CHARGER_PROFILES["alfen_eve"].station_unit_ids
    assert not {1, 2} & CHARGER_PROFILES["alfen_eve"].station_unit_ids


# --- ABB Terra AC --------------------------------------------------------------
# "ABB Terra AC wallbox Modbus communication", v1.7, register table (FC3, uint32
# big endian): 400Ch charging state (byte 1 bits 0-6 = state: 0 idle, 1-2 EV
# plugged in, 3-4 charging, 5 other; bit 7 = charging below the commanded
# value), 400Eh current charging current limit (mA), 4010h-4015h charging
# currents L1-L3 (mA), 401Ch active power (W), 401Eh energy delivered in the
# charging session (Wh).
def terra_ac(state_byte: int, session_wh: int) -> dict[int, list[int]]:
    return {
        0x400C: u32(state_byte << 8),
        0x400E: u32(16_000),
        0x4010: u32(15_900) + u32(15_800) + u32(15_950),
        0x4016: [0] * 6,
        0x401C: u32(10_950),
        0x401E: u32(session_wh),
    }


@pytest.mark.parametrize(
    ("state_byte", "connected"),
    [(0x00, False), (0x02, True), (0x04, True), (0x84, True), (0x80, False)],
)
async def test_terra_ac_state_and_session_energy(
    state_byte: int,
    connected: bool,
    start_server: ServerFactory,
    hub: ModbusHub,
) -> None:
    server = await start_server(
        lambda s: serve(s, HOLDING, terra_ac(state_byte, 5_250))
    )
    driver = ModbusChargerDriver(
        hub,
        THREE,
        tcp(server),
        UNIT,
        CHARGER_PROFILES["abb_terra_ac"],
    )
    await driver.async_start()
    try:
        reading = await driver.read(0.0, {})
        values = await driver.reader.read(hub, tcp(server), UNIT)
    finally:
        await driver.async_stop()
    assert reading.connected is connected
    assert reading.setpoint_a == pytest.approx(16.0)
    assert reading.measured_a == pytest.approx(15.95)
    # 401Eh is this session's energy: never offered as a lifetime total.
    assert values["session_energy_kwh"] == pytest.approx(5.25)
    assert "energy_kwh" not in values
