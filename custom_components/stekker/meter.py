"""How a configured meter is read: over the shared Modbus hub or from HA sensors."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from homeassistant.const import (
    CONF_HOST,
    CONF_PORT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.unit_conversion import (
    ElectricCurrentConverter,
    ElectricPotentialConverter,
    PowerConverter,
)

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CURRENT_ENTITIES,
    CONF_DEVICE_ID,
    CONF_PARITY,
    CONF_POWER_ENTITY,
    CONF_PROFILE,
    CONF_SERIAL_PORT,
    CONF_SOURCE,
    CONF_STOPBITS,
    CONF_UNIT_ID,
    DOMAIN,
    MODBUS_TIMEOUT,
    SOURCE_MODBUS_RTU_TCP,
    SOURCE_MODBUS_SERIAL,
    SOURCE_NET_SENSORS,
    SOURCE_P1,
    SOURCE_SENSORS,
)
from .engine.net_meter import (
    CURRENT,
    EXPORT_POWER,
    IMPORT_POWER,
    NET_POWER,
    PEAK,
    QUARTER_HOUR,
    VOLTAGE,
    net_values,
    part,
)
from .engine.readings import (
    POWER,
    MeterReading,
    ReadingError,
    check_reading,
    phase_key,
)
from .engine.site import PHASES, Site
from .modbus.codec import CodecError
from .modbus.profiles import METER_PROFILES, MeterProfile
from .modbus.transport import (
    ILLEGAL_ADDRESS,
    Endpoint,
    ModbusConnectionError,
    ModbusDeviceError,
    ModbusError,
    ModbusHub,
    ProfileReader,
)
from .p1 import p1_mapping

DATA_HUB: HassKey[ModbusHub] = HassKey(f"{DOMAIN}_modbus_hub")
# HA sensors (P1 readers, other integrations' meters) report every 1-10 s; one
# silent for 3 times its usual interval (within these bounds) has stopped,
# whatever number it still shows.
SENSOR_SILENCE_MIN_S = 5.0
SENSOR_SILENCE_MAX_S = 30.0


class MeterReadError(Exception):
    """A meter could not be read or gave values that cannot be true.

    Carries a translation key so the config flow and the coordinators say the same.
    """

    def __init__(self, translation_key: str, **placeholders: str) -> None:
        super().__init__(f"{translation_key}: {placeholders}")
        self.translation_key = translation_key
        self.placeholders = placeholders


@callback
def get_hub(hass: HomeAssistant) -> ModbusHub:
    (
        """""The one Modbus hub of this HA instance: clients are shared across sites.

    Each user releases its endpoints on unload; the last one closes the connection.
    """
        ""
    )
    if (hub := hass.data.get(DATA_HUB)) is None:
        hub = hass.data[DATA_HUB] = ModbusHub(timeout=MODBUS_TIMEOUT.total_seconds())
    return hub


def endpoint_from(data: Mapping[str, Any]) -> Endpoint:
    """The Modbus endpoint a meter or charger is configured on."""
    source = data[CONF_SOURCE]
    if source == SOURCE_MODBUS_SERIAL:
        return Endpoint(
            kind="serial",
            serial_port=data[CONF_SERIAL_PORT],
            baudrate=int(data[CONF_BAUDRATE]),
            parity=data[CONF_PARITY],
            stopbits=int(data[CONF_STOPBITS]),
            bytesize=int(data[CONF_BYTESIZE]),
        )
    return Endpoint(
        kind="rtu_over_tcp" if source == SOURCE_MODBUS_RTU_TCP else "tcp",
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
    )


@dataclass(slots=True)
class ModbusMeterSource:
    """A meter read with one block read per contiguous register range."""

    hub: ModbusHub
    endpoint: Endpoint
    unit_id: int
    profile: MeterProfile
    reader: ProfileReader = field(init=False)

    def __post_init__(self) -> None:
        self.reader = ProfileReader(self.profile)

    @property
    def keys(self) -> frozenset[str]:
        """The values a read of this meter may provide."""
        return frozenset(field.key for field in self.profile.fields)

    @property
    def missing(self) -> frozenset[str]:
        """Optional values this meter turned out not to have."""
        return frozenset(self.reader.missing)

    @property
    def signed_currents(self) -> bool:
        """Whether its currents carry the sign of the power."""
        return self.profile.signed_currents

    async def async_start(self) -> None:
        self.hub.acquire(self.endpoint)

    async def async_stop(self) -> None:
        await self.hub.release(self.endpoint)

    async def read(self) -> dict[str, float]:
        try:
            return await self.reader.read(self.hub, self.endpoint, self.unit_id)
        except ModbusConnectionError as err:
            # Without the hub's retry: a form reads once and does not retry.
            raise MeterReadError(
                "cannot_connect", endpoint=self.endpoint.describe(), error=err.reason
            ) from err
        except ModbusDeviceError as err:
            hint = self.profile.absent_hint
            if hint and err.exception_code == ILLEGAL_ADDRESS:
                # A required register is not there: name the likely variant.
                raise MeterReadError(
                    hint, unit_id=str(self.unit_id), error=str(err)
                ) from err
            raise MeterReadError(
                "modbus_exception",
                unit_id=str(self.unit_id),
                code=str(err.exception_code),
                error=str(err),
            ) from err
        except CodecError as err:
            raise MeterReadError("invalid_response", error=str(err)) from err
        except ModbusError as err:
            raise MeterReadError(
                "cannot_connect", endpoint=self.endpoint.describe(), error=str(err)
            ) from err


@dataclass(frozen=True, slots=True)
class _Reports:
    """When a sensor last reported, on our clock, and its usual interval."""

    reported: datetime
    seen_at: float
    interval_s: float

    @property
    def deadline_s(self) -> float:
        return min(
            SENSOR_SILENCE_MAX_S, max(SENSOR_SILENCE_MIN_S, 3.0 * self.interval_s)
        )


@dataclass(slots=True, kw_only=True)
class _HaSensors:
    """Reads HA sensor states, refusing one that stopped reporting.

    A sensor is fresh when it reports (``last_reported`` changes), timed on the
    monotonic clock when seen, so a wall clock stepped back cannot hide a dead one.
    Its usual interval is learned from its reports, starting from
    ``interval_s`` when the integration's rate is known.
    """

    hass: HomeAssistant
    clock: Callable[[], float] = time.monotonic
    interval_s: float | None = None
    _seen: dict[str, _Reports] = field(default_factory=dict)

    @property
    def silence_deadline_s(self) -> float:
        """How long a sensor of the known rate may be silent before it is stale."""
        return _Reports(dt_util.utcnow(), 0.0, self._first_interval()).deadline_s

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Time reports on ``clock`` from now on; times taken on the old one
        mean nothing on it, so each sensor is judged afresh."""
        self.clock = clock
        self._seen.clear()

    def _first_interval(self) -> float:
        return self.interval_s or SENSOR_SILENCE_MIN_S / 3.0

    async def async_start(self) -> None:
        """Sensors need no connection."""

    async def async_stop(self) -> None:
        """Sensors need no connection."""

    def _value(
        self,
        entity_id: str,
        converter: type[PowerConverter]
        | type[ElectricCurrentConverter]
        | type[ElectricPotentialConverter],
        to_unit: str,
    ) -> float:
        state = self.hass.states.get(entity_id)
        if state is None:
            raise MeterReadError("entity_not_found", entity_id=entity_id)
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise MeterReadError("entity_unavailable", entity_id=entity_id)
        self._check_fresh(entity_id, state.last_reported)
        unit = state.attributes.get("unit_of_measurement")
        if unit not in converter.VALID_UNITS:
            raise MeterReadError(
                "wrong_unit", entity_id=entity_id, unit=str(unit), expected=to_unit
            )
        try:
            value = float(state.state)
        except ValueError as err:
            raise MeterReadError(
                "implausible_reading", key=entity_id, value=state.state
            ) from err
        return converter.convert(value, unit, to_unit)

    def _check_fresh(self, entity_id: str, reported: datetime) -> None:
        """Raise when the sensor has been silent for longer than it usually is."""
        now = self.clock()
        seen = self._seen.get(entity_id)
        if seen is None:
            # First sight: only the wall clock can tell how old the report is.
            age = max(0.0, (dt_util.utcnow() - reported).total_seconds())
            seen = _Reports(reported, now - age, self._first_interval())
        elif reported != seen.reported:
            interval = max(now - seen.seen_at, 0.9 * seen.interval_s)
            seen = _Reports(reported, now, interval)
        self._seen[entity_id] = seen
        silent = now - seen.seen_at
        if silent > seen.deadline_s:
            # A sensor whose integration stopped reporting keeps its last number.
            raise MeterReadError(
                "entity_stale", entity_id=entity_id, age=f"{silent:.0f}"
            )


