"""The balancer: every control cycle, read the chargers, share the headroom, write.

It runs on each meter update (the control cycle) and on a watchdog timer, so a
meter that stops answering cannot stop it. Data it cannot trust never turns into
a zero: missing meter data holds the setpoints for at most ``stale_s`` seconds,
then sends every charger to its fail-safe current. Every device read and write is
bounded by ``DEVICE_TIMEOUT_S``; a write that does not return in time is left to
finish on its own and its charger is counted at its maximum meanwhile. Decreases
are written before increases, and increases only once every decrease has landed.
A charger that can switch phases (Alfen 1215) is held at 0 A while it switches;
its phases are written after the setpoints, and it is accounted as its station
reads it.
"""

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .charger_driver import (
    SETPOINT_IGNORED,
    ChargerDriver,
    ChargerError,
    ChargerReading,
    ModbusChargerDriver,
)
from .charging import ChargingState
from .const import (
    BALANCING_DEFAULTS,
    CONF_FAIL_SAFE_A,
    CONF_HYSTERESIS_S,
    CONF_MIN_WRITE_INTERVAL_S,
    CONF_RAMP_STEP_A,
    CONF_ROTATION_S,
    DOMAIN,
    LOGGER,
)
from .coordinator import HeadroomCoordinator, poll_interval, stale_time
from .engine.accounting import (
    DEFAULT_LAG_S,
    ChargerAccount,
    ChargerObservation,
    SetpointLog,
    account,
    total_credit,
)
from .engine.allocator import AllocatorConfig, AllocatorMemory, Limit
from .engine.charger import ChargerSpec
from .engine.control import ChargerInput, Mode, State, decide
from .engine.modes import (
    Ceiling,
    ModeCharger,
    ModeLimit,
    ModeMemory,
    SlotPlan,
    mode_ceilings,
    running_at_start,
)
from .engine.phase_switch import (
    STOPPED_A,
    PhaseMemory,
    phase_refused,
    phase_step,
    phases_read,
    wired_spec,
)
from .engine.site import PHASES
from .runtime import StekkerConfigEntry

# Per (site entry, charger): the clock times of its phase switches.
PHASE_SWITCHES: HassKey[dict[tuple[str, str], tuple[float, ...]]] = HassKey(
    f"{DOMAIN}_phase_switches"
)
# Bound on one read or write of a charger: inside the 1 s control cycle.
DEVICE_TIMEOUT_S: Final = 1.0
# A charger that is not doing what it was told is told again this often.
REASSERT_S: Final = 5.0

FAIL_SAFE = State.FAIL_SAFE.value
FAULT = State.FAULT.value
DISABLED = State.DISABLED.value
# What holds a charger: the allocator's limits, or why it was not allocated.
LIMITED_BY = [
    *(limit.value for limit in Limit),
    *(limit.value for limit in ModeLimit),
    "meter",
    FAIL_SAFE,
    FAULT,
    DISABLED,
]
_NOT_ALLOCATED = {FAIL_SAFE: FAIL_SAFE, FAULT: FAULT, DISABLED: DISABLED}
STATES = [
    "charging",
    "limited",
    "paused",
    "waiting_for_turn",
    "idle",
    DISABLED,
    FAIL_SAFE,
    FAULT,
]


