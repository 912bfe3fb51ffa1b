"""Diagnostics: the site's set-up and live state, with identifying data redacted."""

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_HOST, CONF_LATITUDE, CONF_LONGITUDE
from homeassistant.core import HomeAssistant

from .const import CONF_EAN, CONF_SERIAL_PORT
from .coordinator import HeadroomCoordinator
from .runtime import StekkerConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_EAN,
    CONF_HOST,
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_SERIAL_PORT,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: StekkerConfigEntry
) -> dict[str, Any]:
    runtime = entry.runtime_data
    headroom = runtime.headroom
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "site": asdict(runtime.site),
        "solar": runtime.solar.diagnostics() if runtime.solar else None,
        "prices": runtime.prices.diagnostics() if runtime.prices else None,
        "headroom": {
            "last_update_success": headroom.last_update_success,
            "data": asdict(headroom.data) if headroom.data else None,
            "quarter_hour": _quarter_hour(headroom),
        },
        "meters": [
            {
                "title": meter.subentry.title,
                "config": async_redact_data(dict(meter.subentry.data), TO_REDACT),
                "last_update_success": meter.last_update_success,
                "last_exception": repr(meter.last_exception)
                if meter.last_exception
                else None,
                "reading": dict(meter.data.values) if meter.data else None,
                # Optional registers the meter answered "illegal address" for.
                "missing_registers": sorted(meter.source.missing),
            }
            for meter in runtime.meters.values()
        ],
        "balancer": {
            "state": asdict(runtime.balancer.data) if runtime.balancer.data else None,
            "meter_data_age_s": runtime.balancer.headroom.data_age(
                runtime.balancer.clock()
            ),
            "stale_after_s": runtime.balancer.stale_s,
            "chargers": [
                {
                    "title": charger.name,
                    "config": async_redact_data(
                        dict(entry.subentries[charger_id].data), TO_REDACT
                    ),
                    "state": charger.state,
                    "why": charger.why,
                    "setpoint_a": charger.setpoint_a,
                    "enabled": charger.enabled,
                    "max_override_a": charger.max_override_a,
                    "reading": asdict(charger.reading) if charger.reading else None,
                    "error": str(charger.problem) if charger.problem else None,
                    "account": asdict(charger.account) if charger.account else None,
                    "limited_by": charger.limited_by,
                    "phases": asdict(charger.phase_memory)
                    if charger.phase_memory
                    else None,
                    "charging": {
                        "mode": charger.charging.mode.value,
                        "departure": charger.charging.departure.isoformat(),
                        "need_kwh": charger.charging.need_kwh,
                        **charger.charging.as_dict(),
                    },
                }
                for charger_id, charger in runtime.balancer.chargers.items()
            ],
        },
    }


def _quarter_hour(headroom: HeadroomCoordinator) -> dict[str, Any] | None:
    """The current quarter's import, the month's peak and what is still allowed."""
    meter = headroom.quarter
    if meter is None:
        return None
    return {
        "current": asdict(meter.current) if meter.current else None,
        "month_peak": asdict(meter.peak) if meter.peak else None,
        "allowance_kw": meter.allowance_kw(),
    }
