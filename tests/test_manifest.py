"""What Home Assistant's tooling and frontend read from the integration's files.

The manifest's type decides where the frontend lists the integration: the Energy
dashboard's *Forecast production* picker asks only for config entries of type
`service`. hassfest wants `domain` and `name` first and the rest sorted; HACS wants
a LICENSE and, since HA 2026.3, the brand images in the integration's `brand/`.
"""

import json
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component
from PIL import Image
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.stekker.const import DOMAIN

from .conftest import site_entry

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "stekker"


def manifest() -> dict[str, object]:
    data: dict[str, object] = json.loads((COMPONENT / "manifest.json").read_text())
    return data


async def test_the_site_is_offered_as_a_solar_forecast(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """The frontend's forecast dialog query returns the site."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.integration_type == "service"
    assert await async_setup_component(hass, "config", {})
    entry = site_entry()
    entry.add_to_hass(hass)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "config_entries/get", "type_filter": ["service"], "domain": DOMAIN}
    )
    reply = await client.receive_json()
    assert reply["success"]
    assert [e["entry_id"] for e in reply["result"]] == [entry.entry_id]
    await client.send_json_auto_id(
        {"type": "config_entries/get", "type_filter": ["hub"], "domain": DOMAIN}
    )
    reply = await client.receive_json()
    assert reply["result"] == []


def test_manifest_keys_in_hassfest_order() -> None:
    keys = list(manifest())
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_brand_images() -> None:
    """Square icons of 256 and 512 px; logos 128 and 256 px high, wider than high."""
    sizes = {
        name: Image.open(COMPONENT / "brand" / name).size
        for name in ("icon.png", "icon@2x.png", "logo.png", "logo@2x.png")
    }
    assert sizes["icon.png"] == (256, 256)
    assert sizes["icon@2x.png"] == (512, 512)
    assert sizes["logo.png"][1] == 128 and sizes["logo.png"][0] > 128
    assert sizes["logo@2x.png"] == (sizes["logo.png"][0] * 2, 256)


def test_license_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Stekker for Home Assistant contributors" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in pyproject
