"""A charger's charging mode and need, as the user set them on its entities or
through the actions, and the energy of the car's session so far."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

from homeassistant.util import dt as dt_util

from .engine.modes import ChargeMode

DEFAULT_MODE: Final = ChargeMode.FAST  # the balancer's behaviour before modes
DEFAULT_DEPARTURE: Final = time(7, 30)
DEFAULT_NEED_KWH: Final = 20.0
MAX_NEED_KWH: Final = 200.0


@dataclass(kw_only=True)
class ChargingState:
    """What a charger is to do for its car.

    The standing need (departure time of day, energy) plans a car as soon as it
    is plugged in; an action can set a one-off need or a charge-now instead,
    which ends when the car leaves.
    """

    mode: ChargeMode = DEFAULT_MODE
    departure: time = DEFAULT_DEPARTURE
    need_kwh: float = DEFAULT_NEED_KWH
    # One-off, from stekker.set_charging_need: energy (from a target SoC too)
    # due by a departure.
    once_kwh: float | None = None  # of the session: what was asked plus once_from_kwh
    once_departure: datetime | None = None
    once_from_kwh: float = 0.0  # the session's energy when it was asked
    # stekker.charge_now: fast until a time, or until this much more energy.
    now_until: datetime | None = None
    now_kwh: float | None = None
    # Energy delivered since the car was plugged in, and at charge_now's start.
    session_kwh: float = 0.0
    now_from_kwh: float = 0.0
    plugged: bool | None = None
    # The departure the session counts towards: once it has passed, the car is
    # taken to have left (the only way to tell without a plugged-in sensor).
    due: datetime | None = None

    def next_departure(self, now: datetime) -> datetime:
        """The one-off departure, else the next time of day of the standing one."""
        if self.once_departure is not None and self.once_departure > now:
            return self.once_departure
        return _next_at(self.departure, now)

    def one_off(self, now: datetime) -> bool:
        """Whether a one-off need is in effect (its departure has not passed)."""
        return (
            self.once_kwh is not None
            and self.once_departure is not None
            and self.once_departure > now
        )

    def need_in_effect(self, now: datetime) -> float:
        """The need as set: the one-off one (counted from when it was asked)
        while it lasts, else the usual one (counted from the plug-in)."""
        if self.one_off(now) and self.once_kwh is not None:
            return self.once_kwh - self.once_from_kwh
        return self.need_kwh

    def departure_in_effect(self, now: datetime) -> time:
        """The departure's local time of day: the one-off one's while it lasts."""
        if self.one_off(now) and self.once_departure is not None:
            return dt_util.as_local(self.once_departure).time().replace(tzinfo=None)
        return self.departure

    def set_need_in_effect(self, kwh: float, now: datetime) -> None:
        """A need set on its entity changes the one in effect (the usual one
        stays for the next car while a one-off need lasts)."""
        if self.one_off(now):
            self.once_kwh = kwh + self.once_from_kwh
        else:
            self.need_kwh = kwh

    def set_departure_in_effect(self, value: time, now: datetime) -> None:
        """As ``set_need_in_effect``: a one-off departure moves to ``value``
        o'clock on its day (the next one, if that has passed)."""
        if self.one_off(now) and self.once_departure is not None:
            day = dt_util.as_local(self.once_departure).replace(
                hour=value.hour, minute=value.minute, second=0, microsecond=0
            )
            self.once_departure = (
                dt_util.as_utc(day) if day > now else _next_at(value, now)
            )
        else:
            self.departure = value

    def remaining_kwh(self, now: datetime) -> float:
        """What the car still needs: the need less what it got this session (a
        one-off need whose departure has passed no longer counts)."""
        once = self.once_kwh if self.one_off(now) else None
        return max(0.0, (self.need_kwh if once is None else once) - self.session_kwh)

    def charging_now(self, now: datetime) -> bool:
        """Whether a charge-now is running; one that has run its course ends."""
        if self.now_until is None and self.now_kwh is None:
            return False
        if (self.now_until is not None and now >= self.now_until) or (
            self.now_kwh is not None
            and self.session_kwh - self.now_from_kwh >= self.now_kwh
        ):
            self.now_until = self.now_kwh = None
            return False
        return True

    def effective_mode(self, now: datetime) -> ChargeMode:
        return ChargeMode.FAST if self.charging_now(now) else self.mode

    def set_need(self, kwh: float, departure: datetime) -> None:
        self.once_kwh = kwh + self.session_kwh  # counted from now on
        self.once_from_kwh = self.session_kwh
        self.once_departure = departure

    def card_need(self, kwh: float, departure: time | None, now: datetime) -> bool:
        """A card's need for this session: planned as a one-off need for the
        whole session (by the card's departure, else the usual one), which
        puts a charger not in mode off in mode planned. A one-off need already
        in effect (an action's) stands; False then."""
        if self.one_off(now):
            return False
        self.once_kwh, self.once_from_kwh = kwh, 0.0
        self.once_departure = _next_at(departure or self.departure, now)
        if self.mode is not ChargeMode.OFF:
            self.mode = ChargeMode.PLANNED
        return True

    def clear_need(self) -> None:
        self.once_kwh = None
        self.once_departure = None
        self.once_from_kwh = 0.0
        self.now_until = self.now_kwh = None

    def charge_now(self, until: datetime | None, kwh: float | None) -> None:
        self.now_until, self.now_kwh = until, kwh
        self.now_from_kwh = self.session_kwh

    def observe(self, plugged: bool | None, kwh: float, now: datetime) -> bool:
        """Count this cycle's energy; True when a car came or left.

        A car that leaves takes its one-off need and charge-now along; so does
        a departure that passes.
        """
        changed = plugged is not None and plugged != self.plugged
        departed = self.due is not None and now >= self.due
        if (changed and not plugged) or departed:
            self.clear_need()
        if changed or departed:
            self.session_kwh = self.now_from_kwh = 0.0
        if plugged is not None:
            self.plugged = plugged
        self.session_kwh += kwh
        self.due = self.next_departure(now)
        return changed or departed

    def as_dict(self) -> dict[str, Any]:
        """What survives a restart besides the mode, departure and need entities."""
        return {
            "once_kwh": self.once_kwh,
            "once_departure": _iso(self.once_departure),
            "once_from_kwh": self.once_from_kwh,
            "now_until": _iso(self.now_until),
            "now_kwh": self.now_kwh,
            "session_kwh": self.session_kwh,
            "now_from_kwh": self.now_from_kwh,
            "plugged": self.plugged,
            "due": _iso(self.due),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        self.once_kwh = data.get("once_kwh")
        self.once_departure = _parse(data.get("once_departure"))
        self.once_from_kwh = float(data.get("once_from_kwh") or 0.0)
        self.now_until = _parse(data.get("now_until"))
        self.now_kwh = data.get("now_kwh")
        self.session_kwh = float(data.get("session_kwh") or 0.0)
        self.now_from_kwh = float(data.get("now_from_kwh") or 0.0)
        self.plugged = data.get("plugged")
        self.due = _parse(data.get("due"))


def _next_at(at: time, now: datetime) -> datetime:
    """The next ``at`` o'clock local time after ``now``."""
    local = dt_util.as_local(now)
    when = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if when <= local:
        when += timedelta(days=1)
    return dt_util.as_utc(when)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else dt_util.parse_datetime(text)
