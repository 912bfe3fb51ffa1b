"""Shared test set-up."""

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.const import DOMAIN, SUBENTRY_METER
from custom_components.stekker.modbus.profiles import METER_PROFILES
from simsite.load import BuildingLoad
from simsite.modbus_server import ModbusSimServer

# CI runs the same examples every time; developers get fresh ones.
settings.register_profile(
    "ci", derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


SDM630 = METER_PROFILES["sdm630"]
NOON = 12 * 3600.0


def sdm630_values(**overrides: float) -> dict[str, float]:
    """An office at noon: about 20 kW, L1 loaded most."""
    return {
        **BuildingLoad().meter_values(NOON),
        "import_kwh": 1234.5,
        "export_kwh": 6.5,
        **overrides,
    }


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    enable_custom_integrations: None, socket_enabled: None
) -> None:
    """Load custom_components/stekker; allow sockets, whose connects stay on 127.0.0.1."""


@pytest.fixture
async def meter_server() -> AsyncIterator[ModbusSimServer]:
    """A real SDM630 (unit 1) on 127.0.0.1."""
    server = ModbusSimServer()
    server.set_meter(1, SDM630, sdm630_values())
    await server.start()
    yield server
    await server.stop()


SITE_DATA: dict[str, Any] = {
    "gtv_kw": 50.0,
    "phases": 3,
    "fuse_a": 80.0,
    "voltage_v": 230.0,
}
# Tests drive the control cycle themselves; the timer stays out of the way.
SITE_OPTIONS: dict[str, Any] = {"margin_kw": 1.0, "poll_interval": 60.0}


def modbus_meter(
    port: int, role: str = "grid", profile: str = "sdm630"
) -> dict[str, Any]:
    return {
        "source": "modbus_tcp",
        "host": "127.0.0.1",
        "port": port,
        "unit_id": 1,
        "profile": profile,
        "role": role,
    }


def site_entry(*meters: dict[str, Any]) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Office",
        data=SITE_DATA,
        options=SITE_OPTIONS,
        subentries_data=[
            {
                "subentry_type": SUBENTRY_METER,
                "data": meter,
                "title": f"{meter['role'].capitalize()} meter",
                "unique_id": None,
            }
            for meter in meters
        ],
    )
