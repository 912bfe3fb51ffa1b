"""stekker.export_sessions and card subentries, through Home Assistant."""

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_mock_service

from custom_components.stekker.const import DOMAIN, SUBENTRY_CARD
from custom_components.stekker.engine.sessions import (
    EXPORT_COLUMNS,
    Session,
    SessionBook,
)
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import Loop, closed_loop, entity_charger

SITE = {"gtv_kw": 50.0, "phases": 3, "fuse_a": 80.0, "voltage_v": 230.0}


def site() -> SimulatedSite:
    return SimulatedSite(
        lambda _s: (1000.0, 1000.0, 1000.0),
        {"Wallbox": Car("Wb", connected=False), "Garage": Car("G", connected=False)},
        start_s=43200.0,
    )


CHARGERS = {"Wallbox": entity_charger("Wallbox"), "Garage": entity_charger("Garage")}


async def card_flow(
    hass: HomeAssistant,
    loop: Loop,
    data: dict[str, Any],
    subentry_id: str | None = None,
) -> dict[str, Any]:
    """Fill in the card form (new, or changing an existing card)."""
    if subentry_id is None:
        result = await hass.config_entries.subentries.async_init(
            (loop.entry.entry_id, SUBENTRY_CARD), context={"source": "user"}
        )
    else:
        result = await loop.entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], data
    )
    await hass.async_block_till_done()
    return dict(result)


async def restart(hass: HomeAssistant, loop: Loop) -> None:
    if loop.entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(loop.entry.entry_id)
    assert await hass.config_entries.async_setup(loop.entry.entry_id)
    await hass.async_block_till_done()
    loop.entry.runtime_data.balancer.clock = loop.now


def session(
    charger_id: str, name: str, start: str, kwh: float, **values: Any
) -> Session:
    begin = datetime.fromisoformat(start)
    return Session(
        charger_id,
        name,
        begin,
        "power",
        end=begin + timedelta(hours=3),
        energy_kwh=kwh,
        **values,
    )


