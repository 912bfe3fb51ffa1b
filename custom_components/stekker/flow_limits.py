"""The options flow's grid limit and price steps.

Every field is optional: an empty one removes the option. Nothing is saved
while any field has an error. The prices come from one source, a sensor or a
price integration's action, so the plan and the session costs agree.
"""

from typing import Any

import probatio
from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector
from homeassistant.util.unit_conversion import PowerConverter

from .const import (
    CONF_CAPACITY_PRICE,
    CONF_GTV_KW,
    CONF_LIMIT_ENTITY,
    CONF_LIMIT_SCHEDULE,
    CONF_PRICE_ENTITY,
    CONF_PRICE_ENTRY,
    CONF_QUARTER_BUDGET_KW,
    DOMAIN,
    PRICE_DOMAINS,
)
from .engine.grid_limit import ScheduleError, parse_schedule
from .engine.prices import price_now, price_points
from .selectors import number_box

LIMIT_KEYS = (
    CONF_LIMIT_SCHEDULE,
    CONF_LIMIT_ENTITY,
    CONF_QUARTER_BUDGET_KW,
    CONF_CAPACITY_PRICE,
)
LIMIT_SCHEMA = probatio.Schema(
    {
        probatio.Optional(CONF_LIMIT_SCHEDULE): selector.TextSelector(
            selector.TextSelectorConfig(multiline=True)
        ),
        probatio.Optional(CONF_LIMIT_ENTITY): selector.EntitySelector(
            selector.EntitySelectorConfig(domain=["sensor", "number", "input_number"])
        ),
        probatio.Optional(CONF_QUARTER_BUDGET_KW): number_box(0.1, 10_000, 0.1, "kW"),
        probatio.Optional(CONF_CAPACITY_PRICE): number_box(0, 1000, 0.01),
    }
)
PRICE_SCHEMA = probatio.Schema(
    {
        probatio.Optional(CONF_PRICE_ENTITY): selector.EntitySelector(
            selector.EntitySelectorConfig(domain="sensor")
        ),
        # The selector filters by one integration only: the domain is checked.
        probatio.Optional(CONF_PRICE_ENTRY): selector.ConfigEntrySelector(
            selector.ConfigEntrySelectorConfig()
        ),
    }
)
PRICE_KEYS = (CONF_PRICE_ENTITY, CONF_PRICE_ENTRY)


def limit_errors(
    hass: HomeAssistant, gtv_kw: float, user_input: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Field -> error key, and the placeholders the errors name."""
    errors: dict[str, str] = {}
    placeholders = {"gtv": f"{gtv_kw:g}"}
    try:
        blocks = parse_schedule(user_input.get(CONF_LIMIT_SCHEDULE, ""))
    except ScheduleError as err:
        errors[CONF_LIMIT_SCHEDULE] = "schedule_invalid"
        placeholders["line"] = err.line
    else:
        if above := [block.kw for block in blocks if block.kw > gtv_kw]:
            errors[CONF_LIMIT_SCHEDULE] = "schedule_above_gtv"
            placeholders["kw"] = f"{max(above):g}"
    if entity_id := user_input.get(CONF_LIMIT_ENTITY):
        state = hass.states.get(entity_id)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
        registered = er.async_get(hass).async_get(entity_id)
        if state is None:
            errors[CONF_LIMIT_ENTITY] = "entity_not_found"
        elif registered is not None and registered.platform == DOMAIN:
            # Stekker's own limit or headroom would only ever ratchet down.
            errors[CONF_LIMIT_ENTITY] = "limit_entity_own"
        elif unit is None:
            # A bare number could be kW or W: a thousandfold too high or low.
            errors[CONF_LIMIT_ENTITY] = "limit_entity_no_unit"
        elif unit not in PowerConverter.VALID_UNITS:
            errors[CONF_LIMIT_ENTITY] = "limit_entity_unit"
            placeholders["unit"] = str(unit)
    budget = user_input.get(CONF_QUARTER_BUDGET_KW)
    if budget is not None and budget > gtv_kw:
        errors[CONF_QUARTER_BUDGET_KW] = "budget_above_gtv"
    return errors, placeholders


def price_errors(hass: HomeAssistant, user_input: dict[str, Any]) -> dict[str, str]:
    """Field -> error key for the price source."""
    entity_id = user_input.get(CONF_PRICE_ENTITY)
    entry_id = user_input.get(CONF_PRICE_ENTRY)
    if entity_id and entry_id:
        return {"base": "price_source_both"}
    if entity_id:
        state = hass.states.get(entity_id)
        if state is None:
            return {CONF_PRICE_ENTITY: "price_entity_missing"}
        if not (
            price_points(state.attributes) or price_now(state.state, "") is not None
        ):
            # Neither a price now (session costs) nor a forecast (the plan).
            return {CONF_PRICE_ENTITY: "price_forecast_unreadable"}
    if entry_id:
        source = hass.config_entries.async_get_entry(entry_id)
        if source is None or source.domain not in PRICE_DOMAINS:
            return {CONF_PRICE_ENTRY: "price_entry_domain"}
        if source.state is not ConfigEntryState.LOADED:
            return {CONF_PRICE_ENTRY: "price_entry_not_loaded"}
    return {}


def _chosen(user_input: dict[str, Any]) -> dict[str, Any]:
    """The fields given (text stripped); an empty one is no option."""
    chosen: dict[str, Any] = {}
    for key, value in user_input.items():
        given = value.strip() if isinstance(value, str) else value
        if given not in (None, ""):
            chosen[key] = given
    return chosen


class LimitOptionsSteps(OptionsFlow):
    """The grid limit (schedule, limit entity, quarter-hour budget) and prices."""

    async def async_step_grid_limit(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        options = self.config_entry.options
        gtv_kw = float(self.config_entry.data[CONF_GTV_KW])
        placeholders = {"gtv": f"{gtv_kw:g}"}
        if user_input is not None:
            errors, placeholders = limit_errors(self.hass, gtv_kw, user_input)
            if not errors:
                kept = {k: v for k, v in options.items() if k not in LIMIT_KEYS}
                return self.async_create_entry(data=kept | _chosen(user_input))
        return self.async_show_form(
            step_id="grid_limit",
            data_schema=self.add_suggested_values_to_schema(
                LIMIT_SCHEMA, user_input or dict(options)
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_prices(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        options = self.config_entry.options
        if user_input is not None:
            errors = price_errors(self.hass, user_input)
            if not errors:
                kept = {k: v for k, v in options.items() if k not in PRICE_KEYS}
                return self.async_create_entry(data=kept | _chosen(user_input))
        return self.async_show_form(
            step_id="prices",
            data_schema=self.add_suggested_values_to_schema(
                PRICE_SCHEMA, user_input or dict(options)
            ),
            errors=errors,
        )
