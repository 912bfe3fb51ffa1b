"""The README's dashboard sensor and automation examples, run in Home Assistant as shown."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import yaml
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.stekker.const import DOMAIN
from custom_components.stekker.engine.sessions import SessionBook

from .closed_loop import Loop, closed_loop
from .test_session_export import CHARGERS, SITE, card_flow, restart, session, site

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(marker: str) -> dict[str, Any]:
    """The README's YAML block that contains ``marker``, parsed."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    (block,) = [b for b in blocks if marker in b]
    parsed: dict[str, Any] = yaml.safe_load(block)
    return parsed


async def month_of_sessions(
    hass: HomeAssistant, hass_storage: dict[str, Any], loop: Loop, month_start: Any
) -> None:
    """Two sessions in the month of ``month_start``: one with Flat 12's card."""
    await card_flow(hass, loop, {"id_tag": "04A2B3C4", "name": "Flat 12"})
    ids = {c.name: i for i, c in loop.entry.runtime_data.balancer.chargers.items()}
    start = month_start.replace(hour=18, minute=0, second=0, microsecond=0)
    book = SessionBook(
        closed=[
            session(
                ids["Wallbox"],
                "Wallbox",
                start.isoformat(),
                12.5,
                card="04A2B3C4",
                card_name="Flat 12",
                solar_kwh=5.0,
                cost=3.1,
            ),
            session(ids["Garage"], "Garage", start.isoformat(), 2.0),
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


async def test_the_dashboard_sessions_sensor(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    config = readme_block("name: Charging sessions this month")["template"]
    # Asked on an event instead of every 30 seconds.
    config[0]["triggers"] = [{"trigger": "event", "event_type": "refresh"}]
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE) as loop:
        await month_of_sessions(hass, hass_storage, loop, dt_util.now().replace(day=1))
        # The loop's chargers are template numbers already: the sensor comes in as
        # configuration.yaml would bring it, by reloading the template integration
        # (the sessions are in the book; the chargers need not stay).
        with patch(
            "homeassistant.config.load_yaml_config_file",
            return_value={"template": config},
        ):
            await hass.services.async_call("template", "reload", blocking=True)
        await hass.async_block_till_done()
        hass.bus.async_fire("refresh")
        await hass.async_block_till_done()
        state = hass.states.get("sensor.charging_sessions_this_month")
    assert state is not None
    assert state.state == "2"
    assert state.attributes["chargers"] == [
        {"charger": "Garage", "sessions": 1, "energy_kwh": 2.0, "solar_kwh": 0.0},
        {"charger": "Wallbox", "sessions": 1, "energy_kwh": 12.5, "solar_kwh": 5.0},
    ]
    cards = {c["card_name"]: c for c in state.attributes["cards"]}
    assert cards["Flat 12"]["energy_kwh"] == 12.5
    assert cards[None]["sessions"] == 1


async def test_the_monthly_export_by_email(
    hass: HomeAssistant, hass_storage: dict[str, Any], tmp_path: Path
) -> None:
    example = readme_block("alias: Charging sessions of last month by e-mail")
    assert example["homeassistant"]["allowlist_external_dirs"] == ["/media/stekker"]
    (automation,) = example["automation"]
    exports = tmp_path / "stekker"
    exports.mkdir()
    hass.config.allowlist_external_dirs = {str(exports)}
    # Now instead of at 06:00 on the first, into this test's folder.
    automation["triggers"] = [{"trigger": "event", "event_type": "export_now"}]
    automation["conditions"] = []
    automation["actions"][1]["data"]["folder"] = str(exports)
    mailed = async_mock_service(hass, "smtp", "send_message")
    last_month = dt_util.now().replace(day=1) - timedelta(days=1)
    async with closed_loop(hass, site(), CHARGERS, site_data=SITE) as loop:
        await month_of_sessions(hass, hass_storage, loop, last_month)
        assert await async_setup_component(
            hass, "automation", {"automation": automation}
        )
        hass.bus.async_fire("export_now")
        await hass.async_block_till_done()
    (call,) = mailed
    month = last_month.strftime("%Y-%m")
    name = f"stekker_sessions_office_{month}.csv"
    assert (exports / name).is_file()
    assert call.data["entity_id"] == ["notify.manager_mail"]
    assert call.data["title"] == f"Charging sessions {month}"
    message = " ".join(call.data["message"].split())
    assert message.startswith("2 sessions, 14.5 kWh.")
    assert "Flat 12: 1 sessions, 12.5 kWh, EUR 3.1" in message
    assert "Without a card: 1 sessions, 2.0 kWh" in message
    (attachment,) = call.data["attachments"]
    assert attachment["media_source"] == {
        "media_content_id": f"media-source://media_source/local/stekker/{name}",
        "media_content_type": "text/csv",
    }


async def test_the_will_not_make_it_notification(hass: HomeAssistant) -> None:
    (automation,) = readme_block("alias: A car will not be ready in time")["automation"]
    notified = async_mock_service(hass, "notify", "notify")
    assert await async_setup_component(hass, "automation", {"automation": automation})
    entity = "binary_sensor.garage_2_will_not_make_it"
    hass.states.async_set(entity, "off", {"friendly_name": "Garage 2 Will not make it"})
    attributes = {"friendly_name": "Garage 2 Will not make it", "shortfall_kwh": 4.5}
    hass.states.async_set(entity, "on", attributes)
    await hass.async_block_till_done()
    assert notified == []  # a plan may catch up at the next replan: not yet
    now = dt_util.utcnow()
    async_fire_time_changed(hass, now + timedelta(minutes=5, seconds=1))
    await hass.async_block_till_done()
    (call,) = notified
    assert call.data["title"] == "Garage 2 Will not make it"
    assert "4.5 kWh short at its departure" in " ".join(call.data["message"].split())
