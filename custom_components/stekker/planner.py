"""The site plan in Home Assistant: who needs what by when, solved off the loop.

The plan is made again when a car comes or leaves, a mode or need changes, a new
solar forecast or new prices arrive, at every clock quarter-hour and at least every five
minutes. Cars in mode planned are planned; what cars in mode fast are expected
to draw counts as building load; the solar modes take the live surplus left.
The plan leaves room for the forecast's upside of the surplus (engine.surplus).
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .balancer import BalancerCoordinator, Charger
from .const import (
    CONF_BATTERY_KWH,
    CONF_SOC_ENTITY,
    CONF_TARGET_SOC,
    DOMAIN,
    LOGGER,
)
from .engine.headroom import charging_limit_kw
from .engine.modes import ChargeMode, SlotPlan
from .engine.plan import CarPlan, PlanCar, PlanInput, make_plan
from .engine.surplus import upside_surplus_kw
from .plan_inputs import SLOT, async_site_series, slot_bounds
from .runtime import StekkerConfigEntry

PLAN_EVERY: Final = timedelta(minutes=5)
MAX_SLOTS: Final = 192  # 48 hours of quarters
# A car short of less than this is on time (rounding of the plan).
SHORTFALL_KWH: Final = 0.05
# Slots planned below this power are no charging window.
IDLE_KW: Final = 0.01


@dataclass(frozen=True, slots=True)
class ChargerPlan:
    """One planned car: its need, departure and part of the plan."""

    need_kwh: float
    departure: datetime
    plan: CarPlan

    @property
    def short(self) -> bool:
        return self.plan.shortfall_kwh > SHORTFALL_KWH


@dataclass(frozen=True, slots=True)
class SitePlan:
    """The plan made at ``made_at``: slot bounds and every planned car's part."""

    made_at: datetime
    bounds: tuple[tuple[datetime, datetime], ...]
    cars: dict[str, ChargerPlan] = field(default_factory=dict)

    def slot_index(self, now: datetime) -> int | None:
        for index, (start, end) in enumerate(self.bounds):
            if start <= now < end:
                return index
        return None

    def slot(self, charger_id: str, now: datetime) -> SlotPlan | None:
        """The car's slot now; a car the plan holds nothing for gets no power."""
        car = self.cars.get(charger_id)
        index = self.slot_index(now)
        if car is None or index is None:
            return None
        start, end = self.bounds[index]
        return SlotPlan(
            start=start.timestamp(),
            hours=(end - start).total_seconds() / 3600.0,
            power_kw=car.plan.power_kw[index],
        )

    def power_now(self, charger_id: str, now: datetime) -> float | None:
        slot = self.slot(charger_id, now)
        return None if slot is None else slot.power_kw

    def completion(self, charger_id: str) -> datetime | None:
        """When the car's need is in: the end of the slot that completes it."""
        car = self.cars.get(charger_id)
        if car is None or car.plan.done_slot is None:
            return None
        return self.bounds[car.plan.done_slot][1]

    def windows(self, charger_id: str) -> list[tuple[datetime, datetime, float]]:
        """Runs of slots a planned car charges in: start, end and energy (kWh)."""
        car = self.cars[charger_id]
        runs: list[tuple[datetime, datetime, float]] = []
        joined = False
        for (start, end), kw in zip(self.bounds, car.plan.power_kw, strict=False):
            if kw <= IDLE_KW:
                joined = False
                continue
            kwh = kw * (end - start).total_seconds() / 3600.0
            if joined:
                first, _, energy = runs[-1]
                runs[-1] = (first, end, energy + kwh)
            else:
                runs.append((start, end, kwh))
            joined = True
        return runs

    def energy_between(self, start: datetime, end: datetime) -> float:
        """Energy (kWh) the plan gives all cars from ``start`` to ``end``."""
        return sum(
            car.plan.power_kw[index]
            * max(0.0, (min(hi, end) - max(lo, start)).total_seconds() / 3600.0)
            for car in self.cars.values()
            for index, (lo, hi) in enumerate(self.bounds)
        )

    def as_list(self, charger_id: str) -> list[dict[str, Any]]:
        """The car's plan slot by slot, for an attribute and the get_plan action."""
        car = self.cars[charger_id]
        return [
            {"start": start.isoformat(), "power_kw": round(kw, 3)}
            for (start, _), kw in zip(self.bounds, car.plan.power_kw, strict=False)
        ]


