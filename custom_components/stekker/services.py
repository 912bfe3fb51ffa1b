"""Actions: a car's charging need, charge now, and the site plan as response data.

A charger is named by its device or by any of its entities. Bad input raises a
translated ServiceValidationError before anything is changed.
"""

from datetime import datetime
from typing import Any, Final

import probatio
from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .balancer import Charger
from .charging import MAX_NEED_KWH
from .const import DOMAIN
from .engine.modes import ChargeMode
from .runtime import StekkerConfigEntry

SERVICE_SET_CHARGING_NEED: Final = "set_charging_need"
SERVICE_CLEAR_CHARGING_NEED: Final = "clear_charging_need"
SERVICE_CHARGE_NOW: Final = "charge_now"
SERVICE_GET_PLAN: Final = "get_plan"
ATTR_ENERGY_KWH: Final = "energy_kwh"
ATTR_TARGET_SOC: Final = "target_soc"
ATTR_BATTERY_KWH: Final = "battery_kwh"
ATTR_SOC_ENTITY: Final = "soc_entity"
ATTR_DEPARTURE: Final = "departure"
ATTR_UNTIL: Final = "until"

_CHARGER: dict[Any, Any] = {
    probatio.Optional(ATTR_DEVICE_ID): cv.string,
    probatio.Optional(ATTR_ENTITY_ID): cv.entity_id,
}
_ENERGY = probatio.All(
    probatio.Coerce(float), probatio.Range(min=0.0, max=MAX_NEED_KWH)
)
_PERCENT = probatio.All(probatio.Coerce(float), probatio.Range(min=0.0, max=100.0))

