"""Solar array subentries and the site's forecast options.

The number boxes have no bounds on purpose: a value out of range gets a
translated error that says what is allowed, instead of a bare schema error.
"""

from typing import Any

import probatio
from homeassistant.components.weather.const import WeatherEntityFeature
from homeassistant.config_entries import (
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import (
    ATTR_SUPPORTED_FEATURES,
    CONF_API_KEY,
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_NAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector

from .const import (
    CONF_AZIMUTH_DEG,
    CONF_DAMPING,
    CONF_FORECAST_SOURCE,
    CONF_INVERTER_KW,
    CONF_KWP,
    CONF_LOSSES_PCT,
    CONF_PANELS,
    CONF_TILT_DEG,
    CONF_WEATHER_ENTITY,
    CONF_WP_PER_PANEL,
    DEFAULT_LOSSES_PCT,
    FORECAST_BUILTIN,
    FORECAST_FORECAST_SOLAR,
    FORECAST_OPEN_METEO,
)
from .engine.solar import SolarArray, solar_array_errors
from .flow_named import NamedSubentryFlow
from .forecast import ForecastSolarSource
from .selectors import dropdown

# Panels and the stated kWp may disagree by rounding of the Wp per panel.
_KWP_TOLERANCE = 0.005
# Only the total kWp given: the array is stored as this many typical panels.
_NOMINAL_WP_PER_PANEL = 400.0


def _box(step: float | str, unit: str | None = None) -> selector.NumberSelector:
    config = selector.NumberSelectorConfig(
        mode=selector.NumberSelectorMode.BOX,
        step=step,  # type: ignore[typeddict-item]  # HA also accepts "any"
    )
    if unit:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


ARRAY_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_NAME): selector.TextSelector(),
        probatio.Optional(CONF_PANELS): _box(1),
        probatio.Optional(CONF_WP_PER_PANEL): _box("any", "Wp"),
        probatio.Optional(CONF_KWP): _box("any", "kWp"),
        probatio.Required(CONF_AZIMUTH_DEG): _box("any", "°"),
        probatio.Required(CONF_TILT_DEG): _box("any", "°"),
        probatio.Optional(CONF_INVERTER_KW): _box("any", "kW"),
        probatio.Required(CONF_LOSSES_PCT): _box("any", "%"),
        probatio.Optional(CONF_DAMPING): _box("any"),
    }
)
ARRAY_DEFAULTS: dict[str, Any] = {
    CONF_AZIMUTH_DEG: 180,
    CONF_TILT_DEG: 35,
    CONF_LOSSES_PCT: DEFAULT_LOSSES_PCT,
}


