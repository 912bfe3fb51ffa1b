"""Prices ahead from the core Nord Pool or EnergyZero integration's action.

Their actions answer for a date: today's prices, and tomorrow's once the
day-ahead market has published them. The answer is kept, and asked again when
engine.prices.prices_due says so; a failure keeps the last good prices (the
plan drops them as they pass) and raises a repair issue until the action
answers again. EnergyZero is asked for its all-in price with VAT (what a
household pays per kWh); Nord Pool gives the market price of the entry's first
area, without taxes.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_PRICE_ENTRY,
    DOMAIN,
    ENERGYZERO_DOMAIN,
    LOGGER,
    NORDPOOL_DOMAIN,
)
from .engine.prices import (
    RETRY,
    PricePoint,
    days_to_ask,
    energyzero_points,
    merged,
    nord_pool_points,
    price_at,
    prices_due,
)
from .runtime import StekkerConfigEntry

ISSUE_FAILING: Final = "price_action_failing"
ISSUE_MISSING: Final = "price_entry_missing"


def _nord_pool_call(entry_id: str, day: date) -> tuple[str, dict[str, Any]]:
    return "get_prices_for_date", {"config_entry": entry_id, "date": day.isoformat()}


def _energyzero_call(entry_id: str, day: date) -> tuple[str, dict[str, Any]]:
    return "get_energy_prices", {
        "config_entry": entry_id,
        "incl_vat": True,
        "price_type": "all_in",
        "interval": "quarter",
        "start": day.isoformat(),
        "end": day.isoformat(),
    }


type _Call = Callable[[str, date], tuple[str, dict[str, Any]]]
type _Reader = Callable[[Any], list[PricePoint]]
_ACTIONS: Final[dict[str, tuple[_Call, _Reader]]] = {
    NORDPOOL_DOMAIN: (_nord_pool_call, nord_pool_points),
    ENERGYZERO_DOMAIN: (_energyzero_call, energyzero_points),
}


class PriceSourceError(Exception):
    """The price action gave no prices; the message says why."""


class PriceActionCoordinator(DataUpdateCoordinator[tuple[PricePoint, ...]]):
    """The prices ahead from the chosen price integration's action."""

    config_entry: StekkerConfigEntry

    def __init__(self, hass: HomeAssistant, entry: StekkerConfigEntry) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} prices",
            update_interval=RETRY,
        )
        self.source_id: str = entry.options[CONF_PRICE_ENTRY]
        self.asked_at: datetime | None = None
        self.data = ()

    @callback
    def async_start(self) -> None:
        """Ask once Home Assistant has started, so the price integration is set
        up by then; never hold up the site's set-up for it."""
        entry = self.config_entry
        entry.async_on_unload(self._async_delete_issues)

        @callback
        def _ask(_hass: HomeAssistant) -> None:
            entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{self.name} first ask"
            )

        entry.async_on_unload(async_at_started(self.hass, _ask))

    def diagnostics(self) -> dict[str, Any]:
        points = self.data
        return {
            "source_entry": self.source_id,
            "asked_at": None if self.asked_at is None else self.asked_at.isoformat(),
            "last_update_success": self.last_update_success,
            "last_exception": None
            if self.last_exception is None
            else repr(self.last_exception),
            "points": len(points),
            "from": points[0].start.isoformat() if points else None,
            "until": points[-1].start.isoformat() if points else None,
        }

    def price_now(self) -> float | None:
        """The price per kWh of the point covering now."""
        return price_at(self.data, dt_util.now())

    @override
    async def _async_update_data(self) -> tuple[PricePoint, ...]:
        now = dt_util.now()
        if not prices_due(
            now, self.asked_at, self.data, failed=not self.last_update_success
        ):
            return self.data
        self.asked_at = now
        today, *later = days_to_ask(now)
        try:
            source = self._source()
            fresh = await self._ask(source, today)
            if not fresh:
                raise PriceSourceError(f"no prices for {today.isoformat()}")
        except PriceSourceError as err:
            self._failed(err)
            raise UpdateFailed(str(err)) from err
        for day in later:
            try:
                fresh = merged(fresh, await self._ask(source, day))
            except PriceSourceError as err:
                # Before the day-ahead auction's results this is expected.
                LOGGER.debug("No prices for %s from %s yet: %s", day, source.title, err)
        self._async_delete_issues()
        start_of_today = dt_util.start_of_local_day(now)
        kept = [point for point in self.data if point.start >= start_of_today]
        return tuple(merged(fresh, kept))

    def _source(self) -> ConfigEntry:
        source = self.hass.config_entries.async_get_entry(self.source_id)
        if source is None or source.domain not in _ACTIONS:
            self._raise_issue(ISSUE_MISSING, {})
            raise PriceSourceError("the price integration's entry is gone")
        return source

    async def _ask(self, source: ConfigEntry, day: date) -> list[PricePoint]:
        call, read = _ACTIONS[source.domain]
        service, data = call(source.entry_id, day)
        try:
            response = await self.hass.services.async_call(
                source.domain, service, data, blocking=True, return_response=True
            )
        except Exception as err:  # a peer's action may raise its library's errors
            raise PriceSourceError(
                f"{source.domain}.{service} failed: {err or type(err).__name__}"
            ) from err
        return read(response)

    def _failed(self, err: PriceSourceError) -> None:
        source = self.hass.config_entries.async_get_entry(self.source_id)
        if source is None or source.domain not in _ACTIONS:
            return  # the missing-entry issue says it all
        self._raise_issue(ISSUE_FAILING, {"source": source.title, "error": str(err)})

    def _raise_issue(self, key: str, placeholders: dict[str, str]) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(key),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
            translation_placeholders={"site": self.config_entry.title, **placeholders},
        )

    def _issue_id(self, key: str) -> str:
        return f"{self.config_entry.entry_id}_{key}"

    @callback
    def _async_delete_issues(self) -> None:
        for key in (ISSUE_FAILING, ISSUE_MISSING):
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(key))


def async_setup_price_action(
    hass: HomeAssistant, entry: StekkerConfigEntry
) -> PriceActionCoordinator | None:
    """The price action's coordinator when the site takes its prices from one."""
    if not entry.options.get(CONF_PRICE_ENTRY):
        return None
    coordinator = PriceActionCoordinator(hass, entry)
    coordinator.async_start()
    return coordinator
