"""Codec: block planning and word <-> value conversion, property-tested."""

import itertools
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.modbus.codec import (
    Block,
    CodecError,
    decode,
    decode_value,
    encode,
    plan_blocks,
)
from custom_components.stekker.modbus.profiles import (
    METER_PROFILES,
    DataType,
    Field,
    WordOrder,
)

INT_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
FLOATS = (DataType.FLOAT32, DataType.FLOAT64)
orders = st.sampled_from(WordOrder)


def field(
    dtype: DataType, order: WordOrder = WordOrder.BIG, scale: float = 1.0
) -> Field:
    return Field("x", 3, 100, dtype, order, scale)


EXACT = 2**53  # values are floats: 64-bit counters are exact up to here


@st.composite
def int_cases(draw: st.DrawFn) -> tuple[Field, int]:
    dtype = draw(st.sampled_from(list(INT_RANGES)))
    low, high = INT_RANGES[dtype]
    return field(dtype, draw(orders)), draw(
        st.integers(max(low, -EXACT), min(high, EXACT))
    )


@given(int_cases())
def test_integers_round_trip(case: tuple[Field, int]) -> None:
    f, raw = case
    words = encode(f, raw)
    assert len(words) == f.count
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_value(f, words) == raw


@given(
    st.sampled_from(list(INT_RANGES)),
    orders,
    st.sampled_from([0.001, 0.01, 0.1, 10.0, 1000.0]),
    st.integers(-(2**15), 2**15 - 1),
)
def test_scaled_integers_round_trip(
    dtype: DataType, order: WordOrder, scale: float, raw: int
) -> None:
    low, _ = INT_RANGES[dtype]
    raw = abs(raw) if low == 0 else raw
    f = field(dtype, order, scale)
    value = raw * scale
    words = encode(f, value)
    assert words == encode(field(dtype, order), raw)
    assert decode_value(f, words) == pytest.approx(value, rel=1e-12, abs=1e-12)


@given(orders, st.floats(width=32, allow_nan=False))
def test_float32_round_trip(order: WordOrder, value: float) -> None:
    f = field(DataType.FLOAT32, order)
    assert decode_value(f, encode(f, value)) == value


@given(orders, st.floats(allow_nan=False))
def test_float64_round_trip(order: WordOrder, value: float) -> None:
    f = field(DataType.FLOAT64, order)
    assert decode_value(f, encode(f, value)) == value


@given(st.data())
def test_any_words_decode_and_encode_back(data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from(DataType))
    f = field(dtype, data.draw(orders))
    words = data.draw(
        st.lists(st.integers(0, 0xFFFF), min_size=f.count, max_size=f.count)
    )
    value = decode_value(f, words)
    if math.isnan(value):  # NaN payloads need not survive a trip through a float
        assert dtype in FLOATS
        assert math.isnan(decode_value(f, encode(f, value)))
    elif abs(value) <= EXACT or dtype in FLOATS:
        assert encode(f, value) == words
    elif value > INT_RANGES[dtype][1]:  # the float rounded up past the type's top
        with pytest.raises(CodecError):
            encode(f, value)
    else:  # a huge 64-bit counter survives to float precision
        assert decode_value(f, encode(f, value)) == value


def test_word_order_on_known_values() -> None:
    assert encode(field(DataType.INT32), 0x12345678) == [0x1234, 0x5678]
    assert encode(field(DataType.INT32, WordOrder.LITTLE), 0x12345678) == [
        0x5678,
        0x1234,
    ]
    # 230.0 V as an Eastron meter sends it.
    assert decode_value(field(DataType.FLOAT32), [0x4366, 0x0000]) == 230.0
    assert (
        decode_value(field(DataType.FLOAT32, WordOrder.LITTLE), [0x0000, 0x4366])
        == 230.0
    )
    assert decode_value(field(DataType.INT16), [0xFFFF]) == -1
    assert decode_value(field(DataType.UINT16), [0xFFFF]) == 0xFFFF


@pytest.mark.parametrize("order", list(WordOrder))
def test_nan_and_infinity_are_kept(order: WordOrder) -> None:
    nan32 = [0x7FC0, 0x0000] if order is WordOrder.BIG else [0x0000, 0x7FC0]
    assert math.isnan(decode_value(field(DataType.FLOAT32, order), nan32))
    for dtype in FLOATS:
        f = field(dtype, order, scale=0.001)
        assert decode_value(f, encode(f, math.inf)) == math.inf
        assert decode_value(f, encode(f, -math.inf)) == -math.inf
        assert math.isnan(decode_value(f, encode(f, math.nan)))


def test_encode_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(CodecError):
        encode(field(DataType.UINT16), -1)
    with pytest.raises(CodecError):
        encode(field(DataType.INT16), 40_000)
    with pytest.raises(CodecError):
        encode(field(DataType.INT32, scale=0.1), math.nan)
    with pytest.raises(CodecError):
        encode(field(DataType.UINT64), math.inf)
    with pytest.raises(CodecError):
        encode(field(DataType.FLOAT32), 1e39)


def test_decode_rejects_bad_words() -> None:
    with pytest.raises(CodecError):
        decode_value(field(DataType.INT32), [1])
    with pytest.raises(CodecError):
        decode_value(field(DataType.UINT16), [0x10000])


