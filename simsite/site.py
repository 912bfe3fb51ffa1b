"""A whole simulated site on loopback: grid meter, building, solar, Alfen sockets and cars.

Closed-loop tests and the demo run the real integration against this site: it
reads the setpoints Home Assistant wrote (Modbus for Alfen sockets, the
caller for chargers driven through other integrations), lets the cars follow
them, and serves what the meters would then measure. Time only moves through
``step``, so a test decides how many control cycles pass and nothing depends
on the wall clock.
"""

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, override

from pymodbus.constants import ExcCodes

from custom_components.stekker.engine.readings import (
    EXPORT_KWH,
    FREQUENCY,
    IMPORT_KWH,
    POWER,
    phase_key,
)
from custom_components.stekker.engine.site import PHASES
from custom_components.stekker.modbus import profiles
from custom_components.stekker.modbus.codec import decode_value
from custom_components.stekker.modbus.profiles import (
    CHARGER_PROFILES,
    ENERGY_KWH,
    METER_PROFILES,
    SAFE_CURRENT_A,
    SETPOINT_ACCOUNTED,
    VALID_TIME_S,
)

from .cars import Car
from .load import BuildingLoad
from .modbus_server import ModbusSimServer

ALFEN: Final = CHARGER_PROFILES["alfen_eve"]
SDM630: Final = METER_PROFILES["sdm630"]
MAX_ALFEN_SOCKETS: Final = 2  # an Eve Double; units 1 and 2
ALFEN_PHASES: Final = next(f for f in ALFEN.fields if f.key == profiles.PHASES)
_SETPOINT_SPAN: Final = frozenset(
    range(ALFEN.setpoint.address, ALFEN.setpoint.address + ALFEN.setpoint.count)
)

type PhaseLoad = Callable[[float], tuple[float, float, float]]
"""Building net power per phase (L1, L2, L3) in W at a second of the day; < 0 exports."""

type Production = Callable[[float], float]
"""Solar AC power in W at a second of the day, spread evenly over three phases."""


@dataclass(frozen=True, slots=True)
class SiteSample:
    """What the site did in one step, for assertions over a whole run."""

    time_s: float
    dt_s: float
    currents_a: Mapping[str, float]  # grid current per phase, as the meter shows it
    power_w: float  # grid net import
    setpoints_a: Mapping[str, float]  # setpoint each charger applied this step
    draws_a: Mapping[str, float]  # current each car drew per loaded phase


