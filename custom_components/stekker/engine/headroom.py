"""Headroom: what the chargers may draw now under the GTV and the phase fuses."""

from collections.abc import Mapping
from dataclasses import dataclass

from .readings import MeterReading
from .site import Site


class NoGridBasisError(ValueError):
    """Neither a grid nor a building meter reading: headroom cannot be known."""


@dataclass(frozen=True, slots=True)
class Headroom:
    """Capacity for all chargers together (their present draw included)."""

    grid_kw: float
    building_load_kw: float
    building_net_kw: float
    solar_kw: float | None
    charger_kw: float
    available_kw: float
    available_a: Mapping[str, float]
    utilisation_pct: float
    phase_currents_measured: bool


def _phase_currents(reading: MeterReading, site: Site) -> tuple[dict[str, float], bool]:
    """Signed current per phase; estimated from power when the meter gives none."""
    measured: dict[str, float] = {}
    for phase in site.phase_names:
        current = reading.signed_current(phase)
        if current is None:
            break
        measured[phase] = current
    else:
        return measured, True
    currents: dict[str, float] = {}
    for phase in site.phase_names:
        power = reading.phase("power", phase)
        if power is None:
            total = reading.power_w or 0.0
            power = total / site.phases
        currents[phase] = power / site.voltage_v
    return currents, False


def _spread(power_w: float, site: Site) -> dict[str, float]:
    return dict.fromkeys(site.phase_names, power_w / site.phases / site.voltage_v)


def _total_w(reading: MeterReading) -> float:
    if reading.power_w is not None:
        return reading.power_w
    return sum(
        v for p in ("l1", "l2", "l3") if (v := reading.phase("power", p)) is not None
    )


def compute_headroom(
    site: Site,
    *,
    grid: MeterReading | None = None,
    building: MeterReading | None = None,
    solar: MeterReading | None = None,
    charger_w: float = 0.0,
    charger_a: Mapping[str, float] | None = None,
) -> Headroom:
    """Headroom from the readings by role.

    With a grid meter the building's net load is grid - chargers; without one, a
    building meter (which excludes chargers) minus any measured solar production.
    """
    charger_phase = dict(charger_a) if charger_a else _spread(charger_w, site)
    solar_w = abs(_total_w(solar)) if solar is not None else None
    if grid is not None:
        grid_w = _total_w(grid)
        net_w = grid_w - charger_w
        grid_phase, measured = _phase_currents(grid, site)
        net_phase = {
            p: grid_phase[p] - charger_phase.get(p, 0.0) for p in site.phase_names
        }
    elif building is not None:
        net_w = _total_w(building) - (solar_w or 0.0)
        grid_w = net_w + charger_w
        # Solar lowers the kW total only: which phase an inverter feeds is not
        # known here, so the phase fuses are guarded against the gross load.
        net_phase, measured = _phase_currents(building, site)
    else:
        raise NoGridBasisError("no grid or building meter reading")

    fuse_room = {
        p: max(0.0, site.fuse_a - site.margin_a - net_phase[p])
        for p in site.phase_names
    }
    gtv_room_kw = site.gtv_kw - site.margin_kw - net_w / 1000.0
    fuse_room_kw = sum(fuse_room.values()) * site.voltage_v / 1000.0
    return Headroom(
        grid_kw=grid_w / 1000.0,
        building_load_kw=(net_w + (solar_w or 0.0)) / 1000.0,
        building_net_kw=net_w / 1000.0,
        solar_kw=None if solar_w is None else solar_w / 1000.0,
        charger_kw=charger_w / 1000.0,
        available_kw=max(0.0, min(gtv_room_kw, fuse_room_kw)),
        available_a=fuse_room,
        utilisation_pct=max(0.0, grid_w) / (site.gtv_kw * 1000.0) * 100.0,
        phase_currents_measured=measured,
    )
