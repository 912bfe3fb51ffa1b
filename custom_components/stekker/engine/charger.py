"""Chargers as the allocator sees them: fixed wiring and limits, and live status."""

from dataclasses import dataclass

from .site import PHASES

# IEC 61851 PWM cannot signal less than 6 A: below it a charger is paused, not slowed.
MIN_CURRENT_A = 6.0


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    """How a charger is wired and what it may be set to.

    ``phase`` is the site phase a one-phase charger hangs on; three-phase chargers
    load all three equally and ignore it. Higher ``priority`` is served first.
    A charger that cannot be paused (``can_pause`` False: its control's least value
    is above 0) always gets at least its minimum, before any other charger.
    """

    id: str
    phases: int
    phase: str = "l1"
    min_a: float = MIN_CURRENT_A
    max_a: float = 16.0
    priority: int = 0
    can_pause: bool = True

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError(f"charger {self.id}: phases must be 1 or 3")
        if self.phase not in PHASES:
            raise ValueError(f"charger {self.id}: unknown phase {self.phase!r}")
        if not MIN_CURRENT_A <= self.min_a <= self.max_a:
            raise ValueError(
                f"charger {self.id}: need {MIN_CURRENT_A} A <= min_a <= max_a"
            )

    @property
    def loaded_phases(self) -> tuple[str, ...]:
        """The site phases this charger draws from."""
        return PHASES if self.phases == 3 else (self.phase,)


@dataclass(frozen=True, slots=True)
class ChargerStatus:
    """What a charger reports this cycle.

    ``connected`` means a car is plugged in and wants charge; ``enabled`` is the
    user's balancing switch; ``measured_a`` is the highest phase current it draws.
    """

    connected: bool
    enabled: bool = True
    measured_a: float | None = None
