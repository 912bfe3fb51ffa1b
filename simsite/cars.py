"""Electric cars that follow a charger's current setpoint the way real ones do.

A car is not a resistor: it draws no more than its on-board charger allows,
stops below the IEC 61851 minimum of 6 A, takes a few control cycles to follow
a new setpoint, and stops drawing when its battery reaches the target. A
balancer that assumes otherwise overshoots or hands out current nobody uses,
so closed-loop tests drive these cars. Pure and deterministic: time is a
parameter, and one ``step`` is one control cycle.
"""

import math
from dataclasses import dataclass, field
from typing import Literal

from custom_components.stekker.engine.charger import MIN_CURRENT_A
from custom_components.stekker.engine.site import PHASES

type Phase = Literal["l1", "l2", "l3"]


@dataclass(slots=True)
class Car:
    """One car plugged into (or away from) a charger.

    Lag model: after a setpoint change the draw ramps linearly to the new
    target and gets there in exactly ``lag_cycles`` steps (1 = at once), so a
    test can say when the car has settled. Stopping is immediate: a pause,
    a full battery or unplugging opens the charger's contactor, and the car
    cannot keep drawing through it. Charging losses are ignored.
    """

    name: str
    phases: Literal[1, 3] = 3
    phase: Phase = "l1"  # the phase a 1-phase car loads
    max_a: float = 16.0  # on-board charger limit per phase
    battery_kwh: float = 60.0
    soc: float = 0.5
    target_soc: float = 1.0
    connected: bool = True
    lag_cycles: int = 1
    # Phases the charger gives: a three-phase car on a socket switched to one
    # phase draws on L1 only.
    socket_phases: Literal[1, 3] = 3
    _draw_a: float = field(default=0.0, init=False, repr=False)
    _target_a: float = field(default=0.0, init=False, repr=False)
    _ramp_a: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.phases not in (1, 3) or self.socket_phases not in (1, 3):
            raise ValueError(f"{self.name}: phases must be 1 or 3")
        if self.phase not in PHASES:
            raise ValueError(f"{self.name}: phase must be one of {PHASES}")
        if self.max_a < MIN_CURRENT_A:
            raise ValueError(f"{self.name}: max_a below {MIN_CURRENT_A} A")
        if self.battery_kwh <= 0:
            raise ValueError(f"{self.name}: battery_kwh must be positive")
        if not (0.0 <= self.soc <= 1.0 and 0.0 <= self.target_soc <= 1.0):
            raise ValueError(f"{self.name}: soc and target_soc must be 0..1")
        if self.lag_cycles < 1:
            raise ValueError(f"{self.name}: lag_cycles must be at least 1")

    @property
    def draw_a(self) -> float:
        """Current drawn per loaded phase, in A."""
        return self._draw_a

    @property
    def full(self) -> bool:
        """Whether the battery has reached its target."""
        return self.soc >= self.target_soc

    def step(self, setpoint_a: float, dt_s: float, voltage_v: float) -> None:
        """Follow ``setpoint_a`` for one control cycle of ``dt_s`` seconds."""
        if dt_s < 0:
            raise ValueError("dt_s must not be negative")
        if not self.connected or self.full or setpoint_a < MIN_CURRENT_A:
            self._draw_a = self._target_a = self._ramp_a = 0.0
            return
        target = min(setpoint_a, self.max_a)
        if target != self._target_a:
            self._target_a = target
            self._ramp_a = abs(target - self._draw_a) / self.lag_cycles
        gap = target - self._draw_a
        if abs(gap) <= self._ramp_a * (1 + 1e-9):  # rounding must not add a step
            self._draw_a = target
        else:
            self._draw_a += math.copysign(self._ramp_a, gap)
        energy_kwh = self._draw_a * voltage_v * self._phases * dt_s / 3_600_000.0
        self.soc = min(1.0, self.soc + energy_kwh / self.battery_kwh)

    def phase_currents(self) -> dict[str, float]:
        """Current per phase: equal on all three, or only on the 1-phase car's phase."""
        if self._phases == 3:
            return dict.fromkeys(PHASES, self._draw_a)
        phase = self.phase if self.phases == 1 else "l1"
        return {p: self._draw_a if p == phase else 0.0 for p in PHASES}

    @property
    def _phases(self) -> int:
        return min(self.phases, self.socket_phases)
