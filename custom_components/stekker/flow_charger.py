"""Charger subentries: how a charger is driven, its limits; read once before saving."""

from typing import Any

import probatio
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector

from .charger_driver import ChargerError, charger_driver, spec_from
from .const import (
    CAR_FIELDS,
    CONF_BATTERY_KWH,
    CONF_DRIVER,
    CONF_ENERGY_ENTITY,
    CONF_FAIL_SAFE_A,
    CONF_ID_TAG_ENTITY,
    CONF_MAX_A,
    CONF_MIN_A,
    CONF_NUMBER_ENTITY,
    CONF_PHASE,
    CONF_PHASES,
    CONF_POWER_ENTITY,
    CONF_PRIORITY,
    CONF_PROFILE,
    CONF_SOC_ENTITY,
    CONF_STATUS_ENTITY,
    CONF_TARGET_SOC,
    CONF_UNIT_ID,
    CONF_VOLTAGE_V,
    DOMAIN,
    DRIVER_ENTITY,
    DRIVER_MODBUS,
    SUBENTRY_CHARGER,
)
from .engine.charger import MIN_CURRENT_A
from .engine.site import PHASES
from .modbus.profiles import CHARGER_PROFILES
from .selectors import dropdown, number_box

LIMITS: dict[Any, Any] = {
    probatio.Required(CONF_PHASES, default="3"): dropdown(["1", "3"], "phases"),
    probatio.Required(CONF_PHASE, default="l1"): dropdown(list(PHASES), "phase"),
    probatio.Required(CONF_MIN_A, default=MIN_CURRENT_A): number_box(0, 80, unit="A"),
    probatio.Required(CONF_MAX_A, default=16): number_box(0, 80, unit="A"),
    probatio.Required(CONF_PRIORITY, default=0): number_box(0, 10),
    probatio.Required(CONF_FAIL_SAFE_A, default=MIN_CURRENT_A): number_box(
        0, 80, unit="A"
    ),
}
CAR: dict[Any, Any] = {
    probatio.Optional(CONF_BATTERY_KWH): number_box(1, 200, 0.5, "kWh"),
    probatio.Optional(CONF_SOC_ENTITY): selector.EntitySelector(
        selector.EntitySelectorConfig(
            domain="sensor", device_class=SensorDeviceClass.BATTERY
        )
    ),
    probatio.Optional(CONF_TARGET_SOC): number_box(1, 100, 1, "%"),
}
ENTITY_FIELDS: dict[Any, Any] = {
    probatio.Required(CONF_NAME): selector.TextSelector(),
    probatio.Required(CONF_NUMBER_ENTITY): selector.EntitySelector(
        selector.EntitySelectorConfig(domain="number")
    ),
    probatio.Optional(CONF_POWER_ENTITY): selector.EntitySelector(
        selector.EntitySelectorConfig(
            domain="sensor", device_class=SensorDeviceClass.POWER
        )
    ),
    probatio.Optional(CONF_STATUS_ENTITY): selector.EntitySelector(
        selector.EntitySelectorConfig(domain="binary_sensor")
    ),
    probatio.Optional(CONF_ENERGY_ENTITY): selector.EntitySelector(
        selector.EntitySelectorConfig(
            domain="sensor", device_class=SensorDeviceClass.ENERGY
        )
    ),
}
# Where the charger's integration reports the id tag of a session (OCPP).
ID_TAG_FIELD: dict[Any, Any] = {
    probatio.Optional(CONF_ID_TAG_ENTITY): selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor")
    ),
}
MODBUS_FIELDS: dict[Any, Any] = {
    probatio.Required(CONF_NAME): selector.TextSelector(),
    probatio.Required(CONF_HOST): selector.TextSelector(),
    probatio.Required(CONF_PORT, default=502): number_box(1, 65535),
    probatio.Required(CONF_UNIT_ID, default=1): number_box(1, 255),
    probatio.Required(CONF_PROFILE, default="alfen_eve"): selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=[
                selector.SelectOptionDict(value=key, label=profile.name)
                for key, profile in CHARGER_PROFILES.items()
            ],
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
    ),
}


