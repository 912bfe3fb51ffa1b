"""How optional registers are read apart, with a device that lacks some of them.

These are transport mechanics, not a vendor's map: the profile here is made up.
"""

import logging

import pytest
from pymodbus.constants import ExcCodes

from custom_components.stekker.modbus.profiles import (
    INPUT,
    DataType,
    Field,
    MeterProfile,
)
from custom_components.stekker.modbus.transport import (
    ModbusDeviceError,
    ModbusHub,
    ProfileReader,
)
from simsite.modbus_server import ModbusSimServer

from .conftest import ServerFactory, tcp

U16 = DataType.UINT16
PROFILE = MeterProfile(
    "made_up",
    "Made-up meter",
    3,
    (
        Field("power_w", INPUT, 0, U16),
        Field("export_kwh", INPUT, 1, U16, optional=True),  # shares the block
        Field("frequency_hz", INPUT, 2, U16, optional=True),
        Field("import_kwh", INPUT, 3, U16),
    ),
)


def device(*addresses: int) -> object:
    def setup(server: ModbusSimServer) -> None:
        for address in addresses:
            server.set_registers(1, INPUT, address, [100 + address])

    return setup


async def test_required_fields_of_a_failing_block_are_read_apart(
    start_server: ServerFactory, hub: ModbusHub, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(device(0, 2, 3))  # no register 1
    endpoint = tcp(server)
    hub.acquire(endpoint)
    reader = ProfileReader(PROFILE)
    with caplog.at_level(logging.WARNING):
        values = await reader.read(hub, endpoint, 1)
    assert values == {"power_w": 100.0, "frequency_hz": 102.0, "import_kwh": 103.0}
    assert reader.missing == {"export_kwh"}
    assert "has no register 1 (export_kwh)" in caplog.text
    # Next time the missing one is simply not asked for.
    server.requests.clear()
    assert await reader.read(hub, endpoint, 1) == values
    assert server.requests[(1, INPUT)] == 2  # registers 0 and 2..3


async def test_a_missing_required_register_still_fails(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(device(1, 2, 3))  # no register 0 (required)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    with pytest.raises(ModbusDeviceError) as err:
        await ProfileReader(PROFILE).read(hub, endpoint, 1)
    assert err.value.exception_code == 2


async def test_other_exceptions_of_an_optional_register_are_not_absence(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    class BusyAtTwo(ModbusSimServer):
        def refusal(
            self,
            unit_id: int,
            function_code: int,
            address: int,
            count: int,
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            return ExcCodes.DEVICE_BUSY if address == 2 and count == 1 else None

    server = BusyAtTwo()
    device(0, 1, 3)(server)  # register 2 lacks: the block fails, then it is busy
    await server.start()
    try:
        endpoint = tcp(server)
        hub.acquire(endpoint)
        reader = ProfileReader(PROFILE)
        with pytest.raises(ModbusDeviceError) as err:
            await reader.read(hub, endpoint, 1)
        assert err.value.exception_code == ExcCodes.DEVICE_BUSY
        assert reader.missing == set()
    finally:
        await server.stop()


async def test_a_profile_without_optional_registers_fails_at_once(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    strict = MeterProfile(
        "strict", "Strict", 3, tuple(f for f in PROFILE.fields if not f.optional)
    )
    server = await start_server(device(3))  # register 0 is not there
    endpoint = tcp(server)
    hub.acquire(endpoint)
    with pytest.raises(ModbusDeviceError):
        await ProfileReader(strict).read(hub, endpoint, 1)
    assert server.requests[(1, INPUT)] == 1  # no second try apart