@dataclass(slots=True)
class Charger:
    """A charger under the balancer, with what the user set on its entities."""

    spec: ChargerSpec
    name: str
    driver: ChargerDriver
    fail_safe_a: float
    enabled: bool = True
    max_override_a: float | None = None
    reading: ChargerReading | None = None
    error: ChargerError | None = None  # last read failed
    write_error: ChargerError | None = None  # cleared only by a successful write
    log: SetpointLog = field(default_factory=SetpointLog)  # what was written
    written_at: float = -float("inf")
    wanted_a: float | None = None  # what the balancer last wanted written
    pending: asyncio.Task[float] | None = None  # a write that has not returned
    account: ChargerAccount | None = None
    state: str = "idle"
    why: str = ""
    limited_by: str = "none"
    # The charger holds a live setpoint it does not apply (Alfen 1214 = 0);
    # kept until it says it applies one, so the repair does not come and go
    # with every validity time.
    ignores_setpoints: bool = False
    charging: ChargingState = field(default_factory=ChargingState)
    # Phase switching: the driver of a charger that may switch (a three-phase
    # Modbus socket with the phases register), its memory, and this cycle's
    # write (with the memory to go back to if it fails).
    switcher: ModbusChargerDriver | None = field(default=None, init=False)
    phase_memory: PhaseMemory | None = field(default=None, init=False)
    phase_write: tuple[int, PhaseMemory] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        driver = self.driver
        if (
            isinstance(driver, ModbusChargerDriver)
            and driver.switches_phases
            and self.spec.phases == 3
            and self.spec.can_pause
        ):
            self.switcher = driver
            self.phase_memory = PhaseMemory()

    @property
    def setpoint_a(self) -> float | None:
        """The last setpoint written."""
        return self.log.amps

    @property
    def phases_in_use(self) -> int | None:
        """The phases a switching charger's station reads it uses (None: unknown).

        A station that reads one phase while its socket measures current on
        L2 or L3 has not applied it yet: unknown, so counted on all three.
        """
        reading = self.reading
        if self.switcher is None or reading is None:
            return None
        if reading.phases == 1 and any(
            amps >= STOPPED_A
            for phase, amps in (reading.phase_a or {}).items()
            if phase != "l1"
        ):
            return None
        return reading.phases

    @property
    def wired_spec(self) -> ChargerSpec:
        """The charger as its station reads it: a switched socket on L1 only;
        on three phases (the worse) while the station cannot tell."""
        return wired_spec(self.spec, self.phases_in_use)

    @property
    def limited_spec(self) -> ChargerSpec:
        spec = self.wired_spec
        if self.max_override_a is None:
            return spec
        top = max(spec.min_a, min(spec.max_a, self.max_override_a))
        return replace(spec, max_a=top)

    @property
    def steered(self) -> bool:
        """Enabled, readable, and its writes land."""
        return self.enabled and self.problem is None and self.pending is None

    @property
    def fail_safe_target_a(self) -> float:
        """The fail-safe current, never above a maximum the user lowered."""
        return min(self.fail_safe_a, self.limited_spec.max_a)

    @property
    def problem(self) -> ChargerError | None:
        """Why Stekker cannot steer this charger now, if it cannot."""
        return self.error or self.write_error

    @property
    def obeying(self) -> bool:
        return self.account is None or self.account.obeying


@dataclass(frozen=True, slots=True)
class BalancerState:
    """The outcome of one cycle, for entities and diagnostics."""

    fail_safe: bool
    available_kw: float | None
    allocated_kw: float
    charging_kw: float | None


