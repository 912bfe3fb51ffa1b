"""Forecast.Solar estimates through HA's shared session, mocked by aioclient_mock."""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from typing import Any

import aiohttp
import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)
from yarl import URL

from custom_components.stekker.forecast import (
    MIN_REFRESH_INTERVAL,
    PUBLIC_REQUESTS_PER_HOUR,
    ForecastAuthError,
    ForecastConnectionError,
    ForecastError,
    ForecastInvalidResponseError,
    ForecastRateLimitedError,
    ForecastRequestError,
    ForecastSolarRateLimit,
    ForecastSolarSource,
    PlaneSpec,
    spread_schedule,
)
from custom_components.stekker.forecast.forecast_solar import forecast_solar_azimuth

from . import fixture_json, fixture_text

PLANE = PlaneSpec("roof south", 52.0907, 5.1214, 4.2, 180.0, 35.0)
PUBLIC_URL = "https://api.forecast.solar/estimate/52.0907/5.1214/35/0/4.2"
API_KEY = "Zq4Rt7yP2mXw9LkB"
KEY_URL = f"https://api.forecast.solar/{API_KEY}/estimate/52.0907/5.1214/35/0/4.2"


@pytest.fixture
async def session(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> aiohttp.ClientSession:
    """HA's shared session, as the integration passes it in; aioclient_mock patches it."""
    return async_get_clientsession(hass)


def _estimate(watts: dict[str, Any], zone: str = "Europe/Amsterdam") -> str:
    """A minimal estimate answer in the documented shape."""
    return json.dumps(
        {"result": {"watts": watts}, "message": {"info": {"timezone": zone}}}
    )


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("azimuth_deg", "expected"),
    [
        (0.0, -180),  # north
        (90.0, -90),  # east
        (180.0, 0),  # south
        (270.0, 90),  # west
        (360.0, -180),
        (225.0, 45),
        (89.6, -90),  # the API takes integers
    ],
)
def test_azimuth_conversion(azimuth_deg: float, expected: int) -> None:
    assert forecast_solar_azimuth(azimuth_deg) == expected


