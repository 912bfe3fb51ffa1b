"""A building's load over the day, split unevenly over three phases.

Deterministic for a given time and seed so tests and the demo see the same site.
"""

import math
from dataclasses import dataclass
from typing import Literal

PHASE_SHARE = (0.45, 0.32, 0.23)  # typical imbalance: single-phase loads pile on L1


@dataclass(frozen=True, slots=True)
class BuildingLoad:
    """Base load plus a day's shape scaled to ``peak_w``.

    "office": a working-day plateau with a lunch and a small evening bump.
    "residential" (flats): a morning bump, a quiet day and the evening peak
    when everyone cooks, which is when the cars come home too.
    """

    base_w: float = 6_000.0
    peak_w: float = 22_000.0
    voltage_v: float = 230.0
    seed: int = 7
    profile: Literal["office", "residential"] = "office"

    def power_w(self, seconds_of_day: float) -> float:
        hour = (seconds_of_day / 3600.0) % 24.0
        if self.profile == "residential":
            shape = (
                0.3 * _bump(hour, 7.5, 1.0)
                + 0.12 * (_rise(hour, 9.0, 2.0) - _rise(hour, 17.0, 2.0))
                + _bump(hour, 19.0, 1.6)
            )
        else:
            shape = (
                _rise(hour, 8.0, 2.0)
                - _rise(hour, 18.0, 1.5)
                + 0.25 * _bump(hour, 12.5, 0.7)
                + 0.2 * _bump(hour, 19.5, 1.2)
            )
        ripple = 0.04 * math.sin(seconds_of_day / 37.0 + self.seed) + 0.03 * math.sin(
            seconds_of_day / 11.0 + 2 * self.seed
        )
        return self.base_w + self.peak_w * max(0.0, shape + ripple)

    def meter_values(
        self,
        seconds_of_day: float,
        extra_phase_w: tuple[float, float, float] = (0, 0, 0),
    ) -> dict[str, float]:
        """Readings of a 3-phase meter at the connection, in the engine's keys."""
        total = self.power_w(seconds_of_day)
        values: dict[str, float] = {
            "frequency_hz": 50.0 + 0.02 * math.sin(seconds_of_day / 60)
        }
        power_sum = 0.0
        for index, (share, extra) in enumerate(
            zip(PHASE_SHARE, extra_phase_w, strict=True)
        ):
            phase = f"l{index + 1}"
            voltage = self.voltage_v + 2.0 * math.sin(seconds_of_day / 90.0 + index)
            power = total * share + extra
            values[f"voltage_{phase}_v"] = voltage
            values[f"current_{phase}_a"] = abs(power) / voltage
            values[f"power_{phase}_w"] = power
            power_sum += power
        values["power_w"] = power_sum
        return values


def _rise(hour: float, at: float, steepness: float) -> float:
    """0 before ``at``, 1 after it (a logistic step)."""
    return 1.0 / (1.0 + math.exp(-(hour - at) * steepness))


def _bump(hour: float, at: float, width: float) -> float:
    """1 at ``at``, fading over ``width`` hours either side (a Gaussian)."""
    return math.exp(-(((hour - at) / width) ** 2))
