"""The site: one grid connection with its contracted limits."""

from dataclasses import dataclass
from enum import StrEnum

PHASES = ("l1", "l2", "l3")


class MeterRole(StrEnum):
    """What a meter measures on the site."""

    GRID = "grid"
    BUILDING = "building"
    SOLAR = "solar"
    CHARGER = "charger"


@dataclass(frozen=True, slots=True)
class Site:
    """A grid connection: GTV in kW and a main fuse per phase."""

    gtv_kw: float
    phases: int
    fuse_a: float
    voltage_v: float = 230.0
    margin_kw: float = 0.0

    @property
    def fuse_kw(self) -> float:
        """Power the main fuses allow over all phases at nominal voltage."""
        return self.phases * self.fuse_a * self.voltage_v / 1000.0

    @property
    def v_min(self) -> float:
        """Lowest phase voltage the grid may have (EN 50160: nominal - 10 %)."""
        return self.voltage_v * 0.9

    @property
    def v_max(self) -> float:
        """Highest phase voltage the grid may have (EN 50160: nominal + 10 %)."""
        return self.voltage_v * 1.1

    @property
    def phase_names(self) -> tuple[str, ...]:
        return PHASES[: self.phases]

    @property
    def margin_a(self) -> float:
        """The safety margin spread over the phases as a current."""
        return self.margin_kw * 1000.0 / (self.phases * self.voltage_v)


def site_errors(site: Site) -> dict[str, str]:
    """Field -> error key for limits that are out of range or inconsistent."""
    errors: dict[str, str] = {}
    if site.phases not in (1, 3):
        errors["phases"] = "invalid_phases"
    if not 1.0 <= site.fuse_a <= 4000.0:
        errors["fuse_a"] = "fuse_out_of_range"
    if not 100.0 <= site.voltage_v <= 400.0:
        errors["voltage_v"] = "voltage_out_of_range"
    if not 0.0 < site.gtv_kw <= 10_000.0:
        errors["gtv_kw"] = "gtv_out_of_range"
    elif not errors and site.gtv_kw > site.fuse_kw * 1.001:
        errors["gtv_kw"] = "gtv_above_fuse"
    if not 0.0 <= site.margin_kw < site.gtv_kw:
        errors["margin_kw"] = "margin_out_of_range"
    return errors