async def test_public_estimate(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(PUBLIC_URL, text=fixture_text("forecast_solar_estimate.json"))
    source = ForecastSolarSource()

    forecast = await source.fetch(session, PLANE)

    assert aioclient_mock.mock_calls == [("GET", URL(PUBLIC_URL), None, None)]
    assert (forecast.plane, forecast.source) == ("roof south", "forecast_solar")
    assert len(forecast.watts) == 38
    # Local CEST stamps of the answer, two hours ahead of UTC.
    assert forecast.watts[:3] == (
        (datetime(2026, 6, 20, 3, 18, 41, tzinfo=UTC), 0.0),
        (datetime(2026, 6, 20, 4, 0, tzinfo=UTC), 119.0),
        (datetime(2026, 6, 20, 5, 0, tzinfo=UTC), 487.0),
    )
    assert forecast.watts[-1] == (datetime(2026, 6, 21, 20, 2, 24, tzinfo=UTC), 0.0)
    assert max(forecast.watts, key=lambda point: point[1]) == (
        datetime(2026, 6, 20, 12, 0, tzinfo=UTC),
        3131.0,
    )
    assert source.rate_limit == ForecastSolarRateLimit(12, 3600, 9)


async def test_personal_estimate_puts_key_in_path_and_sends_options(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(
        KEY_URL, text=fixture_text("forecast_solar_estimate_personal.json")
    )
    plane = PlaneSpec(
        "roof south", 52.0907, 5.1214, 4.2, 180.0, 35.0, inverter_kw=3.6, damping=0.25
    )
    source = ForecastSolarSource(API_KEY)

    forecast = await source.fetch(session, plane)

    assert aioclient_mock.mock_calls == [
        ("GET", URL(f"{KEY_URL}?damping=0.25&inverter=3.6"), None, None)
    ]
    assert len(forecast.watts) == 69
    assert forecast.watts[1] == (datetime(2026, 6, 20, 3, 30, tzinfo=UTC), 15.0)
    steps = {b[0] - a[0] for a, b in pairwise(forecast.watts[1:-1])}
    assert steps == {timedelta(minutes=15)}
    assert source.rate_limit == ForecastSolarRateLimit(60, 3600, 57)


@pytest.mark.parametrize(
    ("azimuth_deg", "tilt_deg", "path"),
    [
        (0.0, 90.0, "90/-180"),
        (90.0, 12.4, "12/-90"),
        (180.0, 0.0, "0/0"),
        (270.0, 45.0, "45/90"),
    ],
    ids=["north", "east", "south", "west"],
)
async def test_orientation_in_url(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    azimuth_deg: float,
    tilt_deg: float,
    path: str,
) -> None:
    url = f"https://api.forecast.solar/estimate/52.0907/5.1214/{path}/4.2"
    aioclient_mock.get(url, text=_estimate({"2026-06-20 12:00:00": 100}))
    plane = PlaneSpec("p", 52.0907, 5.1214, 4.2, azimuth_deg, tilt_deg)

    await ForecastSolarSource().fetch(session, plane)

    assert aioclient_mock.mock_calls == [("GET", URL(url), None, None)]


async def test_empty_key_means_public_api(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(PUBLIC_URL, text=fixture_text("forecast_solar_estimate.json"))
    await ForecastSolarSource("").fetch(session, PLANE)
    assert aioclient_mock.mock_calls[0][1] == URL(PUBLIC_URL)


@pytest.mark.parametrize("key", ["abc/def", "abc?x=1", "ab cd", "ключ"])
def test_key_that_would_escape_its_path_segment_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="API key"):
        ForecastSolarSource(key)


async def test_local_times_follow_daylight_saving(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    """Noon is 11:00 UTC before the March switch and 10:00 UTC after it."""
    body = _estimate({"2026-03-29 12:00:00": 900, "2026-03-28 12:00:00": 800.5})
    aioclient_mock.get(PUBLIC_URL, text=body)
    source = ForecastSolarSource()

    forecast = await source.fetch(session, PLANE)

    assert forecast.watts == (
        (datetime(2026, 3, 28, 11, 0, tzinfo=UTC), 800.5),
        (datetime(2026, 3, 29, 10, 0, tzinfo=UTC), 900.0),
    )
    assert source.rate_limit is None  # the answer did not report it


@pytest.mark.parametrize(
    ("headers", "retry_at", "expected"),
    [
        (lambda: {"Retry-After": "120"}, 3000, 120.0),
        (lambda: {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 3000, 0.0),
        (
            lambda: {"Retry-After": format_datetime(_in(300), usegmt=True)},
            3000,
            300.0,
        ),
        (lambda: {"X-Ratelimit-Retry-At": _in(600).isoformat()}, 3000, 600.0),
        (dict, 900, 900.0),
        (lambda: {"X-Ratelimit-Retry-At": "2026-06-20T10:41:12"}, 900, None),
        (lambda: {"X-Ratelimit-Retry-At": "in a while"}, 900, None),
    ],
    ids=[
        "retry-after-seconds",
        "retry-after-past-date",
        "retry-after-date",
        "ratelimit-header",
        "ratelimit-body",
        "naive-retry-at",
        "garbage-retry-at",
    ],
)
async def test_rate_limited(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    headers: Callable[[], dict[str, str]],
    retry_at: float,
    expected: float | None,
) -> None:
    """Standard Retry-After wins over the service's own retry-at header and body."""
    body = fixture_json("forecast_solar_ratelimit.json")
    body["message"]["ratelimit"]["retry-at"] = _in(retry_at).isoformat()
    aioclient_mock.get(PUBLIC_URL, status=429, json=body, headers=headers())

    with pytest.raises(ForecastRateLimitedError, match="HTTP 429") as caught:
        await ForecastSolarSource().fetch(session, PLANE)

    if expected is None:
        assert caught.value.retry_after is None
    else:
        assert caught.value.retry_after == pytest.approx(expected, abs=5)


async def test_rate_limited_without_any_hint(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(PUBLIC_URL, status=429, text="Too Many Requests")
    with pytest.raises(ForecastRateLimitedError) as caught:
        await ForecastSolarSource().fetch(session, PLANE)
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ForecastRequestError),
        (401, ForecastAuthError),
        (403, ForecastAuthError),
        (404, ForecastRequestError),
        (422, ForecastRequestError),
        (500, ForecastConnectionError),
        (502, ForecastConnectionError),
        (503, ForecastConnectionError),
    ],
)
async def test_error_status(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    status: int,
    error: type[ForecastError],
) -> None:
    body = {
        "result": None,
        "message": {"code": status, "type": "error", "text": "Nope"},
    }
    aioclient_mock.get(KEY_URL, status=status, json=body)

    with pytest.raises(error, match=f"HTTP {status}: Nope") as caught:
        await ForecastSolarSource(API_KEY).fetch(session, PLANE)

    assert API_KEY not in str(caught.value)


async def test_error_page_that_is_not_json(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(PUBLIC_URL, status=503, text="<html>Maintenance</html>")
    with pytest.raises(ForecastConnectionError, match=r"HTTP 503$"):
        await ForecastSolarSource().fetch(session, PLANE)


@pytest.mark.parametrize(
    "exc",
    [TimeoutError(), aiohttp.ClientConnectionError(), aiohttp.ClientPayloadError()],
)
async def test_network_failure(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    exc: Exception,
) -> None:
    aioclient_mock.get(PUBLIC_URL, exc=exc)
    with pytest.raises(ForecastConnectionError):
        await ForecastSolarSource().fetch(session, PLANE)


async def test_fetch_is_bounded_in_time(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    async def never_answers(*_: Any) -> None:
        await asyncio.Event().wait()

    aioclient_mock.get(PUBLIC_URL, side_effect=never_answers)
    with pytest.raises(ForecastConnectionError, match=r"no answer within 0\.01 s"):
        await ForecastSolarSource(request_timeout=0.01).fetch(session, PLANE)


@pytest.mark.parametrize(
    "body",
    [
        "<html>Gateway</html>",
        b"\xff\xfe\x00",
        "[]",
        json.dumps({"result": {"watts": {"2026-06-20 12:00:00": 1}}}),
        json.dumps({"result": {"watts": []}, "message": {"info": {"timezone": "UTC"}}}),
        _estimate({"2026-06-20 12:00:00": 1}, zone="Mars/Olympus_Mons"),
        _estimate({"2026-06-20 12:00:00": 1}, zone="../Europe/Amsterdam"),
        _estimate({"2026-06-20T12:00:00+02:00": 1}),
        _estimate({"2026-06-20 12:00:00": -5}),
        _estimate({"2026-06-20 12:00:00": 8401}),  # twice 4.2 kWp, and then some
        _estimate({"2026-06-20 12:00:00": "120"}),
        _estimate({"2026-06-20 12:00:00": True}),
        _estimate({"2026-06-20 12:00:00": None}),
        '{"result": {"watts": {"2026-06-20 12:00:00": NaN}},'
        ' "message": {"info": {"timezone": "UTC"}}}',
        _estimate({}),
    ],
    ids=[
        "html",
        "not-utf8",
        "list",
        "no-message",
        "watts-not-a-map",
        "unknown-zone",
        "zone-path",
        "iso-timestamp",
        "negative",
        "absurd",
        "string",
        "bool",
        "null",
        "nan",
        "empty",
    ],
)
async def test_garbage_answer(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    body: str | bytes,
) -> None:
    if isinstance(body, bytes):
        aioclient_mock.get(PUBLIC_URL, content=body)
    else:
        aioclient_mock.get(PUBLIC_URL, text=body)
    source = ForecastSolarSource()

    with pytest.raises(ForecastInvalidResponseError):
        await source.fetch(session, PLANE)

    assert source.rate_limit is None


@pytest.mark.parametrize(
    ("planes", "requests_per_hour", "seconds"),
    [
        (1, 12, MIN_REFRESH_INTERVAL),  # the service never changes faster
        (3, 12, MIN_REFRESH_INTERVAL),
        (4, 12, 1200.0),
        (6, 12, 1800.0),
        (12, 12, 3600.0),
        (13, 12, 3900.0),
        (20, 60, 1200.0),
    ],
)
def test_spread_schedule(planes: int, requests_per_hour: int, seconds: float) -> None:
    assert spread_schedule(planes, requests_per_hour) == seconds


def test_spread_schedule_defaults_to_public_budget() -> None:
    assert PUBLIC_REQUESTS_PER_HOUR == 12
    assert spread_schedule(6) == 1800.0


@pytest.mark.parametrize(("planes", "requests_per_hour"), [(0, 12), (2, 0)])
def test_spread_schedule_rejects_nonsense(planes: int, requests_per_hour: int) -> None:
    with pytest.raises(ValueError, match="at least one"):
        spread_schedule(planes, requests_per_hour)
