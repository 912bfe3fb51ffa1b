"""What each charger is credited with drawing, and what is held back for it.

The balancer subtracts the chargers' draw from the grid reading to find the
building's load, then shares the room out. Both sides can go wrong: a charger
credited with less than it draws makes phantom building load (the car is cut for
its own draw); one credited with more hides building load. This module decides,
from the setpoints written, the charger's own readings and their age:

- A steered charger's draw is its measurement when that is from this cycle, or
  taken ``lag_s`` or more after the last change. Otherwise (a slow power sensor),
  or without a measurement, it is the setpoint: a car just raised is expected at
  it (no phantom building load), one just lowered may still draw the previous
  setpoint for ``lag_s``. While a raised car is credited at a setpoint it may not
  have reached, no charger is raised (``settling``): the room it seems to leave
  may not be there.
- A charger that reports being set above what was written, or draws above it,
  is not obeying. It, and every charger not steered (balancing off, unreadable,
  writes failing or hanging), is credited with what it is measured to draw and
  held back at the most it may draw: the largest of its measurement, its maximum
  and what it reports being set to.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from .charger import ChargerSpec

# IEC 61851-1 gives an EV 5 s to follow a change of the PWM duty cycle.
DEFAULT_LAG_S = 5.0
# A measurement this old says nothing about the present draw.
MEASUREMENT_MAX_AGE_S = 60.0
# A measurement at most this old is as current as the grid reading (1 s cycle).
DEFAULT_FRESH_S = 1.5
# A charger's own setpoint may take this long to show a write (a lazy entity).
DEVICE_GRACE_S = 2.0


def obey_tolerance_a(setpoint_a: float) -> float:
    """How far above its setpoint a car may be measured before it is not obeying."""
    return max(1.5, 0.1 * setpoint_a)


@dataclass(frozen=True, slots=True)
class SetpointLog:
    """The setpoint now in effect, and the one before it with the time of the change."""

    amps: float | None = None
    since: float = float("-inf")
    previous: float | None = None

    def written(self, amps: float, now: float) -> SetpointLog:
        if self.amps is not None and amps == self.amps:
            return self
        return SetpointLog(amps, now, self.amps)

    def upper(self, now: float, lag_s: float) -> float | None:
        """The most an obeying car can draw now (it may lag a decrease by lag_s)."""
        if self.amps is None:
            return None
        if now - self.since < lag_s and self.previous is not None:
            return max(self.amps, self.previous)
        return self.amps


@dataclass(frozen=True, slots=True)
class ChargerObservation:
    """One charger as the balancer sees it this cycle."""

    spec: ChargerSpec
    steered: bool  # enabled, readable, its writes land
    log: SetpointLog = field(default_factory=SetpointLog)
    device_setpoint_a: float | None = None  # what the charger says it is set to
    measured_a: Mapping[str, float] | None = None  # draw per loaded phase
    measured_at: float | None = None


@dataclass(frozen=True, slots=True)
class ChargerAccount:
    """The outcome for one charger."""

    credit_a: Mapping[str, float]  # counted as its draw, per loaded phase
    reserve_a: float | None  # held back per loaded phase; None: it is allocated
    obeying: bool
    why: str = ""
    # Credited at a setpoint it was just raised to, before a measurement shows it
    # there: until it is, no charger may rise into room that may not be there.
    settling: bool = False
    # Credited at its setpoint, not at a measurement.
    assumed: bool = False
    # What it draws per phase at most, measured after its lag: None when no
    # measurement yet shows what the car does with its present setpoint.
    observed_a: float | None = None


def account(
    obs: ChargerObservation,
    now: float,
    lag_s: float = DEFAULT_LAG_S,
    fresh_s: float = DEFAULT_FRESH_S,
) -> ChargerAccount:
    """Credit and reservation of one charger."""
    phases = obs.spec.loaded_phases
    measured = obs.measured_a
    age = None if obs.measured_at is None else now - obs.measured_at
    if measured is not None and (age is None or age > MEASUREMENT_MAX_AGE_S):
        measured = None
    top = max(measured.values(), default=0.0) if measured else 0.0
    log = obs.log
    upper = log.upper(now, lag_s)
    # From this cycle: as current as the grid reading it is subtracted from.
    current = measured is not None and age is not None and age <= fresh_s
    # Taken once the car had its lag to follow the last change: what it does.
    after_lag = (
        measured is not None
        and obs.measured_at is not None
        and obs.measured_at >= log.since + lag_s
    )
    # Either way the measurement tells the draw now.
    settled = current or after_lag
    observed = top if after_lag else None
    why = ""
    if obs.steered and upper is not None:
        device = obs.device_setpoint_a
        written = log.amps or 0.0
        # A charger shows a setpoint a moment after a write: one above what was
        # written means the write did not land, or the charger lost it.
        if (
            device is not None
            and now - log.since >= DEVICE_GRACE_S
            and device > written + 0.15
        ):
            why = f"set to {device:.1f} A instead of {written:.1f} A"
        elif (
            settled
            and obs.measured_at is not None
            and obs.measured_at >= log.since  # the log knows the setpoint then
            and (at_reading := log.upper(obs.measured_at, lag_s)) is not None
            and top > at_reading + obey_tolerance_a(at_reading)
        ):
            why = f"draws {top:.1f} A, set to {at_reading:.1f} A"
    if not obs.steered or why:
        # Only a measurement of this cycle counts: an older one may show a car that
        # has stopped since; the reservation covers whatever it draws.
        fresh = measured if current else None
        credit = {p: max(0.0, (fresh or {}).get(p, 0.0)) for p in phases}
        reserve = max(top, obs.spec.max_a, obs.device_setpoint_a or 0.0)
        return ChargerAccount(credit, reserve, obeying=not why, why=why)
    if upper is None:
        # Not written to yet: only what it is measured to draw is known.
        credit = {p: max(0.0, (measured or {}).get(p, 0.0)) for p in phases}
    elif settled:
        assert measured is not None
        credit = {p: min(max(0.0, measured.get(p, 0.0)), upper) for p in phases}
    else:
        # Not (yet) measured at this setpoint: expect the car at it. Just raised,
        # it may still be on its way: that is room that is not there yet.
        base = log.amps or 0.0
        credit = {
            p: min(max(base, (measured or {}).get(p, 0.0)), upper) for p in phases
        }
        settling = (
            log.previous is not None and base > log.previous and now - log.since < lag_s
        )
        return ChargerAccount(
            credit,
            None,
            obeying=True,
            settling=settling,
            assumed=True,
            observed_a=observed,
        )
    return ChargerAccount(credit, None, obeying=True, observed_a=observed)


def total_credit(accounts: Mapping[str, ChargerAccount]) -> dict[str, float]:
    """The chargers' credited draw summed per site phase."""
    totals: dict[str, float] = {}
    for acc in accounts.values():
        for phase, amps in acc.credit_a.items():
            totals[phase] = totals.get(phase, 0.0) + amps
    return totals
