"""Headroom: what the chargers may draw now under the GTV and the phase fuses.

What a meter does not tell is assumed at its worst, consistent with what it does
tell: a phase without a current reading may carry all the power the other phases
do not account for, power converts to current at the lowest grid voltage, and
charger current converts to power at the highest, unless the meter measures them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .readings import MeterReading
from .site import Site


class NoGridBasisError(ValueError):
    """Neither a grid nor a building meter reading: headroom cannot be known."""


@dataclass(frozen=True, slots=True)
class Headroom:
    """Capacity for all chargers together (their present draw included).

    ``voltage_v`` converts charger current to power for the kW limit: the highest
    measured phase voltage, or the highest the grid may have.
    """

    grid_kw: float
    building_load_kw: float
    building_net_kw: float
    solar_kw: float | None
    charger_kw: float
    available_kw: float
    available_a: Mapping[str, float]
    utilisation_pct: float
    phase_currents_measured: bool
    voltage_v: float
    # The kW limit in force now; None: the GTV (a limit series may lower it).
    grid_limit_kw: float | None = None


def _volts(reading: MeterReading, phase: str) -> float | None:
    volts = reading.phase("voltage", phase)
    return volts if volts is not None and volts > 0.0 else None


def load_currents(
    reading: MeterReading, site: Site, charger_a: Mapping[str, float]
) -> tuple[dict[str, float], bool]:
    """The largest current per phase without the chargers' credited draw.

    Returns the currents and whether every phase's current was measured.
    """
    upper: dict[str, float] = {}
    known_low_w = 0.0  # the least power the phases with a reading can carry
    unknown: list[str] = []
    for phase in site.phase_names:
        current = reading.signed_current(phase)
        power = reading.phase("power", phase)
        if current is not None:
            upper[phase] = current
            # Without its power the phase may as well be exporting at full current.
            known_low_w += power if power is not None else -abs(current) * site.v_max
        elif power is not None:
            volts = _volts(reading, phase) or (site.v_min if power >= 0 else site.v_max)
            upper[phase] = power / volts
            known_low_w += power
        else:
            unknown.append(phase)
    total_w = reading.power_w
    for phase in unknown:
        if total_w is None:
            # Nothing bounds it: the fuse counts as full, whatever the chargers draw.
            upper[phase] = site.fuse_a + charger_a.get(phase, 0.0)
            continue
        # The chargers' credited power is theirs; the rest may all be on this phase.
        others = sum(charger_a.get(p, 0.0) for p in unknown) * site.v_min
        rest_w = max(0.0, total_w - known_low_w - others)
        upper[phase] = rest_w / site.v_min + charger_a.get(phase, 0.0)
    return (
        {p: upper[p] - charger_a.get(p, 0.0) for p in site.phase_names},
        not unknown,
    )


def credited_power(
    credit_a: Mapping[str, float], basis: MeterReading, site: Site
) -> float:
    """The chargers' credited current as power, at the measured or lowest voltage."""
    return sum(
        credit_a.get(p, 0.0) * (_volts(basis, p) or site.v_min)
        for p in site.phase_names
    )


def _total_w(reading: MeterReading) -> float:
    if reading.power_w is not None:
        return reading.power_w
    return sum(
        v for p in ("l1", "l2", "l3") if (v := reading.phase("power", p)) is not None
    )


def _high_voltage(reading: MeterReading, site: Site) -> float:
    measured = [v for p in site.phase_names if (v := _volts(reading, p)) is not None]
    if len(measured) < site.phases:
        return site.v_max
    return max(measured)


def compute_headroom(
    site: Site,
    *,
    grid: MeterReading | None = None,
    building: MeterReading | None = None,
    solar: MeterReading | None = None,
    charger_w: float | None = None,
    charger_a: Mapping[str, float] | None = None,
    limit_kw: float | None = None,
) -> Headroom:
    """Headroom from the readings by role.

    ``charger_a`` is what the chargers are credited with drawing per phase (never
    more than they draw), ``charger_w`` its power (by default at the measured or
    lowest voltage). With a grid meter the building's net load is grid - chargers;
    without one, a building meter (which excludes chargers) minus measured solar.
    ``limit_kw`` is the kW limit now where it is below the GTV (a schedule, a
    limit entity, the quarter-hour budget); it never raises the GTV.
    """
    credit_a = {p: (charger_a or {}).get(p, 0.0) for p in site.phase_names}
    basis = grid if grid is not None else building
    if basis is None:
        raise NoGridBasisError("no grid or building meter reading")
    if charger_w is None:
        charger_w = credited_power(credit_a, basis, site)
    solar_w = abs(_total_w(solar)) if solar is not None else None
    if grid is not None:
        grid_w = _total_w(grid)
        net_w = grid_w - charger_w
        net_phase, measured = load_currents(grid, site, credit_a)
    else:
        assert building is not None
        net_w = _total_w(building) - (solar_w or 0.0)
        grid_w = net_w + charger_w
        # Solar lowers the kW total only: which phase an inverter feeds is not
        # known here, so the phase fuses are guarded against the gross load.
        net_phase, measured = load_currents(building, site, {})

    volts = _high_voltage(basis, site)
    fuse_room = {
        p: max(0.0, site.fuse_a - site.margin_a - net_phase[p])
        for p in site.phase_names
    }
    limit = site.gtv_kw if limit_kw is None else min(site.gtv_kw, limit_kw)
    gtv_room_kw = limit - site.margin_kw - net_w / 1000.0
    fuse_room_kw = sum(fuse_room.values()) * volts / 1000.0
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
        voltage_v=volts,
        grid_limit_kw=limit,
    )


def charging_limit_kw(
    limit_kw: Sequence[float], base_kw: Sequence[float], nominal_v: float, cap_v: float
) -> tuple[float, ...]:
    """The grid limit per slot as the live cap lets chargers use it, for a plan
    that counts their power at ``nominal_v``.

    The cap converts the chargers' room (limit - ``base_kw``, the site's import
    without them) to current at ``cap_v``: the highest measured phase voltage,
    or the highest the grid may have. At the nominal voltage that current is
    nominal/cap_v of the room; a plan counting the whole room would fall
    short in every slot the grid limit binds. Never raised above the limit.
    """
    ratio = min(1.0, nominal_v / cap_v)
    return tuple(
        limit - (1.0 - ratio) * max(0.0, limit - base)
        for limit, base in zip(limit_kw, base_kw, strict=True)
    )
