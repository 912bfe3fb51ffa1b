"""Declarative register maps of the meters and chargers we can read over Modbus.

Every device is one table of fields; the codec and transport read any table the
same way, so adding a device never adds a code branch. Addresses are 0-based
protocol addresses (the "30001 + n" / "40001 + n" numbers in datasheets are
1-based). Meter values use the engine's reading keys, in W / V / A / kWh / Hz,
import positive.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from custom_components.stekker.engine.readings import (
    EXPORT_KWH,
    FREQUENCY,
    IMPORT_KWH,
    POWER,
    phase_key,
)

HOLDING: Final = 3
INPUT: Final = 4
MAX_READ_REGISTERS: Final = 125  # Modbus limit for one FC3/FC4 read


class DataType(StrEnum):
    """Encoding of one value on the wire."""

    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def registers(self) -> int:
        """Number of 16-bit registers the value occupies."""
        return _REGISTERS[self]


_REGISTERS: Final = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
}


class WordOrder(StrEnum):
    """Order of the 16-bit words of a multi-register value (bytes are always big-endian)."""

    BIG = "big"
    LITTLE = "little"  # low word first


@dataclass(frozen=True, slots=True)
class Field:
    """One value in a device's register map: value = raw * scale."""

    key: str
    function: int
    address: int
    dtype: DataType
    word_order: WordOrder = WordOrder.BIG
    scale: float = 1.0
    # A register some variants of the device lack (they answer exception 2):
    # read apart when a block fails, dropped once the device says it has none.
    optional: bool = False
    # The vendor marks "not available" with all ones (unsigned) or the signed
    # maximum (0x7FFF...): such a value is dropped, never taken as a number.
    max_means_absent: bool = False

    def __post_init__(self) -> None:
        if self.function not in (HOLDING, INPUT):
            raise ValueError(
                f"{self.key}: function must be 3 or 4, not {self.function}"
            )
        if not 0 <= self.address <= 0x10000 - self.count:
            raise ValueError(f"{self.key}: address {self.address} out of range")
        if not (self.scale and abs(self.scale) < float("inf")):
            raise ValueError(f"{self.key}: scale must be finite and non-zero")

    @property
    def count(self) -> int:
        """Number of registers the field occupies."""
        return self.dtype.registers


# Vendors as their devices are shown in Home Assistant, by the prefix of a profile's name.
_MANUFACTURERS: Final = {
    "Eastron": "Eastron",
    "Carlo Gavazzi": "Carlo Gavazzi",
    "ABB": "ABB",
    "Schneider": "Schneider Electric",
    "Shelly": "Shelly",
    "Alfen": "Alfen",
}


def manufacturer_and_model(name: str) -> tuple[str | None, str]:
    """A profile's name split into its vendor and the model: "Eastron SDM630" ->
    ("Eastron", "SDM630")."""
    for prefix, manufacturer in _MANUFACTURERS.items():
        if name.startswith(f"{prefix} "):
            return manufacturer, name.removeprefix(f"{prefix} ")
    return None, name


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """How to read one energy meter model."""

    key: str
    name: str
    phases: Literal[1, 3]
    fields: tuple[Field, ...]
    default_unit_id: int = 1
    max_registers: int = MAX_READ_REGISTERS  # some meters refuse longer reads
    # Currents carry the sign of the power (negative while exporting).
    signed_currents: bool = False
    # Translation key of the likely cause when a required register answers
    # exception 2 (illegal address), e.g. a variant with another map.
    absent_hint: str | None = None


@dataclass(frozen=True, slots=True)
class ChargerProfile:
    """How to read and drive one charger model over Modbus."""

    key: str
    name: str
    unit_ids: str  # which unit id addresses what, for the installer
    setpoint: Field  # writable current limit; its scale makes the value amperes
    setpoint_unit: Literal["A", "mA"]  # what the register itself holds
    fields: tuple[Field, ...]
    default_unit_id: int = 1
    max_registers: int = MAX_READ_REGISTERS
    # Unit ids that address the station itself, not a socket: refused.
    station_unit_ids: frozenset[int] = frozenset()


_F32 = DataType.FLOAT32
_LOW = WordOrder.LITTLE
_PHASES = ("l1", "l2", "l3")


