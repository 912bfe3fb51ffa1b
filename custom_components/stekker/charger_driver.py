"""Drivers that read and set a charger: any HA `number` entity in A or W, or Modbus."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
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
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import (
    ElectricCurrentConverter,
    EnergyConverter,
    PowerConverter,
)

from .const import (
    CONF_DRIVER,
    CONF_ENERGY_ENTITY,
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
    ENTITY_CHARGER_REFRESH_S,
    MODBUS_CHARGER_REFRESH_S,
    MODBUS_STEP_A,
)
from .engine.charger import ChargerSpec
from .engine.readings import phase_key
from .engine.site import PHASES
from .meter import get_hub
from .modbus.codec import CodecError, encode
from .modbus.profiles import (
    CHARGER_PROFILES,
    CHARGING_STATE,
    ENERGY_KWH,
    MODE3_STATE,
    SAFE_CURRENT_A,
    SETPOINT_A,
    SETPOINT_ACCOUNTED,
    VALID_TIME_S,
    ChargerProfile,
)
from .modbus.profiles import PHASES as PHASES_USED
from .modbus.transport import (
    Endpoint,
    ModbusConnectionError,
    ModbusDeviceError,
    ModbusError,
    ModbusHub,
    ProfileReader,
)

# A charger that holds a live setpoint it does not apply (see setpoint_accounted).
SETPOINT_IGNORED = "setpoint_ignored"


class ChargerError(Exception):
    """A charger that cannot be read or written; it is then counted at its maximum."""

    def __init__(self, translation_key: str, **placeholders: str) -> None:
        super().__init__(f"{translation_key}: {placeholders}")
        self.translation_key = translation_key
        self.placeholders = placeholders


@dataclass(frozen=True, slots=True)
class ChargerReading:
    """What a charger says about itself this cycle."""

    setpoint_a: float | None = None  # what it says it is set to
    phase_a: Mapping[str, float] | None = None  # measured draw; None: not measured
    measured_at: float | None = None  # clock time of that measurement
    connected: bool | None = None  # None: the charger cannot tell
    safe_a: float | None = None  # what the charger falls back to by itself
    # Whether the charger applies the setpoint it holds; None: it cannot tell.
    setpoint_accounted: bool | None = None
    energy_kwh: float | None = None  # its lifetime energy counter, if it has one
    phases: int | None = None  # phases it is set to use (Alfen 1215); None: unknown

    @property
    def measured_a(self) -> float | None:
        return max(self.phase_a.values()) if self.phase_a else None


class ChargerDriver(Protocol):
    """How the balancer talks to one charger."""

    refresh_s: float | None  # rewrite at least this often (watchdog), or never

    async def async_start(self) -> None: ...

    async def async_stop(self) -> None: ...

    async def read(self, now: float, volts: Mapping[str, float]) -> ChargerReading:
        """Read the charger; ``volts`` per phase convert a measured power to current."""
        ...

    def narrow(self, spec: ChargerSpec) -> ChargerSpec:
        """The spec within what the charger can be set to exactly."""
        ...

    def quantize(self, amps: float) -> float:
        """The largest current the charger can be set to that is not above ``amps``."""
        ...

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


# Values of a number entity are compared and rounded with this much slack, so that
# 6 A = 4.14 kW converts back to 6 A and not to 5.999999 A.
_SLACK = 1e-6


@dataclass(slots=True)
class EntityChargerDriver:
    """A charger driven through another integration's `number` entity (A, W or kW).

    Values are written on the entity's own grid (minimum, maximum, step), never
    above what was allocated and never between 0 and the charger's minimum.
    """

    hass: HomeAssistant
    spec: ChargerSpec
    voltage_v: float
    number_entity: str
    power_entity: str | None = None
    status_entity: str | None = None
    energy_entity: str | None = None
    refresh_s: float | None = ENTITY_CHARGER_REFRESH_S
    _reported: datetime | None = None
    _seen_at: float | None = None

    async def async_start(self) -> None:
        """Entities need no connection."""

    async def async_stop(self) -> None:
        """Entities need no connection."""

    def _number(self) -> State:
        state = self.hass.states.get(self.number_entity)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise ChargerError("charger_unavailable", entity_id=self.number_entity)
        return state

    def _per_amp(self, state: State) -> float:
        """Entity units per ampere on each loaded phase."""
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if unit in PowerConverter.VALID_UNITS:
            watts = self.spec.phases * self.voltage_v
            return PowerConverter.convert(watts, "W", unit)
        if unit in ElectricCurrentConverter.VALID_UNITS:
            return ElectricCurrentConverter.convert(1.0, "A", unit)
        raise ChargerError("number_unit", entity_id=self.number_entity, unit=str(unit))

    def _grid(self, state: State) -> tuple[float, float, float, float]:
        """Units per ampere, step, minimum and maximum of the entity."""
        step = _attribute(state, ATTR_STEP, 1.0)
        if not step > 0:
            step = 1.0
        low = _attribute(state, ATTR_MIN, 0.0)
        high = _attribute(state, ATTR_MAX, math.inf)
        return self._per_amp(state), step, low, high

    def _lowest(self, state: State, min_a: float) -> float:
        """The least value on the entity's grid that gives at least ``min_a``.

        A charger given watts turns them into amperes at its own voltage: its least
        value must give the minimum even at the highest the grid may have (+10 %).
        """
        per_amp, step, low, _high = self._grid(state)
        least = min_a * per_amp
        if state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) in PowerConverter.VALID_UNITS:
            least *= 1.1
        return max(low, math.ceil(least / step - _SLACK) * step)

    def narrow(self, spec: ChargerSpec) -> ChargerSpec:
        state = self._number()
        per_amp, step, low, high = self._grid(state)
        lowest = self._lowest(state, spec.min_a)
        highest = min(high, math.floor(spec.max_a * per_amp / step + _SLACK) * step)
        min_a, max_a = round(lowest / per_amp, 6), round(highest / per_amp, 6)
        if not spec.min_a <= min_a <= max_a:
            raise ChargerError(
                "limits_conflict",
                entity_id=self.number_entity,
                min=f"{min_a:g}",
                max=f"{max_a:g}",
            )
        return replace(spec, min_a=min_a, max_a=max_a, can_pause=low <= _SLACK)

    def quantize(self, amps: float) -> float:
        state = self._number()
        per_amp, step, _low, high = self._grid(state)
        value = min(high, math.floor(amps * per_amp / step + _SLACK) * step)
        if value < self._lowest(state, self.spec.min_a) - _SLACK:
            return 0.0
        return round(value / per_amp, 6)

    async def read(self, now: float, volts: Mapping[str, float]) -> ChargerReading:
        state = self._number()
        try:
            value = float(state.state)
        except ValueError as err:
            raise ChargerError(
                "charger_unavailable", entity_id=self.number_entity
            ) from err
        phase_a = self._measured(now, volts)
        return ChargerReading(
            setpoint_a=round(value / self._per_amp(state), 6),
            phase_a=phase_a,
            measured_at=self._seen_at if phase_a is not None else None,
            connected=self._connected(),
            energy_kwh=self._energy(),
        )

    def _measured(
        self, now: float, volts: Mapping[str, float]
    ) -> dict[str, float] | None:
        """The draw per loaded phase from the power sensor, timed on our clock.

        A new report is timed when it is first seen; only the very first one is
        dated back by its wall-clock age, so a stepped clock cannot make a silent
        sensor look fresh.
        """
        if not self.power_entity:
            return None
        state = self.hass.states.get(self.power_entity)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
        if state is None or unit not in PowerConverter.VALID_UNITS:
            return None
        try:
            watts = PowerConverter.convert(float(state.state), unit, "W")
        except ValueError:
            return None  # unavailable or unknown: the draw is simply not known now
        if not math.isfinite(watts):
            return None
        if state.last_reported != self._reported:
            if self._reported is None:
                age = (dt_util.utcnow() - state.last_reported).total_seconds()
                self._seen_at = now - max(0.0, age)
            else:
                self._seen_at = now
            self._reported = state.last_reported
        phases = self.spec.loaded_phases
        # At the measured voltage; where the meter has none, at nominal voltage:
        # the credit is capped at the setpoint, so a car at its setpoint counts
        # exactly, and reading low would make its own draw look like building
        # load that grows as it rises (a car hunting between two setpoints).
        total_v = sum(volts.get(p, self.voltage_v) for p in phases)
        return dict.fromkeys(phases, max(0.0, watts) / total_v)

    def _energy(self) -> float | None:
        """The charger's energy counter from its energy sensor, in kWh."""
        if not self.energy_entity:
            return None
        state = self.hass.states.get(self.energy_entity)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
        if state is None or unit not in EnergyConverter.VALID_UNITS:
            return None
        try:
            return _finite(EnergyConverter.convert(float(state.state), unit, "kWh"))
        except ValueError:
            return None

    def _connected(self) -> bool | None:
        if not self.status_entity:
            return None
        state = self.hass.states.get(self.status_entity)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        return state.state == STATE_ON

    async def write(self, amps: float) -> float:
        """Write ``amps`` (already on the entity's grid, or 0 to pause).

        An entity whose own minimum is above 0 cannot pause: nothing is written and
        an error raised, so the balancer counts the charger at its maximum.
        """
        per_amp, step, low, high = self._grid(self._number())
        # Snap to the entity's grid (``amps`` came from ``quantize``), never up.
        raw = amps * per_amp
        steps = round(raw / step)
        if steps * step > raw + step * 1e-3:
            steps -= 1
        value = min(high, round(steps * step, 9))
        if value < low - _SLACK:
            # Its least value would be more than allocated, or between 0 and the
            # minimum: write nothing; the balancer counts it at its maximum.
            raise ChargerError("cannot_pause", entity_id=self.number_entity)
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
        return round(value / per_amp, 6)


