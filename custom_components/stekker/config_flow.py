"""Config flow: the site, its first meter (read live before saving), more meters."""

from collections.abc import Mapping
from typing import Any, Final, override

import probatio
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import callback
from homeassistant.data_entry_flow import FlowHandler
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import selector

from .const import (
    BALANCING_DEFAULTS,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CURRENT_ENTITIES,
    CONF_DEVICE_ID,
    CONF_EAN,
    CONF_FUSE_A,
    CONF_GTV_KW,
    CONF_HYSTERESIS_S,
    CONF_MARGIN_KW,
    CONF_MIN_WRITE_INTERVAL_S,
    CONF_P1_INTEGRATION,
    CONF_PARITY,
    CONF_PHASES,
    CONF_POLL_INTERVAL,
    CONF_POWER_ENTITY,
    CONF_PROFILE,
    CONF_RAMP_STEP_A,
    CONF_ROLE,
    CONF_ROTATION_S,
    CONF_SERIAL_PORT,
    CONF_SOURCE,
    CONF_STALE_CYCLES,
    CONF_STALE_S,
    CONF_STOPBITS,
    CONF_UNIT_ID,
    CONF_VOLTAGE_V,
    DEFAULT_MARGIN_KW,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_VOLTAGE_V,
    DOMAIN,
    MAX_POLL_INTERVAL,
    MAX_STALE_S,
    MIN_POLL_INTERVAL,
    SOURCE_MODBUS_RTU_TCP,
    SOURCE_MODBUS_SERIAL,
    SOURCE_MODBUS_TCP,
    SOURCE_NET_SENSORS,
    SOURCE_P1,
    SOURCE_SENSORS,
    SUBENTRY_CARD,
    SUBENTRY_CHARGER,
    SUBENTRY_METER,
    SUBENTRY_SOLAR_ARRAY,
)
from .coordinator import poll_interval, stale_time
from .engine.net_meter import CURRENT, EXPORT_POWER, IMPORT_POWER, part
from .engine.readings import MeterReading
from .engine.site import PHASES, MeterRole, Site, site_errors
from .flow_charger import ChargerSubentryFlow
from .flow_limits import LimitOptionsSteps
from .flow_sessions import CardSubentryFlow
from .flow_solar import ForecastOptionsStep, SolarArraySubentryFlow
from .meter import (
    MeterReadError,
    NetSensorMeterSource,
    entity_field,
    meter_source,
    probe,
)
from .modbus.profiles import METER_PROFILES
from .p1 import DSMR, HOMEWIZARD, P1_INTEGRATIONS, p1_mapping
from .selectors import dropdown, number_box
from .site_config import site_from

LIMITS_SCHEMA = {
    probatio.Required(CONF_GTV_KW): number_box(1, 10_000, 0.1, "kW"),
    probatio.Required(CONF_PHASES, default="3"): dropdown(["1", "3"], "phases"),
    probatio.Required(CONF_FUSE_A): number_box(6, 4000, 1, "A"),
    probatio.Required(CONF_VOLTAGE_V, default=DEFAULT_VOLTAGE_V): number_box(
        100, 400, 1, "V"
    ),
}
SITE_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_NAME): selector.TextSelector(),
        **LIMITS_SCHEMA,
        probatio.Required(CONF_MARGIN_KW, default=DEFAULT_MARGIN_KW): number_box(
            0, 1000, 0.1, "kW"
        ),
        probatio.Optional(CONF_EAN): selector.TextSelector(),
    }
)
PROFILE_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[
            selector.SelectOptionDict(value=key, label=profile.name)
            for key, profile in METER_PROFILES.items()
        ],
        mode=selector.SelectSelectorMode.DROPDOWN,
    )
)
UNIT_ID = {probatio.Required(CONF_UNIT_ID, default=1): number_box(0, 255, 1)}
TCP_SCHEMA = {
    probatio.Required(CONF_HOST): selector.TextSelector(),
    probatio.Required(CONF_PORT, default=502): number_box(1, 65535, 1),
    **UNIT_ID,
    probatio.Required(CONF_PROFILE, default="sdm630"): PROFILE_SELECTOR,
}
# The form's choices (translation keys must be lower case) -> what the entry stores
# and the serial transport takes.
PARITY: Final = {"none": "N", "even": "E", "odd": "O"}
SERIAL_SCHEMA = {
    probatio.Required(CONF_SERIAL_PORT): selector.TextSelector(),
    probatio.Required(CONF_BAUDRATE, default="9600"): dropdown(
        ["2400", "4800", "9600", "19200", "38400", "57600", "115200"], "baudrate"
    ),
    probatio.Required(CONF_PARITY, default="none"): dropdown(list(PARITY), "parity"),
    probatio.Required(CONF_STOPBITS, default="1"): dropdown(["1", "2"], "stopbits"),
    probatio.Required(CONF_BYTESIZE, default="8"): dropdown(["7", "8"], "bytesize"),
    **UNIT_ID,
    probatio.Required(CONF_PROFILE, default="sdm630"): PROFILE_SELECTOR,
}