def array_data(user_input: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The subentry data from the form, and field -> error key for what is wrong.

    The installer gives the Wp per panel or the array's total kWp; only the Wp per
    panel is stored, so the data has one source of truth.
    """
    errors: dict[str, str] = {}
    wp: float | None = user_input.get(CONF_WP_PER_PANEL)
    kwp: float | None = user_input.get(CONF_KWP)
    given_panels: float | None = user_input.get(CONF_PANELS)
    power_field = CONF_WP_PER_PANEL if wp is not None else CONF_KWP
    power_missing = wp is None and kwp is None
    if not user_input[CONF_NAME].strip():
        errors[CONF_NAME] = "name_required"
    if given_panels is not None:
        panels = float(given_panels)
        if not panels.is_integer() or panels < 1:
            errors[CONF_PANELS] = "panels_out_of_range"
    elif kwp is not None and wp is None:
        # Only the total: the panel count does not change the forecast.
        panels = float(max(round(kwp * 1000.0 / _NOMINAL_WP_PER_PANEL), 1))
    else:
        panels = 1.0
        if not power_missing:
            errors[CONF_PANELS] = "panels_required"
    if wp is None:
        wp = (kwp or 0.0) * 1000.0 / max(panels, 1.0)
    elif kwp is not None and abs(panels * wp / 1000.0 - kwp) > _KWP_TOLERANCE * kwp:
        errors[CONF_KWP] = "power_mismatch"
    # No inverter limit given: the array's own peak power, so nothing is clipped.
    inverter_kw = user_input.get(CONF_INVERTER_KW)
    data = {
        CONF_PANELS: int(panels),
        CONF_WP_PER_PANEL: float(wp),
        CONF_AZIMUTH_DEG: float(user_input[CONF_AZIMUTH_DEG]),
        CONF_TILT_DEG: float(user_input[CONF_TILT_DEG]),
        CONF_LOSSES_PCT: float(user_input[CONF_LOSSES_PCT]),
    }
    if inverter_kw is not None:
        data[CONF_INVERTER_KW] = float(inverter_kw)
    if (damping := user_input.get(CONF_DAMPING)) is not None:
        data[CONF_DAMPING] = float(damping)
        if not 0.0 <= damping <= 1.0:
            errors[CONF_DAMPING] = "damping_out_of_range"
    array = SolarArray(
        name=user_input[CONF_NAME],
        panels=int(panels),
        wp_per_panel=data[CONF_WP_PER_PANEL],
        azimuth_deg=data[CONF_AZIMUTH_DEG],
        tilt_deg=data[CONF_TILT_DEG],
        inverter_kw=data.get(
            CONF_INVERTER_KW, int(panels) * data[CONF_WP_PER_PANEL] / 1000.0
        ),
        losses_pct=data[CONF_LOSSES_PCT],
    )
    for key, error in solar_array_errors(array).items():
        if key == CONF_INVERTER_KW and inverter_kw is None:
            continue  # follows the peak power, whose error is given there
        errors.setdefault(power_field if key == CONF_WP_PER_PANEL else key, error)
    if power_missing:
        errors.pop(power_field, None)
        errors["base"] = "power_missing"
    return data, errors


class SolarArraySubentryFlow(NamedSubentryFlow):
    """Add or change a solar array: its size, orientation and inverter limit."""

    schema = ARRAY_SCHEMA
    defaults = ARRAY_DEFAULTS

    def _checked(
        self, user_input: dict[str, Any], own_id: str | None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        return array_data(user_input)


FORECAST_KEYS = (
    CONF_FORECAST_SOURCE,
    CONF_API_KEY,
    CONF_WEATHER_ENTITY,
    CONF_LATITUDE,
    CONF_LONGITUDE,
)
FORECAST_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_FORECAST_SOURCE): dropdown(
            [FORECAST_BUILTIN, FORECAST_FORECAST_SOLAR, FORECAST_OPEN_METEO],
            CONF_FORECAST_SOURCE,
        ),
        probatio.Optional(CONF_API_KEY): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
        ),
        probatio.Optional(CONF_WEATHER_ENTITY): selector.EntitySelector(
            selector.EntitySelectorConfig(domain="weather")
        ),
        probatio.Optional(CONF_LATITUDE): _box("any", "°"),
        probatio.Optional(CONF_LONGITUDE): _box("any", "°"),
    }
)


def forecast_errors(hass: HomeAssistant, user_input: dict[str, Any]) -> dict[str, str]:
    """Field -> error key for forecast options that cannot work."""
    errors: dict[str, str] = {}
    if weather := user_input.get(CONF_WEATHER_ENTITY):
        state = hass.states.get(weather)
        features = state.attributes.get(ATTR_SUPPORTED_FEATURES, 0) if state else 0
        if not features & WeatherEntityFeature.FORECAST_HOURLY:
            errors[CONF_WEATHER_ENTITY] = "weather_not_hourly"
    try:
        ForecastSolarSource(user_input.get(CONF_API_KEY))
    except ValueError:
        errors[CONF_API_KEY] = "invalid_api_key"
    latitude = user_input.get(CONF_LATITUDE)
    longitude = user_input.get(CONF_LONGITUDE)
    if (latitude is None) != (longitude is None):
        missing = CONF_LATITUDE if latitude is None else CONF_LONGITUDE
        errors[missing] = "location_incomplete"
    if latitude is not None and not -90.0 <= latitude <= 90.0:
        errors[CONF_LATITUDE] = "latitude_out_of_range"
    if longitude is not None and not -180.0 <= longitude <= 180.0:
        errors[CONF_LONGITUDE] = "longitude_out_of_range"
    return errors


class ForecastOptionsStep(OptionsFlow):
    """The options flow's forecast step: the source and, optionally, the location."""

    async def async_step_forecast(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        options = self.config_entry.options
        if user_input is not None:
            errors = forecast_errors(self.hass, user_input)
            if not errors:
                kept = {k: v for k, v in options.items() if k not in FORECAST_KEYS}
                chosen = {k: v for k, v in user_input.items() if v not in (None, "")}
                return self.async_create_entry(data=kept | chosen)
        return self.async_show_form(
            step_id="forecast",
            data_schema=self.add_suggested_values_to_schema(
                FORECAST_SCHEMA,
                user_input or {CONF_FORECAST_SOURCE: FORECAST_BUILTIN, **options},
            ),
            errors=errors,
        )
