"""The balancer: every control cycle, read the chargers, share the headroom, write.

It runs on each meter update (the control cycle). Data it cannot trust never turns
into a zero: a stale or invalid grid reading holds the setpoints for a few cycles,
then sends every charger to its fail-safe current; a charger that cannot be read
or written is counted at its maximum draw. Both raise a repair issue while they last.
"""

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .charger_driver import ChargerDriver, ChargerError, ChargerReading
from .const import (
    BALANCING_DEFAULTS,
    CONF_FAIL_SAFE_A,
    CONF_HYSTERESIS_S,
    CONF_MIN_WRITE_INTERVAL_S,
    CONF_RAMP_STEP_A,
    CONF_ROTATION_S,
    CONF_STALE_CYCLES,
    DOMAIN,
    LOGGER,
)
from .coordinator import HeadroomCoordinator, StekkerConfigEntry
from .engine.allocator import (
    AllocatorConfig,
    AllocatorMemory,
    ChargerMemory,
    allocate,
)
from .engine.charger import ChargerSpec, ChargerStatus
from .engine.site import PHASES

FAIL_SAFE = "fail_safe"
UNAVAILABLE = "unavailable"
DISABLED = "disabled"
STATES = [
    "charging",
    "limited",
    "paused",
    "waiting_for_turn",
    "idle",
    DISABLED,
    FAIL_SAFE,
    UNAVAILABLE,
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
    setpoint_a: float | None = None  # last value written
    written_at: float = -float("inf")
    state: str = "idle"
    why: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def limited_spec(self) -> ChargerSpec:
        if self.max_override_a is None:
            return self.spec
        top = max(self.spec.min_a, min(self.spec.max_a, self.max_override_a))
        return replace(self.spec, max_a=top)

    @property
    def problem(self) -> ChargerError | None:
        """Why Stekker cannot steer this charger now, if it cannot."""
        return self.error or self.write_error


@dataclass(frozen=True, slots=True)
class BalancerState:
    """The outcome of one cycle, for entities and diagnostics."""

    fail_safe: bool
    available_kw: float | None
    allocated_kw: float
    charging_kw: float | None


class BalancerCoordinator(DataUpdateCoordinator[BalancerState]):
    """Runs the control cycle; pushed by meter updates, never polled."""

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
        options = {**BALANCING_DEFAULTS, **entry.options}
        self.allocator_config = AllocatorConfig(
            voltage_v=headroom.site.voltage_v,
            ramp_step_a=float(options[CONF_RAMP_STEP_A]),
            hysteresis_s=float(options[CONF_HYSTERESIS_S]),
            min_write_interval_s=float(options[CONF_MIN_WRITE_INTERVAL_S]),
            rotation_s=float(options[CONF_ROTATION_S]),
        )
        self.stale_cycles = int(options[CONF_STALE_CYCLES])
        self.memory = AllocatorMemory()
        self.had_data = False
        self.bad_cycles = 0
        self._running: asyncio.Task[None] | None = None
        self._cycle_lock = asyncio.Lock()
        self._issues: set[str] = set()
        self._again = False

    @callback
    def async_attach(self) -> None:
        """Cycle on every poll of the meter the headroom rests on (grid or building)."""
        for meter in self.headroom.basis_meters():
            self.config_entry.async_on_unload(
                meter.async_add_listener(self.async_schedule_cycle)
            )

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
            try:
                state = await self._cycle()
            except Exception as err:
                # A bug must not leave the chargers unsupervised at their last values.
                LOGGER.exception("Balancing cycle failed; chargers go to fail-safe")
                targets = self._fail_safe()
                now = self.clock()
                results = await asyncio.gather(
                    *(
                        self._write(c, targets[c.spec.id], now)
                        for c in self.chargers.values()
                    ),
                    return_exceptions=True,
                )
                for charger, result in zip(
                    self.chargers.values(), results, strict=True
                ):
                    if isinstance(result, Exception):
                        charger.state = UNAVAILABLE
                        LOGGER.error(
                            "Cannot set %s to fail-safe: %r", charger.name, result
                        )
                self.async_set_update_error(err)
                return
        self.async_set_updated_data(state)

    async def _cycle(self) -> BalancerState:
        now = self.clock()
        await asyncio.gather(*(self._read(c) for c in self.chargers.values()))
        self.headroom.charger_draw = self._measured_draw()
        self.headroom.async_recompute()
        self._check_fallbacks()
        headroom = self.headroom.data if self.headroom.last_update_success else None
        if headroom is not None:
            self.bad_cycles = 0
            self.had_data = True
        else:
            self.bad_cycles += 1
        if headroom is None:
            # Never had data, or none for more than N cycles: no guessing.
            stale = not self.had_data or self.bad_cycles > self.stale_cycles
            targets = self._fail_safe() if stale else self._hold()
            self._set_issue("meter_stale", stale, {"site": self.config_entry.title})
            fail_safe = stale
        else:
            self._set_issue("meter_stale", False, {})
            targets = self._allocate(headroom.available_a, headroom.available_kw, now)
            fail_safe = False
        await asyncio.gather(
            *(self._write(c, targets[c.spec.id], now) for c in self.chargers.values())
        )
        for charger in self.chargers.values():
            self._set_issue(
                f"charger_unavailable_{charger.spec.id}",
                charger.problem is not None,
                {"charger": charger.name},
                translation_key="charger_unavailable",
            )
        volts = self.allocator_config.voltage_v
        watts, _ = self._measured_draw()
        return BalancerState(
            fail_safe=fail_safe,
            available_kw=None if headroom is None else headroom.available_kw,
            allocated_kw=sum(
                (c.setpoint_a or 0.0) * c.spec.phases
                for c in self.chargers.values()
                if c.enabled
            )
            * volts
            / 1000.0,
            charging_kw=watts / 1000.0,
        )

    def _check_fallbacks(self) -> None:
        """Warn when the chargers' fallback currents together exceed a phase fuse.

        Fallbacks apply exactly when Stekker cannot steer (stale meter, HA down), so
        they must fit the connection on their own.
        """
        site = self.headroom.site
        per_phase = dict.fromkeys(PHASES, 0.0)
        for charger in self.chargers.values():
            fallback = charger.fail_safe_a
            if charger.reading is not None and charger.reading.safe_a is not None:
                fallback = max(fallback, charger.reading.safe_a)
            for phase in charger.spec.loaded_phases:
                per_phase[phase] += fallback
        worst = max(per_phase[phase] for phase in site.phase_names)
        self._set_issue(
            "fallback_too_high",
            worst > site.fuse_a - site.margin_a,
            {
                "site": self.config_entry.title,
                "current": f"{worst:.0f}",
                "fuse": f"{site.fuse_a:.0f}",
            },
        )

    async def _read(self, charger: Charger) -> None:
        try:
            charger.reading = await charger.driver.read()
        except ChargerError as err:
            if charger.error is None:
                LOGGER.warning("Charger %s is unavailable: %s", charger.name, err)
            charger.error = err
            charger.reading = None
            return
        if charger.error is not None:
            LOGGER.info("Charger %s is available again", charger.name)
        charger.error = None

    def _measured_draw(self) -> tuple[float, dict[str, float]]:
        """What the chargers draw, as far as they tell; unknown counts as building."""
        per_phase = dict.fromkeys(PHASES, 0.0)
        for charger in self.chargers.values():
            if charger.reading is None:
                continue
            # A lagging power sensor may still show a draw from before a decrease;
            # never count more than the charger was last set to (safe side).
            cap = math.inf if charger.setpoint_a is None else charger.setpoint_a
            for phase, amps in charger.reading.phase_a.items():
                per_phase[phase] += min(amps, cap)
        watts = sum(per_phase.values()) * self.allocator_config.voltage_v
        return watts, per_phase

    def _allocate(
        self, available_a: Mapping[str, float], available_kw: float, now: float
    ) -> dict[str, float]:
        """Share what is left after reserving the maximum of chargers we cannot steer."""
        room = {p: float(available_a.get(p, 0.0)) for p in PHASES}
        room_kw = available_kw
        steered: list[tuple[ChargerSpec, ChargerStatus]] = []
        targets: dict[str, float] = {}
        for charger in self.chargers.values():
            if charger.problem is not None or not charger.enabled:
                for phase in charger.spec.loaded_phases:
                    room[phase] -= charger.spec.max_a
                room_kw -= (
                    charger.spec.max_a
                    * charger.spec.phases
                    * (self.allocator_config.voltage_v / 1000.0)
                )
                targets[charger.spec.id] = (
                    charger.setpoint_a if charger.setpoint_a is not None else 0.0
                )
                charger.state = UNAVAILABLE if charger.problem else DISABLED
                charger.why = "counted at its maximum draw"
                continue
            reading = charger.reading
            steered.append(
                (
                    charger.limited_spec,
                    ChargerStatus(
                        connected=True
                        if reading is None or reading.connected is None
                        else reading.connected,
                        measured_a=None if reading is None else reading.measured_a,
                    ),
                )
            )
            if (
                charger.spec.id not in self.memory.chargers
                and reading
                and reading.setpoint_a
            ):
                # After a restart, start from what the charger has, not from zero.
                self.memory = AllocatorMemory(
                    {
                        **self.memory.chargers,
                        charger.spec.id: ChargerMemory(setpoint_a=reading.setpoint_a),
                    }
                )
        allocation = allocate(
            {p: max(0.0, a) for p, a in room.items()},
            max(0.0, room_kw),
            steered,
            self.memory,
            now,
            self.allocator_config,
        )
        self.memory = allocation.memory
        for spec, _ in steered:
            charger = self.chargers[spec.id]
            targets[spec.id] = allocation.setpoints[spec.id]
            charger.state = allocation.reasons[spec.id].value
            charger.why = allocation.explain.get(spec.id, "")
        return targets

    def _fail_safe(self) -> dict[str, float]:
        for charger in self.chargers.values():
            charger.state = FAIL_SAFE if charger.enabled else DISABLED
            charger.why = "meter data stale or invalid"
        self.memory = AllocatorMemory()
        return {c.spec.id: c.fail_safe_a for c in self.chargers.values()}

    def _hold(self) -> dict[str, float]:
        """A reading or two missing: keep what the chargers have, never more.

        A maximum the user lowered meanwhile still applies.
        """
        targets = {}
        for charger in self.chargers.values():
            held = charger.setpoint_a or 0.0
            limit = charger.limited_spec.max_a
            targets[charger.spec.id] = held if held <= limit else limit
        return targets

    async def _write(self, charger: Charger, amps: float, now: float) -> None:
        refresh = charger.driver.refresh_s
        due = refresh is not None and now - charger.written_at >= refresh
        if not charger.enabled:
            return  # switched off: the user drives it, Stekker writes nothing
        if charger.write_error is None and charger.setpoint_a == amps and not due:
            return
        async with charger.lock:
            try:
                written = await charger.driver.write(amps)
            except ChargerError as err:
                if charger.write_error is None:
                    LOGGER.warning("Cannot set charger %s: %s", charger.name, err)
                charger.write_error = err
                charger.state = UNAVAILABLE
                return
        if charger.write_error is not None:
            LOGGER.info("Charger %s accepts setpoints again", charger.name)
        charger.write_error = None
        charger.setpoint_a = written
        charger.written_at = now

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
        else:
            self._issues.discard(full_id)
            ir.async_delete_issue(self.hass, DOMAIN, full_id)

    @callback
    def async_clear_issues(self) -> None:
        """Unloaded: nothing watches the site now, so its repair issues go too."""
        for full_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, full_id)
        self._issues.clear()

    @override
    async def _async_update_data(self) -> BalancerState:
        async with self._cycle_lock:
            return await self._cycle()


def fail_safe_current(data: Mapping[str, Any]) -> float:
    return float(data.get(CONF_FAIL_SAFE_A, data["min_a"]))
