"""Shared clients: errors, backoff, locking and reference counting, against real servers."""

import asyncio
import socket

import pytest

from custom_components.stekker.modbus.codec import Block
from custom_components.stekker.modbus.transport import (
    Endpoint,
    ModbusConnectionError,
    ModbusDeviceError,
    ModbusHub,
)
from simsite.modbus_server import ModbusSimServer

from .conftest import FakeClock, ServerFactory, tcp

WORDS = list(range(100, 120))
BLOCK = Block(3, 10, 4)


def holding(server: ModbusSimServer) -> None:
    server.set_registers(1, 3, 10, WORDS)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def disconnected(hub: ModbusHub, endpoint: Endpoint) -> None:
    """Let the client notice that the server went away (pymodbus offers no event)."""
    while hub.is_connected(endpoint):  # noqa: ASYNC110
        await asyncio.sleep(0.005)


def test_endpoint_validation_and_description() -> None:
    assert Endpoint("tcp", host="10.0.0.5").describe() == "tcp 10.0.0.5:502"
    assert (
        Endpoint("rtu_over_tcp", host="gw", port=8899).describe()
        == "rtu-over-tcp gw:8899"
    )
    serial = Endpoint("serial", serial_port="/dev/ttyUSB0", baudrate=19200, parity="E")
    assert serial.describe() == "serial /dev/ttyUSB0 19200 8E1"
    for bad in (
        {"kind": "udp", "host": "h"},
        {"kind": "tcp"},
        {"kind": "tcp", "host": "h", "port": 0},
        {"kind": "serial"},
        {"kind": "serial", "serial_port": "/dev/x", "parity": "X"},
    ):
        with pytest.raises(ValueError):
            Endpoint(**bad)  # type: ignore[arg-type]