def _per_phase(
    quantity: str,
    function: int,
    first: int,
    step: int,
    dtype: DataType,
    *,
    word_order: WordOrder = WordOrder.BIG,
    scale: float = 1.0,
    max_means_absent: bool = False,
) -> tuple[Field, ...]:
    """Fields for L1..L3 of one quantity laid out at a fixed register step."""
    return tuple(
        Field(
            phase_key(quantity, phase),
            function,
            first + i * step,
            dtype,
            word_order,
            scale,
            max_means_absent=max_means_absent,
        )
        for i, phase in enumerate(_PHASES)
    )


# Eastron SDM630 v2 and SDM72D-M v2 share one input-register map (Eastron's
# "SDM630 Modbus protocol" and "SDM72D-M-2 user manual" register tables).
_EASTRON_3P: Final = (
    *_per_phase("voltage", INPUT, 0x00, 2, _F32),
    *_per_phase("current", INPUT, 0x06, 2, _F32),
    *_per_phase("power", INPUT, 0x0C, 2, _F32),
    Field(POWER, INPUT, 0x34, _F32),
    Field(FREQUENCY, INPUT, 0x46, _F32),
    Field(IMPORT_KWH, INPUT, 0x48, _F32),
    Field(EXPORT_KWH, INPUT, 0x4A, _F32),
)

# Carlo Gavazzi EM24, EM24_E1 and EM330/EM340 share the measurement layout
# (int32 low word first). In bidirectional mode currents and powers carry the
# sign (negative while exporting); in "easy connection" mode they are positive.
_GAVAZZI_3P: Final = (
    *_per_phase("voltage", INPUT, 0x00, 2, DataType.INT32, word_order=_LOW, scale=0.1),
    *_per_phase(
        "current", INPUT, 0x0C, 2, DataType.INT32, word_order=_LOW, scale=0.001
    ),
    *_per_phase("power", INPUT, 0x12, 2, DataType.INT32, word_order=_LOW, scale=0.1),
    Field(POWER, INPUT, 0x28, DataType.INT32, _LOW, 0.1),
)

# Carlo Gavazzi EM24-DIN, RS-485 map: "EM24-DIN PFA, PFB & X models
# communication protocol" (v4 r0), table of instantaneous variables and meters.
# Total kWh(+) is at 0x3E here (0x34 holds power factors); kWh(-) at 0x5C is
# missing on some variants (exception 2). At most 11 registers per read.
_EM24: Final = (
    *_GAVAZZI_3P,
    Field(FREQUENCY, INPUT, 0x37, DataType.INT16, scale=0.1),
    Field(IMPORT_KWH, INPUT, 0x3E, DataType.INT32, _LOW, 0.1),
    Field(EXPORT_KWH, INPUT, 0x5C, DataType.INT32, _LOW, 0.1, optional=True),
)

# Carlo Gavazzi EM24_E1 (Ethernet): "EM24_E1 communication protocol" (v0 r1.3),
# section 2.3.1, and the EM330/EM340: "EM330/EM340/ET330/ET340 communication
# protocol", table of instantaneous variables: frequency 0x33 (int16),
# kWh(+) TOT 0x34, kWh(-) TOT 0x4E. Reads are kept within 20 registers.
_GAVAZZI_E1: Final = (
    *_GAVAZZI_3P,
    Field(FREQUENCY, INPUT, 0x33, DataType.INT16, scale=0.1),
    Field(IMPORT_KWH, INPUT, 0x34, DataType.INT32, _LOW, 0.1),
    Field(EXPORT_KWH, INPUT, 0x4E, DataType.INT32, _LOW, 0.1, optional=True),
)

