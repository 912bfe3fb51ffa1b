"""Cars that come and go at a site's chargers over a day.

A day of a residential complex: cars that charged overnight leave in the
morning, a few come by during the day, everyone comes home in the evening and
stays the night. Pure and deterministic: the hour of the day is a parameter;
``Driveway`` plugs and unplugs the cars on a ``SimulatedSite`` as it passes.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .cars import Car, Phase
from .site import SimulatedSite


@dataclass(frozen=True, slots=True)
class Visit:
    """One car parked at one charger from ``arrive_h`` to ``leave_h``.

    Hours of the day; a visit with ``leave_h`` below ``arrive_h`` stays over
    midnight. ``id_tag`` is the card the driver shows ("" for none).
    """

    charger: str
    arrive_h: float
    leave_h: float
    car: str
    soc: float
    target_soc: float = 0.8
    battery_kwh: float = 60.0
    phases: Literal[1, 3] = 3
    phase: Phase = "l1"
    max_a: float = 16.0
    lag_cycles: int = 4
    id_tag: str = ""

    def __post_init__(self) -> None:
        for hour in (self.arrive_h, self.leave_h):
            if not 0.0 <= hour < 24.0:
                raise ValueError(f"{self.car}: hours must be 0..24")
        if self.arrive_h == self.leave_h:
            raise ValueError(f"{self.car}: a visit needs time at the charger")

    def parked(self, hour: float) -> bool:
        """Whether the car is at the charger at ``hour`` (arrival in, departure out)."""
        if self.arrive_h < self.leave_h:
            return self.arrive_h <= hour < self.leave_h
        return hour >= self.arrive_h or hour < self.leave_h

    def new_car(self) -> Car:
        """The car as it arrives, with its battery at ``soc``."""
        return Car(
            self.car,
            phases=self.phases,
            phase=self.phase,
            max_a=self.max_a,
            battery_kwh=self.battery_kwh,
            soc=self.soc,
            target_soc=self.target_soc,
            lag_cycles=self.lag_cycles,
        )


@dataclass(slots=True)
class Driveway:
    """Plays ``visits`` on ``site``: who is parked where follows the hour."""

    site: SimulatedSite
    visits: Sequence[Visit]
    _parked: dict[str, Visit] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        unknown = {v.charger for v in self.visits} - set(self.site.cars)
        if unknown:
            raise ValueError(f"visits at unknown chargers {sorted(unknown)}")
        for charger in self.site.cars:
            mine = [v for v in self.visits if v.charger == charger]
            for hour in range(24 * 60):
                if sum(v.parked(hour / 60) for v in mine) > 1:
                    raise ValueError(
                        f"two cars at {charger} at once ({hour / 60:.2f} h)"
                    )

    @property
    def parked(self) -> Mapping[str, Visit]:
        """The visit at each charger that has a car now."""
        return dict(self._parked)

    def id_tag(self, charger: str) -> str:
        """The card of the car at ``charger``, "" without a car or a card."""
        visit = self._parked.get(charger)
        return visit.id_tag if visit else ""

    def update(self, hour: float) -> None:
        """Let cars leave and arrive up to ``hour`` of the day."""
        hour %= 24.0
        for charger in self.site.cars:
            now = next(
                (v for v in self.visits if v.charger == charger and v.parked(hour)),
                None,
            )
            if now is self._parked.get(charger):
                continue
            if charger in self._parked:
                self.site.unplug(charger)
                del self._parked[charger]
            if now is not None:
                self.site.plug(charger, now.new_car())
                self._parked[charger] = now