SET_NEED_SCHEMA: Final = probatio.Schema(
    {
        **_CHARGER,
        probatio.Optional(ATTR_ENERGY_KWH): _ENERGY,
        probatio.Optional(ATTR_TARGET_SOC): _PERCENT,
        probatio.Optional(ATTR_BATTERY_KWH): probatio.All(
            probatio.Coerce(float), probatio.Range(min=1.0, max=MAX_NEED_KWH)
        ),
        probatio.Optional(ATTR_SOC_ENTITY): cv.entity_id,
        probatio.Required(ATTR_DEPARTURE): cv.datetime,
    }
)
CHARGER_SCHEMA: Final = probatio.Schema(_CHARGER)
CHARGE_NOW_SCHEMA: Final = probatio.Schema(
    {
        **_CHARGER,
        probatio.Optional(ATTR_UNTIL): cv.datetime,
        probatio.Optional(ATTR_ENERGY_KWH): probatio.All(
            _ENERGY, probatio.Range(min=0.1)
        ),
    }
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions once for every site."""
    hass.services.async_register(
        DOMAIN, SERVICE_SET_CHARGING_NEED, _async_set_need, SET_NEED_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_CLEAR_CHARGING_NEED, _async_clear_need, CHARGER_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_CHARGE_NOW, _async_charge_now, CHARGE_NOW_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_PLAN,
        _async_get_plan,
        CHARGER_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )


def invalid(key: str, **placeholders: str) -> ServiceValidationError:
    """A translated error for an action's bad input."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _resolve(call: ServiceCall) -> tuple[StekkerConfigEntry, Charger]:
    """The charger a call names by its device or one of its entities."""
    hass = call.hass
    device_id = call.data.get(ATTR_DEVICE_ID)
    entity_id = call.data.get(ATTR_ENTITY_ID)
    if (device_id is None) == (entity_id is None):
        raise invalid("charger_required")
    named = device_id or entity_id
    if entity_id is not None:
        entity = er.async_get(hass).async_get(entity_id)
        device_id = None if entity is None else entity.device_id
    device = None if device_id is None else dr.async_get(hass).async_get(device_id)
    if device is not None:
        entry: StekkerConfigEntry
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            for domain, key in device.identifiers:
                if domain == DOMAIN and key in entry.runtime_data.balancer.chargers:
                    return entry, entry.runtime_data.balancer.chargers[key]
    raise invalid("charger_not_found", charger=str(named))


def _future(call: ServiceCall, key: str, when: datetime) -> datetime:
    """A time the call gives, as an aware time that has not passed."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt_util.get_default_time_zone())
    if when <= dt_util.utcnow():
        raise invalid("time_passed", time=when.isoformat(), field=key)
    return dt_util.as_utc(when)


def _need_kwh(call: ServiceCall) -> float:
    """The energy asked for, or from a target SoC: the battery's size times the
    share still to fill, the present SoC from the car's sensor."""
    data = call.data
    energy: float | None = data.get(ATTR_ENERGY_KWH)
    target: float | None = data.get(ATTR_TARGET_SOC)
    if (energy is None) == (target is None):
        raise invalid("need_required")
    if energy is not None:
        return energy
    assert target is not None  # one of the two, as checked
    battery: float | None = data.get(ATTR_BATTERY_KWH)
    soc_entity: str | None = data.get(ATTR_SOC_ENTITY)
    if battery is None or soc_entity is None:
        raise invalid("soc_needs_battery")
    state = call.hass.states.get(soc_entity)
    try:
        soc = float(state.state) if state is not None else None
    except ValueError:
        soc = None
    if soc is None or not 0.0 <= soc <= 100.0:
        raise invalid("soc_unavailable", entity=soc_entity)
    return max(0.0, (target - soc) / 100.0 * battery)


async def _async_set_need(call: ServiceCall) -> None:
    entry, charger = _resolve(call)
    kwh = _need_kwh(call)
    departure = _future(call, ATTR_DEPARTURE, call.data[ATTR_DEPARTURE])
    charger.charging.set_need(kwh, departure)
    charger.charging.mode = ChargeMode.PLANNED
    await _changed(entry)


async def _async_clear_need(call: ServiceCall) -> None:
    entry, charger = _resolve(call)
    charger.charging.clear_need()
    await _changed(entry)


async def _async_charge_now(call: ServiceCall) -> None:
    entry, charger = _resolve(call)
    until, kwh = call.data.get(ATTR_UNTIL), call.data.get(ATTR_ENERGY_KWH)
    if until is None and kwh is None:
        raise invalid("charge_now_needs_end")
    if until is not None:
        until = _future(call, ATTR_UNTIL, until)
    charger.charging.charge_now(until, kwh)
    await _changed(entry)


async def _changed(entry: StekkerConfigEntry) -> None:
    """Plan again, then balance: the entities show the change with the cycle."""
    await entry.runtime_data.planner.async_refresh()
    await entry.runtime_data.balancer.async_run_cycle()


async def _async_get_plan(call: ServiceCall) -> ServiceResponse:
    """Every planned car of the named charger's site, or of every site."""
    if ATTR_DEVICE_ID in call.data or ATTR_ENTITY_ID in call.data:
        entry, charger = _resolve(call)
        return {"sites": [_site_plan(entry, charger.spec.id)]}
    entries: list[StekkerConfigEntry] = call.hass.config_entries.async_loaded_entries(
        DOMAIN
    )
    return {"sites": [_site_plan(e, None) for e in entries]}


def _site_plan(entry: StekkerConfigEntry, only: str | None) -> dict[str, Any]:
    planner = entry.runtime_data.planner
    plan = planner.current
    chargers: list[dict[str, Any]] = []
    if plan is not None:
        for cid, car in plan.cars.items():
            if only is not None and cid != only:
                continue
            done = plan.completion(cid)
            chargers.append(
                {
                    "charger": planner.balancer.chargers[cid].name,
                    "need_kwh": round(car.need_kwh, 3),
                    "departure": car.departure.isoformat(),
                    "energy_kwh": round(car.plan.energy_kwh, 3),
                    "shortfall_kwh": round(car.plan.shortfall_kwh, 3),
                    "completion": None if done is None else done.isoformat(),
                    "slots": plan.as_list(cid),
                }
            )
    return {
        "site": entry.title,
        "made_at": None if plan is None else plan.made_at.isoformat(),
        "chargers": chargers,
    }