class _AlfenStation(ModbusSimServer):
    """Alfen sockets: only the max current is writable, and only whole and sane.

    A real Eve refuses a write that covers half the float or any read-only
    register, so a driver that gets this wrong fails here as it would on site.
    The phases (1215) take 1 or 3, only on the units in ``switchable`` (a
    station that allows phase switching). Setpoint writes are noted per unit
    (``setpoint_written``) for the watchdog: a phase write does not refresh it.
    """

    def __init__(self, port: int = 0) -> None:
        super().__init__(port=port)
        self.switchable: set[int] = set()
        self.setpoint_written: set[int] = set()

    @override
    def refusal(
        self,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if function_code not in (6, 16) or set_values is None:
            return None
        words = [int(v) for v in set_values]
        if address == ALFEN_PHASES.address and len(words) == 1:
            allowed = unit_id in self.switchable and words[0] in (1, 3)
            return None if allowed else ExcCodes.ILLEGAL_VALUE
        refused = _refusal(address, words)
        if refused is None:
            self.setpoint_written.add(unit_id)
        return refused


def _mode3(car: Car) -> int:
    """The first register of an Alfen socket's IEC 61851 state string.

    "A" with no car, "C2" while it draws, "B1" while plugged in without charging.
    """
    state = "A\0" if not car.connected else "C2" if car.draw_a > 0.0 else "B1"
    return ord(state[0]) << 8 | ord(state[1])


def _refusal(address: int, words: list[int]) -> ExcCodes | None:
    """Why an Alfen socket refuses this write, or None if it takes it."""
    if not set(range(address, address + len(words))) <= _SETPOINT_SPAN:
        return ExcCodes.ILLEGAL_ADDRESS
    if len(words) != ALFEN.setpoint.count:
        return ExcCodes.ILLEGAL_VALUE
    value = decode_value(ALFEN.setpoint, words)
    return None if math.isfinite(value) and value >= 0 else ExcCodes.ILLEGAL_VALUE


class SimulatedSite:
    """A grid connection with a building and cars on chargers, served over Modbus.

    ``cars`` maps charger names to the car plugged into each (a car with
    ``connected=False`` leaves the charger empty). The first ``alfen_sockets``
    chargers are Alfen Eve sockets, units 1 and 2 on the charger server, and
    read their setpoint from register 1210 as written by a Modbus client.
    Like the real station they fall back to ``safe_current_a`` once no
    setpoint has been written for ``validity_s`` seconds, and before the
    first write. The other chargers take their setpoint from ``step``.

    ``solar`` adds a PV installation behind the grid meter; with
    ``solar_unit_id`` its own meter (an SDM630 in the inverter's line,
    production counted as import) is served on the meter's port too.
    ``battery_speedup`` makes the cars' batteries fill that many times faster
    than the meters count: the demo runs a day of cars in less than one.
    """

    def __init__(
        self,
        load: BuildingLoad | PhaseLoad,
        cars: Mapping[str, Car],
        *,
        alfen_sockets: int = 0,
        grid_unit_id: int = 1,
        voltage_v: float = 230.0,
        safe_current_a: float = 6.0,
        validity_s: float = 60.0,
        start_s: float = 0.0,
        import_kwh: float = 0.0,
        meter_port: int = 0,
        charger_port: int = 0,
        history_len: int | None = None,
        solar: Production | None = None,
        solar_unit_id: int | None = None,
        battery_speedup: float = 1.0,
    ) -> None:
        """Build the site and serve its state at ``start_s`` (seconds of the day).

        ``history_len`` bounds the kept samples for long runs such as the demo.
        """
        if not 0 <= alfen_sockets <= min(MAX_ALFEN_SOCKETS, len(cars)):
            raise ValueError(
                f"alfen_sockets must be 0..{MAX_ALFEN_SOCKETS} and at most one per car"
            )
        if validity_s <= 0:
            raise ValueError("validity_s must be positive")
        if solar_unit_id is not None and (
            solar is None or solar_unit_id == grid_unit_id
        ):
            raise ValueError("a solar meter needs solar and a unit id of its own")
        if battery_speedup < 1.0:
            raise ValueError("battery_speedup must be at least 1")
        self._solar = solar
        self._solar_unit_id = solar_unit_id
        self._solar_kwh = 0.0
        self._battery_speedup = battery_speedup
        self._load = load
        self._cars = dict(cars)
        self._voltage_v = voltage_v
        self._safe_current_a = safe_current_a
        self._validity_s = validity_s
        self._grid_unit_id = grid_unit_id
        self._alfen_units = {
            name: unit for unit, name in enumerate(list(cars)[:alfen_sockets], 1)
        }
        self._since_write = dict.fromkeys(self._alfen_units, validity_s)
        self._charger_kwh = dict.fromkeys(self._alfen_units, 0.0)
        self._import_kwh = import_kwh
        self._export_kwh = 0.0
        self._grid_currents: dict[str, float] = {}
        self._grid_power_w = 0.0
        self._history: deque[SiteSample] = deque(maxlen=history_len)
        self.meter = ModbusSimServer(port=meter_port)
        # A frozen meter keeps serving its last registers (a gateway's cache).
        self.meter_frozen = False
        self.station: _AlfenStation | None = None
        # Alfen sockets whose station takes no Modbus setpoints (SCN mode, or
        # "allow writing maximum currents" off): writes land, the station stays
        # at its safe current and register 1214 reads 0.
        self.modbus_ignored: set[str] = set()
        # Phases each socket gives (register 1215), and the switches made while
        # its car drew current (a driver must pause the car first).
        self._phases = dict.fromkeys(self._alfen_units, 3)
        # A station whose 1215 reads a phase count its socket has not applied
        # yet (set by a test; the car keeps drawing as the socket gives).
        self.phases_read_early: dict[str, int] = {}
        self.switched_under_load: list[tuple[str, float]] = []
        if self._alfen_units:
            self.station = _AlfenStation(port=charger_port)
            for unit in self._alfen_units.values():
                self.station.set_fields(
                    unit, (ALFEN.setpoint,), {ALFEN.setpoint.key: safe_current_a}
                )
        self._publish(start_s, 0.0)

    @property
    def cars(self) -> Mapping[str, Car]:
        """The car on each charger, to plug, unplug or inspect between steps."""
        return MappingProxyType(self._cars)

    @property
    def voltage_v(self) -> float:
        """The grid's phase voltage (with a building load given per phase)."""
        return self._voltage_v

    @property
    def alfen_units(self) -> Mapping[str, int]:
        """Modbus unit id of each Alfen socket, by charger name."""
        return MappingProxyType(self._alfen_units)

    @property
    def meter_port(self) -> int:
        """Port of the grid meter (an SDM630 at ``grid_unit_id``)."""
        return self.meter.port

    @property
    def charger_port(self) -> int:
        """Port of the Alfen station; a site without Alfen sockets has none."""
        if self.station is None:
            raise RuntimeError("this site has no Alfen sockets")
        return self.station.port

    @property
    def history(self) -> Sequence[SiteSample]:
        """One sample per ``step``, oldest first (the last ``history_len``)."""
        return tuple(self._history)

    async def start(self) -> None:
        """Serve the meter and the charger station on 127.0.0.1."""
        await self.meter.start()
        if self.station is not None:
            await self.station.start()

    async def stop(self) -> None:
        """Stop serving; the state is kept and a restart serves it again."""
        await self.meter.stop()
        if self.station is not None:
            await self.station.stop()

    def plug(self, charger: str, car: Car) -> None:
        """A car arrives at ``charger`` (replacing whatever was parked there)."""
        if charger not in self._cars:
            raise KeyError(f"no charger {charger!r}")
        car.connected = True
        self._cars[charger] = car

    def unplug(self, charger: str) -> None:
        """The car at ``charger`` leaves; the charger stays empty until ``plug``."""
        self._cars[charger].connected = False

    def step(
        self, seconds_of_day: float, dt_s: float, setpoints: Mapping[str, float]
    ) -> SiteSample:
        """Run one control cycle of ``dt_s`` seconds ending at ``seconds_of_day``.

        ``setpoints`` holds the current of every charger that is not an Alfen
        socket, e.g. as read from the Home Assistant number entities.
        """
        if dt_s < 0:
            raise ValueError("dt_s must not be negative")
        driven = set(self._cars) - set(self._alfen_units)
        if set(setpoints) != driven:
            raise ValueError(
                f"setpoints must cover exactly {sorted(driven)}, got {sorted(setpoints)}"
            )
        applied = {**setpoints, **self._alfen_setpoints(dt_s)}
        for name, car in self._cars.items():
            car.step(applied[name], dt_s * self._battery_speedup, self._voltage_v)
        self._publish(seconds_of_day, dt_s)
        sample = SiteSample(
            time_s=seconds_of_day,
            dt_s=dt_s,
            currents_a=MappingProxyType(dict(self._grid_currents)),
            power_w=self._grid_power_w,
            setpoints_a=MappingProxyType(applied),
            draws_a=MappingProxyType({n: c.draw_a for n, c in self._cars.items()}),
        )
        self._history.append(sample)
        return sample

    def grid_phase_currents(self) -> dict[str, float]:
        """Current per phase the grid meter shows now, in A."""
        return dict(self._grid_currents)

    def grid_power_w(self) -> float:
        """Net import the grid meter shows now, in W."""
        return self._grid_power_w

    def longest_run_above(
        self, *, phase_a: float = math.inf, power_w: float = math.inf
    ) -> int:
        """Most consecutive steps with a grid phase above ``phase_a`` or import above ``power_w``.

        A balancer may overshoot for one control cycle after the load jumps;
        more than that is a bug, so tests assert this is at most 1.
        """
        longest = run = 0
        for sample in self._history:
            over = max(sample.currents_a.values()) > phase_a or sample.power_w > power_w
            run = run + 1 if over else 0
            longest = max(longest, run)
        return longest

    def _alfen_setpoints(self, dt_s: float) -> dict[str, float]:
        """Each socket's setpoint after this cycle's writes, with the watchdog applied."""
        if self.station is None:
            return {}
        applied: dict[str, float] = {}
        for name, unit in self._alfen_units.items():
            self._read_phases(self.station, name, unit)
            if unit in self.station.setpoint_written:
                self._since_write[name] = 0.0
            else:
                self._since_write[name] += dt_s
            words = self.station.get_registers(
                unit,
                ALFEN.setpoint.function,
                ALFEN.setpoint.address,
                ALFEN.setpoint.count,
            )
            applied[name] = (
                decode_value(ALFEN.setpoint, words)
                if self._remaining_s(name) and name not in self.modbus_ignored
                else self._safe_current_a
            )
        self.station.written.clear()
        self.station.setpoint_written.clear()
        return applied

    def allow_phase_switching(self, charger: str) -> None:
        """The station lets this socket's phases (1215) be written."""
        if self.station is not None:
            self.station.switchable.add(self._alfen_units[charger])

    def _read_phases(self, station: _AlfenStation, name: str, unit: int) -> None:
        """Apply a written phase count; note it if the car was drawing."""
        if name in self.phases_read_early:
            return  # what the register reads is not applied yet
        (phases,) = station.get_registers(
            unit, ALFEN_PHASES.function, ALFEN_PHASES.address, 1
        )
        car = self._cars[name]
        if phases != self._phases[name] and car.draw_a > 0.0:
            self.switched_under_load.append((name, car.draw_a))
        self._phases[name] = 3 if phases == 3 else 1
        car.socket_phases = 3 if phases == 3 else 1

    def _remaining_s(self, name: str) -> float:
        """Seconds before the socket's watchdog drops to the safe current."""
        return max(0.0, self._validity_s - self._since_write[name])

    def _building(
        self, seconds_of_day: float
    ) -> tuple[dict[str, float], dict[str, float], float]:
        """Building power and voltage per phase, and the grid frequency."""
        if isinstance(self._load, BuildingLoad):
            values = self._load.meter_values(seconds_of_day)
            return (
                {p: values[phase_key("power", p)] for p in PHASES},
                {p: values[phase_key("voltage", p)] for p in PHASES},
                values[FREQUENCY],
            )
        power = dict(zip(PHASES, self._load(seconds_of_day), strict=True))
        return power, dict.fromkeys(PHASES, self._voltage_v), 50.0

    def _publish(self, seconds_of_day: float, dt_s: float) -> None:
        """Serve grid and socket readings for the cars' present draw."""
        building, voltages, frequency = self._building(seconds_of_day)
        solar_w = max(0.0, self._solar(seconds_of_day)) if self._solar else 0.0
        currents = {name: car.phase_currents() for name, car in self._cars.items()}
        grid: dict[str, float] = {FREQUENCY: frequency}
        for p in PHASES:
            power = (
                building[p]
                + sum(c[p] for c in currents.values()) * voltages[p]
                - solar_w / len(PHASES)
            )
            grid[phase_key("voltage", p)] = voltages[p]
            grid[phase_key("power", p)] = power
            grid[phase_key("current", p)] = abs(power) / voltages[p]
        self._grid_power_w = sum(grid[phase_key("power", p)] for p in PHASES)
        self._grid_currents = {p: grid[phase_key("current", p)] for p in PHASES}
        self._import_kwh += max(0.0, self._grid_power_w) * dt_s / 3_600_000.0
        self._export_kwh += max(0.0, -self._grid_power_w) * dt_s / 3_600_000.0
        grid |= {
            POWER: self._grid_power_w,
            IMPORT_KWH: self._import_kwh,
            EXPORT_KWH: self._export_kwh,
        }
        if not self.meter_frozen:
            self.meter.set_meter(self._grid_unit_id, SDM630, grid)
            self._publish_solar(solar_w, voltages, frequency, dt_s)
        if self.station is None:
            return
        for name, unit in self._alfen_units.items():
            socket = currents[name]
            power = sum(socket[p] * voltages[p] for p in PHASES)
            self._charger_kwh[name] += power * dt_s / 3_600_000.0
            remaining = self._remaining_s(name)
            self.station.set_meter(
                unit,
                ALFEN,
                {
                    **{phase_key("current", p): socket[p] for p in PHASES},
                    POWER: power,
                    ENERGY_KWH: self._charger_kwh[name],
                    VALID_TIME_S: math.ceil(remaining),
                    SAFE_CURRENT_A: self._safe_current_a,
                    SETPOINT_ACCOUNTED: 1
                    if remaining and name not in self.modbus_ignored
                    else 0,
                    profiles.MODE3_STATE: _mode3(self._cars[name]),
                    profiles.PHASES: self.phases_read_early.get(
                        name, self._phases[name]
                    ),
                },
            )

    def _publish_solar(
        self,
        solar_w: float,
        voltages: Mapping[str, float],
        frequency: float,
        dt_s: float,
    ) -> None:
        """The PV meter's readings: production as import, even over the phases."""
        if self._solar_unit_id is None:
            return
        self._solar_kwh += solar_w * dt_s / 3_600_000.0
        values: dict[str, float] = {
            FREQUENCY: frequency,
            POWER: solar_w,
            IMPORT_KWH: self._solar_kwh,
            EXPORT_KWH: 0.0,
        }
        for p in PHASES:
            values[phase_key("voltage", p)] = voltages[p]
            values[phase_key("power", p)] = solar_w / len(PHASES)
            values[phase_key("current", p)] = solar_w / len(PHASES) / voltages[p]
        self.meter.set_meter(self._solar_unit_id, SDM630, values)
