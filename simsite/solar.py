"""A solar array's production under passing clouds, for the simulated site's PV meter.

The sun is the engine's own model (position, clear sky, plane of array), so
production follows the real day at the site's location; the clouds are the
simulator's: a deterministic mix of slow and quick waves, so what the PV
meter measures differs from any forecast the way a real afternoon does.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from custom_components.stekker.engine.solar import SolarArray, array_power_w


@dataclass(frozen=True, slots=True)
class SolarPlant:
    """One array at a location; ``power_w`` is its AC output at a moment."""

    array: SolarArray
    latitude: float
    longitude: float
    seed: int = 3

    def cloud_cover_pct(self, when: datetime) -> float:
        """Cloud cover over the array, 0..100 %, smooth over minutes."""
        t = when.timestamp()
        waves = (
            0.5 * math.sin(t / 5400.0 + self.seed)
            + 0.3 * math.sin(t / 1300.0 + 2 * self.seed)
            + 0.2 * math.sin(t / 310.0 + 3 * self.seed)
        )
        return min(100.0, max(0.0, 45.0 + 50.0 * waves))

    def power_w(self, when: datetime) -> float:
        """AC power in W (0 at night); ``when`` must be timezone-aware."""
        return array_power_w(
            self.array,
            self.latitude,
            self.longitude,
            when,
            cloud_cover_pct=self.cloud_cover_pct(when),
        )