async def test_cards_are_checked_added_and_changed(hass: HomeAssistant) -> None:
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE) as loop:
        bad = await card_flow(
            hass, loop, {"id_tag": "flat 12", "name": " ", "need_kwh": 0}
        )
        assert bad["type"] is FlowResultType.FORM
        assert bad["errors"] == {
            "id_tag": "id_tag_invalid",
            "name": "name_required",
            "need_kwh": "need_out_of_range",
        }
        bad = await card_flow(
            hass, loop, {"id_tag": "x" * 21, "name": "A", "departure": "07:30:00"}
        )
        assert bad["errors"] == {
            "id_tag": "id_tag_invalid",
            "departure": "departure_without_need",
        }
        ok = await card_flow(
            hass,
            loop,
            {
                "id_tag": "04a2b3c4",
                "name": "Flat 12 ",
                "need_kwh": 20,
                "departure": "07:30:00",
            },
        )
        assert ok["type"] is FlowResultType.CREATE_ENTRY
        (card,) = loop.entry.get_subentries_of_type(SUBENTRY_CARD)
        assert card.title == "Flat 12"
        assert dict(card.data) == {
            "id_tag": "04A2B3C4",
            "need_kwh": 20.0,
            "departure": "07:30:00",
        }
        # The same tag again, in any case: refused, nothing saved.
        again = await card_flow(hass, loop, {"id_tag": " 04A2b3C4", "name": "Flat 14"})
        assert again["errors"] == {"id_tag": "id_tag_duplicate"}
        assert len(loop.entry.get_subentries_of_type(SUBENTRY_CARD)) == 1
        other = await card_flow(hass, loop, {"id_tag": "AB:CD", "name": "Flat 14"})
        assert other["type"] is FlowResultType.CREATE_ENTRY
        # Changing a card may keep its own tag, not take another card's.
        taken = await card_flow(
            hass, loop, {"id_tag": "ab:cd", "name": "Flat 12"}, card.subentry_id
        )
        assert taken["errors"] == {"id_tag": "id_tag_duplicate"}
        changed = await card_flow(
            hass, loop, {"id_tag": "04A2B3C4", "name": "Flat 12a"}, card.subentry_id
        )
        assert changed["type"] is FlowResultType.ABORT
        assert changed["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        loop.entry.runtime_data.balancer.clock = loop.now
        updated = loop.entry.subentries[card.subentry_id]
        assert updated.title == "Flat 12a"
        assert dict(updated.data) == {
            "id_tag": "04A2B3C4"
        }  # need and departure cleared
        cards = loop.entry.runtime_data.sessions.cards
        assert {c.name for c in cards.values()} == {"Flat 12a", "Flat 14"}


async def test_a_price_sensor_that_does_not_exist_is_refused(
    hass: HomeAssistant,
) -> None:
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE) as loop:
        flow = await hass.config_entries.options.async_init(loop.entry.entry_id)
        flow = await hass.config_entries.options.async_configure(
            flow["flow_id"], {"next_step_id": "prices"}
        )
        assert flow["step_id"] == "prices"
        result = await hass.config_entries.options.async_configure(
            flow["flow_id"], {"price_entity": "sensor.nope"}
        )
        assert result["errors"] == {"price_entity": "price_entity_missing"}
        options = dict(loop.entry.options)
        # No price sensor: nothing else of the options changes.
        result = await hass.config_entries.options.async_configure(flow["flow_id"], {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert dict(loop.entry.options) == options


async def export(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "export_sessions", data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def test_export_a_month_per_card(
    hass: HomeAssistant, hass_storage: dict[str, Any], tmp_path: Path
) -> None:
    allowed = tmp_path / "exports"
    allowed.mkdir()
    hass.config.allowlist_external_dirs = {str(allowed)}
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE) as loop:
        for tag, name in (("04A2B3C4", "Flat 12"), ("AB:CD", "Flat 14")):
            await card_flow(hass, loop, {"id_tag": tag, "name": name})
        ids = {c.name: i for i, c in loop.entry.runtime_data.balancer.chargers.items()}
        wb, garage = ids["Wallbox"], ids["Garage"]
        book = SessionBook(
            closed=[
                session(wb, "Wallbox", "2026-02-27T18:00:00+01:00", 9.0),  # February
                session(
                    wb,
                    "Wallbox",
                    "2026-03-02T18:00:00+01:00",
                    10.0,
                    card="04A2B3C4",
                    card_name="Flat 12",
                    solar_kwh=4.0,
                    cost=2.5,
                    need_kwh=8.0,
                    by_departure_kwh=9.0,
                ),
                session(
                    garage,
                    "Garage",
                    "2026-03-05T18:00:00+01:00",
                    6.0,
                    card="AB:CD",
                    card_name="Flat 14",
                    cost=1.5,
                ),
                session(garage, "Garage", "2026-03-06T18:00:00+01:00", 3.0),
                session(
                    garage,
                    "Garage",
                    "2026-03-09T18:00:00+01:00",
                    5.0,
                    card="04A2B3C4",
                    card_name="Flat 12",
                ),
            ]
        )
        key = f"{DOMAIN}.{loop.entry.entry_id}.sessions"
        await hass.config_entries.async_unload(loop.entry.entry_id)
        hass_storage[key] = {
            "version": 1,
            "minor_version": 1,
            "key": key,
            "data": book.to_json(),
        }
        await restart(hass, loop)

        everything = await export(hass, month="2026-03", folder=str(allowed))
        assert everything["file"] == str(
            allowed / "stekker_sessions_office_2026-03.csv"
        )
        # Grouped by card, each card's sessions in the order they started.
        assert [
            (r["card_name"], r["charger"], r["energy_kwh"])
            for r in everything["sessions"]
        ] == [
            ("Flat 12", "Wallbox", 10.0),
            ("Flat 12", "Garage", 5.0),
            ("Flat 14", "Garage", 6.0),
            (None, "Garage", 3.0),
        ]
        assert everything["cards"] == [
            {
                "card": "04A2B3C4",
                "card_name": "Flat 12",
                "sessions": 2,
                "energy_kwh": 15.0,
                "solar_kwh": 4.0,
                "cost": 2.5,
            },
            {
                "card": "AB:CD",
                "card_name": "Flat 14",
                "sessions": 1,
                "energy_kwh": 6.0,
                "solar_kwh": 0.0,
                "cost": 1.5,
            },
            {
                "card": None,
                "card_name": None,
                "sessions": 1,
                "energy_kwh": 3.0,
                "solar_kwh": 0.0,
                "cost": None,
            },
        ]
        first = everything["sessions"][0]
        assert (first["solar_pct"], first["need_kwh"], first["need_met"]) == (
            40.0,
            8.0,
            True,
        )
        with (allowed / "stekker_sessions_office_2026-03.csv").open(
            encoding="utf-8"
        ) as file:
            rows = list(csv.DictReader(file))
        assert tuple(rows[0]) == EXPORT_COLUMNS
        assert [(r["card_name"], r["energy_kwh"], r["cost"]) for r in rows] == [
            ("Flat 12", "10.0", "2.5"),
            ("Flat 12", "5.0", ""),
            ("Flat 14", "6.0", "1.5"),
            ("", "3.0", ""),
        ]
        assert rows[0]["start"] == "2026-03-02T18:00:00+01:00"

        # One card (by its name, any case), one charger (by its name): no file asked.
        flat12 = await export(hass, month="2026-03", card="flat 12")
        assert flat12["file"] is None
        assert [r["charger"] for r in flat12["sessions"]] == ["Wallbox", "Garage"]
        garage_flat12 = await export(
            hass,
            month="2026-03",
            card="04a2b3c4",
            charger="garage",
            folder=str(allowed),
        )
        assert [r["energy_kwh"] for r in garage_flat12["sessions"]] == [5.0]
        flat14 = await export(hass, month="2026-03", card="ab:cd")
        assert [r["card_name"] for r in flat14["sessions"]] == ["Flat 14"]
        assert garage_flat12["file"].endswith(
            "stekker_sessions_office_2026-03_garage_04a2b3c4.csv"
        )
        february = await export(
            hass, month=" 2026-02", config_entry_id=loop.entry.entry_id
        )
        assert [r["energy_kwh"] for r in february["sessions"]] == [9.0]
        assert (await export(hass, month="2025-12"))["sessions"] == []


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"month": "2026-13"}, "invalid_month"),
        ({"month": "March"}, "invalid_month"),
        ({"month": "2026-03", "charger": "Carport"}, "unknown_charger"),
        ({"month": "2026-03", "card": "FFFF"}, "unknown_card"),
        ({"month": "2026-03", "folder": "elsewhere"}, "folder_not_allowed"),
        ({"month": "2026-03", "folder": "missing"}, "folder_not_found"),
    ],
)
async def test_export_refuses_what_it_cannot_do(
    hass: HomeAssistant, tmp_path: Path, data: dict[str, Any], key: str
) -> None:
    allowed = tmp_path / "exports"
    elsewhere = tmp_path / "elsewhere"
    allowed.mkdir()
    elsewhere.mkdir()
    hass.config.allowlist_external_dirs = {str(allowed)}
    if "folder" in data:
        data = {**data, "folder": str(tmp_path / data["folder"])}
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE):
        with pytest.raises(ServiceValidationError) as err:
            await export(hass, **data)
        assert err.value.translation_domain == DOMAIN
        assert err.value.translation_key == key
        assert str(err.value)  # translated, placeholders filled
        assert list(elsewhere.iterdir()) == []
        assert list(allowed.iterdir()) == []


