"""The simulator itself: it must behave like a strict device, or the other tests prove little."""

import pytest
from pymodbus.client import AsyncModbusTcpClient

from custom_components.stekker.modbus.profiles import METER_PROFILES
from simsite.modbus_server import ModbusSimServer

from .conftest import ServerFactory


async def test_values_above_0x8000_and_separate_tables(
    start_server: ServerFactory,
) -> None:
    def setup(server: ModbusSimServer) -> None:
        server.set_registers(3, 3, 0, [0x8000, 0xFFFF])
        server.set_registers(3, 4, 0, [0x0001, 0x0002])

    server = await start_server(setup)
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=server.port, retries=0, reconnect_delay=0
    )
    await client.connect()
    try:
        holding = await client.read_holding_registers(0, count=2, device_id=3)
        inputs = await client.read_input_registers(0, count=2, device_id=3)
        single = await client.write_register(1, 0x1234, device_id=3)  # FC6
        unknown_unit = await client.read_holding_registers(0, count=1, device_id=9)
        coils = await client.read_coils(0, count=1, device_id=3)
    finally:
        client.close()
    assert holding.registers == [0x8000, 0xFFFF]
    assert inputs.registers == [1, 2]
    assert not single.isError()
    assert server.get_registers(3, 3, 0, 2) == [0x8000, 0x1234]
    assert unknown_unit.isError()
    assert coils.isError()
    assert server.requests == {(3, 3): 1, (3, 4): 1, (3, 6): 1, (3, 1): 1}


async def test_lifecycle_rules(start_server: ServerFactory) -> None:
    with pytest.raises(RuntimeError, match="no unit"):
        await ModbusSimServer().start()
    server = await start_server(lambda s: s.set_registers(1, 4, 0, [1]))
    with pytest.raises(RuntimeError, match="already running"):
        await server.start()
    with pytest.raises(RuntimeError, match="restart"):
        server.set_registers(2, 4, 0, [1])
    server.set_registers(1, 3, 0, [1])  # a known unit may grow while running
    assert server.units == {1}
    await server.stop()
    await server.stop()  # idempotent


def test_register_validation() -> None:
    server = ModbusSimServer()
    for args in (
        (0, 3, 0, [1]),
        (1, 1, 0, [1]),
        (1, 3, 0, []),
        (1, 3, 0xFFFF, [1, 2]),
        (1, 3, 0, [0x10000]),
    ):
        with pytest.raises(ValueError):
            server.set_registers(*args)
    with pytest.raises(KeyError, match="no fields"):
        server.set_meter(1, METER_PROFILES["sdm630"], {"bogus": 1.0})
    with pytest.raises(KeyError):
        server.get_registers(1, 3, 0, 1)
