"""The site's charging sessions, fed by the balancer's cycles and kept in a Store.

A card with a need that comes with a session plans its car (see
ChargingState.card_need). The open sessions are saved a minute after any change
at most (and by the Store itself when Home Assistant stops), so a stop
mid-session loses at most that minute of integrated power; on start they
resume, and a car found gone closes its session at the last cycle that saw it.
"""

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant, State, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .balancer import BalancerCoordinator, Charger
from .const import (
    CONF_DEPARTURE,
    CONF_ID_TAG,
    CONF_ID_TAG_ENTITY,
    CONF_NEED_KWH,
    CONF_PRICE_ENTITY,
    DOMAIN,
    SUBENTRY_CARD,
)
from .engine.prices import price_now
from .engine.sessions import Card, ChargerSample, SessionBook, normalize_tag
from .runtime import StekkerConfigEntry

STORAGE_VERSION: Final = 1
SAVE_DELAY_S: Final = 60.0


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.sessions")


def card_from(subentry: ConfigSubentry) -> Card:
    data = subentry.data
    departure = data.get(CONF_DEPARTURE)
    need = data.get(CONF_NEED_KWH)
    return Card(
        id_tag=normalize_tag(data[CONF_ID_TAG]),
        name=subentry.title,
        need_kwh=None if need is None else float(need),
        departure=None if departure is None else time.fromisoformat(departure),
    )


class SessionRecorder:
    """Keeps the site's session book: observes each balancer cycle, saves it."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StekkerConfigEntry,
        balancer: BalancerCoordinator,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.balancer = balancer
        self.cards = {
            card.id_tag: card
            for card in map(card_from, entry.get_subentries_of_type(SUBENTRY_CARD))
        }
        self.book = SessionBook(cards=self.cards)
        self._store = _store(hass, entry.entry_id)
        self._price_entity: str | None = entry.options.get(CONF_PRICE_ENTITY)
        self._id_tag_entities: dict[str, str] = {
            charger_id: entity_id
            for charger_id in balancer.chargers
            if (entity_id := entry.subentries[charger_id].data.get(CONF_ID_TAG_ENTITY))
        }

    async def async_start(self) -> None:
        """Load the book; close the sessions of chargers removed meanwhile."""
        self.book = SessionBook.from_json(await self._store.async_load(), self.cards)
        if self.book.close_all(self.balancer.chargers, dt_util.now()):
            self._save_soon()
        self.entry.async_on_unload(self.balancer.async_add_listener(self.async_observe))
        self.entry.async_on_unload(self.async_stop)

    async def async_stop(self) -> None:
        """Unloaded (reload, removal of a charger, stop): save what was measured."""
        await self._store.async_save(self.book.to_json())

    @callback
    def async_observe(self) -> None:
        """One balancer cycle: account the chargers it read."""
        volts = self.balancer.headroom.phase_voltages()
        nominal = self.balancer.headroom.site.voltage_v
        samples = {
            charger_id: self._sample(charger_id, charger, volts, nominal)
            for charger_id, charger in self.balancer.chargers.items()
            if charger.reading is not None
        }
        headroom = self.balancer.headroom
        grid_kw = (
            headroom.data.grid_kw
            if headroom.last_update_success and headroom.data is not None
            else None
        )
        names = {cid: c.name for cid, c in self.balancer.chargers.items()}
        carded = {cid for cid, session in self.book.open.items() if session.card}
        now = dt_util.now()
        closed = self.book.observe(now, samples, names, grid_kw, self._price())
        self._plan_card_needs(carded, now)
        if self.book.open or closed:
            self._save_soon()

    def _plan_card_needs(self, carded: set[str], now: datetime) -> None:
        """A card with a need that came with a session this cycle: its car is
        planned (see ChargingState.card_need)."""
        planned = False
        for charger_id, session in self.book.open.items():
            card = None if session.card is None else self.cards.get(session.card)
            if charger_id in carded or card is None or card.need_kwh is None:
                continue
            charging = self.balancer.chargers[charger_id].charging
            planned |= charging.card_need(card.need_kwh, card.departure, now)
        if planned:
            self.balancer.replan()

    def _sample(
        self,
        charger_id: str,
        charger: Charger,
        volts: Mapping[str, float],
        nominal: float,
    ) -> ChargerSample:
        reading = charger.reading
        assert reading is not None
        power_kw = (
            None
            if reading.phase_a is None
            else sum(a * volts.get(p, nominal) for p, a in reading.phase_a.items())
            / 1000.0
        )
        return ChargerSample(
            connected=reading.connected,
            power_kw=power_kw,
            counter_kwh=reading.energy_kwh,
            id_tag=self._state(self._id_tag_entities.get(charger_id)),
        )

    def _known(self, entity_id: str | None) -> State | None:
        state = None if entity_id is None else self.hass.states.get(entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        return state

    def _state(self, entity_id: str | None) -> str | None:
        state = self._known(entity_id)
        return None if state is None else state.state

    def _price(self) -> float | None:
        """The price per kWh now from the price action or the price sensor, if
        one is set and known."""
        if (action := self.entry.runtime_data.prices) is not None:
            return action.price_now()
        if (state := self._known(self._price_entity)) is None:
            return None
        unit = str(state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or "")
        return price_now(state.state, unit)

    @callback
    def _save_soon(self) -> None:
        self._store.async_delay_save(self.book.to_json, SAVE_DELAY_S)


async def async_remove_session_store(hass: HomeAssistant, entry_id: str) -> None:
    """Forget a removed site's sessions."""
    await _store(hass, entry_id).async_remove()