class PlanCoordinator(DataUpdateCoordinator[SitePlan]):
    """Makes the site plan (CPU-bound: in the executor) and keeps it current."""

    config_entry: StekkerConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StekkerConfigEntry,
        balancer: BalancerCoordinator,
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} plan",
            update_interval=PLAN_EVERY,
            request_refresh_debouncer=Debouncer(
                hass, LOGGER, cooldown=1.0, immediate=True
            ),
        )
        self.balancer = balancer
        self._issues: set[str] = set()
        # A change while a plan is being made, which read its inputs before it.
        self._planning = False
        self._stale = False

    @callback
    def async_attach(self) -> None:
        """Follow the balancer's events, new forecasts and the clock quarters."""
        self.balancer.slot_plan = self.slot
        self.balancer.replan = self.async_schedule
        entry = self.config_entry
        solar = entry.runtime_data.solar
        if solar is not None:
            entry.async_on_unload(solar.async_add_listener(self.async_schedule))
        prices = entry.runtime_data.prices
        if prices is not None:
            entry.async_on_unload(prices.async_add_listener(self.async_schedule))
        entry.async_on_unload(
            async_track_utc_time_change(
                self.hass, self._quarter, minute=(0, 15, 30, 45), second=0
            )
        )
        entry.async_on_unload(self.async_clear_issues)

    @callback
    def _quarter(self, _now: datetime) -> None:
        self.async_schedule()

    @callback
    def async_schedule(self) -> None:
        """Plan again soon (a burst of changes gives one plan).

        A change while a plan is being made asks again once it is done: the
        debouncer drops a request whose cooldown ends during a run, taking that
        run as the answer, but the run read its inputs before the change.
        """
        if self._planning:
            self._stale = True
        self.config_entry.async_create_task(
            self.hass, self.async_request_refresh(), f"{self.name} request"
        )

    @property
    def current(self) -> SitePlan | None:
        """The plan, None before the first or after a failed planning."""
        plan: SitePlan | None = self.data
        return plan if self.last_update_success else None

    def slot(self, charger_id: str, now: datetime) -> SlotPlan | None:
        """The car's current slot; none (so it charges as fast) without a plan."""
        plan = self.current
        return None if plan is None else plan.slot(charger_id, now)

    def planned(self, now: datetime) -> dict[str, Charger]:
        """Cars in mode planned that may be plugged in."""
        return {
            cid: charger
            for cid, charger in self.balancer.chargers.items()
            if charger.charging.effective_mode(now) is ChargeMode.PLANNED
            and charger.charging.plugged is not False
        }

    @override
    async def _async_update_data(self) -> SitePlan:
        self._planning = True
        try:
            return await self._make_plan()
        finally:
            self._planning = False
            if self._stale:
                self._stale = False
                self.async_schedule()

    async def _make_plan(self) -> SitePlan:
        now = dt_util.utcnow()
        planned = self.planned(now)
        departures = {cid: c.charging.next_departure(now) for cid, c in planned.items()}
        latest = max(departures.values(), default=now)
        slots = max(1, min(MAX_SLOTS, math.ceil((latest - now) / SLOT) + 1))
        bounds = tuple(slot_bounds(now, slots))
        series = await async_site_series(self.hass, self.config_entry, now, slots)
        site = self.config_entry.runtime_data.site
        measured = self.config_entry.runtime_data.headroom.data
        cap_v = site.v_max if measured is None else measured.voltage_v
        base = [b - s for b, s in zip(series.building_kw, series.solar_kw, strict=True)]
        cars = tuple(
            PlanCar(
                id=cid,
                phases=c.spec.phases,
                phase=c.spec.phase,
                max_a=c.limited_spec.max_a,
                need_kwh=self._need_kwh(cid, c, now),
                departure_slot=sum(1 for _, end in bounds if end <= departures[cid]),
            )
            for cid, c in planned.items()
        )
        building = self._with_fast_cars(series.building_kw, bounds, now)
        inp = PlanInput(
            slot_h=series.slot_h,
            # As the live cap converts the room to current (fast cars cancel out).
            grid_limit_kw=charging_limit_kw(
                series.grid_limit_kw, base, site.voltage_v, cap_v
            ),
            building_kw=building,
            solar_kw=series.solar_kw,
            fuse_a=site.fuse_a - site.margin_a,
            voltage_v=site.voltage_v,
            site_phases=site.phases,
            cars=cars,
            price=series.price,
            capacity_price_per_kw=series.capacity_price_per_kw,
            month_peak_kw=series.month_peak_kw,
            # Room for the sun the forecast may have missed (slot 0 is measured).
            surplus_kw=upside_surplus_kw(building, series.solar_kw),
        )
        plan = await self.hass.async_add_executor_job(make_plan, inp)
        result = SitePlan(
            made_at=now,
            bounds=bounds,
            cars={
                car.id: ChargerPlan(car.need_kwh, departures[car.id], plan.cars[car.id])
                for car in cars
            },
        )
        self._shortfall_issues(result)
        return result

    def _need_kwh(self, charger_id: str, charger: Charger, now: datetime) -> float:
        """A one-off need as asked; else, with the car's battery and state of
        charge known, what fills it to its target (100 % by default); else the
        usual need less what the car got this session."""
        charging = charger.charging
        if charging.once_departure is not None and charging.once_departure > now:
            return charging.remaining_kwh(now)
        data = self.config_entry.subentries[charger_id].data
        battery, soc_entity = data.get(CONF_BATTERY_KWH), data.get(CONF_SOC_ENTITY)
        state = None if soc_entity is None else self.hass.states.get(soc_entity)
        soc = None if state is None else _percent(state.state)
        if battery is None or soc is None:
            return charging.remaining_kwh(now)
        target = float(data.get(CONF_TARGET_SOC, 100.0))
        return max(0.0, (target - soc) / 100.0 * float(battery))

    def _with_fast_cars(
        self,
        building: tuple[float, ...],
        bounds: tuple[tuple[datetime, datetime], ...],
        now: datetime,
    ) -> tuple[float, ...]:
        """The building load plus what cars in mode fast are expected to draw: a
        charge-now at the car's maximum until its time or energy is in, another
        fast car what it draws now."""
        volts = self.config_entry.runtime_data.site.voltage_v
        load = list(building)
        for charger in self.balancer.chargers.values():
            charging = charger.charging
            if (
                charging.effective_mode(now) is not ChargeMode.FAST
                or charging.plugged is False
            ):
                continue
            if charging.charging_now(now):
                kw = charger.limited_spec.max_a * charger.spec.phases * volts / 1000.0
                end = charging.now_until
                if charging.now_kwh is not None:
                    left = charging.now_kwh - (
                        charging.session_kwh - charging.now_from_kwh
                    )
                    by_energy = now + timedelta(hours=left / kw)
                    end = by_energy if end is None else min(end, by_energy)
            else:
                account = charger.account
                kw = 0.0 if account is None else sum(account.credit_a.values())
                kw *= volts / 1000.0
                end = None
            for index, (start, stop) in enumerate(bounds):
                if end is None or start < end:
                    share = (
                        1.0
                        if end is None or stop <= end
                        else ((end - start) / (stop - start))
                    )
                    load[index] += kw * share
        return tuple(load)

    def _shortfall_issues(self, plan: SitePlan) -> None:
        """A repair issue per car the plan cannot charge in time, naming how much
        it will miss."""
        entry = self.config_entry
        wanted: set[str] = set()
        for cid, car in plan.cars.items():
            if not car.short:
                continue
            issue_id = f"{entry.entry_id}_plan_shortfall_{cid}"
            wanted.add(issue_id)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="plan_shortfall",
                translation_placeholders={
                    "charger": self.balancer.chargers[cid].name,
                    "shortfall": f"{car.plan.shortfall_kwh:.1f}",
                    "need": f"{car.need_kwh:.1f}",
                    "departure": dt_util.as_local(car.departure).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                },
            )
        for issue_id in self._issues - wanted:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues = wanted

    @callback
    def async_clear_issues(self) -> None:
        for issue_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()


def _percent(text: str) -> float | None:
    """A state of charge in %, None when the sensor has none now."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 100.0 else None
