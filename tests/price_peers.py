"""The core Nord Pool and EnergyZero integrations, set up for real, their web
APIs answered through Home Assistant's aiohttp session (aioclient_mock) in the
APIs' own formats (as pynordpool and energyzero parse them, and the core
integrations' test fixtures hold), with prices of our own.

Both serve a local (CET) day per request. Prices follow the hour of the day, so
a test can say what any slot costs:

- Nord Pool: ``nord_pool_mwh(hour)`` per MWh in NL, twice that in BE;
- EnergyZero: ``energyzero_kwh(hour)`` all-in with VAT per kWh; the other
  price streams differ, so reading the wrong one shows.
"""

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.core import HomeAssistant
from pynordpool.const import API as NORD_POOL_API
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

CET = ZoneInfo("Europe/Amsterdam")
ENERGYZERO_API = "https://public.api.energyzero.nl/public/v1/prices"
QUARTER = timedelta(minutes=15)

type SideEffect = Callable[[str, URL, Any], Awaitable[AiohttpClientMockResponse]]


def nord_pool_mwh(hour: int) -> float:
    return 80.0 + 5.0 * hour


def energyzero_kwh(hour: int) -> float:
    return 0.25 + 0.01 * hour


def _quarters(day: date) -> Iterator[tuple[datetime, datetime]]:
    """The quarters of a local day, in UTC (96, or 92/100 on a DST day)."""
    start = datetime(day.year, day.month, day.day, tzinfo=CET).astimezone(UTC)
    end = (
        datetime(day.year, day.month, day.day, tzinfo=CET) + timedelta(days=1)
    ).astimezone(UTC)
    while start < end:
        yield start, start + QUARTER
        start += QUARTER


def _z(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour(when: datetime) -> int:
    return when.astimezone(CET).hour


@dataclass
class PriceApis:
    """What the two APIs answer; a test changes it to make them fail."""

    # Days the APIs have prices for (the others: none yet).
    days: set[date] = field(default_factory=set)
    # An HTTP status to answer instead of prices.
    nord_pool_status: HTTPStatus | None = None
    energyzero_status: HTTPStatus | None = None
    # The days EnergyZero was asked for quarter-hour prices (Stekker asks for
    # those; the core integration's own coordinator for hourly ones).
    energyzero_quarters: list[date] = field(default_factory=list)

    def response(
        self, method: str, url: URL, status: int, json: Any = None
    ) -> AiohttpClientMockResponse:
        return AiohttpClientMockResponse(
            method,
            url,
            status=status,
            json=json,
            headers={"Content-Type": "application/json"} if json is not None else {},
        )

    async def nord_pool(
        self, method: str, url: URL, _data: Any
    ) -> AiohttpClientMockResponse:
        """``GET /DayAheadPrices?date=&market=&deliveryArea=&currency=``."""
        if self.nord_pool_status is not None:
            return self.response(method, url, self.nord_pool_status)
        day = date.fromisoformat(url.query["date"])
        areas = url.query["deliveryArea"].split(",")
        if day not in self.days:
            return self.response(method, url, HTTPStatus.NO_CONTENT)
        factor = {area: 2.0 if area == "BE" else 1.0 for area in areas}
        entries = [
            {
                "deliveryStart": _z(start),
                "deliveryEnd": _z(end),
                "entryPerArea": {
                    area: round(nord_pool_mwh(_hour(start)) * f, 2)
                    for area, f in factor.items()
                },
            }
            for start, end in _quarters(day)
        ]
        first, last = entries[0]["deliveryStart"], entries[-1]["deliveryEnd"]
        return self.response(
            method,
            url,
            HTTPStatus.OK,
            {
                "deliveryDateCET": day.isoformat(),
                "version": 3,
                "updatedAt": f"{(day - timedelta(days=1)).isoformat()}T12:15:03.9456464Z",
                "deliveryAreas": areas,
                "market": "DayAhead",
                "multiAreaEntries": entries,
                "blockPriceAggregates": [
                    {
                        "blockName": "Off-peak 1",
                        "deliveryStart": first,
                        "deliveryEnd": last,
                        "averagePricePerArea": {
                            area: {"average": 100.0, "min": 80.0, "max": 195.0}
                            for area in areas
                        },
                    }
                ],
                "currency": url.query["currency"],
                "exchangeRate": 1,
                "areaStates": [{"state": "Final", "areas": areas}],
                "areaAverages": [
                    {"areaCode": area, "price": 137.5 * f} for area, f in factor.items()
                ],
            },
        )

    async def energyzero(
        self, method: str, url: URL, _data: Any
    ) -> AiohttpClientMockResponse:
        """``GET /public/v1/prices?energyType=&date=DD-MM-YYYY&interval=``."""
        if self.energyzero_status is not None:
            return self.response(method, url, self.energyzero_status)
        day = datetime.strptime(url.query["date"], "%d-%m-%Y").date()
        if url.query["interval"] == "INTERVAL_QUARTER":
            self.energyzero_quarters.append(day)
        if url.query["energyType"] != "ENERGY_TYPE_ELECTRICITY" or day not in self.days:
            return self.response(
                method, url, HTTPStatus.NOT_FOUND, {"message": "No prices found"}
            )
        step = 4 if url.query["interval"] == "INTERVAL_HOUR" else 1
        quarters = list(_quarters(day))

        def stream(offset: float) -> list[dict[str, Any]]:
            return [
                {
                    "start": _z(quarters[i][0]),
                    "end": _z(quarters[min(i + step, len(quarters)) - 1][1]),
                    "price": {
                        "value": round(
                            energyzero_kwh(_hour(quarters[i][0])) + offset, 5
                        ),
                        "unit": "EUR/kWh",
                    },
                }
                for i in range(0, len(quarters), step)
            ]

        return self.response(
            method,
            url,
            HTTPStatus.OK,
            {
                "base": stream(-0.2),
                "base_with_vat": stream(-0.15),
                "all_in": stream(-0.05),
                "all_in_with_vat": stream(0.0),
            },
        )


def serve_price_apis(aioclient_mock: AiohttpClientMocker, apis: PriceApis) -> None:
    aioclient_mock.get(f"{NORD_POOL_API}/DayAheadPrices", side_effect=apis.nord_pool)
    aioclient_mock.get(ENERGYZERO_API, side_effect=apis.energyzero)


async def nord_pool_entry(
    hass: HomeAssistant, areas: list[str], currency: str = "EUR"
) -> MockConfigEntry:
    """The core Nord Pool integration, set up as its config flow leaves it."""
    entry = MockConfigEntry(
        domain="nordpool",
        title="Nord Pool",
        data={"areas": areas, "currency": currency},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def energyzero_entry(hass: HomeAssistant) -> MockConfigEntry:
    """The core EnergyZero integration, set up as its config flow leaves it."""
    entry = MockConfigEntry(domain="energyzero", title="EnergyZero", data={})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry
