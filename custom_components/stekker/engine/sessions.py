"""Charging sessions: per charger from plug-in to plug-out, what the car drew.

Fed once per control cycle with the time and what each charger showed; the
caller keeps the book across restarts through ``to_json``/``from_json``.

- Energy is the rise of the charger's own lifetime counter when it has one
  (``energy_source`` "counter"), else its measured power integrated over time
  ("power"). A silence longer than ``MAX_GAP_S`` (Home Assistant stopped, the
  charger unreadable) adds no integrated power; a counter still counts it.
- Solar share: each cycle the chargers draw ``D`` together and the grid meter
  shows a net import ``G``; the part of ``D`` the grid did not supply,
  ``clamp(D - G, 0, D)`` (export plus the chargers' draw, at most their draw),
  came from the site's solar surplus and is shared over the chargers drawing
  then, pro rata to their draw.
- Cost: each cycle's energy at the price known then; ``None`` until a price is.
- Need: a card's default need and departure time; met when the energy drawn by
  the departure (or by plug-out, if it came first) reached the need.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, time, timedelta
from typing import Any, Final

# A longer silence integrates no power: what happened then is unknown.
MAX_GAP_S: Final = 300.0
# Drawing at least this counts as drawing (chargers that cannot tell a plug).
DRAW_KW: Final = 0.05
# A charger that cannot tell whether a car is plugged in: the session ends this
# long after the car last drew.
IDLE_END_S: Final = 900.0
# What the book keeps: the last sessions, none older than this.
MAX_SESSIONS: Final = 5000
KEEP_DAYS: Final = 400
# Version of ``to_json``'s layout; ``from_json`` upgrades older ones.
FORMAT: Final = 1

ID_TAG_MAX_LEN: Final = 20  # OCPP's idToken (CiString20)
_ID_TAG_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:."
)

# The columns of an export, one row per session (see ``Session.row``).
EXPORT_COLUMNS: Final = (
    "charger",
    "card",
    "card_name",
    "start",
    "end",
    "energy_kwh",
    "energy_source",
    "peak_kw",
    "solar_kwh",
    "solar_pct",
    "cost",
    "need_kwh",
    "departure",
    "need_met",
)

ENERGY_COUNTER: Final = "counter"
ENERGY_POWER: Final = "power"


def normalize_tag(tag: str) -> str:
    """An id tag as compared: RFID readers differ in case, not in content."""
    return tag.strip().upper()


def id_tag_valid(tag: str) -> bool:
    """1 to 20 letters, digits or ``-_:.`` (what OCPP and RFID readers send)."""
    tag = tag.strip()
    return 0 < len(tag) <= ID_TAG_MAX_LEN and set(tag) <= _ID_TAG_CHARS


@dataclass(frozen=True, slots=True)
class Card:
    """An RFID card of a resident: its defaults fill a session's need."""

    id_tag: str
    name: str
    need_kwh: float | None = None
    departure: time | None = None


@dataclass(frozen=True, slots=True)
class ChargerSample:
    """What one charger showed in a cycle."""

    connected: bool | None  # None: the charger cannot tell
    power_kw: float | None  # measured draw; None: not measured
    counter_kwh: float | None = None  # lifetime energy counter, if it has one
    id_tag: str | None = None  # the tag that started the session, if reported


@dataclass(slots=True)
class Session:
    """One car on one charger; ``end`` is None while it is plugged in."""

    charger_id: str
    charger: str
    start: datetime
    energy_source: str
    end: datetime | None = None
    energy_kwh: float = 0.0
    peak_kw: float | None = None
    solar_kwh: float = 0.0
    cost: float | None = None
    card: str | None = None
    card_name: str | None = None
    need_kwh: float | None = None
    departure: datetime | None = None
    # Running state, kept so a restart can resume.
    by_departure_kwh: float | None = None
    counter_kwh: float | None = None
    seen: datetime | None = None  # last cycle that saw the charger
    drew: datetime | None = None  # last cycle it drew

    @property
    def solar_pct(self) -> float | None:
        if self.energy_kwh <= 0.0:
            return None
        return 100.0 * min(1.0, self.solar_kwh / self.energy_kwh)

    @property
    def need_met(self) -> bool | None:
        """Whether the need was met by the departure; None while undecided."""
        if self.need_kwh is None:
            return None
        drawn = self.by_departure_kwh
        if drawn is None:
            if self.end is None:
                return None
            drawn = self.energy_kwh
        return drawn >= self.need_kwh - 1e-9

    def row(self) -> dict[str, Any]:
        """The session as one row of an export (JSON types)."""
        return {
            "charger": self.charger,
            "card": self.card,
            "card_name": self.card_name,
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "energy_kwh": round(self.energy_kwh, 3),
            "energy_source": self.energy_source,
            "peak_kw": None if self.peak_kw is None else round(self.peak_kw, 2),
            "solar_kwh": round(self.solar_kwh, 3),
            "solar_pct": None if (pct := self.solar_pct) is None else round(pct, 1),
            "cost": None if self.cost is None else round(self.cost, 2),
            "need_kwh": self.need_kwh,
            "departure": None if self.departure is None else self.departure.isoformat(),
            "need_met": self.need_met,
        }

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _SESSION_FIELDS}
        for key in _TIMES:
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Session:
        values = dict(data)
        for key in _TIMES:
            if values.get(key) is not None:
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


