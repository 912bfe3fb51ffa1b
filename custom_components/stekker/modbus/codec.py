"""Pure register arithmetic: which blocks to read, and words <-> values.

Kept free of I/O so it can be property-tested exhaustively; the transport and
the simulator both use it, so a profile that decodes also encodes.
"""

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .profiles import MAX_READ_REGISTERS, DataType, Field, WordOrder

_FORMAT: Final = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}
_FLOATS: Final = frozenset({DataType.FLOAT32, DataType.FLOAT64})


class CodecError(ValueError):
    """Registers and fields do not fit together (missing block, wrong length, out of range)."""


@dataclass(frozen=True, slots=True, order=True)
class Block:
    """One contiguous read: function code, first register, register count."""

    function: int
    address: int
    count: int

    @property
    def end(self) -> int:
        """First register after the block."""
        return self.address + self.count

    def holds(self, field: Field) -> bool:
        """Whether the field lies entirely inside this block."""
        return (
            field.function == self.function
            and self.address <= field.address
            and field.address + field.count <= self.end
        )


def plan_blocks(
    fields: Iterable[Field], max_registers: int = MAX_READ_REGISTERS
) -> tuple[Block, ...]:
    """Fewest reads covering every field, never splitting a field across reads.

    Fields that touch or overlap share a read until it would exceed
    ``max_registers``; greedy filling in address order gives the fewest reads
    when fields do not overlap. Gaps are never read: unmapped registers make
    some devices answer with an exception.
    """
    if not 1 <= max_registers <= MAX_READ_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MAX_READ_REGISTERS}")
    ordered = sorted(fields, key=lambda f: (f.function, f.address, f.count))
    blocks: list[Block] = []
    current: Block | None = None
    for field in ordered:
        if field.count > max_registers:
            raise ValueError(f"{field.key} is wider than {max_registers} registers")
        end = field.address + field.count
        if (
            current is not None
            and current.function == field.function
            and field.address <= current.end
            and max(end, current.end) - current.address <= max_registers
        ):
            current = Block(
                current.function,
                current.address,
                max(end, current.end) - current.address,
            )
        else:
            if current is not None:
                blocks.append(current)
            current = Block(field.function, field.address, field.count)
    if current is not None:
        blocks.append(current)
    return tuple(sorted(blocks))


def decode_value(field: Field, words: Sequence[int]) -> float:
    """Value of one field from exactly its own registers, in wire order."""
    if len(words) != field.count:
        raise CodecError(f"{field.key}: {len(words)} registers, expected {field.count}")
    ordered = list(words) if field.word_order is WordOrder.BIG else list(words)[::-1]
    try:
        raw_bytes = struct.pack(f">{field.count}H", *ordered)
    except struct.error as err:
        raise CodecError(f"{field.key}: register value out of 0..65535") from err
    (raw,) = struct.unpack(f">{_FORMAT[field.dtype]}", raw_bytes)
    return float(raw) * field.scale


_SIGNED_INTS: Final = frozenset({DataType.INT16, DataType.INT32, DataType.INT64})


def means_absent(field: Field, words: Sequence[int]) -> bool:
    """Whether the words are the field's vendor pattern for "not available".

    All ones (an unsigned field) or the signed maximum (0x7FFF FFFF...), in the
    field's word order; for a signed field all ones is -1, a true value.
    """
    if not field.max_means_absent:
        return False
    ordered = list(words) if field.word_order is WordOrder.BIG else list(words)[::-1]
    signed_max = [0x7FFF] + [0xFFFF] * (field.count - 1)
    if ordered == signed_max:
        return True
    return field.dtype not in _SIGNED_INTS and all(w == 0xFFFF for w in ordered)


def decode(
    fields: Iterable[Field], data: Mapping[Block, Sequence[int]]
) -> dict[str, float]:
    """Values of all fields from the words read per block.

    NaN and infinities come through unchanged: deciding that a value cannot be
    true is the engine's job, and turning it into a number here would hide it.
    A field whose vendor marks it "not available" (``max_means_absent``) is
    left out, as if the device had no such register.
    """
    for given, words in data.items():
        if len(words) != given.count:
            raise CodecError(f"{given}: got {len(words)} registers")
    values: dict[str, float] = {}
    for field in fields:
        block = next((b for b in data if b.holds(field)), None)
        if block is None:
            raise CodecError(
                f"{field.key}: no block holds registers {field.address}+{field.count}"
            )
        offset = field.address - block.address
        words = data[block][offset : offset + field.count]
        if not means_absent(field, words):
            values[field.key] = decode_value(field, words)
    return values


def encode(field: Field, value: float) -> list[int]:
    """Registers, in wire order, that decode to ``value`` (integers are rounded)."""
    raw = value / field.scale
    fmt = _FORMAT[field.dtype]
    try:
        if field.dtype in _FLOATS:
            packed = struct.pack(f">{fmt}", raw)
        elif not math.isfinite(raw):
            raise CodecError(
                f"{field.key}: {value!r} is not a number for {field.dtype}"
            )
        else:
            packed = struct.pack(f">{fmt}", round(raw))
    except (struct.error, OverflowError) as err:
        raise CodecError(f"{field.key}: {value!r} does not fit {field.dtype}") from err
    words = list(struct.unpack(f">{field.count}H", packed))
    return words if field.word_order is WordOrder.BIG else words[::-1]
