"""Shared Modbus clients: one connection per endpoint, one request at a time.

A gateway or meter usually accepts only one or two masters and answers one
request at a time, and several sites (config entries) may read devices behind
the same gateway. So every meter and charger on an endpoint shares one client,
every request on it is serialised by one lock, and reconnecting backs off
exponentially instead of hammering an unreachable device. pymodbus's own retry
and reconnect loops are disabled so that timing is ours and predictable.
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from pymodbus import ExceptionResponse, FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from .codec import Block, decode, plan_blocks
from .profiles import (
    HOLDING,
    INPUT,
    MAX_READ_REGISTERS,
    ChargerProfile,
    Field,
    MeterProfile,
)

_LOGGER = logging.getLogger(__name__)

MAX_WRITE_REGISTERS: Final = 123  # Modbus limit for one FC16 write

type EndpointKind = Literal["tcp", "rtu_over_tcp", "serial"]
type _Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class ModbusError(Exception):
    """A Modbus request failed."""


class ModbusConnectionError(ModbusError):
    """The endpoint is unreachable, refused, timed out or closed the connection.

    The message says what failed; ``retry_in_s`` is when the hub tries again (a
    form that reads once shows the message without it).
    """

    def __init__(self, message: str, retry_in_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_in_s = retry_in_s

    def __str__(self) -> str:
        message = super().__str__()
        if self.retry_in_s is None:
            return message
        return f"{message}, next attempt in {self.retry_in_s:.1f} s"

    @property
    def reason(self) -> str:
        """What failed, without the hub's retry."""
        return super().__str__()


