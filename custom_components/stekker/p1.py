"""Smart meters (P1) read by Home Assistant's dsmr and homewizard integrations.

Their entities are found through the picked device and their unique ids
(``<serial>_<key>``), never by entity id: two DSMR meters are both named
"Electricity Meter", and the second one's entity ids get a ``_2`` suffix.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from .engine.net_meter import (
    CURRENT,
    EXPORT_POWER,
    IMPORT_POWER,
    NET_POWER,
    PEAK,
    QUARTER_HOUR,
    VOLTAGE,
    part,
)
from .engine.site import PHASES

DSMR: Final = "dsmr"
HOMEWIZARD: Final = "homewizard"
P1_INTEGRATIONS: Final = (DSMR, HOMEWIZARD)

# Entity key (the end of the unique id) -> the part of the reading it is.
DSMR_KEYS: Final[Mapping[str, str]] = {
    "current_electricity_usage": IMPORT_POWER,
    "current_electricity_delivery": EXPORT_POWER,
    **{
        key: part(name, phase)
        for phase in PHASES
        for key, name in (
            (f"instantaneous_active_power_{phase}_positive", IMPORT_POWER),
            (f"instantaneous_active_power_{phase}_negative", EXPORT_POWER),
            (f"instantaneous_current_{phase}", CURRENT),
            (f"instantaneous_voltage_{phase}", VOLTAGE),
        )
    },
    # DSMR 5B (Belgium): OBIS 1-0:1.4.0 and 1-0:1.6.0, kW.
    "belgium_current_average_demand": QUARTER_HOUR,
    "belgium_maximum_demand_current_month": PEAK,
}
HOMEWIZARD_KEYS: Final[Mapping[str, str]] = {
    "active_power_w": NET_POWER,
    **{
        key: part(name, phase)
        for phase in PHASES
        for key, name in (
            (f"active_power_{phase}_w", NET_POWER),
            (f"active_current_{phase}_a", CURRENT),
            (f"active_voltage_{phase}_v", VOLTAGE),
        )
    },
    "active_power_average_w": QUARTER_HOUR,
    "monthly_power_peak_w": PEAK,
}
KEYS: Final = {DSMR: DSMR_KEYS, HOMEWIZARD: HOMEWIZARD_KEYS}

# How often a meter sends a telegram: every second from DSMR 5 on (5B, 5L and
# the other DSMR 5 variants), every 10 s before (DSMR 4, 2.2) and on the others.
DSMR_FAST_VERSIONS: Final = frozenset({"5", "5B", "5L", "5EONHU"})
DSMR_FAST_S: Final = 1.0
DSMR_SLOW_S: Final = 10.0
# The dsmr integration passes at most one telegram per this many seconds (its
# option "time_between_update", 30 s unless the user changes it).
DSMR_TIME_BETWEEN_UPDATE: Final = "time_between_update"
DSMR_DEFAULT_TIME_BETWEEN_UPDATE_S: Final = 30.0
# The homewizard integration polls its meter every 5 s.
HOMEWIZARD_POLL_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class P1Mapping:
    """What a P1 meter's device offers: parts found, and what a site lacks."""

    integration: str | None
    entities: dict[str, str] = field(default_factory=dict)  # part -> entity id
    missing: tuple[str, ...] = ()  # entity keys the device does not have
    disabled: tuple[str, ...] = ()  # needed entities the user has to enable
    interval_s: float | None = None  # how often the integration reports


def _required(integration: str, phases: int) -> list[str]:
    """The entity keys a site of ``phases`` phases needs from this meter: the
    total power and, on each of its phases, the power (for the sign) and the
    current (for the fuse)."""
    powers = (NET_POWER,) if integration == HOMEWIZARD else (IMPORT_POWER, EXPORT_POWER)
    needed = [
        *powers,
        *(
            part(name, phase)
            for phase in PHASES[:phases]
            for name in (*powers, CURRENT)
        ),
    ]
    by_part = {name: key for key, name in KEYS[integration].items()}
    return [by_part[name] for name in needed]


def _interval(integration: str, config_entry: ConfigEntry) -> float:
    if integration == HOMEWIZARD:
        return HOMEWIZARD_POLL_S
    version = str(config_entry.data.get("dsmr_version", ""))
    telegram_s = DSMR_FAST_S if version in DSMR_FAST_VERSIONS else DSMR_SLOW_S
    throttle_s = float(
        config_entry.options.get(
            DSMR_TIME_BETWEEN_UPDATE, DSMR_DEFAULT_TIME_BETWEEN_UPDATE_S
        )
    )
    return max(telegram_s, throttle_s)


@callback
def p1_mapping(hass: HomeAssistant, device_id: str, phases: int) -> P1Mapping:
    """Find the meter entities of a dsmr or homewizard device by unique id."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return P1Mapping(None)
    config_entry = hass.config_entries.async_get_entry(device.config_entry_id)
    if config_entry is None or config_entry.domain not in P1_INTEGRATIONS:
        return P1Mapping(None)
    integration = config_entry.domain
    keys = KEYS[integration]
    found: dict[str, er.RegistryEntry] = {}
    for entity in er.async_entries_for_device(
        er.async_get(hass), device_id, include_disabled_entities=True
    ):
        if entity.platform != integration or entity.domain != "sensor":
            continue
        for key in keys:
            if entity.unique_id.endswith(f"_{key}"):
                found[key] = entity
    required = _required(integration, phases)
    return P1Mapping(
        integration,
        entities={
            keys[key]: entity.entity_id
            for key, entity in found.items()
            if entity.disabled_by is None
        },
        missing=tuple(key for key in required if key not in found),
        disabled=tuple(
            found[key].entity_id
            for key in required
            if key in found and found[key].disabled_by is not None
        ),
        interval_s=_interval(integration, config_entry),
    )
