"""Meter readings and the checks that keep garbage out of the engine."""

import math
from dataclasses import dataclass, field

from .site import PHASES, Site

# Keys a meter profile or sensor source may provide; all SI-ish units as named.
POWER = "power_w"
IMPORT_KWH = "import_kwh"
EXPORT_KWH = "export_kwh"
FREQUENCY = "frequency_hz"
# Belgian (DSMR 5B) meters: the running quarter-hour average import (OBIS 1.4.0)
# and the month's highest quarter-hour average (1.6.0), present only when reported.
QUARTER_HOUR_AVG = "quarter_hour_avg_w"
MONTH_PEAK = "month_peak_w"


def phase_key(quantity: str, phase: str) -> str:
    """Key of a per-phase value, e.g. ``current_l2_a``."""
    unit = {"voltage": "v", "current": "a", "power": "w"}[quantity]
    return f"{quantity}_{phase}_{unit}"


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One decoded read of a meter; missing values are simply absent."""

    values: dict[str, float] = field(default_factory=dict)

    @property
    def power_w(self) -> float | None:
        return self.values.get(POWER)

    def phase(self, quantity: str, phase: str) -> float | None:
        return self.values.get(phase_key(quantity, phase))

    def signed_current(self, phase: str) -> float | None:
        """Phase current with the sign of the phase power.

        Most meters report magnitudes; signed meters (Carlo Gavazzi in
        bidirectional mode) already give the sign. Either way the magnitude
        takes the sign of the phase power where it is measured, so the two
        kinds agree; without a phase power a signed current keeps its own.
        """
        current = self.phase("current", phase)
        if current is None:
            return None
        power = self.phase("power", phase)
        if power is None:
            return current
        return -abs(current) if power < 0 else abs(current)


class ReadingError(ValueError):
    """A reading that cannot be true; it is a fault, never a zero."""

    def __init__(self, key: str, value: float) -> None:
        super().__init__(f"implausible {key}: {value!r}")
        self.key = key
        self.value = value


def check_reading(
    reading: MeterReading, site: Site, *, signed_currents: bool = False
) -> None:
    """Raise ReadingError for NaN, infinities, absurd power, current or voltage.

    A negative current is a fault only on a meter whose currents are unsigned;
    a signed meter (``signed_currents``) reports export that way. Like power, a
    current of more than ten times the main fuse cannot be true either way.
    """
    limit_w = 10.0 * max(site.gtv_kw, site.fuse_kw) * 1000.0
    limit_a = 10.0 * site.fuse_a
    lowest_a = -limit_a if signed_currents else 0.0
    for key, value in reading.values.items():
        if not math.isfinite(value):
            raise ReadingError(key, value)
        if key.startswith("power") and abs(value) > limit_w:
            raise ReadingError(key, value)
        if key in (QUARTER_HOUR_AVG, MONTH_PEAK) and not 0.0 <= value <= limit_w:
            raise ReadingError(key, value)
        if key.startswith("current") and not lowest_a <= value <= limit_a:
            raise ReadingError(key, value)
        if key.startswith("voltage") and not 0.0 <= value <= 1_000.0:
            raise ReadingError(key, value)
        if key in (IMPORT_KWH, EXPORT_KWH) and value < 0.0:
            raise ReadingError(key, value)
        if key == FREQUENCY and not 0.0 <= value <= 100.0:
            raise ReadingError(key, value)
    if reading.power_w is None and not any(
        reading.phase("power", p) is not None for p in PHASES
    ):
        raise ReadingError(POWER, math.nan)
