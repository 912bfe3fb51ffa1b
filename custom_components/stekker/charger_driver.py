"""Drivers that read and set a charger: any HA `number` entity in A or W, or Modbus."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from homeassistant.components.number.const import (
    ATTR_MAX,
    ATTR_MIN,
    ATTR_STEP,
    ATTR_VALUE,
    SERVICE_SET_VALUE,
)
from homeassistant.components.number.const import DOMAIN as NUMBER_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    CONF_HOST,
    CONF_PORT,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.unit_conversion import ElectricCurrentConverter, PowerConverter

from .const import (
    CONF_DRIVER,
    CONF_MAX_A,
    CONF_MIN_A,
    CONF_NUMBER_ENTITY,
    CONF_PHASE,
    CONF_POWER_ENTITY,
    CONF_PRIORITY,
    CONF_PROFILE,
    CONF_STATUS_ENTITY,
    CONF_UNIT_ID,
    DRIVER_MODBUS,
    MODBUS_CHARGER_REFRESH_S,
)
from .engine.charger import ChargerSpec
from .engine.readings import phase_key
from .engine.site import PHASES
from .meter import get_hub
from .modbus.codec import CodecError, encode
from .modbus.profiles import (
    CHARGER_PROFILES,
    SAFE_CURRENT_A,
    SETPOINT_A,
    ChargerProfile,
)
from .modbus.transport import Endpoint, ModbusError, ModbusHub, read_meter


class ChargerError(Exception):
    """A charger that cannot be read or written; it is then counted at its maximum."""

    def __init__(self, translation_key: str, **placeholders: str) -> None:
        super().__init__(f"{translation_key}: {placeholders}")
        self.translation_key = translation_key
        self.placeholders = placeholders


@dataclass(frozen=True, slots=True)
class ChargerReading:
    """What a charger says about itself this cycle."""

    setpoint_a: float | None = None
    phase_a: Mapping[str, float] = field(default_factory=dict)  # measured draw
    connected: bool | None = None  # None: the charger cannot tell
    safe_a: float | None = None  # what the charger falls back to by itself

    @property
    def measured_a(self) -> float | None:
        return max(self.phase_a.values()) if self.phase_a else None


class ChargerDriver(Protocol):
    """How the balancer talks to one charger."""

    refresh_s: float | None  # rewrite at least this often (watchdog), or never

    async def async_start(self) -> None: ...

    async def async_stop(self) -> None: ...

    async def read(self) -> ChargerReading: ...

    async def write(self, amps: float) -> float:
        """Set the charger; returns the current actually written."""
        ...


def spec_from(subentry_id: str, data: Mapping[str, Any]) -> ChargerSpec:
    return ChargerSpec(
        id=subentry_id,
        phases=int(data["phases"]),
        phase=str(data.get(CONF_PHASE, "l1")),
        min_a=float(data[CONF_MIN_A]),
        max_a=float(data[CONF_MAX_A]),
        priority=int(data.get(CONF_PRIORITY, 0)),
    )


@dataclass(slots=True)
class EntityChargerDriver:
    """A charger driven through another integration's `number` entity (A, W or kW)."""

    hass: HomeAssistant
    spec: ChargerSpec
    voltage_v: float
    number_entity: str
    power_entity: str | None = None
    status_entity: str | None = None
    refresh_s: float | None = None

    async def async_start(self) -> None:
        """Entities need no connection."""

    async def async_stop(self) -> None:
        """Entities need no connection."""

    def _watts_per_amp(self) -> float:
        return self.spec.phases * self.voltage_v

    async def read(self) -> ChargerReading:
        state = self.hass.states.get(self.number_entity)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise ChargerError("charger_unavailable", entity_id=self.number_entity)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        try:
            value = float(state.state)
        except ValueError as err:
            raise ChargerError(
                "charger_unavailable", entity_id=self.number_entity
            ) from err
        return ChargerReading(
            setpoint_a=self._to_amps(value, unit),
            phase_a=self._measured(),
            connected=self._connected(),
        )

    def _to_amps(self, value: float, unit: str | None) -> float:
        if unit in PowerConverter.VALID_UNITS:
            return PowerConverter.convert(value, unit, "W") / self._watts_per_amp()
        if unit in ElectricCurrentConverter.VALID_UNITS:
            return ElectricCurrentConverter.convert(value, unit, "A")
        raise ChargerError("number_unit", entity_id=self.number_entity, unit=str(unit))

    def _measured(self) -> dict[str, float]:
        if not self.power_entity:
            return {}
        state = self.hass.states.get(self.power_entity)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
        if state is None or unit not in PowerConverter.VALID_UNITS:
            return {}
        try:
            watts = PowerConverter.convert(float(state.state), unit, "W")
        except ValueError:
            return {}  # unavailable or unknown: the draw is simply not known now
        return dict.fromkeys(
            self.spec.loaded_phases, max(0.0, watts) / self._watts_per_amp()
        )

    def _connected(self) -> bool | None:
        if not self.status_entity:
            return None
        state = self.hass.states.get(self.status_entity)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        return state.state == STATE_ON

    async def write(self, amps: float) -> float:
        """Write the largest value the entity takes that is not above `amps`.

        Returns the current that was written. Rounding never lands between 0 and the
        minimum: such a value becomes a pause. An entity whose own minimum is above 0
        cannot pause; that is an error, so the balancer counts the charger at its max.
        """
        state = self.hass.states.get(self.number_entity)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise ChargerError("charger_unavailable", entity_id=self.number_entity)
        per_unit = self._to_amps(1.0, state.attributes.get(ATTR_UNIT_OF_MEASUREMENT))
        step = _attribute(state.attributes, ATTR_STEP, 1.0)
        low = _attribute(state.attributes, ATTR_MIN, 0.0)
        high = _attribute(state.attributes, ATTR_MAX, math.inf)
        value = min(math.floor(amps / per_unit / step + 1e-9) * step, high)
        if value * per_unit < self.spec.min_a:
            value = 0.0
        cannot_pause = value < low
        value = max(value, low)
        try:
            await self.hass.services.async_call(
                NUMBER_DOMAIN,
                SERVICE_SET_VALUE,
                {ATTR_ENTITY_ID: self.number_entity, ATTR_VALUE: value},
                blocking=True,
            )
        except HomeAssistantError as err:
            raise ChargerError(
                "charger_write_failed", entity_id=self.number_entity, error=str(err)
            ) from err
        if cannot_pause:
            raise ChargerError("cannot_pause", entity_id=self.number_entity)
        return value * per_unit