async def test_reads_blocks_of_both_tables(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    def setup(server: ModbusSimServer) -> None:
        holding(server)
        server.set_registers(1, 4, 10, [0x8001, 0xFFFF])  # same address, other table

    server = await start_server(setup)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    got = await hub.read_blocks(endpoint, 1, [BLOCK, Block(4, 10, 2)])
    assert got == {BLOCK: WORDS[:4], Block(4, 10, 2): [0x8001, 0xFFFF]}
    assert server.requests == {(1, 3): 1, (1, 4): 1}


async def test_unreachable_port_fails_then_backs_off(
    hub: ModbusHub, clock: FakeClock
) -> None:
    endpoint = Endpoint("tcp", host="127.0.0.1", port=free_port())
    hub.acquire(endpoint)
    with pytest.raises(ModbusConnectionError, match="cannot connect") as first:
        await hub.read_blocks(endpoint, 1, [BLOCK])
    assert first.value.retry_in_s == 1.0
    # What a form shows: what failed, not when a hub that will not retry retries.
    assert first.value.reason == f"{endpoint.describe()}: cannot connect"
    with pytest.raises(ModbusConnectionError, match=r"next attempt in 1\.0 s"):
        await hub.read_blocks(endpoint, 1, [BLOCK])
    assert not hub.is_connected(endpoint)


async def test_backoff_doubles_up_to_the_maximum(clock: FakeClock) -> None:
    hub = ModbusHub(timeout=1.0, backoff_initial=1.0, backoff_max=4.0, clock=clock)
    endpoint = Endpoint("tcp", host="127.0.0.1", port=free_port())
    hub.acquire(endpoint)
    for delay in (1, 2, 4, 4):
        with pytest.raises(ModbusConnectionError, match="cannot connect") as err:
            await hub.write_registers(endpoint, 1, 0, [1])
        assert err.value.retry_in_s == delay
        clock.advance(delay - 0.01)
        with pytest.raises(ModbusConnectionError, match="next attempt"):
            await hub.write_registers(endpoint, 1, 0, [1])
        clock.advance(0.01)
    await hub.release(endpoint)


async def test_illegal_address_is_a_device_error(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(holding)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    with pytest.raises(ModbusDeviceError, match="exception code 2") as err:
        await hub.read_blocks(
            endpoint, 1, [Block(3, 28, 4)]
        )  # runs past the mapped range
    assert err.value.exception_code == 2
    with pytest.raises(ModbusDeviceError):
        await hub.read_blocks(endpoint, 1, [Block(4, 10, 1)])  # input table is empty
    with pytest.raises(ModbusDeviceError):
        await hub.write_registers(endpoint, 1, 500, [1, 2])
    # The connection survives device errors.
    assert await hub.read_blocks(endpoint, 1, [BLOCK]) == {BLOCK: WORDS[:4]}
    assert server.connections == 1


async def test_reconnects_after_server_restart_honouring_backoff(
    start_server: ServerFactory, hub: ModbusHub, clock: FakeClock
) -> None:
    server = await start_server(holding)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    assert await hub.read_blocks(endpoint, 1, [BLOCK])

    await server.stop()
    await disconnected(hub, endpoint)
    with pytest.raises(ModbusConnectionError, match="cannot connect"):
        await hub.read_blocks(endpoint, 1, [BLOCK])

    await server.start()  # same port
    clock.advance(0.9)
    with pytest.raises(ModbusConnectionError, match=r"next attempt in 0\.1 s"):
        await hub.read_blocks(endpoint, 1, [BLOCK])
    assert server.connections == 1, "no connect attempt while backing off"

    clock.advance(0.1)
    assert await hub.read_blocks(endpoint, 1, [BLOCK]) == {BLOCK: WORDS[:4]}
    assert server.connections == 2
    # Healthy again: a later outage starts over at the initial delay.
    await server.stop()
    await disconnected(hub, endpoint)
    with pytest.raises(ModbusConnectionError, match=r"next attempt in 1\.0 s"):
        await hub.read_blocks(endpoint, 1, [BLOCK])


async def test_timeout_drops_the_connection_without_backoff(
    start_server: ServerFactory, clock: FakeClock
) -> None:
    server = await start_server(holding, latency=0.3)
    hub = ModbusHub(timeout=0.1, clock=clock)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    with pytest.raises(ModbusConnectionError, match="No response"):
        await hub.read_blocks(endpoint, 1, [BLOCK])
    assert not hub.is_connected(endpoint)
    server.latency = 0.0
    await asyncio.sleep(0.3)  # let the late answer of the slow request pass
    assert await hub.read_blocks(endpoint, 1, [BLOCK]) == {BLOCK: WORDS[:4]}
    assert server.connections == 2
    await hub.release(endpoint)


async def test_concurrent_requests_are_serialised(
    start_server: ServerFactory, hub: ModbusHub, clock: FakeClock
) -> None:
    server = await start_server(holding, latency=0.01)
    endpoint = tcp(server)
    blocks = [Block(3, 10 + i, 2) for i in range(6)]
    hub.acquire(endpoint)

    # Everything through one hub shares one connection, one request at a time,
    # even when all requests arrive before the first connect.
    results = await asyncio.gather(
        *(hub.read_blocks(endpoint, 1, [b]) for b in blocks),
        hub.write_registers(endpoint, 1, 20, [7]),
    )
    assert server.connections == 1
    assert server.max_in_flight == 1
    for block, result in zip(blocks, results, strict=False):
        assert result == {block: WORDS[block.address - 10 : block.end - 10]}

    # Control: two independent hubs do reach the device at the same time.
    other = ModbusHub(clock=clock)
    other.acquire(endpoint)
    await other.read_blocks(endpoint, 1, [BLOCK])  # connected, like the first hub
    await asyncio.gather(
        *(h.read_blocks(endpoint, 1, blocks[:2]) for h in (hub, other))
    )
    assert server.max_in_flight == 2
    await other.release(endpoint)


async def test_shared_client_is_reference_counted(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(holding)
    endpoint = tcp(server)
    same = Endpoint("tcp", host="127.0.0.1", port=server.port)
    hub.acquire(endpoint)
    hub.acquire(same)
    await hub.read_blocks(endpoint, 1, [BLOCK])
    await hub.read_blocks(same, 1, [BLOCK])
    assert server.connections == 1

    await hub.release(endpoint)
    assert hub.is_connected(same)
    assert await hub.read_blocks(same, 1, [BLOCK])

    await hub.release(same)
    assert not hub.is_connected(endpoint)
    with pytest.raises(RuntimeError, match="not acquired"):
        await hub.read_blocks(endpoint, 1, [BLOCK])
    with pytest.raises(RuntimeError, match="not acquired"):
        await hub.release(endpoint)


async def test_release_waits_for_the_request_in_flight(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(holding, latency=0.02)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    read = asyncio.create_task(hub.read_blocks(endpoint, 1, [BLOCK]))
    await asyncio.sleep(0)  # the read takes the lock first
    await hub.release(endpoint)
    assert await read == {BLOCK: WORDS[:4]}
    assert not hub.is_connected(endpoint)


async def test_close_drops_connections_but_keeps_users(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(holding)
    endpoint = tcp(server)
    hub.acquire(endpoint)
    await hub.read_blocks(endpoint, 1, [BLOCK])
    await hub.close()
    assert not hub.is_connected(endpoint)
    assert await hub.read_blocks(endpoint, 1, [BLOCK])
    assert server.connections == 2


async def test_rtu_framing_over_tcp(
    start_server: ServerFactory, hub: ModbusHub
) -> None:
    server = await start_server(holding, framer="rtu")
    endpoint = tcp(server, "rtu_over_tcp")
    hub.acquire(endpoint)
    assert await hub.read_blocks(endpoint, 1, [BLOCK]) == {BLOCK: WORDS[:4]}
    await hub.write_registers(endpoint, 1, 10, [0xFFFF])
    assert server.get_registers(1, 3, 10, 2) == [0xFFFF, WORDS[1]]


async def test_missing_serial_port_is_a_connection_error(hub: ModbusHub) -> None:
    endpoint = Endpoint("serial", serial_port="/nonexistent/ttyUSB9")
    hub.acquire(endpoint)
    with pytest.raises(ModbusConnectionError, match="serial /nonexistent/ttyUSB9"):
        await hub.read_blocks(endpoint, 1, [BLOCK])


async def test_requests_are_validated_before_sending(hub: ModbusHub) -> None:
    endpoint = Endpoint("tcp", host="127.0.0.1", port=free_port())
    hub.acquire(endpoint)
    for blocks in ([Block(1, 0, 1)], [Block(3, 0, 126)], [Block(4, 0, 0)]):
        with pytest.raises(ValueError):
            await hub.read_blocks(endpoint, 1, blocks)
    with pytest.raises(ValueError, match="unit id"):
        await hub.read_blocks(endpoint, 256, [BLOCK])
    for address, values in ((0, []), (0, [0x10000]), (0, [1] * 124), (0xFFFF, [1, 2])):
        with pytest.raises(ValueError):
            await hub.write_registers(endpoint, 1, address, values)
    assert not hub.is_connected(endpoint)
    await hub.release(endpoint)  # never connected: nothing to close