def limit_errors(data: dict[str, Any], site_phases: int) -> dict[str, str]:
    """Field -> error key for limits a charger cannot be driven with."""
    errors: dict[str, str] = {}
    if data[CONF_PHASES] > site_phases:
        errors[CONF_PHASES] = "phases_above_site"
    elif data[CONF_PHASE] not in PHASES[:site_phases]:
        errors[CONF_PHASE] = "phase_not_on_site"
    low, high, safe = data[CONF_MIN_A], data[CONF_MAX_A], data[CONF_FAIL_SAFE_A]
    if low < MIN_CURRENT_A:
        errors[CONF_MIN_A] = "min_below_6"
    if high < low:
        errors[CONF_MAX_A] = "max_below_min"
    if safe != 0 and not low <= safe <= high:
        errors[CONF_FAIL_SAFE_A] = "fail_safe_invalid"
    return errors


def _ocpp_charge_point(hass: HomeAssistant, entity_id: str) -> str | None:
    """The device of the OCPP charge point a number entity belongs to, if any.

    A socket of a charger with several has its own device below the charge point
    (identifier ``<id>-conn<n>``); a single socket's entities sit on the charge
    point's device itself.
    """
    entity = er.async_get(hass).async_get(entity_id)
    if entity is None or entity.platform != "ocpp" or entity.device_id is None:
        return None
    device = dr.async_get(hass).async_get(entity.device_id)
    if not isinstance(device, dr.DeviceEntry):
        return entity.device_id
    socket = any("-conn" in value for _, value in device.identifiers)
    if socket and device.via_device_id is not None:
        return device.via_device_id
    return device.id


def _typed(user_input: dict[str, Any]) -> dict[str, Any]:
    data = dict(user_input)
    data[CONF_PHASES] = int(data[CONF_PHASES])
    for key in (CONF_MIN_A, CONF_MAX_A, CONF_FAIL_SAFE_A):
        data[key] = float(data[key])
    for key in (CONF_BATTERY_KWH, CONF_TARGET_SOC):
        if key in data:
            data[key] = float(data[key])
    for key in (CONF_PRIORITY, CONF_PORT, CONF_UNIT_ID):
        if key in data:
            data[key] = int(data[key])
    return data


