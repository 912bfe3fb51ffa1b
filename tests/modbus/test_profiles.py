"""Every profile, served by the simulator and read back through the real client."""

from collections import Counter

import pytest

from custom_components.stekker.engine.readings import (
    EXPORT_KWH,
    FREQUENCY,
    IMPORT_KWH,
    POWER,
    phase_key,
)
from custom_components.stekker.modbus.codec import decode_value, encode, plan_blocks
from custom_components.stekker.modbus.profiles import (
    CHARGER_PROFILES,
    HOLDING,
    METER_PROFILES,
    ChargerProfile,
    DataType,
    Field,
    MeterProfile,
)
from custom_components.stekker.modbus.transport import (
    ModbusDeviceError,
    ModbusHub,
    read_meter,
)

from .conftest import ServerFactory, tcp

SIGNED = {
    DataType.INT16,
    DataType.INT32,
    DataType.INT64,
    DataType.FLOAT32,
    DataType.FLOAT64,
}
METER_KEYS = {POWER, IMPORT_KWH, EXPORT_KWH, FREQUENCY} | {
    phase_key(q, p) for q in ("voltage", "current", "power") for p in ("l1", "l2", "l3")
}


def sample(field: Field, index: int) -> float:
    """A plausible value for the field, distinct per field, exactly representable."""
    prefix = field.key.split("_")[0]
    value = {
        "voltage": 229.7,
        "current": 12.345,
        "power": -4321.5 if field.dtype in SIGNED else 4321.0,
        "import": 12345.6,
        "export": 789.1,
        "frequency": 50.02,
        "energy": 2345.5,
        "session": 12.5,
        "valid": 57.0,
        "safe": 6.0,
        "setpoint": 16.0,
        "phases": 3.0,
        "charging": 2.0,
        "mode3": float(ord("C") << 8 | ord("2")),
    }[prefix] + index
    if field.dtype in (DataType.FLOAT32, DataType.FLOAT64):
        return value
    return round(value / field.scale) * field.scale  # what the integer can carry


def values_for(profile: MeterProfile | ChargerProfile) -> dict[str, float]:
    """Distinct values, equal where two keys share a register (SDM120 power)."""
    index: dict[tuple[int, int], int] = {}
    return {
        f.key: sample(f, index.setdefault((f.function, f.address), i))
        for i, f in enumerate(profile.fields)
    }


def tolerance(field: Field, value: float) -> float:
    """float32 keeps ~7 digits; integers are exact to their scale."""
    return (
        abs(value) * 1e-6
        if field.dtype is DataType.FLOAT32
        else abs(field.scale) * 1e-9
    )


PROFILES = [*METER_PROFILES.values(), *CHARGER_PROFILES.values()]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.key)
async def test_profile_reads_back_what_the_device_serves(
    profile: MeterProfile | ChargerProfile, start_server: ServerFactory, hub: ModbusHub
) -> None:
    unit = 7
    expected = values_for(profile)
    server = await start_server(lambda s: s.set_meter(unit, profile, expected))
    endpoint = tcp(server)
    hub.acquire(endpoint)
    blocks = plan_blocks(profile.fields, profile.max_registers)
    per_function = Counter(b.function for b in blocks)

    for cycle in range(2):
        server.requests.clear()
        got = await read_meter(hub, endpoint, unit, profile)
        assert set(got) == set(expected)
        for f in profile.fields:
            assert got[f.key] == pytest.approx(
                expected[f.key], abs=tolerance(f, got[f.key])
            )
        assert server.requests == Counter(
            {(unit, fc): n for fc, n in per_function.items()}
        ), f"cycle {cycle}"

    # Live update between cycles reaches the next read.
    first = profile.fields[0]
    server.set_fields(unit, [first], {first.key: expected[first.key] + 1})
    got = await read_meter(hub, endpoint, unit, profile)
    assert got[first.key] == pytest.approx(expected[first.key] + 1, rel=1e-6)


@pytest.mark.parametrize("profile", METER_PROFILES.values(), ids=lambda p: p.key)
def test_meter_profile_speaks_the_engine_keys(profile: MeterProfile) -> None:
    keys = {f.key for f in profile.fields}
    assert keys <= METER_KEYS
    assert POWER in keys, "the engine needs total power"
    assert IMPORT_KWH in keys
    if profile.phases == 1:
        assert not any("_l2_" in k or "_l3_" in k for k in keys)
    else:  # all three phase currents, or none (SDM72D-M v1: totals only)
        currents = {phase_key("current", p) for p in ("l1", "l2", "l3")}
        assert currents <= keys or not currents & keys
    assert all(
        b.count <= profile.max_registers
        for b in plan_blocks(profile.fields, profile.max_registers)
    )


@pytest.mark.parametrize("profile", CHARGER_PROFILES.values(), ids=lambda p: p.key)
async def test_charger_setpoint_write_lands_in_its_register(
    profile: ChargerProfile, start_server: ServerFactory, hub: ModbusHub
) -> None:
    setpoint = profile.setpoint
    assert setpoint.function == HOLDING
    unit = 1
    server = await start_server(
        lambda s: s.set_fields(
            unit, [*profile.fields, setpoint], values_for(profile) | {setpoint.key: 0.0}
        )
    )
    endpoint = tcp(server)
    hub.acquire(endpoint)
    await hub.write_registers(endpoint, unit, setpoint.address, encode(setpoint, 13.0))
    written = server.get_registers(unit, HOLDING, setpoint.address, setpoint.count)
    assert decode_value(setpoint, written) == 13.0
    assert server.requests[(unit, 16)] == 1
    raw = 13_000 if profile.setpoint_unit == "mA" else 13.0
    assert decode_value(Field("raw", HOLDING, 0, setpoint.dtype), written) == raw


async def test_wrong_profile_is_detected(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    sdm630 = METER_PROFILES["sdm630"]
    server = await start_server(lambda s: s.set_meter(1, sdm630, values_for(sdm630)))
    endpoint = tcp(server)
    hub.acquire(endpoint)
    with pytest.raises(ModbusDeviceError) as err:
        await read_meter(hub, endpoint, 1, METER_PROFILES["abb_b23"])
    assert err.value.exception_code == 2  # illegal data address