def _sensor(device_class: SensorDeviceClass) -> selector.EntitySelector:
    return selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor", device_class=device_class)
    )


SENSORS_SCHEMA: dict[probatio.Marker, selector.EntitySelector] = {
    probatio.Required(CONF_POWER_ENTITY): _sensor(SensorDeviceClass.POWER)
}
SENSORS_SCHEMA.update(
    (probatio.Optional(key), _sensor(SensorDeviceClass.CURRENT))
    for key in CONF_CURRENT_ENTITIES
)
P1_SCHEMA = {
    probatio.Required(CONF_DEVICE_ID): selector.DeviceSelector(
        selector.DeviceSelectorConfig(
            filter=[
                selector.DeviceFilterSelectorConfig(integration=integration)
                for integration in P1_INTEGRATIONS
            ]
        )
    )
}
# Any integration's meter as separate sensors: import and export power (both
# positive), per phase too, and phase currents.
NET_SENSORS_SCHEMA: dict[probatio.Marker, selector.EntitySelector] = {
    probatio.Required(entity_field(IMPORT_POWER)): _sensor(SensorDeviceClass.POWER),
    probatio.Optional(entity_field(EXPORT_POWER)): _sensor(SensorDeviceClass.POWER),
}
NET_SENSORS_SCHEMA.update(
    (
        probatio.Optional(entity_field(part(name, phase))),
        _sensor(
            SensorDeviceClass.CURRENT if name == CURRENT else SensorDeviceClass.POWER
        ),
    )
    for phase in PHASES
    for name in (IMPORT_POWER, EXPORT_POWER, CURRENT)
)
SOURCE_FIELDS: dict[str, Mapping[Any, Any]] = {
    SOURCE_MODBUS_TCP: TCP_SCHEMA,
    SOURCE_MODBUS_RTU_TCP: TCP_SCHEMA,
    SOURCE_MODBUS_SERIAL: SERIAL_SCHEMA,
    SOURCE_P1: P1_SCHEMA,
    SOURCE_NET_SENSORS: NET_SENSORS_SCHEMA,
    SOURCE_SENSORS: SENSORS_SCHEMA,
}
P1_NAMES: Final = {DSMR: "DSMR smart meter", HOMEWIZARD: "HomeWizard P1"}


def ean_valid(ean: str) -> bool:
    """An 18-digit EAN (GSRN) with a correct GS1 check digit."""
    if len(ean) != 18 or not ean.isdigit():
        return False
    digits = [int(c) for c in ean]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits[:-1]))
    return (10 - total % 10) % 10 == digits[-1]


def _limits(user_input: dict[str, Any]) -> dict[str, Any]:
    return {
        CONF_GTV_KW: float(user_input[CONF_GTV_KW]),
        CONF_PHASES: int(user_input[CONF_PHASES]),
        CONF_FUSE_A: float(user_input[CONF_FUSE_A]),
        CONF_VOLTAGE_V: float(user_input[CONF_VOLTAGE_V]),
    }


def _readings_placeholders(reading: MeterReading, phases: int) -> dict[str, str]:
    """The live readings for the verify step: total power and a per-phase table."""

    def fmt(value: float | None, scale: float, digits: int) -> str:
        return "-" if value is None else f"{value * scale:.{digits}f}"

    power = reading.power_w
    if power is None:
        power = sum(reading.phase("power", p) or 0.0 for p in PHASES)
    rows = ["| | V | A | kW |", "|---|---|---|---|"]
    rows.extend(
        f"| {phase.upper()} | {fmt(reading.phase('voltage', phase), 1, 1)}"
        f" | {fmt(reading.signed_current(phase), 1, 2)}"
        f" | {fmt(reading.phase('power', phase), 0.001, 2)} |"
        for phase in PHASES[:phases]
    )
    return {"power_kw": f"{power / 1000:.2f}", "phases": "\n".join(rows)}