_SESSION_FIELDS: Final = tuple(f.name for f in fields(Session))
_TIMES: Final = ("start", "end", "departure", "seen", "drew")


@dataclass(slots=True)
class MonthTotal:
    """A charger's energy and cost in one calendar month (local time)."""

    month: str
    energy_kwh: float = 0.0
    cost: float | None = None


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def departure_after(start: datetime, departure: time) -> datetime:
    """The first moment at the departure time after the start."""
    at = start.replace(
        hour=departure.hour, minute=departure.minute, second=0, microsecond=0
    )
    return at if at > start else at + timedelta(days=1)


@dataclass(slots=True)
class SessionBook:
    """Open and closed sessions of a site, and each charger's energy totals."""

    cards: Mapping[str, Card] = field(default_factory=dict)  # by normalized tag
    open: dict[str, Session] = field(default_factory=dict)  # by charger id
    closed: list[Session] = field(default_factory=list)  # oldest first
    # ``closed`` as stored: a closed session does not change, so a save
    # serializes only the open ones again.
    _stored: list[dict[str, Any]] = field(default_factory=list, repr=False)
    totals: dict[str, float] = field(default_factory=dict)  # lifetime kWh
    months: dict[str, MonthTotal] = field(default_factory=dict)

    def observe(
        self,
        at: datetime,
        samples: Mapping[str, ChargerSample],
        names: Mapping[str, str],
        grid_kw: float | None,
        price: float | None,
    ) -> list[Session]:
        """Account one cycle; returns the sessions it closed.

        ``samples`` holds the chargers read this cycle (an unreadable one is
        left out and its session simply waits), ``grid_kw`` the net import at
        the grid meter (None: unknown, then nothing counts as solar), ``price``
        the price per kWh now (None: unknown).
        """
        energy: dict[str, float] = {}
        draw: dict[str, float] = {}
        for charger_id, sample in samples.items():
            session = self.open.get(charger_id)
            gap = _gap_s(session, at)
            inc = _increment(session, sample, gap)
            energy[charger_id] = inc
            if sample.power_kw is not None:
                draw[charger_id] = max(0.0, sample.power_kw)
            elif 0.0 < gap <= MAX_GAP_S:
                draw[charger_id] = inc * 3600.0 / gap
        solar = _solar_fraction(sum(draw.values()), grid_kw)
        done: list[Session] = []
        for charger_id, sample in samples.items():
            session = self.open.get(charger_id)
            drawing = draw.get(charger_id, 0.0) >= DRAW_KW
            if session is None:
                plugged = sample.connected if sample.connected is not None else drawing
                if plugged:
                    self.open[charger_id] = self._start(
                        charger_id, names.get(charger_id, charger_id), at, sample
                    )
                continue
            self._account(session, sample, at, energy[charger_id], solar, price)
            if sample.power_kw is not None:
                session.peak_kw = max(session.peak_kw or 0.0, sample.power_kw)
            self._attach_card(session, sample.id_tag)
            departed = session.departure is not None and at >= session.departure
            if departed and session.by_departure_kwh is None:
                session.by_departure_kwh = session.energy_kwh
            gap = _gap_s(session, at)
            if drawing:
                session.drew = at
            end = self._end(session, sample, at, gap)
            session.seen = at
            if end is not None:
                session.end = end
                del self.open[charger_id]
                self._close(session)
                done.append(session)
        if done:
            self.prune(at)
        return done

    def _start(
        self, charger_id: str, name: str, at: datetime, sample: ChargerSample
    ) -> Session:
        session = Session(
            charger_id=charger_id,
            charger=name,
            start=at,
            energy_source=ENERGY_POWER
            if sample.counter_kwh is None
            else ENERGY_COUNTER,
            counter_kwh=sample.counter_kwh,
            seen=at,
            drew=at if (sample.power_kw or 0.0) >= DRAW_KW else None,
        )
        self._attach_card(session, sample.id_tag)
        return session

    def _account(
        self,
        session: Session,
        sample: ChargerSample,
        at: datetime,
        energy_kwh: float,
        solar: float,
        price: float | None,
    ) -> None:
        if sample.counter_kwh is not None and session.energy_source == ENERGY_COUNTER:
            session.counter_kwh = sample.counter_kwh
        if energy_kwh <= 0.0:
            return
        session.energy_kwh += energy_kwh
        session.solar_kwh += energy_kwh * solar
        charger_id = session.charger_id
        self.totals[charger_id] = self.totals.get(charger_id, 0.0) + energy_kwh
        month = self.months.get(charger_id)
        if month is None or month.month != month_of(at):
            month = self.months[charger_id] = MonthTotal(month_of(at))
        month.energy_kwh += energy_kwh
        if price is not None:
            session.cost = (session.cost or 0.0) + energy_kwh * price
            month.cost = (month.cost or 0.0) + energy_kwh * price

    def _attach_card(self, session: Session, id_tag: str | None) -> None:
        if session.card is not None or not id_tag:
            return
        card = self.cards.get(normalize_tag(id_tag))
        if card is None:
            return
        session.card, session.card_name = card.id_tag, card.name
        if session.need_kwh is None and card.need_kwh is not None:
            session.need_kwh = card.need_kwh
            if card.departure is not None:
                session.departure = departure_after(session.start, card.departure)

    @staticmethod
    def _end(
        session: Session, sample: ChargerSample, at: datetime, gap: float
    ) -> datetime | None:
        """When the session ended, if it has: at plug-out, or after a silence
        at the last cycle that saw it (the moment it left is not known)."""
        last = session.seen or session.start
        if sample.connected is False:
            return last if gap > MAX_GAP_S else at
        if sample.connected is None:
            drew = session.drew or session.start
            if (at - drew).total_seconds() > IDLE_END_S:
                return drew
        return None

    def close_all(self, keep: Iterable[str], at: datetime) -> list[Session]:
        """Close the open sessions of chargers no longer on the site, at the
        last cycle that saw them."""
        kept = set(keep)
        done = []
        for charger_id in [c for c in self.open if c not in kept]:
            session = self.open.pop(charger_id)
            session.end = session.seen or session.start
            self._close(session)
            done.append(session)
        if done:
            self.prune(at)
        return done

    def _close(self, session: Session) -> None:
        stored = self._closed_json()
        self.closed.append(session)
        stored.append(session.to_json())

    def _closed_json(self) -> list[dict[str, Any]]:
        if len(self._stored) != len(self.closed):  # ``closed`` was set anew
            self._stored = [s.to_json() for s in self.closed]
        return self._stored

    def prune(self, at: datetime) -> None:
        """Keep the last ``MAX_SESSIONS``, none that ended over ``KEEP_DAYS`` ago."""
        oldest = at - timedelta(days=KEEP_DAYS)
        kept = [
            (s, j)
            for s, j in zip(self.closed, self._closed_json(), strict=True)
            if s.end is None or s.end >= oldest
        ][-MAX_SESSIONS:]
        self.closed = [s for s, _ in kept]
        self._stored = [j for _, j in kept]

    def last(self, charger_id: str) -> Session | None:
        """The charger's last closed session."""
        return next(
            (s for s in reversed(self.closed) if s.charger_id == charger_id), None
        )

    def month_total(self, charger_id: str, at: datetime) -> MonthTotal:
        found = self.months.get(charger_id)
        month = month_of(at)
        return (
            found if found is not None and found.month == month else MonthTotal(month)
        )

    def in_month(self, month: str) -> list[Session]:
        """Sessions that started in the month (local time), the open ones last."""
        return [
            s for s in (*self.closed, *self.open.values()) if month_of(s.start) == month
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "open": [s.to_json() for s in self.open.values()],
            "closed": list(self._closed_json()),
            "totals": dict(self.totals),
            "months": {k: asdict(v) for k, v in self.months.items()},
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any] | None, cards: Mapping[str, Card]
    ) -> SessionBook:
        """The stored book; a layout newer than this code knows starts empty
        rather than misreading it."""
        if not data or data.get("format", 1) > FORMAT:
            return cls(cards=cards)
        opened = [Session.from_json(s) for s in data.get("open", [])]
        return cls(
            cards=cards,
            open={s.charger_id: s for s in opened},
            closed=[Session.from_json(s) for s in data.get("closed", [])],
            totals={k: float(v) for k, v in data.get("totals", {}).items()},
            months={k: MonthTotal(**v) for k, v in data.get("months", {}).items()},
        )


def _gap_s(session: Session | None, at: datetime) -> float:
    if session is None or session.seen is None:
        return 0.0
    return max(0.0, (at - session.seen).total_seconds())


def _increment(session: Session | None, sample: ChargerSample, gap: float) -> float:
    """Energy drawn since the session's last cycle (kWh)."""
    if session is None:
        return 0.0
    if session.energy_source == ENERGY_COUNTER:
        if sample.counter_kwh is None or session.counter_kwh is None:
            return 0.0  # counted once the counter reads again
        # A counter that went back was reset or replaced: count from there.
        return max(0.0, sample.counter_kwh - session.counter_kwh)
    if sample.power_kw is None or gap > MAX_GAP_S:
        return 0.0
    return max(0.0, sample.power_kw) * gap / 3600.0


def _solar_fraction(draw_kw: float, grid_kw: float | None) -> float:
    """Share of the chargers' draw the grid did not supply."""
    if grid_kw is None or draw_kw <= 0.0:
        return 0.0
    return min(draw_kw, max(0.0, draw_kw - grid_kw)) / draw_kw