class BalancerCoordinator(DataUpdateCoordinator[BalancerState]):
    """Runs the control cycle; pushed by meter updates and a watchdog, never polled."""

    config_entry: StekkerConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StekkerConfigEntry,
        headroom: HeadroomCoordinator,
        chargers: dict[str, Charger],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            hass, LOGGER, config_entry=entry, name=f"{entry.title} balancer"
        )
        self.headroom = headroom
        self.chargers = chargers
        self.clock = clock
        # The phase switches of the last hour outlive a reload (an options or
        # charger change), so a reload cannot reset the hourly cap.
        self._switches = hass.data.setdefault(PHASE_SWITCHES, {})
        for charger in chargers.values():
            if charger.phase_memory is not None:
                charger.phase_memory = replace(
                    charger.phase_memory,
                    switches=self._switches.get((entry.entry_id, charger.spec.id), ()),
                )
        options = {**BALANCING_DEFAULTS, **entry.options}
        self.allocator_config = AllocatorConfig(
            voltage_v=headroom.site.voltage_v,
            ramp_step_a=float(options[CONF_RAMP_STEP_A]),
            hysteresis_s=float(options[CONF_HYSTERESIS_S]),
            min_write_interval_s=float(options[CONF_MIN_WRITE_INTERVAL_S]),
            rotation_s=float(options[CONF_ROTATION_S]),
        )
        self.cycle_s = poll_interval(entry).total_seconds()
        self.stale_s = stale_time(entry)
        self.lag_s = DEFAULT_LAG_S
        self.memory = AllocatorMemory()
        self.mode_memory: dict[str, ModeMemory] = {}
        # The plan's current slot per charger, and how to ask for a new plan when
        # a car comes or leaves or a need changes (both set by the planner).
        self.slot_plan: Callable[[str, datetime], SlotPlan | None] = _no_plan
        self.replan: Callable[[], None] = _nothing
        self._last_cycle: float | None = None
        self._cycled = False
        self._running: asyncio.Task[None] | None = None
        self._cycle_lock = asyncio.Lock()
        self._issues: set[str] = set()
        self._again = False

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        """One clock for the balancer and the meters it judges the age of."""
        self._clock = clock
        for meter in self.headroom.meters.values():
            meter.clock = clock

    @callback
    def async_attach(self) -> None:
        """Cycle on every poll of the basis meter, and at least once per cycle time."""
        for meter in self.headroom.basis_meters():
            self.config_entry.async_on_unload(
                meter.async_add_listener(self.async_schedule_cycle)
            )
        self.config_entry.async_on_unload(
            async_track_time_interval(
                self.hass,
                self.async_watchdog,
                timedelta(seconds=self.cycle_s),
                name=f"{self.name} watchdog",
            )
        )

    @callback
    def async_watchdog(self, _now: Any = None) -> None:
        """Each cycle time: cycle if nothing else did since the last time.

        A meter that hangs or stays silent (its coordinator tells only of the first
        failed poll) must not stop the cycle, or the fail-safe would never come.
        """
        if not self._cycled:
            self.async_schedule_cycle()
        self._cycled = False

    @callback
    def async_schedule_cycle(self) -> None:
        """Run a cycle now, or right after the one in progress (never two at once)."""
        if self._running is not None and not self._running.done():
            self._again = True
            return
        self._running = self.config_entry.async_create_task(
            self.hass, self._async_cycles(), f"{self.name} cycle"
        )

    async def _async_cycles(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            await self.async_run_cycle()

    async def async_run_cycle(self) -> None:
        """One control cycle, its outcome pushed to the entities; never two at once."""
        async with self._cycle_lock:
            self._cycled = True
            try:
                state = await self._cycle()
            except Exception as err:
                # A bug must not leave the chargers unsupervised at their last values.
                LOGGER.exception("Balancing cycle failed; chargers go to fail-safe")
                for charger in self.chargers.values():
                    charger.state = FAIL_SAFE if charger.enabled else DISABLED
                    charger.limited_by = charger.state
                self.memory = AllocatorMemory()
                await self._apply(
                    {c.spec.id: c.fail_safe_target_a for c in self.chargers.values()},
                    self.clock(),
                )
                for charger in self.chargers.values():
                    if charger.enabled and charger.problem is not None:
                        LOGGER.error(
                            "Cannot set %s to fail-safe: %s",
                            charger.name,
                            charger.problem,
                        )
                self.async_set_update_error(err)
                return
        self.async_set_updated_data(state)

    async def _cycle(self) -> BalancerState:
        volts = self.headroom.phase_voltages()
        start = self.clock()
        await asyncio.gather(
            *(self._read(c, start, volts) for c in self.chargers.values())
        )
        # Reads take up to DEVICE_TIMEOUT_S: judge the meter's age after them.
        now = self.clock()
        for charger in self.chargers.values():
            if charger.phase_memory is not None:
                charger.phase_memory = phases_read(
                    charger.phase_memory, charger.phases_in_use, now
                )
        inputs = [self._input(c, start, now) for c in self.chargers.values()]
        credit = total_credit({i.spec.id: i.account for i in inputs})
        self.headroom.charger_draw = credit
        self.headroom.async_recompute()
        self._check_fallbacks()
        age = self.headroom.data_age(now)
        fresh = (
            self.headroom.last_update_success
            and age is not None
            and age <= self.cycle_s + 0.5
        )
        headroom = self.headroom.data if fresh else None
        stale = age is None or age > self.stale_s
        grid_kw = None if headroom is None else headroom.grid_kw
        mode_chargers = self._mode_chargers(inputs, now)
        modes = mode_ceilings(
            mode_chargers,
            grid_kw,
            self.headroom.site.voltage_v,
            self.mode_memory,
            now,
        )
        self.mode_memory = modes.memory
        decision = decide(
            inputs,
            headroom,
            stale,
            self.memory,
            now,
            self.allocator_config,
            modes.ceilings | self._phase_steps(mode_chargers, grid_kw, now),
        )
        self.memory = decision.memory
        if headroom is not None:
            self.allocator_config = replace(
                self.allocator_config, voltage_v=headroom.voltage_v
            )
        for charger in self.chargers.values():
            charger.state = decision.states[charger.spec.id]
            charger.why = decision.why[charger.spec.id]
            charger.limited_by = decision.limits.get(
                charger.spec.id
            ) or _NOT_ALLOCATED.get(charger.state, "meter")
        fail_safe = decision.mode is Mode.FAIL_SAFE
        self._set_issue(
            "meter_stale",
            fail_safe,
            {"site": self.config_entry.title, "seconds": f"{self.stale_s:g}"},
        )
        await self._apply(decision.targets, now)
        await asyncio.gather(*(self._switch_phases(c) for c in self.chargers.values()))
        for charger in self.chargers.values():
            if charger.phase_memory is not None:
                key = (self.config_entry.entry_id, charger.spec.id)
                self._switches[key] = charger.phase_memory.switches
        for charger in self.chargers.values():
            problem = charger.problem
            if problem is not None and problem.translation_key == SETPOINT_IGNORED:
                charger.ignores_setpoints = True
            elif charger.reading is not None and charger.reading.setpoint_accounted:
                charger.ignores_setpoints = False
            self._set_issue(
                f"charger_unavailable_{charger.spec.id}",
                charger.enabled
                and problem is not None
                and problem.translation_key != SETPOINT_IGNORED,
                {"charger": charger.name},
                translation_key="charger_unavailable",
            )
            self._set_issue(
                f"charger_ignores_setpoints_{charger.spec.id}",
                charger.enabled and charger.ignores_setpoints,
                {"charger": charger.name},
                translation_key="charger_ignores_setpoints",
            )
            self._set_issue(
                f"charger_not_obeying_{charger.spec.id}",
                charger.enabled and not charger.obeying,
                {
                    "charger": charger.name,
                    "detail": charger.account.why if charger.account else "",
                },
                translation_key="charger_not_obeying",
            )
        volts_nominal = self.headroom.site.voltage_v
        return BalancerState(
            fail_safe=fail_safe,
            available_kw=None if headroom is None else headroom.available_kw,
            allocated_kw=sum(
                (c.setpoint_a or 0.0) * c.wired_spec.phases
                for c in self.chargers.values()
                if c.enabled
            )
            * volts_nominal
            / 1000.0,
            charging_kw=sum(credit.values()) * volts_nominal / 1000.0,
        )

    def _mode_chargers(
        self, inputs: list[ChargerInput], now: float
    ) -> list[ModeCharger]:
        """Each charger's mode and draw, its session energy counted on; a car that
        came or left (or whose departure passed) asks for a new plan."""
        wall = dt_util.utcnow()
        first = self._last_cycle is None
        hours = 0.0 if self._last_cycle is None else (now - self._last_cycle) / 3600
        self._last_cycle = now
        # Power and current convert at the nominal voltage, as the meter's power
        # the surplus comes from was measured.
        volts = self.headroom.site.voltage_v
        plugged_changed = False
        out = []
        for item in inputs:
            charger = self.chargers[item.spec.id]
            draw_kw = sum(item.account.credit_a.values()) * volts / 1000.0
            if charger.charging.observe(item.connected, draw_kw * hours, wall):
                plugged_changed = True
            out.append(
                ModeCharger(
                    item.spec,
                    charger.charging.effective_mode(wall),
                    draw_kw,
                    self.slot_plan(item.spec.id, wall),
                )
            )
        if plugged_changed:
            self.replan()
        if first:  # after a start: the solar waits' memory is gone
            self.mode_memory = running_at_start(out, volts)
        return out

    def _input(self, charger: Charger, start: float, now: float) -> ChargerInput:
        """The charger as the decision sees it; its account is kept for entities.

        A measurement is of this cycle when it was taken (or first seen) by this
        cycle's reads, which began at ``start``.
        """
        reading = charger.reading
        spec = charger.limited_spec
        if charger.log.amps is None and reading is not None and reading.setpoint_a:
            # After a restart: the charger's own setpoint is what it runs at.
            charger.log = SetpointLog(reading.setpoint_a)
        steered = charger.steered
        if steered:
            try:
                spec = charger.driver.narrow(spec)
            except ChargerError as err:
                charger.error = err
                steered = False
        observation = ChargerObservation(
            spec=spec,
            steered=steered,
            log=charger.log,
            device_setpoint_a=None if reading is None else reading.setpoint_a,
            measured_a=None if reading is None else reading.phase_a,
            measured_at=None if reading is None else reading.measured_at,
        )
        charger.account = account(observation, now, self.lag_s, now - start)
        return ChargerInput(
            spec=spec,
            account=charger.account,
            enabled=charger.enabled,
            readable=charger.error is None,
            connected=None if reading is None else reading.connected,
            measured_a=None if reading is None else reading.measured_a,
            setpoint_a=charger.log.amps,
            device_setpoint_a=None if reading is None else reading.setpoint_a,
            wanted_a=charger.wanted_a,
            fail_safe_a=charger.fail_safe_target_a,
        )

    def _phase_steps(
        self, chargers: list[ModeCharger], grid_kw: float | None, now: float
    ) -> dict[str, Ceiling]:
        """Each switching charger's phase step: one pausing to switch is held
        at 0 A, one whose pause is over is switched after the setpoints.

        The surplus it could have is what the grid exports plus its own draw;
        a charger that is not steered now (or not obeying) restarts its pause.
        """
        held: dict[str, Ceiling] = {}
        volts = self.headroom.site.voltage_v
        for item in chargers:
            charger = self.chargers[item.spec.id]
            memory = charger.phase_memory
            if memory is None:
                continue
            reading = charger.reading
            if reading is None or not (charger.steered and charger.obeying):
                charger.phase_memory = replace(memory, stopped_since=None)
                continue
            step = phase_step(
                charger.spec,
                item.mode,
                reading.connected is not False,
                None if grid_kw is None else item.draw_kw - grid_kw,
                reading.measured_a,
                volts,
                memory,
                now,
            )
            charger.phase_memory = step.memory
            if step.write is not None:
                charger.phase_write = (step.write, replace(memory, stopped_since=None))
            if step.hold:
                target = step.write or step.memory.target
                why = f"paused to switch to {target} phase{'s' if target == 3 else ''}"
                held[item.spec.id] = Ceiling(0.0, ModeLimit.PHASE_SWITCH, why)
        return held

    async def _switch_phases(self, charger: Charger) -> None:
        """Write the phases of a charger whose pause is over, once its 0 A has
        landed. A refusal is final; a failure is tried again after another
        pause (an answer that timed out may have landed: the next reading
        tells)."""
        if charger.phase_write is None or charger.switcher is None:
            return
        (phases, before), charger.phase_write = charger.phase_write, None
        if charger.setpoint_a != 0.0 or not charger.steered:
            charger.phase_memory = before
            return
        try:
            async with asyncio.timeout(DEVICE_TIMEOUT_S):
                switched = await charger.switcher.write_phases(phases)
        except (ChargerError, TimeoutError) as err:
            LOGGER.warning(
                "Cannot switch %s to %d-phase charging, trying again after another"
                " pause: %r",
                charger.name,
                phases,
                err,
            )
            charger.phase_memory = before
            return
        if not switched:
            LOGGER.warning(
                "%s does not allow phase switching; it is not tried again",
                charger.name,
            )
            charger.phase_memory = phase_refused(
                before, charger.phases_in_use or before.phases
            )
            return
        LOGGER.info("%s switched to %d-phase charging", charger.name, phases)

    def _check_fallbacks(self) -> None:
        """Warn when the chargers' fallback currents together exceed a limit.

        Fallbacks apply exactly when Stekker cannot steer (stale meter, HA down), so
        they must fit the phase fuses and the GTV on their own.
        """
        site = self.headroom.site
        per_phase = dict.fromkeys(PHASES, 0.0)
        for charger in self.chargers.values():
            fallback = charger.fail_safe_target_a
            if charger.reading is not None and charger.reading.safe_a is not None:
                fallback = max(fallback, charger.reading.safe_a)
            for phase in charger.spec.loaded_phases:
                per_phase[phase] += fallback
        worst = max(per_phase[phase] for phase in site.phase_names)
        kw = sum(per_phase.values()) * site.voltage_v / 1000.0
        self._set_issue(
            "fallback_too_high",
            worst > site.fuse_a - site.margin_a or kw > site.gtv_kw - site.margin_kw,
            {
                "site": self.config_entry.title,
                "current": f"{worst:.0f}",
                "fuse": f"{site.fuse_a:.0f}",
                "power": f"{kw:.1f}",
                "gtv": f"{site.gtv_kw:g}",
            },
        )

    async def _read(
        self, charger: Charger, now: float, volts: Mapping[str, float]
    ) -> None:
        try:
            async with asyncio.timeout(DEVICE_TIMEOUT_S):
                reading = await charger.driver.read(now, volts)
        except (ChargerError, TimeoutError) as err:
            error = (
                err
                if isinstance(err, ChargerError)
                else ChargerError("charger_timeout", charger=charger.name)
            )
            if charger.error is None:
                LOGGER.warning("Charger %s is unavailable: %s", charger.name, error)
            charger.error = error
            charger.reading = None
            return
        if charger.error is not None:
            LOGGER.info("Charger %s is available again", charger.name)
        charger.error = None
        charger.reading = reading

    async def _apply(self, targets: Mapping[str, float | None], now: float) -> None:
        """Write what changed: decreases first, increases once they all landed."""
        lower: list[tuple[Charger, float]] = []
        higher: list[tuple[Charger, float]] = []
        for charger in self.chargers.values():
            target = targets.get(charger.spec.id)
            if not charger.enabled or target is None:
                continue
            try:
                amps = charger.driver.quantize(target)
            except ChargerError as err:
                charger.error = err
                continue
            charger.wanted_a = amps
            if not self._needs_write(charger, amps, now):
                continue
            now_a = charger.log.amps
            if now_a is None and charger.reading is not None:
                now_a = charger.reading.setpoint_a
            if now_a is None or amps < now_a:
                lower.append((charger, amps))
            else:
                higher.append((charger, amps))
        if await self._write_all(lower, now):
            await self._write_all(higher, now)
        else:
            for charger, _ in higher:
                charger.why = "increase held: a decrease did not land"

    def _needs_write(self, charger: Charger, amps: float, now: float) -> bool:
        if charger.pending is not None:
            return False  # never two writes to one charger at once
        if charger.log.amps is None or amps != charger.log.amps:
            return True
        refresh = charger.driver.refresh_s
        if refresh is not None and now - charger.written_at >= refresh:
            return True
        reading = charger.reading
        differs = (
            reading is not None
            and reading.setpoint_a is not None
            and abs(reading.setpoint_a - amps) > 0.05
            and now - charger.log.since >= self.lag_s
        )
        troubled = differs or charger.write_error is not None or not charger.obeying
        return troubled and now - charger.written_at >= REASSERT_S

    async def _write_all(self, writes: list[tuple[Charger, float]], now: float) -> bool:
        """Write concurrently, bounded in time; True when every write landed."""
        if not writes:
            return True
        tasks = {
            self._spawn(charger.driver.write(amps), charger): (charger, amps)
            for charger, amps in writes
        }
        done, _ = await asyncio.wait(tasks, timeout=DEVICE_TIMEOUT_S)
        landed = True
        for task, (charger, _) in tasks.items():
            charger.written_at = now
            if task not in done:
                # Cancelled; until it has really ended the charger counts at its max.
                charger.pending = task
                task.add_done_callback(functools.partial(self._finished, charger))
                task.cancel()
                self._write_failed(
                    charger, ChargerError("charger_write_hangs", charger=charger.name)
                )
                landed = False
                continue
            error = task.exception()
            if error is not None:
                self._write_failed(
                    charger,
                    error
                    if isinstance(error, ChargerError)
                    else ChargerError("charger_write_failed", error=repr(error)),
                )
                landed = False
                continue
            if charger.write_error is not None:
                LOGGER.info("Charger %s accepts setpoints again", charger.name)
            charger.write_error = None
            # The car's lag runs from when the write landed.
            charger.log = charger.log.written(task.result(), self.clock())
        return landed

    def _spawn(
        self, write: Coroutine[Any, Any, float], charger: Charger
    ) -> asyncio.Task[float]:
        return self.config_entry.async_create_background_task(
            self.hass, write, f"{self.name} write {charger.name}"
        )

    @callback
    def _finished(self, charger: Charger, task: asyncio.Task[float]) -> None:
        """A write that hung has ended: the next cycle may write again."""
        charger.pending = None
        if not task.cancelled() and task.exception() is not None:
            LOGGER.debug("Late write to %s failed: %r", charger.name, task.exception())

    def _write_failed(self, charger: Charger, error: ChargerError) -> None:
        if charger.write_error is None:
            LOGGER.warning("Cannot set charger %s: %s", charger.name, error)
        charger.write_error = error
        charger.state = FAULT

    def _set_issue(
        self,
        issue_id: str,
        active: bool,
        placeholders: dict[str, str],
        translation_key: str | None = None,
    ) -> None:
        full_id = f"{self.config_entry.entry_id}_{issue_id}"
        if active:
            self._issues.add(full_id)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                full_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=translation_key or issue_id,
                translation_placeholders=placeholders,
            )
        elif full_id in self._issues:
            self._issues.discard(full_id)
            ir.async_delete_issue(self.hass, DOMAIN, full_id)

    @callback
    def async_clear_issues(self) -> None:
        """Unloaded: nothing watches the site now, so its repair issues go too."""
        for full_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, full_id)
        self._issues.clear()
        for charger in self.chargers.values():
            if charger.pending is not None:
                charger.pending.cancel()

    @override
    async def _async_update_data(self) -> BalancerState:
        async with self._cycle_lock:
            return await self._cycle()


def _no_plan(_charger_id: str, _now: datetime) -> SlotPlan | None:
    return None


def _nothing() -> None:
    """No planner yet."""


def fail_safe_current(data: Mapping[str, Any]) -> float:
    return float(data.get(CONF_FAIL_SAFE_A, data["min_a"]))