def meter_endpoint(data: Mapping[str, Any]) -> tuple[Any, ...]:
    """What one physical meter is reached by: host, port and unit id (TCP or an
    RTU gateway), serial port and unit id, the P1 meter's device, or the
    (import) power sensor entity."""
    source = data[CONF_SOURCE]
    if source == SOURCE_SENSORS:
        return ("entity", data[CONF_POWER_ENTITY])
    if source == SOURCE_NET_SENSORS:
        return ("entity", data[entity_field(IMPORT_POWER)])
    if source == SOURCE_P1:
        return ("device", data[CONF_DEVICE_ID])
    unit = int(data[CONF_UNIT_ID])
    if source == SOURCE_MODBUS_SERIAL:
        return ("serial", str(data[CONF_SERIAL_PORT]).strip(), unit)
    return ("tcp", str(data[CONF_HOST]).strip().lower(), int(data[CONF_PORT]), unit)


def _endpoint_text(data: Mapping[str, Any]) -> str:
    endpoint = meter_endpoint(data)
    if endpoint[0] in ("entity", "device"):
        return str(endpoint[1])
    if endpoint[0] == "serial":
        return f"{endpoint[1]}, unit id {endpoint[2]}"
    return f"{endpoint[1]}:{endpoint[2]}, unit id {endpoint[3]}"


