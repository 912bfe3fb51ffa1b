"""DSMR P1 telegrams served on 127.0.0.1, as a P1-to-network adapter does.

Telegrams are written here from the standards, not from any parser: the Dutch
"P1 Companion Standard" (Netbeheer Nederland; 5.0.2 for DSMR 5, 4.2.2 for
DSMR 4: telegram layout, OBIS data objects, CRC) and the Belgian Fluvius
"e-MUCS P1" (1-0:1.4.0 running quarter-hour average demand, 1-0:1.6.0 month
peak with its time). A telegram ends with ``!`` and a CRC16 over everything
from ``/`` to ``!`` inclusive: polynomial x^16 + x^15 + x^2 + 1, bits
reflected (0xA001), start value 0, as four hex digits.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

PHASE_CODES = {"l1": (21, 22, 31, 32), "l2": (41, 42, 51, 52), "l3": (61, 62, 71, 72)}
NL_SERIAL_HEX = "4530303434303037313331363530363137"  # "E0044007131650617"
BE_SERIAL_HEX = "3153414733313031303231363035"  # "1SAG3101021605"


def crc16(data: bytes) -> int:
    """CRC-16 of the P1 standard (section 6.12)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True, slots=True)
class PhaseValues:
    """What the meter measures on one phase: kW consumed and produced, A, V."""

    import_kw: float = 0.0
    export_kw: float = 0.0
    current_a: float = 0.0
    voltage_v: float = 230.0


@dataclass(frozen=True, slots=True)
class MeterState:
    """One telegram's worth of values; totals are the sum of the phases."""

    phases: Mapping[str, PhaseValues]
    time: datetime
    quarter_hour_kw: float = 0.0  # Belgium only
    month_peak_kw: float = 0.0
    energy_kwh: tuple[float, float, float, float] = (1234.5, 2345.6, 123.4, 234.5)


def telegram(state: MeterState, *, belgian: bool = False, dsmr4: bool = False) -> bytes:
    """A complete DSMR 5 (or 5B, or 4.2) telegram with its CRC."""
    stamp = state.time.strftime("%y%m%d%H%M%S") + "W"
    t1, t2, r1, r2 = state.energy_kwh
    # 1-0:1.7.0 and 2.7.0 are the totals netted over the phases.
    net_kw = sum(p.import_kw - p.export_kw for p in state.phases.values())
    import_kw, export_kw = max(0.0, net_kw), max(0.0, -net_kw)
    if belgian:
        lines = [
            "/FLU5\\253769484_A",
            "",
            "0-0:96.1.4(50217)",
            f"0-0:96.1.1({BE_SERIAL_HEX})",
            f"0-0:1.0.0({stamp})",
        ]
    else:
        lines = [
            "/KFM5KAIFA-METER" if dsmr4 else "/ISK5\\2M550T-1012",
            "",
            f"1-3:0.2.8({42 if dsmr4 else 50})",
            f"0-0:1.0.0({stamp})",
            f"0-0:96.1.1({NL_SERIAL_HEX})",
        ]
    lines += [
        f"1-0:1.8.1({t1:010.3f}*kWh)",
        f"1-0:1.8.2({t2:010.3f}*kWh)",
        f"1-0:2.8.1({r1:010.3f}*kWh)",
        f"1-0:2.8.2({r2:010.3f}*kWh)",
        "0-0:96.14.0(0001)",
    ]
    if belgian:
        lines += [
            f"1-0:1.4.0({state.quarter_hour_kw:06.3f}*kW)",
            f"1-0:1.6.0({stamp[:-1]}S)({state.month_peak_kw:06.3f}*kW)",
        ]
    lines += [f"1-0:1.7.0({import_kw:06.3f}*kW)", f"1-0:2.7.0({export_kw:06.3f}*kW)"]
    for phase, (plus, minus, amps, volts) in PHASE_CODES.items():
        values = state.phases.get(phase, PhaseValues())
        # NL meters give whole amperes (F3(0,0)), Belgian ones two decimals.
        current = (
            f"{values.current_a:06.2f}" if belgian else f"{int(values.current_a):03d}"
        )
        if not dsmr4:  # DSMR 4 telegrams carry no phase voltages
            lines.append(f"1-0:{volts}.7.0({values.voltage_v:05.1f}*V)")
        lines += [
            f"1-0:{amps}.7.0({current}*A)",
            f"1-0:{plus}.7.0({values.import_kw:06.3f}*kW)",
            f"1-0:{minus}.7.0({values.export_kw:06.3f}*kW)",
        ]
    body = ("\r\n".join(lines) + "\r\n!").encode("ascii")
    return body + f"{crc16(body):04X}\r\n".encode("ascii")


@dataclass
class P1Stream:
    """A TCP server on 127.0.0.1 sending each telegram to every connected reader."""

    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    joined: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.writers.append(writer)
            self.joined.set()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)

    async def wait_readers(self, count: int = 1) -> None:
        """Until ``count`` readers are connected (a reloaded one connects again)."""
        while len([w for w in self.writers if not w.is_closing()]) < count:
            self.joined.clear()
            await asyncio.wait_for(self.joined.wait(), 10)

    async def send(self, data: bytes) -> None:
        """Write to every reader; one that went away (a reload) is dropped."""
        for writer in list(self.writers):
            if writer.is_closing():
                self.writers.remove(writer)
                continue
            writer.write(data)
            try:
                await writer.drain()
            except ConnectionError:
                self.writers.remove(writer)

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
