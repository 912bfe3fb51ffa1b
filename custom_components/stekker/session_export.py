"""Actions: export a month's charging sessions as response data and a CSV file."""

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import probatio
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_get_config_entry
from homeassistant.util import slugify

from .const import DOMAIN
from .engine.sessions import EXPORT_COLUMNS, Session, normalize_tag
from .runtime import StekkerConfigEntry
from .services import invalid

SERVICE_EXPORT_SESSIONS: Final = "export_sessions"
ATTR_MONTH: Final = "month"
ATTR_CHARGER: Final = "charger"
ATTR_CARD: Final = "card"
ATTR_FOLDER: Final = "folder"
_MONTH: Final = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

EXPORT_SCHEMA = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_MONTH): cv.string,
        probatio.Optional(ATTR_CHARGER): cv.string,
        probatio.Optional(ATTR_CARD): cv.string,
        probatio.Optional(ATTR_FOLDER): cv.string,
    }
)


def _charger_id(entry: StekkerConfigEntry, wanted: str) -> str:
    """A charger of the site by its name (any case) or subentry id."""
    for charger_id, charger in entry.runtime_data.balancer.chargers.items():
        if wanted in (charger_id, charger.name) or (
            wanted.casefold() == charger.name.casefold()
        ):
            return charger_id
    raise invalid("unknown_charger", charger=wanted, site=entry.title)


def _card_tag(entry: StekkerConfigEntry, wanted: str) -> str:
    """A card of the site by its id tag or name (any case)."""
    for card in entry.runtime_data.sessions.cards.values():
        if normalize_tag(wanted) == card.id_tag or (
            wanted.casefold() == card.name.casefold()
        ):
            return card.id_tag
    raise invalid("unknown_card", card=wanted, site=entry.title)


def _by_card(sessions: Sequence[Session]) -> list[dict[str, Any]]:
    """Totals per card; sessions without a card together under none."""
    groups: dict[str | None, dict[str, Any]] = {}
    for session in sessions:
        group = groups.setdefault(
            session.card,
            {
                "card": session.card,
                "card_name": session.card_name,
                "sessions": 0,
                "energy_kwh": 0.0,
                "solar_kwh": 0.0,
                "cost": None,
            },
        )
        group["sessions"] += 1
        group["energy_kwh"] = round(group["energy_kwh"] + session.energy_kwh, 3)
        group["solar_kwh"] = round(group["solar_kwh"] + session.solar_kwh, 3)
        if session.cost is not None:
            group["cost"] = round((group["cost"] or 0.0) + session.cost, 2)
    return list(groups.values())


def _write_csv(
    hass: HomeAssistant, folder: str, name: str, rows: list[dict[str, Any]]
) -> str | None:
    """Write the rows to ``folder/name``; the error key if it may not be."""
    path = Path(folder) / name
    if not Path(folder).is_dir():
        return "folder_not_found"
    if not hass.config.is_allowed_path(str(path)):
        return "folder_not_allowed"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return None


async def _export_sessions(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    entry: StekkerConfigEntry = async_get_config_entry(
        hass, DOMAIN, call.data.get(ATTR_CONFIG_ENTRY_ID)
    )
    month = call.data[ATTR_MONTH].strip()
    if not _MONTH.fullmatch(month):
        raise invalid("invalid_month", month=month)
    sessions = entry.runtime_data.sessions.book.in_month(month)
    parts = [slugify(entry.title), month]
    if (charger := call.data.get(ATTR_CHARGER)) is not None:
        charger_id = _charger_id(entry, charger)
        sessions = [s for s in sessions if s.charger_id == charger_id]
        parts.append(slugify(entry.runtime_data.balancer.chargers[charger_id].name))
    if (card := call.data.get(ATTR_CARD)) is not None:
        tag = _card_tag(entry, card)
        sessions = [s for s in sessions if s.card == tag]
        parts.append(slugify(tag))
    # Grouped by card, each card's sessions in the order they started.
    sessions.sort(key=lambda s: (s.card_name is None, s.card_name or "", s.start))
    rows = [s.row() for s in sessions]
    written: str | None = None
    if (folder := call.data.get(ATTR_FOLDER)) is not None:
        name = f"stekker_sessions_{'_'.join(parts)}.csv"
        error = await hass.async_add_executor_job(_write_csv, hass, folder, name, rows)
        if error is not None:
            raise invalid(error, folder=folder)
        written = str(Path(folder) / name)
    return {
        "month": month,
        "file": written,
        "sessions": rows,
        "cards": _by_card(sessions),
    }


@callback
def async_setup_export(hass: HomeAssistant) -> None:
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXPORT_SESSIONS,
        _export_sessions,
        schema=EXPORT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
