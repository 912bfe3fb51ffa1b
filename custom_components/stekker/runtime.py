"""What a running site holds, in a module of its own so imports run one way.

Platforms and coordinators import it; it imports them only for type checking
(annotations are evaluated lazily), so no module imports its own importer.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .engine.site import Site

if TYPE_CHECKING:
    from .balancer import BalancerCoordinator
    from .coordinator import HeadroomCoordinator, MeterCoordinator
    from .planner import PlanCoordinator
    from .price_actions import PriceActionCoordinator
    from .sessions import SessionRecorder
    from .solar_forecast import SolarForecastCoordinator


@dataclass(kw_only=True)
class StekkerRuntimeData:
    """What a running site holds."""

    site: Site
    site_device_id: str
    meters: dict[str, MeterCoordinator]
    headroom: HeadroomCoordinator
    balancer: BalancerCoordinator
    planner: PlanCoordinator
    sessions: SessionRecorder
    solar: SolarForecastCoordinator | None = None
    prices: PriceActionCoordinator | None = None


type StekkerConfigEntry = ConfigEntry[StekkerRuntimeData]
