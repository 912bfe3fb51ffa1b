"""Site: a calendar with every car's planned charging windows."""

from datetime import datetime

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .entity import StekkerEntity, site_device
from .planner import PlanCoordinator
from .runtime import StekkerConfigEntry

PARALLEL_UPDATES = 0

CHARGING_PLAN = CalendarEntityDescription(
    key="charging_plan", translation_key="charging_plan"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StekkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities(
        [
            ChargingPlanCalendar(
                entry.runtime_data.planner,
                CHARGING_PLAN,
                entry.entry_id,
                site_device(entry),
            )
        ]
    )


class ChargingPlanCalendar(StekkerEntity[PlanCoordinator], CalendarEntity):
    """One event per run of slots a car is planned to charge in."""

    def _events(self) -> list[CalendarEvent]:
        plan = self.coordinator.current
        if plan is None:
            return []
        events = [
            CalendarEvent(
                start=start,
                end=end,
                summary=f"{self.coordinator.balancer.chargers[cid].name}: {kwh:.1f} kWh",
                uid=f"{cid}_{start.isoformat()}",
            )
            for cid in plan.cars
            for start, end, kwh in plan.windows(cid)
        ]
        return sorted(events, key=lambda e: (e.start_datetime_local, e.summary))

    @property
    def event(self) -> CalendarEvent | None:
        """The window going on now, else the next one."""
        now = dt_util.utcnow()
        return next((e for e in self._events() if e.end_datetime_local > now), None)

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        return [
            e
            for e in self._events()
            if e.end_datetime_local > start_date and e.start_datetime_local < end_date
        ]