# ABB B23/B24: "B23/B24 user manual", Modbus mapping tables (holding, big-endian).
# A quantity the meter does not have (export on an import-only meter) reads all
# ones (unsigned) or the signed maximum: not available.
_ABB_B23: Final = (
    *_per_phase(
        "voltage", HOLDING, 0x5B00, 2, DataType.UINT32, scale=0.1, max_means_absent=True
    ),
    *_per_phase(
        "current",
        HOLDING,
        0x5B0C,
        2,
        DataType.UINT32,
        scale=0.01,
        max_means_absent=True,
    ),
    Field(POWER, HOLDING, 0x5B14, DataType.INT32, scale=0.01, max_means_absent=True),
    *_per_phase(
        "power", HOLDING, 0x5B16, 2, DataType.INT32, scale=0.01, max_means_absent=True
    ),
    Field(
        FREQUENCY, HOLDING, 0x5B2C, DataType.UINT16, scale=0.01, max_means_absent=True
    ),
    Field(
        IMPORT_KWH, HOLDING, 0x5000, DataType.UINT64, scale=0.01, max_means_absent=True
    ),
    Field(
        EXPORT_KWH, HOLDING, 0x5004, DataType.UINT64, scale=0.01, max_means_absent=True
    ),
)

# Schneider iEM3155: "iEM3100/iEM3200 user manual", Modbus register list
# (registers 3000.., 1-based in the manual); power in kW, energy int64 Wh.
_IEM3155: Final = (
    *_per_phase("current", HOLDING, 0x0BB7, 2, _F32),
    *_per_phase("voltage", HOLDING, 0x0BD3, 2, _F32),
    *_per_phase("power", HOLDING, 0x0BED, 2, _F32, scale=1000.0),
    Field(POWER, HOLDING, 0x0BF3, _F32, scale=1000.0),
    Field(IMPORT_KWH, HOLDING, 0x0C83, DataType.INT64, scale=0.001),
    Field(EXPORT_KWH, HOLDING, 0x0C87, DataType.INT64, scale=0.001),
)

# Shelly Pro 3EM: Shelly Gen2 API documentation, EM and EMData components'
# Modbus tables (input registers, float32 low word first, energy in Wh).
_SHELLY_PRO_3EM: Final = (
    Field(POWER, INPUT, 1013, _F32, _LOW),
    *_per_phase("voltage", INPUT, 1020, 20, _F32, word_order=_LOW),
    *_per_phase("current", INPUT, 1022, 20, _F32, word_order=_LOW),
    *_per_phase("power", INPUT, 1024, 20, _F32, word_order=_LOW),
    Field(IMPORT_KWH, INPUT, 1162, _F32, _LOW, 0.001),
    Field(EXPORT_KWH, INPUT, 1164, _F32, _LOW, 0.001),
)

# Eastron SDM72D-M (v1): "SDM72D-M user manual", Modbus register table: only
# total power, import and export; no per-phase values, no frequency.
_SDM72D_M_V1: Final = (
    Field(POWER, INPUT, 0x34, _F32),
    Field(IMPORT_KWH, INPUT, 0x48, _F32),
    Field(EXPORT_KWH, INPUT, 0x4A, _F32),
)

# Eastron SDM120: "SDM120 Modbus protocol" (single phase; the phase power is the total).
_SDM120: Final = (
    Field(phase_key("voltage", "l1"), INPUT, 0x00, _F32),
    Field(phase_key("current", "l1"), INPUT, 0x06, _F32),
    Field(phase_key("power", "l1"), INPUT, 0x0C, _F32),
    Field(POWER, INPUT, 0x0C, _F32),
    Field(FREQUENCY, INPUT, 0x46, _F32),
    Field(IMPORT_KWH, INPUT, 0x48, _F32),
    Field(EXPORT_KWH, INPUT, 0x4A, _F32),
)

METER_PROFILES: Final[Mapping[str, MeterProfile]] = MappingProxyType(
    {
        p.key: p
        for p in (
            MeterProfile("sdm630", "Eastron SDM630", 3, _EASTRON_3P),
            MeterProfile(
                "sdm72d_m_v2",
                "Eastron SDM72D-M v2",
                3,
                _EASTRON_3P,
                absent_hint="hint_sdm72d_m_v1",
            ),
            MeterProfile("sdm72d_m_v1", "Eastron SDM72D-M v1", 3, _SDM72D_M_V1),
            MeterProfile("sdm120", "Eastron SDM120", 1, _SDM120),
            MeterProfile(
                "em24",
                "Carlo Gavazzi EM24 RS-485",
                3,
                _EM24,
                max_registers=11,
                signed_currents=True,
            ),
            MeterProfile(
                "em24_e1",
                "Carlo Gavazzi EM24 Ethernet",
                3,
                _GAVAZZI_E1,
                max_registers=20,
                signed_currents=True,
            ),
            MeterProfile(
                "em340",
                "Carlo Gavazzi EM340",
                3,
                _GAVAZZI_E1,
                max_registers=20,
                signed_currents=True,
            ),
            MeterProfile("abb_b23", "ABB B23/B24", 3, _ABB_B23),
            MeterProfile("iem3155", "Schneider iEM3155", 3, _IEM3155),
            MeterProfile(
                "shelly_pro_3em",
                "Shelly Pro 3EM",
                3,
                _SHELLY_PRO_3EM,
                absent_hint="hint_shelly_monophase",
            ),
        )
    }
)

