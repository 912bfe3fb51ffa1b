"""The grid limit from a schedule of time blocks: hand-worked cases and the
property that a schedule only ever lowers the GTV."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.grid_limit import (
    ENTITY_HOLD,
    HeldLimit,
    LimitBlock,
    ScheduleError,
    held_limit,
    limit_at,
    lowest_between,
    parse_schedule,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2026, 11, 30, tzinfo=AMSTERDAM)


def at(days: int, hours: float) -> datetime:
    return MONDAY + timedelta(days=days, hours=hours)


def test_parse_days_times_and_units() -> None:
    blocks = parse_schedule(
        "mon-fri 07:00-09:00 20\n16:00 - 21:00 15,5 kW; sat,sun 00:00-24:00 30kW\n\n"
        "fri-mon 22:00-06:00 10"
    )
    assert blocks == (
        LimitBlock(frozenset(range(5)), 420, 540, 20.0),
        LimitBlock(frozenset(range(7)), 960, 1260, 15.5),
        LimitBlock(frozenset({5, 6}), 0, 1440, 30.0),
        LimitBlock(frozenset({4, 5, 6, 0}), 1320, 1800, 10.0),
    )


@pytest.mark.parametrize(
    "line",
    [
        "07:00-09:00",  # no kW
        "7-9 20",  # no minutes
        "mon-fry 07:00-09:00 20",  # no such day
        "07:00-09:60 20",  # no such minute
        "07:00-25:00 20",  # no such hour
        "24:00-02:00 20",  # starts at the day's end
        "09:00-09:00 20",  # empty
        "07:00-09:00 -5",  # negative
        "07:00-09:00 20 A",  # not kW
    ],
)
def test_bad_lines_are_named(line: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_schedule(f"08:00-09:00 10\n{line}")
    assert err.value.line == line


def test_limit_at_worked_example() -> None:
    blocks = parse_schedule(
        "mon-fri 07:00-09:00 20\n08:30-10:00 25\nfri 22:00-06:00 10"
    )
    gtv = 50.0
    assert limit_at(blocks, at(0, 6.99), gtv) == 50.0
    assert limit_at(blocks, at(0, 7.0), gtv) == 20.0
    assert limit_at(blocks, at(0, 8.75), gtv) == 20.0  # overlap: the lowest
    assert limit_at(blocks, at(0, 9.0), gtv) == 25.0  # 07:00-09:00 has ended
    assert limit_at(blocks, at(5, 8.0), gtv) == 50.0  # Saturday: no 07:00 block
    assert limit_at(blocks, at(5, 8.5), gtv) == 25.0  # ... the every-day one
    assert limit_at(blocks, at(4, 23.0), gtv) == 10.0  # Friday night
    assert limit_at(blocks, at(5, 5.99), gtv) == 10.0  # ... into Saturday
    assert limit_at(blocks, at(5, 6.0), gtv) == 50.0
    assert limit_at(blocks, at(0, 1.0), gtv) == 50.0  # Monday night: no block
    assert limit_at(parse_schedule(""), at(0, 0), gtv) == 50.0  # empty


def test_lowest_between_sees_a_block_starting_inside_the_slot() -> None:
    blocks = parse_schedule("07:10-07:20 12")
    assert lowest_between(blocks, at(0, 7.0), at(0, 7.25), 50.0) == 12.0
    assert lowest_between(blocks, at(0, 6.75), at(0, 7.0), 50.0) == 50.0
    assert lowest_between(blocks, at(0, 7 + 20 / 60), at(0, 7.5), 50.0) == 50.0


def test_a_block_above_the_gtv_does_not_raise_it() -> None:
    assert limit_at(parse_schedule("00:00-24:00 80"), at(2, 12.0), 50.0) == 50.0


@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(0, 1439),
            st.integers(1, 1440),
            st.floats(0.0, 200.0),
        ),
        max_size=6,
    ),
    st.floats(1.0, 100.0),
    st.integers(0, 7 * 24 * 60 - 1),
)
def test_never_above_the_gtv_and_the_slot_minimum_covers_its_start(
    raw: list[tuple[int, int, int, float]], gtv: float, minute: int
) -> None:
    blocks = [LimitBlock(frozenset({d}), s, s + n, kw) for d, s, n, kw in raw]
    when = MONDAY + timedelta(minutes=minute)
    now = limit_at(blocks, when, gtv)
    assert now <= gtv
    assert lowest_between(blocks, when, when + timedelta(minutes=15), gtv) <= now


T0 = datetime(2026, 11, 30, 12, tzinfo=ZoneInfo("UTC"))


def test_a_signal_without_a_value_holds_its_last_one_a_quarter_hour() -> None:
    kw, last = held_limit(30.0, None, T0)
    assert (kw, last) == (30.0, HeldLimit(30.0, T0))
    for after, expected in (
        (timedelta(minutes=14, seconds=59), 30.0),
        (ENTITY_HOLD, None),
    ):
        kw, kept = held_limit(None, last, T0 + after)
        assert (kw, kept) == (expected, last)  # the hold counts from the last value
    assert held_limit(None, None, T0) == (None, None)
    # A read at an earlier time (another reader's clock) never moves it back.
    assert held_limit(31.0, last, T0 - timedelta(seconds=5)) == (
        31.0,
        HeldLimit(31.0, T0),
    )


@given(
    reads=st.lists(
        st.tuples(
            st.integers(0, 3600), st.none() | st.floats(0.0, 100.0, allow_nan=False)
        ),
        max_size=30,
    )
)
def test_a_held_value_is_the_last_value_read_and_never_outlives_the_hold(
    reads: list[tuple[int, float | None]],
) -> None:
    last: HeldLimit | None = None
    seen: tuple[datetime, float] | None = None
    for offset, read in sorted(reads, key=lambda r: r[0]):
        now = T0 + timedelta(seconds=offset)
        kw, last = held_limit(read, last, now)
        if read is not None:
            seen = (now, read)
            assert kw == read
        elif seen is None or now - seen[0] >= ENTITY_HOLD:
            assert kw is None
        else:
            assert kw == seen[1]
