"""Speed of the session book: one cycle of a large site, and a full book's save."""

from datetime import UTC, datetime, timedelta
from typing import Any

from custom_components.stekker.engine.sessions import (
    MAX_SESSIONS,
    ChargerSample,
    Session,
    SessionBook,
)

T0 = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


def test_observe_100_chargers(benchmark: Any) -> None:
    """One control cycle with 100 cars plugged in, counters on every other one."""
    names = {f"cp{i:03d}": f"Charger {i}" for i in range(100)}
    samples = {
        cid: ChargerSample(
            connected=True,
            power_kw=7.0 + i % 5,
            counter_kwh=1000.0 + i if i % 2 else None,
        )
        for i, cid in enumerate(names)
    }
    book = SessionBook()
    book.observe(T0, samples, names, 20.0, 0.25)
    moments = iter(T0 + timedelta(seconds=s) for s in range(1, 10_000_000))

    def cycle() -> None:
        book.observe(next(moments), samples, names, 20.0, 0.25)

    benchmark(cycle)
    assert len(book.open) == 100


def test_save_a_full_book(benchmark: Any) -> None:
    """What the Store serializes once a minute at most: the book at its bound."""
    book = SessionBook(
        closed=[
            Session(
                "cp001",
                "Charger 1",
                T0 + timedelta(hours=i),
                "power",
                end=T0 + timedelta(hours=i, minutes=90),
                energy_kwh=12.3,
            )
            for i in range(MAX_SESSIONS)
        ]
    )
    data = benchmark(book.to_json)
    assert len(data["closed"]) == MAX_SESSIONS