def _attribute(state: State, key: str, default: float) -> float:
    value = state.attributes.get(key)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ChargerError(
            "number_attribute",
            entity_id=state.entity_id,
            attribute=key,
            value=str(value),
        ) from err
    if math.isnan(number):
        raise ChargerError(
            "number_attribute", entity_id=state.entity_id, attribute=key, value="NaN"
        )
    return number


@dataclass(slots=True)
class ModbusChargerDriver:
    """A native Modbus charger on the shared hub; refreshed inside its watchdog time."""

    hub: ModbusHub
    spec: ChargerSpec
    endpoint: Endpoint
    unit_id: int
    profile: ChargerProfile
    refresh_s: float | None = MODBUS_CHARGER_REFRESH_S
    reader: ProfileReader = field(init=False)

    def __post_init__(self) -> None:
        self.reader = ProfileReader(self.profile)

    async def async_start(self) -> None:
        self.hub.acquire(self.endpoint)

    async def async_stop(self) -> None:
        await self.hub.release(self.endpoint)

    def narrow(self, spec: ChargerSpec) -> ChargerSpec:
        return spec  # any current in steps of MODBUS_STEP_A

    def quantize(self, amps: float) -> float:
        value = math.floor(amps / MODBUS_STEP_A + _SLACK) * MODBUS_STEP_A
        return round(value, 6) if value >= self.spec.min_a - _SLACK else 0.0

    async def read(self, now: float, volts: Mapping[str, float]) -> ChargerReading:
        try:
            values = await self.reader.read(self.hub, self.endpoint, self.unit_id)
        except (ModbusError, CodecError) as err:
            raise self._error(err) from err
        accounted = setpoint_accounted(values)
        if accounted is False:
            # Alfen: a live setpoint the station does not apply (SCN mode, or
            # "allow writing maximum currents" off): steering it would be blind.
            raise ChargerError(
                SETPOINT_IGNORED,
                endpoint=self.endpoint.describe(),
                unit_id=str(self.unit_id),
            )
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
            phase_a=phase_a or None,
            measured_at=now if phase_a else None,
            connected=plugged_in(values),
            safe_a=_finite(values.get(SAFE_CURRENT_A)),
            setpoint_accounted=accounted,
            energy_kwh=_finite(values.get(ENERGY_KWH)),
            phases=_phases(values.get(PHASES_USED)),
        )

    @property
    def switches_phases(self) -> bool:
        """Whether its profile has the phases register (its station may still refuse)."""
        return any(f.key == PHASES_USED for f in self.profile.fields)

    async def write_phases(self, phases: int) -> bool:
        """Switch the phases the car is charged on; False if the charger refuses
        (it has no such register, or its station does not allow switching)."""
        used = next((f for f in self.profile.fields if f.key == PHASES_USED), None)
        if used is None:
            return False
        try:
            await self.hub.write_registers(
                self.endpoint, self.unit_id, used.address, encode(used, phases)
            )
        except ModbusDeviceError:
            return False
        except ModbusError as err:
            raise self._error(err) from err
        return True

    async def write(self, amps: float) -> float:
        words = encode(self.profile.setpoint, amps)
        try:
            await self.hub.write_registers(
                self.endpoint, self.unit_id, self.profile.setpoint.address, words
            )
        except ModbusError as err:
            raise self._error(err) from err
        return amps

    def _error(self, err: ModbusError | CodecError) -> ChargerError:
        """Unreachable, or reached and answering with a Modbus exception (then
        the unit id or the model is the likely cause, not the network)."""
        endpoint = self.endpoint.describe()
        if isinstance(err, ModbusDeviceError):
            return ChargerError(
                "charger_modbus_exception",
                endpoint=endpoint,
                unit_id=str(self.unit_id),
                code=str(err.exception_code),
                error=str(err),
            )
        if isinstance(err, CodecError):
            return ChargerError(
                "charger_invalid_response", endpoint=endpoint, error=str(err)
            )
        reason = err.reason if isinstance(err, ModbusConnectionError) else str(err)
        return ChargerError("charger_unreachable", endpoint=endpoint, error=reason)