@dataclass(slots=True, kw_only=True)
class SensorMeterSource(_HaSensors):
    """A meter made of existing HA sensors (power, optional phase currents)."""

    power_entity: str
    current_entities: tuple[str | None, ...]
    # HA sensors report current magnitudes (a P1 meter's are unsigned).
    signed_currents: bool = False
    missing: frozenset[str] = frozenset()

    @property
    def keys(self) -> frozenset[str]:
        """The values every read of this meter provides."""
        return frozenset(
            [POWER]
            + [
                phase_key("current", phase)
                for phase, entity_id in zip(PHASES, self.current_entities, strict=False)
                if entity_id
            ]
        )

    async def read(self) -> dict[str, float]:
        values = {POWER: self._value(self.power_entity, PowerConverter, "W")}
        for phase, entity_id in zip(PHASES, self.current_entities, strict=False):
            if entity_id:
                values[phase_key("current", phase)] = self._value(
                    entity_id, ElectricCurrentConverter, "A"
                )
        return values


# Every part a meter of separate sensors may have, and how it is read.
NET_PARTS: Final = (
    IMPORT_POWER,
    EXPORT_POWER,
    NET_POWER,
    *(
        part(name, phase)
        for phase in PHASES
        for name in (IMPORT_POWER, EXPORT_POWER, NET_POWER, CURRENT, VOLTAGE)
    ),
    QUARTER_HOUR,
    PEAK,
)