class MeterSteps(FlowHandler[Any, Any, Any]):
    """The meter steps shared by the site flow and the meter subentry flow."""

    _meter: dict[str, Any]
    _readings: dict[str, str]

    def _site(self) -> Site:
        raise NotImplementedError

    def _roles(self) -> list[str]:
        raise NotImplementedError

    async def _finish_meter(self) -> Any:
        raise NotImplementedError

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> Any:
        """Pick how the meter is reached."""
        return self.async_show_menu(
            step_id="meter",
            menu_options=list(SOURCE_FIELDS),
        )

    async def async_step_modbus_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """A meter on Modbus TCP."""
        return await self._meter_form(SOURCE_MODBUS_TCP, user_input)

    async def async_step_modbus_rtu_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """A Modbus RTU meter behind a TCP gateway."""
        return await self._meter_form(SOURCE_MODBUS_RTU_TCP, user_input)

    async def async_step_modbus_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """A Modbus RTU meter on a serial port."""
        return await self._meter_form(SOURCE_MODBUS_SERIAL, user_input)

    async def async_step_sensors(self, user_input: dict[str, Any] | None = None) -> Any:
        """A meter made of existing HA sensors."""
        return await self._meter_form(SOURCE_SENSORS, user_input)

    async def async_step_p1(self, user_input: dict[str, Any] | None = None) -> Any:
        """A smart meter (P1) read by the dsmr or homewizard integration."""
        return await self._meter_form(SOURCE_P1, user_input)

    async def async_step_net_sensors(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """A meter of separate import and export sensors, from any integration."""
        return await self._meter_form(SOURCE_NET_SENSORS, user_input)

    def _stale_s(self) -> float:
        """Seconds the balancer holds setpoints without a fresh meter reading,
        plus the control cycle that notices."""
        return float(BALANCING_DEFAULTS[CONF_STALE_S]) + DEFAULT_POLL_INTERVAL

    def _map_p1(self, data: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
        """Add the P1 meter's entities to ``data``; else an error and its placeholders."""
        mapping = p1_mapping(self.hass, data[CONF_DEVICE_ID], self._site().phases)
        if mapping.integration is None:
            return "p1_not_a_meter", {}
        if mapping.missing:
            return "p1_entities_missing", {"missing": ", ".join(mapping.missing)}
        if mapping.disabled:
            return "p1_entities_disabled", {"entities": ", ".join(mapping.disabled)}
        data.update(
            (entity_field(name), entity_id)
            for name, entity_id in mapping.entities.items()
        )
        data[CONF_P1_INTEGRATION] = mapping.integration
        return None

    async def _meter_form(
        self,
        source: str,
        user_input: dict[str, Any] | None,
        step_id: str | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> Any:
        """The meter's settings for ``source``, read live before going on.

        ``step_id`` and ``current`` serve the reconfigure step: the form comes
        back to it, filled in with the meter's present settings.
        """
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_SOURCE: source, **user_input}
            if CONF_PARITY in data:
                data[CONF_PARITY] = PARITY[data[CONF_PARITY]]
            for key in (CONF_PORT, CONF_UNIT_ID):
                if key in data:
                    data[key] = int(data[key])
            unmapped = self._map_p1(data) if source == SOURCE_P1 else None
            if unmapped:
                errors["base"], placeholders = unmapped
            elif data[CONF_ROLE] in (MeterRole.GRID, MeterRole.BUILDING) and any(
                meter.get(CONF_ROLE) == data[CONF_ROLE]
                for meter in self._existing_meters()
            ):
                errors[CONF_ROLE] = "role_taken"
            elif taken := self._meter_taken(data):
                errors["base"] = "meter_already_configured"
                placeholders = taken
            else:
                meter = meter_source(self.hass, data)
                try:
                    reading = await probe(meter, self._site())
                except MeterReadError as err:
                    errors["base"] = err.translation_key
                    placeholders = err.placeholders
                else:
                    self._meter = data
                    self._readings = _readings_placeholders(
                        reading, self._site().phases
                    )
                    if isinstance(meter, NetSensorMeterSource) and meter.interval_s:
                        return await self._verify_p1(meter)
                    return await self.async_step_verify()
        schema = probatio.Schema(
            {
                **SOURCE_FIELDS[source],
                probatio.Required(CONF_ROLE, default=self._roles()[0]): dropdown(
                    self._roles(), "role"
                ),
            }
        )
        return self.async_show_form(
            step_id=step_id or source,
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or current or {}
            ),
            errors=errors,
            description_placeholders=placeholders or None,
        )

    def _existing_meters(self) -> list[dict[str, Any]]:
        return []

    def _own_subentry_id(self) -> str | None:
        """The meter being changed (reconfigure): not a duplicate of itself."""
        return None

    def _meter_taken(self, data: Mapping[str, Any]) -> dict[str, str] | None:
        """Placeholders naming the site that already reads this meter, if any.

        Across all sites: one meter read twice counts its power twice.
        """
        endpoint = meter_endpoint(data)
        for entry in self.hass.config_entries.async_entries(DOMAIN):
            for sub in entry.get_subentries_of_type(SUBENTRY_METER):
                if sub.subentry_id == self._own_subentry_id():
                    continue
                if meter_endpoint(sub.data) == endpoint:
                    return {"meter": self._meter_text(data), "site": entry.title}
        return None

    def _meter_text(self, data: Mapping[str, Any]) -> str:
        """The meter as the installer knows it: a P1 meter by its device's name
        (the flow has just found the device)."""
        if data[CONF_SOURCE] == SOURCE_P1:
            device = dr.async_get(self.hass).async_get(data[CONF_DEVICE_ID])
            assert device is not None
            return str(device.name_by_user or device.name)
        return _endpoint_text(data)

    async def async_step_verify(self, user_input: dict[str, Any] | None = None) -> Any:
        """Show the live readings; the installer saves or goes back."""
        return self.async_show_menu(
            step_id="verify",
            menu_options=["save", self._back_step()],
            description_placeholders=self._readings,
        )

    async def _verify_p1(self, meter: NetSensorMeterSource) -> Any:
        """The readings, what was mapped, and the fail-safe deadline that the
        meter's own rate allows (silent for 3 reports, then the time the
        balancer holds setpoints, and the cycle that notices); a warning when
        that is long."""
        deadline = meter.silence_deadline_s + self._stale_s()
        self._readings |= {
            "mapping": "\n".join(
                [
                    "| | |",
                    "|---|---|",
                    *(f"| {name} | {eid} |" for name, eid in meter.entities.items()),
                ]
            ),
            "interval_s": f"{meter.interval_s:g}",
            "deadline_s": f"{deadline:.0f}",
        }
        if deadline > MAX_STALE_S:
            return await self.async_step_verify_p1_slow()
        return await self.async_step_verify_p1()

    async def async_step_verify_p1(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """A P1 meter's readings and mapping; the installer saves or goes back."""
        return self.async_show_menu(
            step_id="verify_p1",
            menu_options=["save", self._back_step()],
            description_placeholders=self._readings,
        )

    async def async_step_verify_p1_slow(
        self, user_input: dict[str, Any] | None = None
    ) -> Any:
        """As ``verify_p1``, warning that the meter reports too seldom for a
        quick fail-safe."""
        return self.async_show_menu(
            step_id="verify_p1_slow",
            menu_options=["save", self._back_step()],
            description_placeholders=self._readings,
        )

    def _back_step(self) -> str:
        """Where "change the settings" goes from the readings."""
        return "meter"

    async def async_step_save(self, user_input: dict[str, Any] | None = None) -> Any:
        """Save the verified meter."""
        return await self._finish_meter()

    def _meter_title(self) -> str:
        """The meter's title and device name: "Grid meter" for sensors (no entity
        id), "Grid meter (Eastron SDM630)" for a Modbus meter."""
        data = self._meter
        role = data[CONF_ROLE]
        if data[CONF_SOURCE] == SOURCE_P1:
            return f"{role.capitalize()} meter ({P1_NAMES[data[CONF_P1_INTEGRATION]]})"
        if data[CONF_SOURCE] in (SOURCE_SENSORS, SOURCE_NET_SENSORS):
            return f"{role.capitalize()} meter"
        return f"{role.capitalize()} meter ({METER_PROFILES[data[CONF_PROFILE]].name})"


class StekkerConfigFlow(MeterSteps, ConfigFlow, domain=DOMAIN):
    """Set up a site: its grid connection, then its first meter."""

    VERSION = 1

    _site_data: dict[str, Any]

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> StekkerOptionsFlow:
        return StekkerOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        return {
            SUBENTRY_METER: MeterSubentryFlow,
            SUBENTRY_CHARGER: ChargerSubentryFlow,
            SUBENTRY_SOLAR_ARRAY: SolarArraySubentryFlow,
            SUBENTRY_CARD: CardSubentryFlow,
        }

    @override
    def _site(self) -> Site:
        return site_from(
            self._site_data, {CONF_MARGIN_KW: self._site_data[CONF_MARGIN_KW]}
        )

    @override
    def _roles(self) -> list[str]:
        return [MeterRole.GRID, MeterRole.BUILDING]

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The site: grid connection limits and the optional EAN code."""
        errors: dict[str, str] = {}
        if user_input is not None:
            ean = str(user_input.get(CONF_EAN) or "").replace(" ", "")
            data = {CONF_NAME: user_input[CONF_NAME].strip(), **_limits(user_input)}
            data[CONF_MARGIN_KW] = float(user_input[CONF_MARGIN_KW])
            if not data[CONF_NAME]:
                errors[CONF_NAME] = "name_required"
            if ean and not ean_valid(ean):
                errors[CONF_EAN] = "invalid_ean"
            # Without an EAN the name tells sites apart (an EAN is the unique id).
            if not ean and any(
                entry.title.strip().casefold() == data[CONF_NAME].casefold()
                for entry in self._async_current_entries(include_ignore=False)
            ):
                errors[CONF_NAME] = "site_name_taken"
            errors |= site_errors(site_from(data, data))
            if not errors:
                if ean:
                    data[CONF_EAN] = ean
                    await self.async_set_unique_id(ean)
                    self._abort_if_unique_id_configured()
                self._site_data = data
                result: ConfigFlowResult = await self.async_step_meter()
                return result
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                SITE_SCHEMA,
                user_input or {CONF_NAME: self.hass.config.location_name},
            ),
            errors=errors,
        )

    @override
    async def _finish_meter(self) -> ConfigFlowResult:
        data = dict(self._site_data)
        margin = data.pop(CONF_MARGIN_KW)
        return self.async_create_entry(
            title=data.pop(CONF_NAME),
            data=data,
            options={CONF_MARGIN_KW: margin, CONF_POLL_INTERVAL: DEFAULT_POLL_INTERVAL},
            subentries=[
                {
                    "subentry_type": SUBENTRY_METER,
                    "data": self._meter,
                    "title": self._meter_title(),
                    "unique_id": None,
                }
            ],
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the site's limits (GTV, phases, fuse, voltage)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            limits = _limits(user_input)
            errors = site_errors(site_from(limits, entry.options))
            if not errors:
                return self.async_update_reload_and_abort(entry, data_updates=limits)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(LIMITS_SCHEMA),
                user_input or {**entry.data, CONF_PHASES: str(entry.data[CONF_PHASES])},
            ),
            errors=errors,
        )


class MeterSubentryFlow(MeterSteps, ConfigSubentryFlow):
    """Add another meter: building load, solar production or a charger sub-meter."""

    @override
    def _site(self) -> Site:
        entry = self._get_entry()
        return site_from(entry.data, entry.options)

    @override
    def _roles(self) -> list[str]:
        return list(MeterRole)

    @override
    def _existing_meters(self) -> list[dict[str, Any]]:
        return [
            dict(sub.data)
            for sub in self._get_entry().get_subentries_of_type(SUBENTRY_METER)
            if sub.subentry_id != self._own_subentry_id()
        ]

    @override
    def _own_subentry_id(self) -> str | None:
        if self.source == SOURCE_RECONFIGURE:
            return self._reconfigure_subentry_id
        return None

    @override
    def _back_step(self) -> str:
        return "reconfigure" if self.source == SOURCE_RECONFIGURE else "meter"

    @override
    def _stale_s(self) -> float:
        entry = self._get_entry()
        return stale_time(entry) + poll_interval(entry).total_seconds()

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change how an existing meter is reached (host, port, unit id, serial
        settings, model or sensors), read live like a new one. The meter keeps its
        subentry, so its entities and their history stay."""
        data = self._get_reconfigure_subentry().data
        current = dict(data)
        if CONF_PARITY in current:
            current[CONF_PARITY] = {v: k for k, v in PARITY.items()}.get(
                current[CONF_PARITY], current[CONF_PARITY]
            )
        result: SubentryFlowResult = await self._meter_form(
            data[CONF_SOURCE], user_input, step_id="reconfigure", current=current
        )
        return result

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Start with how the meter is reached."""
        result: SubentryFlowResult = await self.async_step_meter()
        return result

    @override
    async def _finish_meter(self) -> SubentryFlowResult:
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_and_abort(
                self._get_entry(),
                self._get_reconfigure_subentry(),
                title=self._meter_title(),
                data=self._meter,
            )
        return self.async_create_entry(title=self._meter_title(), data=self._meter)


BALANCING_FLOATS = (
    CONF_POLL_INTERVAL,
    CONF_MARGIN_KW,
    CONF_RAMP_STEP_A,
    CONF_HYSTERESIS_S,
    CONF_MIN_WRITE_INTERVAL_S,
    CONF_ROTATION_S,
)


class StekkerOptionsFlow(ForecastOptionsStep, LimitOptionsSteps):
    """Balancing (control cycle, margin, ramps), the solar forecast, the grid
    limit or prices."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        return self.async_show_menu(
            step_id="init",
            menu_options=["balancing", "forecast", "grid_limit", "prices"],
        )

    async def async_step_balancing(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        entry = self.config_entry
        if user_input is not None:
            options = {
                key: value
                for key, value in entry.options.items()
                if key != CONF_STALE_CYCLES
            }
            options.update(
                {key: float(user_input[key]) for key in BALANCING_FLOATS},
                **{CONF_STALE_S: float(user_input[CONF_STALE_S])},
            )
            errors = site_errors(site_from(entry.data, options))
            if options[CONF_STALE_S] < 2 * options[CONF_POLL_INTERVAL]:
                errors[CONF_STALE_S] = "stale_below_cycles"
            if not errors:
                return self.async_create_entry(data=options)
        schema = probatio.Schema(
            {
                probatio.Required(CONF_POLL_INTERVAL): number_box(
                    MIN_POLL_INTERVAL, MAX_POLL_INTERVAL, 0.5, "s"
                ),
                probatio.Required(CONF_MARGIN_KW): number_box(0, 1000, 0.1, "kW"),
                probatio.Required(CONF_STALE_S): number_box(1, MAX_STALE_S, 0.5, "s"),
                probatio.Required(CONF_RAMP_STEP_A): number_box(1, 32, 1, "A"),
                probatio.Required(CONF_HYSTERESIS_S): number_box(0, 600, 1, "s"),
                probatio.Required(CONF_MIN_WRITE_INTERVAL_S): number_box(
                    0, 600, 1, "s"
                ),
                probatio.Required(CONF_ROTATION_S): number_box(60, 7200, 60, "s"),
            }
        )
        return self.async_show_form(
            step_id="balancing",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                user_input
                or {
                    **BALANCING_DEFAULTS,
                    **entry.options,
                    CONF_STALE_S: stale_time(entry),
                },
            ),
            errors=errors,
        )