def readme_automation() -> dict[str, Any]:
    """The monthly export automation exactly as the README shows it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("alias: Monthly charging export")[0].rsplit("```yaml", 1)[1]
    block += readme.split("alias: Monthly charging export")[1].split("```")[0]
    text = block.replace("automation:\n  - ", "", 1)
    automation: dict[str, Any] = yaml.safe_load(
        "alias: Monthly charging export" + text.replace("\n    ", "\n")
    )
    return automation


async def test_the_readme_monthly_export_runs(
    hass: HomeAssistant, hass_storage: dict[str, Any], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    hass.config.allowlist_external_dirs = {str(exports)}
    automation = readme_automation()
    # Run it now instead of at 07:00 on the first, writing to this test's folder.
    automation["triggers"] = [{"trigger": "event", "event_type": "export_now"}]
    automation["conditions"] = []
    automation["actions"][0]["data"]["folder"] = str(exports)
    notified = async_mock_service(hass, "notify", "manager")
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE) as loop:
        await card_flow(hass, loop, {"id_tag": "04A2B3C4", "name": "Flat 12"})
        charger_id = next(iter(loop.entry.runtime_data.balancer.chargers))
        last_month = dt_util.now().replace(day=1) - timedelta(days=1)
        start = last_month.replace(hour=18, minute=0, second=0, microsecond=0)
        book = SessionBook(
            closed=[
                session(
                    charger_id,
                    "Wallbox",
                    start.isoformat(),
                    12.5,
                    card="04A2B3C4",
                    card_name="Flat 12",
                    solar_kwh=5.0,
                    cost=3.1,
                ),
                session(charger_id, "Wallbox", start.isoformat(), 2.0),
            ]
        )
        key = f"{DOMAIN}.{loop.entry.entry_id}.sessions"
        await hass.config_entries.async_unload(loop.entry.entry_id)
        hass_storage[key] = {
            "version": 1,
            "minor_version": 1,
            "key": key,
            "data": book.to_json(),
        }
        await restart(hass, loop)
        assert await async_setup_component(
            hass, "automation", {"automation": automation}
        )
        hass.bus.async_fire("export_now")
        await hass.async_block_till_done()
        (call,) = notified
        month = last_month.strftime("%Y-%m")
        assert call.data["title"] == f"Charging sessions {month}"
        message = call.data["message"]
        assert "Flat 12: 1 sessions, 12.5 kWh (5.0 kWh solar), cost 3.1." in message
        assert "Without a card: 1 sessions, 2.0 kWh (0.0 kWh solar)." in message
        name = f"stekker_sessions_office_{month}.csv"
        assert message.endswith(f"File: {exports / name}")
        assert (exports / name).is_file()