# Parts that say nothing the fuse and GTV limits rest on.
EXTRA_PARTS: Final = (VOLTAGE, QUARTER_HOUR, PEAK)


def entity_field(name: str) -> str:
    """The settings key of a part's entity, e.g. ``import_power_l1_entity``."""
    return f"{name}_entity"


def _unit_of(name: str) -> tuple[type[Any], str]:
    if name.startswith(CURRENT):
        return ElectricCurrentConverter, "A"
    if name.startswith(VOLTAGE):
        return ElectricPotentialConverter, "V"
    return PowerConverter, "W"


@dataclass(slots=True, kw_only=True)
class NetSensorMeterSource(_HaSensors):
    """A meter of separate sensors: import and export power (or a signed net
    power), per phase too, and unsigned phase currents; a P1 smart meter's
    entities or any integration's.

    Currents count as whole amperes (see ``conservative_current``) until the
    meter has shown a fraction of an ampere. Voltages and the quarter-hour
    values are extras: one that cannot be read is left out (and listed in
    ``missing``), never the cause of a failed read.
    """

    entities: Mapping[str, str]  # part -> entity id
    signed_currents: bool = False
    missing: frozenset[str] = frozenset()
    whole_amperes: bool = True

    @property
    def keys(self) -> frozenset[str]:
        """The values every read of this meter provides."""
        parts = dict.fromkeys(self.entities, 0.0)
        return frozenset(net_values(parts, whole_amperes=False))

    async def read(self) -> dict[str, float]:
        parts: dict[str, float] = {}
        missing: set[str] = set()
        for name, entity_id in self.entities.items():
            try:
                parts[name] = self._value(entity_id, *_unit_of(name))
            except MeterReadError:
                if not name.startswith(EXTRA_PARTS):
                    raise
                missing.add(name)
        self.missing = frozenset(missing)
        if self.whole_amperes and any(
            value != round(value)
            for name, value in parts.items()
            if name.startswith(CURRENT)
        ):
            self.whole_amperes = False
        return net_values(parts, whole_amperes=self.whole_amperes)


type MeterSource = ModbusMeterSource | SensorMeterSource | NetSensorMeterSource


def meter_source(hass: HomeAssistant, data: Mapping[str, Any]) -> MeterSource:
    """Build the reader for a meter's saved (or about to be saved) settings."""
    source = data[CONF_SOURCE]
    if source == SOURCE_SENSORS:
        return SensorMeterSource(
            hass=hass,
            power_entity=data[CONF_POWER_ENTITY],
            current_entities=tuple(data.get(key) for key in CONF_CURRENT_ENTITIES),
        )
    if source in (SOURCE_P1, SOURCE_NET_SENSORS):
        interval = None
        if source == SOURCE_P1:
            interval = p1_mapping(hass, data[CONF_DEVICE_ID], 1).interval_s
        return NetSensorMeterSource(
            hass=hass,
            entities=net_entities(data),
            interval_s=interval,
        )
    return ModbusMeterSource(
        get_hub(hass),
        endpoint_from(data),
        int(data[CONF_UNIT_ID]),
        METER_PROFILES[data[CONF_PROFILE]],
    )


def net_entities(data: Mapping[str, Any]) -> dict[str, str]:
    """The entity of each part of a meter of separate sensors, as saved."""
    return {
        name: entity_id
        for name in NET_PARTS
        if (entity_id := data.get(entity_field(name)))
    }


async def read_checked(source: MeterSource, site: Site) -> MeterReading:
    """Read a meter and reject values that cannot be true."""
    reading = MeterReading(await source.read())
    try:
        check_reading(reading, site, signed_currents=source.signed_currents)
    except ReadingError as err:
        raise MeterReadError(
            "implausible_reading", key=err.key, value=f"{err.value:g}"
        ) from err
    return reading


async def probe(source: MeterSource, site: Site) -> MeterReading:
    """Read a meter once, e.g. in the config flow, holding its connection only meanwhile."""
    await source.async_start()
    try:
        return await read_checked(source, site)
    finally:
        await source.async_stop()