class ModbusDeviceError(ModbusError):
    """The device answered with a Modbus exception (e.g. 2 = illegal data address)."""

    def __init__(self, message: str, exception_code: int) -> None:
        super().__init__(message)
        self.exception_code = exception_code


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where devices are reached: a TCP host, an RTU-over-TCP gateway or a serial port."""

    kind: EndpointKind
    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8

    def __post_init__(self) -> None:
        if self.kind not in ("tcp", "rtu_over_tcp", "serial"):
            raise ValueError(f"unknown endpoint kind {self.kind!r}")
        if self.kind == "serial":
            if not self.serial_port:
                raise ValueError("a serial endpoint needs serial_port")
            if self.parity not in ("N", "E", "O"):
                raise ValueError(f"parity must be N, E or O, not {self.parity!r}")
        elif not self.host or not 0 < self.port < 0x10000:
            raise ValueError("a TCP endpoint needs a host and a port 1..65535")

    def describe(self) -> str:
        """Short human-readable form for logs and errors."""
        if self.kind == "serial":
            return (
                f"serial {self.serial_port} {self.baudrate} "
                f"{self.bytesize}{self.parity}{self.stopbits}"
            )
        return f"{self.kind.replace('_', '-')} {self.host}:{self.port}"


@dataclass(slots=True)
class _Link:
    """State of one shared connection."""

    users: int = 0
    client: _Client | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    backoff: float = 0.0  # delay after the last failed connect; 0 when healthy
    retry_at: float = float("-inf")


class ModbusHub:
    """Owns the Modbus clients of every endpoint, shared across all sites."""

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Create a hub; ``clock`` defaults to the running event loop's time."""
        self._timeout = timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._clock = clock
        self._links: dict[Endpoint, _Link] = {}

    def acquire(self, endpoint: Endpoint) -> None:
        """Register one more user of ``endpoint``; connecting happens on first use."""
        self._links.setdefault(endpoint, _Link()).users += 1

    async def release(self, endpoint: Endpoint) -> None:
        """Drop one user; the last one closes the connection (after any request in flight)."""
        link = self._link(endpoint)
        link.users -= 1
        if link.users:
            return
        del self._links[endpoint]
        async with link.lock:
            if link.client is not None:
                link.client.close()

    async def close(self) -> None:
        """Close every open connection (Home Assistant stopping); users stay registered."""
        for link in list(self._links.values()):
            async with link.lock:
                if link.client is not None:
                    link.client.close()

    def is_connected(self, endpoint: Endpoint) -> bool:
        """Whether a connection to ``endpoint`` is open right now."""
        link = self._links.get(endpoint)
        return bool(link and link.client and link.client.connected)

    async def read_blocks(
        self, endpoint: Endpoint, unit_id: int, blocks: Iterable[Block]
    ) -> dict[Block, list[int]]:
        """Read each block (FC3 or FC4), holding the endpoint's lock throughout.

        The words are returned as the device sent them; ``decode`` rejects a
        block of the wrong length.
        """
        wanted = tuple(blocks)
        for block in wanted:
            if block.function not in (HOLDING, INPUT):
                raise ValueError(f"{block}: only FC3 and FC4 are reads")
            if not 1 <= block.count <= MAX_READ_REGISTERS:
                raise ValueError(f"{block}: 1..{MAX_READ_REGISTERS} registers per read")
        _check_unit(unit_id)
        link = self._link(endpoint)
        result: dict[Block, list[int]] = {}
        async with link.lock:
            client = await self._connected(endpoint, link)
            for block in wanted:
                read = (
                    client.read_holding_registers
                    if block.function == HOLDING
                    else client.read_input_registers
                )
                what = (
                    f"unit {unit_id} FC{block.function} {block.address}+{block.count}"
                )
                response = await self._request(
                    endpoint,
                    link,
                    what,
                    functools.partial(
                        read, block.address, count=block.count, device_id=unit_id
                    ),
                )
                result[block] = list(response.registers)
        return result

    async def write_registers(
        self, endpoint: Endpoint, unit_id: int, address: int, values: list[int]
    ) -> None:
        """Write consecutive holding registers with one FC16 request."""
        _check_unit(unit_id)
        if not 1 <= len(values) <= MAX_WRITE_REGISTERS:
            raise ValueError(f"1..{MAX_WRITE_REGISTERS} registers per write")
        if not all(0 <= v <= 0xFFFF for v in values):
            raise ValueError("register values must be 0..65535")
        if not 0 <= address <= 0x10000 - len(values):
            raise ValueError(f"address {address} out of range")
        link = self._link(endpoint)
        async with link.lock:
            client = await self._connected(endpoint, link)
            await self._request(
                endpoint,
                link,
                f"unit {unit_id} FC16 {address}+{len(values)}",
                functools.partial(
                    client.write_registers, address, values, device_id=unit_id
                ),
            )

    def _link(self, endpoint: Endpoint) -> _Link:
        try:
            return self._links[endpoint]
        except KeyError:
            raise RuntimeError(f"{endpoint.describe()} was not acquired") from None

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def _connected(self, endpoint: Endpoint, link: _Link) -> _Client:
        """The link's open client, connecting if needed; fails fast while backing off."""
        if link.client is None:
            link.client = self._new_client(endpoint)
        if link.client.connected:
            return link.client
        now = self._now()
        if now < link.retry_at:
            raise ModbusConnectionError(
                f"{endpoint.describe()}: unreachable", retry_in_s=link.retry_at - now
            )
        if await link.client.connect():
            if link.backoff:
                _LOGGER.info("Reconnected to %s", endpoint.describe())
            link.backoff, link.retry_at = 0.0, float("-inf")
            return link.client
        link.backoff = min(
            max(2 * link.backoff, self._backoff_initial), self._backoff_max
        )
        link.retry_at = now + link.backoff
        raise ModbusConnectionError(
            f"{endpoint.describe()}: cannot connect", retry_in_s=link.backoff
        )

    def _new_client(self, endpoint: Endpoint) -> _Client:
        # reconnect_delay=0 and retries=0 switch off pymodbus's own loops.
        if endpoint.kind == "serial":
            return AsyncModbusSerialClient(
                endpoint.serial_port,
                framer=FramerType.RTU,
                baudrate=endpoint.baudrate,
                bytesize=endpoint.bytesize,
                parity=endpoint.parity,
                stopbits=endpoint.stopbits,
                timeout=self._timeout,
                retries=0,
                reconnect_delay=0,
            )
        return AsyncModbusTcpClient(
            endpoint.host,
            port=endpoint.port,
            framer=FramerType.RTU
            if endpoint.kind == "rtu_over_tcp"
            else FramerType.SOCKET,
            timeout=self._timeout,
            retries=0,
            reconnect_delay=0,
        )

    async def _request(
        self,
        endpoint: Endpoint,
        link: _Link,
        what: str,
        call: Callable[[], Awaitable[ModbusPDU]],
    ) -> ModbusPDU:
        """Run one request, translating pymodbus outcomes into our errors."""
        where = f"{endpoint.describe()} {what}"
        try:
            response = await call()
        except (ConnectionException, ModbusIOException) as err:
            # Drop the connection so a late answer cannot be taken for the next one.
            if link.client is not None:
                link.client.close()
            raise ModbusConnectionError(f"{where}: {err}") from err
        except ModbusException as err:
            raise ModbusError(f"{where}: {err}") from err
        if isinstance(response, ExceptionResponse):
            code = response.exception_code
            raise ModbusDeviceError(f"{where}: exception code {code}", code)
        return response


