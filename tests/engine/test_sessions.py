"""The session book: energy, solar share, cost, cards and needs, kept and pruned."""

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.sessions import (
    EXPORT_COLUMNS,
    IDLE_END_S,
    KEEP_DAYS,
    MAX_GAP_S,
    MAX_SESSIONS,
    Card,
    ChargerSample,
    Session,
    SessionBook,
    departure_after,
    id_tag_valid,
    normalize_tag,
)

T0 = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
NAMES = {"a": "Charger A", "b": "Charger B"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def plugged(power_kw: float | None, counter: float | None = None) -> ChargerSample:
    return ChargerSample(connected=True, power_kw=power_kw, counter_kwh=counter)


UNPLUGGED = ChargerSample(connected=False, power_kw=0.0)


def run(
    book: SessionBook,
    samples: list[dict[str, ChargerSample]],
    step_s: float = 60.0,
    grid_kw: float | None = 5.0,
    price: float | None = None,
) -> list[Session]:
    closed = []
    for index, cycle in enumerate(samples):
        closed += book.observe(at(index * step_s), cycle, NAMES, grid_kw, price)
    return closed


def test_power_is_integrated_from_plug_in_to_plug_out() -> None:
    book = SessionBook()
    # Plugged in at 0, draws 11 kW for an hour (cycles every minute), then leaves.
    cycles = [{"a": plugged(0.0)}] + [{"a": plugged(11.0)}] * 60 + [{"a": UNPLUGGED}]
    closed = run(book, cycles)
    assert len(closed) == 1
    session = closed[0]
    assert session.start == T0
    assert session.end == at(61 * 60)
    assert session.energy_source == "power"
    assert session.energy_kwh == pytest.approx(11.0)
    assert session.peak_kw == 11.0
    assert session.charger == "Charger A"
    assert book.totals["a"] == pytest.approx(11.0)
    assert book.open == {}
    assert book.last("a") is session
    assert book.last("b") is None


def test_a_counter_wins_over_power_and_survives_a_reset() -> None:
    book = SessionBook()
    cycles = [
        {"a": plugged(7.0, 1000.0)},
        {"a": plugged(7.0, 1002.0)},
        {"a": plugged(7.0, None)},  # the counter did not read: counted later
        {"a": plugged(7.0, 1005.0)},
        {"a": plugged(7.0, 1.0)},  # replaced: counts on from the new value
        {"a": plugged(7.0, 3.5)},
        {"a": ChargerSample(connected=False, power_kw=0.0, counter_kwh=3.5)},
    ]
    (session,) = run(book, cycles)
    assert session.energy_source == "counter"
    assert session.energy_kwh == pytest.approx(5.0 + 2.5)


def test_a_long_silence_integrates_no_power_but_a_counter_counts_it() -> None:
    power = SessionBook()
    counter = SessionBook()
    for book, late in ((power, plugged(7.0)), (counter, plugged(7.0, 20.0))):
        book.observe(
            at(0),
            {"a": plugged(7.0, 10.0 if book is counter else None)},
            NAMES,
            None,
            None,
        )
        book.observe(
            at(60),
            {"a": late if book is power else plugged(7.0, 10.1)},
            NAMES,
            None,
            None,
        )
        # Home Assistant was down for an hour; the car is still there.
        book.observe(at(3660), {"a": late}, NAMES, None, None)
    assert power.open["a"].energy_kwh == pytest.approx(7.0 / 60)
    assert counter.open["a"].energy_kwh == pytest.approx(10.0)
    assert power.open["a"].start == T0


def test_a_car_gone_after_a_silence_ends_when_it_was_last_seen() -> None:
    book = SessionBook()
    run(book, [{"a": plugged(7.0)}, {"a": plugged(7.0)}])
    (session,) = book.observe(at(60 + MAX_GAP_S + 1), {"a": UNPLUGGED}, NAMES, 0, None)
    assert session.end == at(60)
    assert session.energy_kwh == pytest.approx(7.0 / 60)


def test_solar_share_is_what_the_grid_did_not_supply_pro_rata() -> None:
    def share(grid_kw: float) -> tuple[float, float]:
        """Each charger's solar share of its energy."""
        book = SessionBook()
        cycles = [
            {"a": plugged(0.0), "b": plugged(0.0)},
            {"a": plugged(4.0), "b": plugged(2.0)},
            {"a": UNPLUGGED, "b": UNPLUGGED},
        ]
        a, b = run(book, cycles, step_s=300.0, grid_kw=grid_kw)
        assert a.energy_kwh == pytest.approx(4.0 / 12)
        assert b.energy_kwh == pytest.approx(2.0 / 12)
        return a.solar_kwh / a.energy_kwh, b.solar_kwh / b.energy_kwh

    # Exporting 1 kW while the cars draw 6: all of it from solar.
    assert share(-1.0) == (pytest.approx(1.0), pytest.approx(1.0))
    # Importing 3 kW of the 6: half from solar, shared pro rata.
    assert share(3.0) == (pytest.approx(0.5), pytest.approx(0.5))
    # Importing more than the cars draw: none.
    assert share(10.0) == (0.0, 0.0)


def test_no_grid_reading_counts_nothing_as_solar() -> None:
    book = SessionBook()
    (session,) = run(
        book, [{"a": plugged(3.0)}, {"a": plugged(3.0)}, {"a": UNPLUGGED}], grid_kw=None
    )
    assert session.solar_kwh == 0.0
    assert session.solar_pct == 0.0
    assert session.row()["solar_pct"] == 0.0


def test_a_counter_only_charger_shares_the_solar_by_its_counted_draw() -> None:
    book = SessionBook()
    cycles = [
        {"a": plugged(None, 0.0), "b": plugged(0.0)},
        # a: 0.25 kWh in 5 minutes (3 kW, from its counter), b: 1 kW measured.
        {"a": plugged(None, 0.25), "b": plugged(1.0)},
        {"a": ChargerSample(False, None), "b": UNPLUGGED},
    ]
    a, b = run(book, cycles, step_s=300.0, grid_kw=2.0)
    # 4 kW drawn, 2 imported: half of each charger's draw from solar.
    assert a.solar_kwh == pytest.approx(0.125)
    assert b.solar_kwh == pytest.approx(1.0 / 24)
    assert a.peak_kw is None


def test_cost_at_the_price_of_the_moment() -> None:
    book = SessionBook()
    book.observe(at(0), {"a": plugged(0.0)}, NAMES, 5.0, None)
    book.observe(at(300), {"a": plugged(24.0)}, NAMES, 5.0, None)  # no price yet
    assert book.open["a"].cost is None
    book.observe(at(600), {"a": plugged(24.0)}, NAMES, 5.0, 0.30)
    book.observe(at(900), {"a": plugged(12.0)}, NAMES, 5.0, 0.10)
    (session,) = book.observe(at(901), {"a": UNPLUGGED}, NAMES, 5.0, 0.10)
    assert session.energy_kwh == pytest.approx(5.0)
    assert session.cost == pytest.approx(0.70)
    month = book.month_total("a", at(901))
    assert month.energy_kwh == pytest.approx(5.0)
    assert month.cost == pytest.approx(0.70)


def test_month_totals_start_over_each_month() -> None:
    book = SessionBook()
    eve = datetime(2026, 3, 31, 23, 50, tzinfo=UTC)
    for minutes in (0, 5, 10, 15):  # 12 kW: 1 kWh each 5 minutes
        book.observe(
            eve + timedelta(minutes=minutes), {"a": plugged(12.0)}, NAMES, 5, 0.2
        )
    april = eve + timedelta(minutes=15)
    assert book.month_total("a", april).month == "2026-04"
    assert book.month_total("a", april).energy_kwh == pytest.approx(2.0)
    assert book.month_total("a", eve).energy_kwh == 0.0  # March is over
    assert book.month_total("b", april).energy_kwh == 0.0
    assert book.totals["a"] == pytest.approx(3.0)
    # The open session belongs to the month it started in.
    assert book.in_month("2026-03") == [book.open["a"]]
    assert book.in_month("2026-04") == []


CARD = Card("04A2B3C4", "Flat 12", need_kwh=10.0, departure=time(7, 30))


def test_a_known_id_tag_brings_the_card_and_its_need() -> None:
    book = SessionBook(cards={CARD.id_tag: CARD})
    tagged = ChargerSample(connected=True, power_kw=5.0, id_tag=" 04a2b3c4")
    unknown = ChargerSample(connected=True, power_kw=0.0, id_tag="FFFF")
    book.observe(at(0), {"a": unknown}, NAMES, 5.0, None)
    assert book.open["a"].card is None
    book.observe(at(3600), {"a": tagged}, NAMES, 5.0, None)
    session = book.open["a"]
    assert (session.card, session.card_name) == ("04A2B3C4", "Flat 12")
    assert session.need_kwh == 10.0
    assert session.departure == datetime(2026, 3, 11, 7, 30, tzinfo=UTC)
    assert session.need_met is None  # not decided before departure or plug-out
    # An unknown tag later does not replace the card.
    book.observe(
        at(7200), {"a": ChargerSample(True, 5.0, id_tag="FFFF")}, NAMES, 5, None
    )
    assert session.card == "04A2B3C4"


def test_need_met_by_the_departure() -> None:
    book = SessionBook(cards={CARD.id_tag: CARD})
    first = ChargerSample(connected=True, power_kw=0.0, id_tag="04A2B3C4")
    # From 18:00, 1 kW for 16 hours: 13.5 kWh by 07:30 the next morning.
    cycles = [{"a": first}] + [{"a": plugged(1.0)}] * 192 + [{"a": UNPLUGGED}]
    (session,) = run(book, cycles, step_s=300.0)
    assert session.energy_kwh == pytest.approx(16.0)
    assert session.by_departure_kwh == pytest.approx(13.5)
    assert session.need_met is True
    assert session.row()["need_met"] is True


def test_need_not_met_when_the_car_leaves_early() -> None:
    book = SessionBook(cards={CARD.id_tag: CARD})
    first = ChargerSample(connected=True, power_kw=0.0, id_tag="04A2B3C4")
    (session,) = run(
        book, [{"a": first}, {"a": plugged(4.0)}, {"a": UNPLUGGED}], 3600.0
    )
    assert session.by_departure_kwh is None
    assert session.need_met is False


def test_a_card_without_a_need_fills_none() -> None:
    card = Card("AA", "Visitor")
    book = SessionBook(cards={"AA": card})
    book.observe(at(0), {"a": ChargerSample(True, 1.0, id_tag="aa")}, NAMES, 5, None)
    session = book.open["a"]
    assert session.card_name == "Visitor"
    assert (session.need_kwh, session.departure, session.need_met) == (None, None, None)
    need_only = Card("BB", "Flat 2", need_kwh=5.0)
    book = SessionBook(cards={"BB": need_only})
    book.observe(at(0), {"a": ChargerSample(True, 1.0, id_tag="BB")}, NAMES, 5, None)
    assert book.open["a"].departure is None


def test_departure_is_the_next_one_after_the_start() -> None:
    assert departure_after(T0, time(20, 0)) == T0.replace(hour=20)
    assert departure_after(T0, time(18, 0)) == T0 + timedelta(days=1)


def test_a_charger_that_cannot_tell_a_plug_ends_after_it_stops_drawing() -> None:
    book = SessionBook()
    unknown = [ChargerSample(None, kw) for kw in (0.0, 7.0, 7.0, 0.0, 0.0)]
    # Not drawing: no session.
    book.observe(at(0), {"a": unknown[0]}, NAMES, 5.0, None)
    assert book.open == {}
    run_at = 60.0
    for sample in unknown[1:]:
        book.observe(at(run_at), {"a": sample}, NAMES, 5.0, None)
        run_at += 60.0
    assert "a" in book.open
    (session,) = book.observe(
        at(120 + IDLE_END_S + 1), {"a": unknown[0]}, NAMES, 5, None
    )
    assert session.start == at(60)
    assert session.end == at(120)
    assert session.energy_kwh == pytest.approx(7.0 / 60)


def test_an_unreadable_charger_keeps_its_session_open() -> None:
    book = SessionBook()
    book.observe(at(0), {"a": plugged(7.0)}, NAMES, 5.0, None)
    book.observe(at(60), {}, NAMES, 5.0, None)
    assert "a" in book.open


def test_the_book_round_trips_through_json() -> None:
    book = SessionBook(cards={CARD.id_tag: CARD})
    tagged = ChargerSample(connected=True, power_kw=0.0, id_tag="04A2B3C4")
    run(
        book,
        [{"a": tagged, "b": plugged(1.0)}, {"a": plugged(3.0), "b": UNPLUGGED}],
        300,
        price=0.2,
    )
    stored = book.to_json()
    again = SessionBook.from_json(stored, book.cards)
    assert again.to_json() == stored
    assert again.open["a"].departure == book.open["a"].departure
    assert again.closed[0].end == book.closed[0].end
    assert again.months["a"].cost == pytest.approx(0.05)
    # The open session resumes where it was.
    again.observe(at(600), {"a": plugged(3.0)}, NAMES, 5.0, None)
    assert again.open["a"].energy_kwh == pytest.approx(0.5)


def test_a_layout_newer_than_this_code_starts_empty() -> None:
    book = SessionBook.from_json({"format": 99, "closed": [{"x": 1}]}, {})
    assert (book.open, book.closed, book.totals) == ({}, [], {})
    assert SessionBook.from_json(None, {}).closed == []


def test_removed_chargers_have_their_sessions_closed() -> None:
    book = SessionBook()
    run(
        book,
        [
            {"a": plugged(1.0), "b": plugged(1.0)},
            {"a": plugged(1.0), "b": plugged(1.0)},
        ],
    )
    assert book.close_all(["a"], at(600)) == [book.closed[0]]
    assert book.closed[0].charger_id == "b"
    assert book.closed[0].end == at(60)
    assert list(book.open) == ["a"]
    assert book.close_all(["a"], at(600)) == []


def test_the_book_is_bounded() -> None:
    book = SessionBook()
    old = T0 - timedelta(days=KEEP_DAYS + 1)
    book.closed = [
        Session("a", "A", old, "power", end=old + timedelta(hours=1)),
        *(
            Session("a", "A", T0, "power", end=T0 + timedelta(hours=1))
            for _ in range(MAX_SESSIONS + 5)
        ),
    ]
    book.prune(T0)
    assert len(book.closed) == MAX_SESSIONS
    assert all(s.start == T0 for s in book.closed)
    # What is saved follows what is kept (closed sessions are serialized once).
    book.observe(at(0), {"a": plugged(1.0)}, NAMES, 5.0, None)
    book.observe(at(60), {"a": UNPLUGGED}, NAMES, 5.0, None)
    assert len(book.closed) == MAX_SESSIONS
    assert book.to_json()["closed"] == [s.to_json() for s in book.closed]


def test_an_export_row_has_every_column() -> None:
    session = Session("a", "A", T0, "power", end=at(60), energy_kwh=1.23456)
    row = session.row()
    assert tuple(row) == EXPORT_COLUMNS
    assert row["energy_kwh"] == 1.235
    assert row["end"] == at(60).isoformat()
    assert row["solar_pct"] == 0.0
    empty = Session("a", "A", T0, "power").row()
    assert (empty["end"], empty["solar_pct"], empty["cost"], empty["peak_kw"]) == (
        None,
        None,
        None,
        None,
    )


def test_id_tags() -> None:
    assert normalize_tag(" 04a2:b3 ") == "04A2:B3"
    assert id_tag_valid("04A2B3C4")
    assert id_tag_valid("user-12_a.b:c")
    assert not id_tag_valid("")
    assert not id_tag_valid("   ")
    assert not id_tag_valid("x" * 21)
    assert not id_tag_valid("flat 12")
    assert not id_tag_valid("é")


@given(
    st.lists(
        st.tuples(
            st.sampled_from([True, False, None]),
            st.one_of(st.none(), st.floats(0, 22)),
            st.one_of(st.none(), st.floats(-30, 30)),
            st.floats(1, 900),
        ),
        max_size=40,
    )
)
def test_solar_never_exceeds_energy_and_totals_add_up(
    cycles: list[tuple[bool | None, float | None, float | None, float]],
) -> None:
    book = SessionBook()
    now = T0
    for connected, power, grid, step in cycles:
        now += timedelta(seconds=step)
        book.observe(now, {"a": ChargerSample(connected, power)}, NAMES, grid, 0.25)
    sessions = [*book.closed, *book.open.values()]
    for session in sessions:
        assert 0.0 <= session.solar_kwh <= session.energy_kwh + 1e-9
        assert session.end is None or session.end >= session.start
        assert session.cost is None or session.cost == pytest.approx(
            session.energy_kwh * 0.25
        )
    assert sum(s.energy_kwh for s in sessions) == pytest.approx(
        book.totals.get("a", 0.0)
    )