# Charger read keys beyond the meter keys.
ENERGY_KWH: Final = "energy_kwh"  # energy the charger delivered in its lifetime
SESSION_ENERGY_KWH: Final = "session_energy_kwh"  # energy of the current session
VALID_TIME_S: Final = "valid_time_s"  # seconds before the charger falls back
SAFE_CURRENT_A: Final = "safe_current_a"  # current it falls back to
SETPOINT_A: Final = "setpoint_a"  # setpoint as the charger reads it back
SETPOINT_ACCOUNTED: Final = "setpoint_accounted"  # 1 if the setpoint is applied
PHASES: Final = "phases"  # 1 or 3
CHARGING_STATE: Final = "charging_state"  # device-specific state code
MODE3_STATE: Final = "mode3_state"  # IEC 61851 state as two ASCII characters

# Alfen Eve (NG9xx): "Implementation of Modbus Slave TCP/IP for Alfen NG9xx
# platform" socket registers; everything is FC3, floats big-endian.
_ALFEN: Final = ChargerProfile(
    key="alfen_eve",
    name="Alfen Eve",
    unit_ids="1 = socket 1, 2 = socket 2 (200 is the station: no socket registers)",
    setpoint=Field(SETPOINT_A, HOLDING, 1210, _F32),
    setpoint_unit="A",
    fields=(
        *_per_phase("current", HOLDING, 320, 2, _F32),
        Field(POWER, HOLDING, 344, _F32),
        Field(ENERGY_KWH, HOLDING, 374, DataType.FLOAT64, scale=0.001),
        # First register of the 5-register string ("A", "B1", "C2", ...).
        Field(MODE3_STATE, HOLDING, 1201, DataType.UINT16),
        Field(VALID_TIME_S, HOLDING, 1208, DataType.UINT32),
        Field(SETPOINT_A, HOLDING, 1210, _F32),
        Field(SAFE_CURRENT_A, HOLDING, 1212, _F32),
        Field(SETPOINT_ACCOUNTED, HOLDING, 1214, DataType.UINT16),
        Field(PHASES, HOLDING, 1215, DataType.UINT16),
    ),
    station_unit_ids=frozenset({200}),
)

# ABB Terra AC: "Terra AC wallbox Modbus communication" (v1.7), holding
# registers, uint32 big-endian; currents in mA, power in W, energy in Wh. The
# charging state is byte 1 bits 0-6 of 0x400C (see charger_driver.plugged_in);
# 0x401E is the energy of the current session, not a lifetime total.
_ABB_TERRA_AC: Final = ChargerProfile(
    key="abb_terra_ac",
    name="ABB Terra AC",
    unit_ids="1 = charger",
    setpoint=Field(SETPOINT_A, HOLDING, 0x4100, DataType.UINT32, scale=0.001),
    setpoint_unit="mA",
    fields=(
        Field(CHARGING_STATE, HOLDING, 0x400C, DataType.UINT32),
        Field(SETPOINT_A, HOLDING, 0x400E, DataType.UINT32, scale=0.001),
        *_per_phase("current", HOLDING, 0x4010, 2, DataType.UINT32, scale=0.001),
        Field(POWER, HOLDING, 0x401C, DataType.UINT32),
        Field(SESSION_ENERGY_KWH, HOLDING, 0x401E, DataType.UINT32, scale=0.001),
    ),
)

CHARGER_PROFILES: Final[Mapping[str, ChargerProfile]] = MappingProxyType(
    {p.key: p for p in (_ALFEN, _ABB_TERRA_AC)}
)