def _check_unit(unit_id: int) -> None:
    if not 0 <= unit_id <= 255:
        raise ValueError(f"unit id {unit_id} out of 0..255")


ILLEGAL_ADDRESS: Final = 2  # Modbus exception: the register does not exist


@functools.lru_cache(maxsize=64)
def _plan(fields: tuple[Field, ...], max_registers: int) -> tuple[Block, ...]:
    return plan_blocks(fields, max_registers)


def _lacks_register(err: ModbusDeviceError, fields: Iterable[Field]) -> bool:
    """Whether an exception may come from an optional register among ``fields``."""
    return err.exception_code == ILLEGAL_ADDRESS and any(f.optional for f in fields)


@dataclass(slots=True)
class ProfileReader:
    """Reads a device's profile; optional registers it lacks are dropped, not fatal.

    One exception fails a whole block read, so when a block with optional
    registers answers "illegal address" its required fields are read on their
    own and each optional one apart. An optional register that answers
    exception 2 alone is missing: it is logged once and left out of every
    later read. A required register that is missing still fails the read.
    """

    profile: MeterProfile | ChargerProfile
    missing: set[str] = field(default_factory=set)

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields still read: the profile's, less the missing optional ones."""
        return tuple(f for f in self.profile.fields if f.key not in self.missing)

    async def read(
        self, hub: ModbusHub, endpoint: Endpoint, unit_id: int
    ) -> dict[str, float]:
        """Read and decode every field the device has."""
        fields = self.fields
        try:
            return await self._read(hub, endpoint, unit_id, fields)
        except ModbusDeviceError as err:
            if not _lacks_register(err, fields):
                raise
        values: dict[str, float] = {}
        for block in _plan(fields, self.profile.max_registers):
            inside = tuple(f for f in fields if block.holds(f))
            try:
                values.update(await self._read(hub, endpoint, unit_id, inside))
                continue
            except ModbusDeviceError as err:
                if not _lacks_register(err, inside):
                    raise
            if required := tuple(f for f in inside if not f.optional):
                values.update(await self._read(hub, endpoint, unit_id, required))
            for optional in (f for f in inside if f.optional):
                try:
                    values.update(await self._read(hub, endpoint, unit_id, (optional,)))
                except ModbusDeviceError as err:
                    if err.exception_code != ILLEGAL_ADDRESS:
                        raise
                    self.missing.add(optional.key)
                    _LOGGER.warning(
                        "%s unit %s (%s) has no register %s (%s): read without it",
                        endpoint.describe(),
                        unit_id,
                        self.profile.name,
                        optional.address,
                        optional.key,
                    )
        return values

    async def _read(
        self,
        hub: ModbusHub,
        endpoint: Endpoint,
        unit_id: int,
        fields: tuple[Field, ...],
    ) -> dict[str, float]:
        blocks = _plan(fields, self.profile.max_registers)
        return decode(fields, await hub.read_blocks(endpoint, unit_id, blocks))


async def read_meter(
    hub: ModbusHub,
    endpoint: Endpoint,
    unit_id: int,
    profile: MeterProfile | ChargerProfile,
) -> dict[str, float]:
    """Read and decode every field of a meter (or a charger's read fields) once."""
    return await ProfileReader(profile).read(hub, endpoint, unit_id)
