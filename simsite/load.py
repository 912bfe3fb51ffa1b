"""A building's load over the day, split unevenly over three phases.

Deterministic for a given time and seed so tests and the demo see the same site.
"""

import math
from dataclasses import dataclass

PHASE_SHARE = (0.45, 0.32, 0.23)  # typical imbalance: single-phase loads pile on L1


@dataclass(frozen=True, slots=True)
class BuildingLoad:
    """Office-like profile: base load, a working-day plateau, a lunch and evening bump."""

    base_w: float = 6_000.0
    peak_w: float = 22_000.0
    voltage_v: float = 230.0
    seed: int = 7

    def power_w(self, seconds_of_day: float) -> float:
        hour = (seconds_of_day / 3600.0) % 24.0
        day = 1.0 / (1.0 + math.exp(-(hour - 8.0) * 2.0)) - 1.0 / (
            1.0 + math.exp(-(hour - 18.0) * 1.5)
        )
        lunch = math.exp(-(((hour - 12.5) / 0.7) ** 2)) * 0.25
        evening = math.exp(-(((hour - 19.5) / 1.2) ** 2)) * 0.2
        ripple = 0.04 * math.sin(seconds_of_day / 37.0 + self.seed) + 0.03 * math.sin(
            seconds_of_day / 11.0 + 2 * self.seed
        )
        return self.base_w + self.peak_w * max(0.0, day + lunch + evening + ripple)

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
