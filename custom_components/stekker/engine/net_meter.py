"""One signed reading from a meter that reports its parts separately.

Smart meters (DSMR P1) and many integrations' meters give consumption and
production as two positive powers, per phase too, and phase currents without a
sign, Dutch meters in whole amperes. The engine wants net power (import
positive) and phase currents it can sign, so these are put together here.
"""

from collections.abc import Mapping

from .readings import MONTH_PEAK, POWER, QUARTER_HOUR_AVG, phase_key
from .site import PHASES

# Parts a meter may report (W, A, V); per-phase parts end in "_l1" etc.
IMPORT_POWER = "import_power"
EXPORT_POWER = "export_power"
NET_POWER = "net_power"  # signed, import positive (HomeWizard)
CURRENT = "current"
VOLTAGE = "voltage"
QUARTER_HOUR = "quarter_hour_avg"
PEAK = "month_peak"

# A whole-ampere reading n stands for anything less than 1 A from n (meters
# truncate or round): the current is moved this much towards import.
WHOLE_AMPERE_A = 1.0


def part(name: str, phase: str | None = None) -> str:
    """Key of a part, e.g. ``import_power_l2``."""
    return name if phase is None else f"{name}_{phase}"


def _net(parts: Mapping[str, float], phase: str | None) -> float | None:
    if (net := parts.get(part(NET_POWER, phase))) is not None:
        return net
    if (imported := parts.get(part(IMPORT_POWER, phase))) is None:
        return None
    exported = parts.get(part(EXPORT_POWER, phase), 0.0)
    if imported > 0.0 and exported > 0.0:
        # A meter does not import and export at once: one of the two sensors
        # has not reported the change yet. The import alone is the worst case.
        return imported
    return imported - exported


def conservative_current(amperes: float, net_w: float | None) -> float:
    """A whole-ampere current magnitude as the worst it may be for headroom.

    The sign comes from the phase's net power: a phase that imports (net power
    >= 0, or not measured) counts 1 A more (a reading of 12 A may be 12.9 A, so
    it counts as 13 A); a phase that exports counts 1 A less export, never past
    0 (exporting "12 A" may be exporting 11.5 A; it counts as 11 A). Whether the
    meter truncates or rounds, the current used is never better for the fuse
    than the true one. Returns the magnitude; the reading signs it from the
    same phase power.
    """
    magnitude = abs(amperes)
    if net_w is not None and net_w < 0:
        return max(0.0, magnitude - WHOLE_AMPERE_A)
    return magnitude + WHOLE_AMPERE_A


def net_values(parts: Mapping[str, float], *, whole_amperes: bool) -> dict[str, float]:
    """Reading values from a meter's parts.

    Net power = import - export (or the meter's own signed net), in total and
    per phase. Currents stay magnitudes: ``MeterReading.signed_current`` gives
    each the sign of its phase's net power. ``whole_amperes``: the currents are
    whole amperes, taken at their worst (see ``conservative_current``).
    """
    values: dict[str, float] = {}
    if (total := _net(parts, None)) is not None:
        values[POWER] = total
    for phase in PHASES:
        net = _net(parts, phase)
        if net is not None:
            values[phase_key("power", phase)] = net
        if (amperes := parts.get(part(CURRENT, phase))) is not None:
            values[phase_key("current", phase)] = (
                conservative_current(amperes, net) if whole_amperes else abs(amperes)
            )
        if (volts := parts.get(part(VOLTAGE, phase))) is not None:
            values[phase_key("voltage", phase)] = volts
    for name, key in ((QUARTER_HOUR, QUARTER_HOUR_AVG), (PEAK, MONTH_PEAK)):
        if (watts := parts.get(name)) is not None:
            values[key] = watts
    return values