def _attribute(attributes: Mapping[str, Any], key: str, default: float) -> float:
    value = attributes.get(key)
    return default if value is None else float(value)


@dataclass(slots=True)
class ModbusChargerDriver:
    """A native Modbus charger on the shared hub; refreshed inside its watchdog time."""

    hub: ModbusHub
    spec: ChargerSpec
    endpoint: Endpoint
    unit_id: int
    profile: ChargerProfile
    refresh_s: float | None = MODBUS_CHARGER_REFRESH_S

    async def async_start(self) -> None:
        self.hub.acquire(self.endpoint)

    async def async_stop(self) -> None:
        await self.hub.release(self.endpoint)

    async def read(self) -> ChargerReading:
        try:
            values = await read_meter(
                self.hub, self.endpoint, self.unit_id, self.profile
            )
        except (ModbusError, CodecError) as err:
            raise ChargerError(
                "charger_unreachable", endpoint=self.endpoint.describe(), error=str(err)
            ) from err
        phase_a = {
            phase: current
            for phase in PHASES
            if (current := _finite(values.get(phase_key("current", phase)))) is not None
        }
        if self.spec.phases == 1 and phase_a:
            # A one-phase charger reports on its own L1, whatever site phase it is on.
            phase_a = {self.spec.phase: max(phase_a.values())}
        setpoint = _finite(values.get(SETPOINT_A))
        return ChargerReading(
            setpoint_a=setpoint,
            phase_a=phase_a,
            safe_a=_finite(values.get(SAFE_CURRENT_A)),
        )

    async def write(self, amps: float) -> float:
        words = encode(self.profile.setpoint, amps)
        try:
            await self.hub.write_registers(
                self.endpoint, self.unit_id, self.profile.setpoint.address, words
            )
        except ModbusError as err:
            raise ChargerError(
                "charger_unreachable", endpoint=self.endpoint.describe(), error=str(err)
            ) from err
        return amps


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def charger_driver(
    hass: HomeAssistant, subentry_id: str, data: Mapping[str, Any], voltage_v: float
) -> ChargerDriver:
    """Build the driver for a charger's saved (or about to be saved) settings."""
    spec = spec_from(subentry_id, data)
    if data[CONF_DRIVER] == DRIVER_MODBUS:
        return ModbusChargerDriver(
            get_hub(hass),
            spec,
            Endpoint(kind="tcp", host=data[CONF_HOST], port=int(data[CONF_PORT])),
            int(data[CONF_UNIT_ID]),
            CHARGER_PROFILES[data[CONF_PROFILE]],
        )
    return EntityChargerDriver(
        hass,
        spec,
        voltage_v,
        data[CONF_NUMBER_ENTITY],
        data.get(CONF_POWER_ENTITY),
        data.get(CONF_STATUS_ENTITY),
    )