class ChargerSubentryFlow(ConfigSubentryFlow):
    """Add a charger: any HA `number` entity in A or W, or a native Modbus charger."""

    _data: dict[str, Any]
    _readings: dict[str, str]

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        return self.async_show_menu(step_id="user", menu_options=["entity", "modbus"])

    async def async_step_entity(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A charger driven through another integration's number entity."""
        return await self._form(
            DRIVER_ENTITY, {**ENTITY_FIELDS, **ID_TAG_FIELD}, user_input
        )

    async def async_step_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A native Modbus TCP charger."""
        return await self._form(
            DRIVER_MODBUS, {**MODBUS_FIELDS, **ID_TAG_FIELD}, user_input
        )

    async def _form(
        self, driver: str, fields: dict[Any, Any], user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_DRIVER: driver, **_typed(user_input)}
            errors = limit_errors(data, int(self._get_entry().data[CONF_PHASES]))
            if driver == DRIVER_MODBUS and data[CONF_UNIT_ID] in (
                CHARGER_PROFILES[data[CONF_PROFILE]].station_unit_ids
            ):
                # Alfen's unit 200 is the station: it holds no socket registers.
                errors[CONF_UNIT_ID] = "station_unit_id"
            if not errors and (conflict := self._conflict(data)):
                errors["base"], placeholders = conflict
            if not errors:
                try:
                    self._readings = await self._probe(data)
                except ChargerError as err:
                    errors["base"] = err.translation_key
                    placeholders = err.placeholders
                else:
                    self._data = data
                    return await self.async_step_verify()
        return self.async_show_form(
            step_id=driver,
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({**fields, **LIMITS}), user_input or {}
            ),
            errors=errors,
            description_placeholders=placeholders or None,
        )

    def _conflict(self, data: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
        """A charger already steered from this entity or socket, or one whose
        OCPP charge point would overwrite (or be overwritten by) this one.

        The OCPP integration sends a socket's maximum current as one profile for
        the whole charge point: two of its sockets as two chargers undo each other.
        """
        others = [
            sub.data
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            for sub in entry.subentries.values()
            if sub.subentry_type == SUBENTRY_CHARGER
        ]
        if data[CONF_DRIVER] == DRIVER_MODBUS:
            key = (data[CONF_HOST], data[CONF_PORT], data[CONF_UNIT_ID])
            if any(
                (o.get(CONF_HOST), o.get(CONF_PORT), o.get(CONF_UNIT_ID)) == key
                for o in others
            ):
                return "charger_already_configured", {"charger": data[CONF_HOST]}
            return None
        entity_id = data[CONF_NUMBER_ENTITY]
        if any(o.get(CONF_NUMBER_ENTITY) == entity_id for o in others):
            return "charger_already_configured", {"charger": entity_id}
        point = _ocpp_charge_point(self.hass, entity_id)
        for other in others:
            number = other.get(CONF_NUMBER_ENTITY)
            if (
                point is not None
                and number
                and _ocpp_charge_point(self.hass, number) == point
            ):
                return "ocpp_shared_charge_point", {"other": number}
        return None

    async def _probe(self, data: dict[str, Any]) -> dict[str, str]:
        entry = self._get_entry()
        driver = charger_driver(
            self.hass, "probe", data, float(entry.data[CONF_VOLTAGE_V])
        )
        await driver.async_start()
        try:
            # Shown at the site's nominal voltage, as the installer thinks of it.
            volts = dict.fromkeys(PHASES, float(entry.data[CONF_VOLTAGE_V]))
            reading = await driver.read(0.0, volts)
            driver.narrow(spec_from("probe", data))  # limits the entity can take
        finally:
            await driver.async_stop()
        measured = reading.phase_a or {}
        currents = ", ".join(
            f"{phase.upper()} {measured[phase]:.1f} A"
            for phase in PHASES
            if phase in measured
        )
        return {
            "setpoint": "-"
            if reading.setpoint_a is None
            else f"{reading.setpoint_a:.1f}",
            "currents": currents or "-",
        }

    async def async_step_verify(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show what the charger says; save or go back."""
        return self.async_show_menu(
            step_id="verify",
            menu_options=["save", "user"],
            description_placeholders=self._readings,
        )

    async def async_step_save(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        data = dict(self._data)
        return self.async_create_entry(title=data.pop(CONF_NAME), data=data)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a charger's phases, limits, priority, fail-safe current, id tag
        sensor, and the car usually charged there (its battery and state-of-charge
        sensor)."""
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            # Optional fields left empty are cleared, not kept.
            kept = {
                k: v
                for k, v in subentry.data.items()
                if k not in CAR_FIELDS and k != CONF_ID_TAG_ENTITY
            }
            data = {**kept, **_typed(user_input)}
            errors = limit_errors(data, int(self._get_entry().data[CONF_PHASES]))
            if (CONF_BATTERY_KWH in data) != (CONF_SOC_ENTITY in data):
                errors["base"] = "car_needs_battery_and_soc"
            if not errors:
                return self.async_update_and_abort(
                    self._get_entry(), subentry, data=data
                )
        current = {**subentry.data, CONF_PHASES: str(subentry.data[CONF_PHASES])}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({**LIMITS, **ID_TAG_FIELD, **CAR}),
                user_input or current,
            ),
            errors=errors,
        )
