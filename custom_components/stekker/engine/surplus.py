"""The solar surplus the plan leaves room for: the forecast's upside.

An hourly solar forecast can miss a slot's output by a quarter of it or more
(a cloud an hour early or late, thinner or thicker), the expected building
load by some ten per cent. The two misses do not weigh the same. A kWh the
plan keeps for a surplus that does not come is drawn from the grid in that
slot, at its price. A kWh drawn from the grid earlier because the surplus was
not foreseen leaves the car full when the sun comes: that surplus is exported. So the plan's solar
stage counts, per slot, on the surplus one standard error above the forecast,
and the live surplus (engine/modes.py) fills that room when the sun comes.

Only the solar stage counts on it: the plan's grid and fuse rows keep the
forecast, so the energy each car gets by its departure is planned as before.
"""

import math
from collections.abc import Sequence
from typing import Final

# Relative standard error of a slot's forecast solar output and expected load.
SOLAR_SPREAD: Final = 0.25
LOAD_SPREAD: Final = 0.10


def upside_surplus_kw(
    building_kw: Sequence[float], solar_kw: Sequence[float], measured_slots: int = 1
) -> tuple[float, ...]:
    """Per slot, solar - building + one standard error, at least 0; the first
    ``measured_slots`` (measured, not forecast) have no error."""
    surplus = []
    for index, (building, solar) in enumerate(zip(building_kw, solar_kw, strict=True)):
        spread = (
            0.0
            if index < measured_slots
            else math.hypot(SOLAR_SPREAD * solar, LOAD_SPREAD * building)
        )
        surplus.append(max(0.0, solar - building + spread))
    return tuple(surplus)
