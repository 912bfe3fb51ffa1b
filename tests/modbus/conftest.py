"""Fixtures: simulated devices on 127.0.0.1 and a hub with a controllable clock."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from custom_components.stekker.modbus.transport import Endpoint, ModbusHub
from simsite.modbus_server import ModbusSimServer


class FakeClock:
    """Monotonic time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


type ServerFactory = Callable[..., Awaitable[ModbusSimServer]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hub(clock: FakeClock) -> AsyncIterator[ModbusHub]:
    hub = ModbusHub(timeout=1.0, clock=clock)
    yield hub
    await hub.close()


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    """Start a simulator after ``setup(server)`` has given it registers."""
    servers: list[ModbusSimServer] = []

    async def start(
        setup: Callable[[ModbusSimServer], None], **kwargs: Any
    ) -> ModbusSimServer:
        server = ModbusSimServer(**kwargs)
        setup(server)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def tcp(server: ModbusSimServer, kind: str = "tcp") -> Endpoint:
    """The endpoint a client uses to reach ``server``."""
    return Endpoint(kind, host="127.0.0.1", port=server.port)  # type: ignore[arg-type]