def test_decode_needs_a_block_of_the_right_length() -> None:
    volts = Field("v", 4, 10, DataType.FLOAT32)
    amps = Field("a", 4, 12, DataType.FLOAT32)
    block = Block(4, 10, 4)
    assert decode([volts, amps], {block: [0x4366, 0, 0x4120, 0]}) == {
        "v": 230.0,
        "a": 10.0,
    }
    with pytest.raises(CodecError, match="got 3"):
        decode([volts], {block: [0x4366, 0, 0]})
    with pytest.raises(CodecError, match="no block"):
        decode([volts], {Block(3, 10, 4): [0, 0, 0, 0]})
    with pytest.raises(CodecError, match="no block"):
        decode([amps], {Block(4, 10, 3): [0, 0, 0]})


def test_field_validation() -> None:
    with pytest.raises(ValueError, match="function"):
        Field("x", 1, 0, DataType.INT16)
    with pytest.raises(ValueError, match="address"):
        Field("x", 3, 0xFFFF, DataType.INT32)
    with pytest.raises(ValueError, match="scale"):
        Field("x", 3, 0, DataType.INT16, scale=0.0)
    with pytest.raises(ValueError, match="scale"):
        Field("x", 3, 0, DataType.INT16, scale=math.inf)
    assert [d.registers for d in DataType] == [1, 1, 2, 2, 4, 4, 2, 4]


# --- planning -------------------------------------------------------------


@st.composite
def field_sets(draw: st.DrawFn) -> list[Field]:
    """Realistic maps: non-overlapping fields with small gaps, both function codes."""
    fields: list[Field] = []
    for function in draw(st.sets(st.sampled_from([3, 4]), min_size=1)):
        address = draw(st.integers(0, 200))
        for i in range(draw(st.integers(1, 40))):
            dtype = draw(st.sampled_from(DataType))
            fields.append(Field(f"f{function}_{i}", function, address, dtype))
            address += dtype.registers + draw(st.sampled_from([0, 0, 0, 1, 3]))
    return fields


def fewest_blocks(fields: list[Field], max_registers: int) -> int:
    """Brute-force minimum: each read is a run of consecutive touching fields."""
    total = 0
    for function in {f.function for f in fields}:
        ordered = sorted(
            (f for f in fields if f.function == function), key=lambda f: f.address
        )
        best = [0] + [len(ordered)] * len(
            ordered
        )  # best[i]: reads for the first i fields
        for end in range(1, len(ordered) + 1):
            for start in range(end - 1, -1, -1):
                run = ordered[start:end]
                touching = all(
                    a.address + a.count == b.address for a, b in itertools.pairwise(run)
                )
                span = run[-1].address + run[-1].count - run[0].address
                if not touching or span > max_registers:
                    break
                best[end] = min(best[end], best[start] + 1)
        total += best[-1]
    return total


@given(field_sets(), st.integers(4, 125), st.randoms())
def test_plan_covers_everything_minimally(
    fields: list[Field], max_registers: int, rnd: object
) -> None:
    blocks = plan_blocks(fields, max_registers)
    assert all(any(b.holds(f) for b in blocks) for f in fields)
    assert all(1 <= b.count <= max_registers for b in blocks)
    # Gaps are never read: every register of every block belongs to a field.
    for block in blocks:
        for register in range(block.address, block.end):
            assert any(
                f.function == block.function
                and f.address <= register < f.address + f.count
                for f in fields
            )
    assert len(blocks) == fewest_blocks(fields, max_registers)
    assert list(blocks) == sorted(blocks)
    shuffled = list(fields)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert plan_blocks(shuffled, max_registers) == blocks


def test_plan_of_known_profiles() -> None:
    assert plan_blocks(METER_PROFILES["sdm630"].fields) == (
        Block(4, 0x00, 18),
        Block(4, 0x34, 2),
        Block(4, 0x46, 6),
    )
    # The EM24 refuses reads longer than 11 registers: currents and powers split.
    em24 = METER_PROFILES["em24"]
    assert plan_blocks(em24.fields, em24.max_registers)[:3] == (
        Block(4, 0x00, 6),
        Block(4, 0x0C, 10),
        Block(4, 0x16, 2),
    )


def test_plan_merges_overlapping_fields_and_splits_at_the_limit() -> None:
    power = Field("p", 4, 12, DataType.FLOAT32)
    assert plan_blocks([power, Field("q", 4, 12, DataType.FLOAT32)]) == (
        Block(4, 12, 2),
    )
    long_run = [Field(f"r{i}", 3, 2 * i, DataType.FLOAT32) for i in range(100)]
    assert plan_blocks(long_run) == (Block(3, 0, 124), Block(3, 124, 76))


def test_plan_rejects_impossible_limits() -> None:
    with pytest.raises(ValueError, match="max_registers"):
        plan_blocks([], 126)
    with pytest.raises(ValueError, match="wider"):
        plan_blocks([Field("x", 3, 0, DataType.FLOAT64)], 3)
    assert plan_blocks([]) == ()


def test_struct_formats_match_widths() -> None:
    """Guard the format table against a typo that would silently misread words."""
    for dtype in DataType:
        words = [0x0102] * dtype.registers
        packed = struct.pack(f">{dtype.registers}H", *words)
        assert len(packed) == 2 * dtype.registers
        decode_value(field(dtype), words)