def plugged_in(values: Mapping[str, float]) -> bool | None:
    """Whether a car is plugged in, from the charger's own state, if it tells.

    Alfen: IEC 61851 state A (no car), E and F (error) mean none; B, C and D a car.
    ABB Terra AC: byte 1 bits 0-6 of the state, 0 idle (no car), 1-5 a car.
    """
    if (mode3 := _finite(values.get(MODE3_STATE))) is not None:
        return chr(int(mode3) >> 8 & 0xFF) in "BCD"
    if (state := _finite(values.get(CHARGING_STATE))) is not None:
        return 1 <= (int(state) >> 8 & 0x7F) <= 5
    return None


def setpoint_accounted(values: Mapping[str, float]) -> bool | None:
    """Whether the charger applies its Modbus setpoint, if it tells.

    Alfen (register 1214): 1 when the setpoint is accounted for. It also reads
    0 while no setpoint is valid (none written yet, or its validity time ran
    out: the station is at its safe current), which is not a refusal; 0 while a
    setpoint is valid (1208 > 0) is: the station does not take Modbus setpoints.
    None when it cannot tell, or no setpoint is valid now.
    """
    accounted = _finite(values.get(SETPOINT_ACCOUNTED))
    if accounted is None:
        return None
    if accounted:
        return True
    valid_s = _finite(values.get(VALID_TIME_S))
    return None if valid_s is not None and valid_s <= 0 else False


def _phases(value: float | None) -> int | None:
    return int(value) if value in (1.0, 3.0) else None


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
        data.get(CONF_ENERGY_ENTITY),
    )
