"""A real pymodbus server on loopback that plays meters and chargers.

Tests and the demo talk to it through the same client code as to a real
device, so framing, addressing, word order and exception handling are all
exercised for real.
"""

import asyncio
import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Literal

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from custom_components.stekker.modbus.codec import encode
from custom_components.stekker.modbus.profiles import (
    ChargerProfile,
    Field,
    MeterProfile,
)

_TABLE = {3: "holding", 4: "input", 6: "holding", 16: "holding"}
_ADDRESSES = 0x10000


class ModbusSimServer:
    """Modbus TCP (or RTU-over-TCP) server with holding and input registers kept apart.

    Each unit is a pymodbus ``SimDevice`` with four separate blocks, so FC3 and
    FC4 see different registers. ``SimDevice`` fixes its register map when the
    server starts and has no request counter, so the register values live here
    and the device's ``action`` hook (the simulator's supported per-request
    callback) serves them: it copies stored words into the response, stores
    written words, answers unmapped addresses with "illegal data address" and
    counts every request per (unit, function code). That gives live updates and
    request counting without touching pymodbus internals. Units must be known
    (have registers) before ``start()``; values may change at any time.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        framer: Literal["socket", "rtu"] = "socket",
        latency: float = 0.0,
    ) -> None:
        """Serve on 127.0.0.1; port 0 picks a free port, ``latency`` delays each answer."""
        self._port = port
        self._framer = FramerType.RTU if framer == "rtu" else FramerType.SOCKET
        self.latency = latency
        # Register address -> seconds a write starting there takes to answer;
        # it lands when answered (a client that gave up may not know).
        self.slow_writes: dict[int, float] = {}
        self._registers: dict[tuple[int, str], dict[int, int]] = {}
        self._server: ModbusTcpServer | None = None
        self.requests: Counter[tuple[int, int]] = Counter()
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.written: set[int] = set()  # units written to since last cleared

    @property
    def port(self) -> int:
        """The bound TCP port (stays the same across stop/start)."""
        return self._port

    async def start(self) -> None:
        """Bind and serve in the background."""
        if self._server is not None:
            raise RuntimeError("server already running")
        devices = [
            SimDevice(
                id=unit,
                simdata=(
                    [SimData(0, values=False, datatype=DataType.BITS)],
                    [SimData(0, values=False, datatype=DataType.BITS)],
                    [SimData(0, count=_ADDRESSES, datatype=DataType.REGISTERS)],
                    [SimData(0, count=_ADDRESSES, datatype=DataType.REGISTERS)],
                ),
                action=functools.partial(self._action, unit),
            )
            for unit in sorted(self.units)
        ]
        if not devices:
            raise RuntimeError("no unit has registers; set some before start()")
        server = ModbusTcpServer(
            devices,
            framer=self._framer,
            address=("127.0.0.1", self._port),
            trace_connect=self._on_connect,
        )
        await server.serve_forever(background=True)
        self._port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._server = server

    async def stop(self) -> None:
        """Close the listener and every client connection."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus

    @property
    def units(self) -> set[int]:
        """Unit ids that have at least one register."""
        return {unit for unit, _ in self._registers}

    def set_registers(
        self, unit_id: int, function: int, address: int, words: Iterable[int]
    ) -> None:
        """Map (or overwrite) consecutive registers of a unit's FC3 or FC4 table."""
        values = list(words)
        if not 1 <= unit_id <= 255:
            raise ValueError("unit id must be 1..255")
        if function not in (3, 4):
            raise ValueError("function must be 3 (holding) or 4 (input)")
        if not values or address < 0 or address + len(values) > _ADDRESSES:
            raise ValueError("registers out of range")
        if not all(0 <= w <= 0xFFFF for w in values):
            raise ValueError("register values must be 0..65535")
        if self._server is not None and unit_id not in self.units:
            raise RuntimeError("new units need a restart (stop(), then start())")
        store = self._registers.setdefault((unit_id, _TABLE[function]), {})
        store.update(zip(range(address, address + len(values)), values, strict=True))

    def set_fields(
        self, unit_id: int, fields: Iterable[Field], values: Mapping[str, float]
    ) -> None:
        """Encode ``values`` into the registers of the fields with those keys."""
        for field in fields:
            if field.key in values:
                words = encode(field, values[field.key])
                self.set_registers(unit_id, field.function, field.address, words)

    def set_meter(
        self,
        unit_id: int,
        profile: MeterProfile | ChargerProfile,
        values: Mapping[str, float],
    ) -> None:
        """Serve a device of ``profile`` showing ``values`` (by reading key)."""
        unknown = set(values) - {f.key for f in profile.fields}
        if unknown:
            raise KeyError(f"{profile.key} has no fields {sorted(unknown)}")
        self.set_fields(unit_id, profile.fields, values)

    def get_registers(
        self, unit_id: int, function: int, address: int, count: int
    ) -> list[int]:
        """Current words, e.g. what a client wrote; unmapped registers raise KeyError."""
        store = self._registers.get((unit_id, _TABLE[function]), {})
        return [store[a] for a in range(address, address + count)]

    def _on_connect(self, connected: bool) -> None:
        self.connections += connected

    async def _action(
        self,
        unit_id: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Serve one request from the stored registers (see the class docstring)."""
        if not (function_code == 6 and set_values is None):  # FC6 reads back once more
            self.requests[(unit_id, function_code)] += 1
        refused = self.refusal(unit_id, function_code, address, count, set_values)
        if refused is not None:
            return refused
        table = _TABLE.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        store = self._registers.get((unit_id, table), {})
        span = range(address, address + count)
        if any(a not in store for a in span):
            return ExcCodes.ILLEGAL_ADDRESS
        if set_values is not None and (slow := self.slow_writes.get(address)):
            await asyncio.sleep(slow)
        if self.latency:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.latency)
            finally:
                self.in_flight -= 1
        if set_values is None:
            registers[address - start_address : address - start_address + count] = [
                store[a] for a in span
            ]
        else:
            store.update(zip(span, (int(v) for v in set_values), strict=True))
            self.written.add(unit_id)
        return None

    def refusal(
        self,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """The exception a device answers this request with; None serves it.

        Devices that refuse some requests (a write that covers half a value,
        reads beyond a length) override this.
        """
        return None
