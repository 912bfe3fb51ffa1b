"""Open-Meteo GTI through HA's shared session, mocked by aioclient_mock."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
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
    ForecastAuthError,
    ForecastConnectionError,
    ForecastError,
    ForecastInvalidResponseError,
    ForecastRateLimitedError,
    ForecastRequestError,
    OpenMeteoSource,
    PlaneSpec,
)

from . import fixture_json, fixture_text

API = "https://api.open-meteo.com/v1/forecast"
PLANE = PlaneSpec("roof south", 52.0907, 5.1214, 4.2, 180.0, 35.0)
QUERY = (
    "latitude=52.0907&longitude=5.1214&minutely_15=global_tilted_irradiance"
    "&tilt=35.0&azimuth=0.0&timezone=UTC&forecast_days=3"
)
# GTI x kWp x (1 - default losses): watts per W/m² for PLANE.
PER_WM2 = 4.2 * 0.86


@pytest.fixture
async def session(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> aiohttp.ClientSession:
    """HA's shared session, as the integration passes it in; aioclient_mock patches it."""
    return async_get_clientsession(hass)


def _answer(
    times: list[Any], gti: list[Any], offset: Any = 0, block: str = "hourly"
) -> dict[str, Any]:
    """A minimal forecast answer in the documented shape."""
    return {
        "utc_offset_seconds": offset,
        "timezone": "GMT",
        block: {"time": times, "global_tilted_irradiance": gti},
    }


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 20, hour, minute, tzinfo=UTC)


async def test_minutely_15(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(API, text=fixture_text("open_meteo_minutely_15.json"))

    forecast = await OpenMeteoSource().fetch(session, PLANE)

    assert aioclient_mock.mock_calls == [("GET", URL(f"{API}?{QUERY}"), None, None)]
    assert (forecast.plane, forecast.source) == ("roof south", "open_meteo")
    watts = dict(forecast.watts)
    assert len(watts) == 92  # the last four quarters are null: beyond the model
    # The 12:00 value is the 11:45-12:00 mean, so it belongs at 11:52:30.
    assert watts[_at(11, 52) + timedelta(seconds=30)] == pytest.approx(877.9 * PER_WM2)
    assert watts[_at(20, 7) + timedelta(seconds=30)] == 0.0  # GTI -1.6 at dusk
    assert forecast.watts[0][0] == _at(0) - timedelta(minutes=7, seconds=30)


async def test_hourly_with_inverter_and_damping(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(API, text=fixture_text("open_meteo_hourly.json"))
    plane = PlaneSpec(
        "roof south", 52.0907, 5.1214, 4.2, 180.0, 35.0, inverter_kw=2.5, damping=0.2
    )
    source = OpenMeteoSource(resolution="hourly", forecast_days=1, losses=0.1)

    forecast = await source.fetch(session, plane)

    assert aioclient_mock.mock_calls[0][1] == URL(
        f"{API}?latitude=52.0907&longitude=5.1214&hourly=global_tilted_irradiance"
        "&tilt=35.0&azimuth=0.0&timezone=UTC&forecast_days=1"
    )
    watts = dict(forecast.watts)
    assert len(watts) == 23
    # 194.8 W/m² x 4.2 kWp x 0.9 = 736 W, below the inverter; then 20 % damping.
    assert watts[_at(4, 30)] == pytest.approx(194.8 * 4.2 * 0.9 * 0.8)
    # 877.9 W/m² would give 3318 W: clipped at 2500 W, then damped.
    assert watts[_at(11, 30)] == pytest.approx(2000.0)
    assert max(watts.values()) == pytest.approx(2000.0)


@pytest.mark.parametrize(
    ("azimuth_deg", "expected"),
    [(0.0, "-180.0"), (90.0, "-90.0"), (180.0, "0.0"), (270.0, "90.0")],
    ids=["north", "east", "south", "west"],
)
async def test_azimuth_in_query(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    azimuth_deg: float,
    expected: str,
) -> None:
    aioclient_mock.get(API, json=_answer(["2026-06-20T12:00"], [500.0]))
    plane = PlaneSpec("p", 52.0907, 5.1214, 4.2, azimuth_deg, 90.0)

    await OpenMeteoSource(resolution="hourly").fetch(session, plane)

    assert aioclient_mock.mock_calls[0][1].query["azimuth"] == expected
    assert aioclient_mock.mock_calls[0][1].query["tilt"] == "90.0"


async def test_times_are_shifted_by_the_reported_utc_offset(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    """Should the service ignore timezone=UTC, its own offset still gives UTC."""
    aioclient_mock.get(API, json=_answer(["2026-06-20T14:00"], [100.0], offset=7200))
    forecast = await OpenMeteoSource(resolution="hourly").fetch(session, PLANE)
    assert [when for when, _ in forecast.watts] == [_at(11, 30)]
    assert forecast.watts[0][1] == pytest.approx(100.0 * PER_WM2)


async def test_error_body_reason_is_reported(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    aioclient_mock.get(API, status=400, text=fixture_text("open_meteo_error.json"))
    with pytest.raises(
        ForecastRequestError, match="Open-Meteo answered HTTP 400: Parameter 'tilt'"
    ):
        await OpenMeteoSource().fetch(session, PLANE)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({"Retry-After": "3600"}, 3600.0), ({}, None)],
)
async def test_rate_limited(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    body = {"error": True, "reason": "Daily API request limit exceeded."}
    aioclient_mock.get(API, status=429, json=body, headers=headers)
    with pytest.raises(ForecastRateLimitedError, match="limit exceeded") as caught:
        await OpenMeteoSource().fetch(session, PLANE)
    assert caught.value.retry_after == retry_after


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ForecastAuthError),
        (403, ForecastAuthError),
        (404, ForecastRequestError),
        (500, ForecastConnectionError),
        (502, ForecastConnectionError),
    ],
)
async def test_error_status(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    status: int,
    error: type[ForecastError],
) -> None:
    aioclient_mock.get(API, status=status, text="<html>error</html>")
    with pytest.raises(error, match=f"HTTP {status}$"):
        await OpenMeteoSource().fetch(session, PLANE)


@pytest.mark.parametrize(
    "exc",
    [TimeoutError(), aiohttp.ServerDisconnectedError()],
)
async def test_network_failure(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    exc: Exception,
) -> None:
    aioclient_mock.get(API, exc=exc)
    with pytest.raises(ForecastConnectionError):
        await OpenMeteoSource().fetch(session, PLANE)


async def test_fetch_is_bounded_in_time(
    session: aiohttp.ClientSession, aioclient_mock: AiohttpClientMocker
) -> None:
    async def never_answers(*_: Any) -> None:
        await asyncio.Event().wait()

    aioclient_mock.get(API, side_effect=never_answers)
    with pytest.raises(ForecastConnectionError, match=r"no answer within 0\.05 s"):
        await OpenMeteoSource(request_timeout=0.05).fetch(session, PLANE)


def _minutely() -> dict[str, Any]:
    return fixture_json("open_meteo_minutely_15.json")  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        [],
        {"error": True, "reason": "an error with status 200"},
        _answer(["2026-06-20T12:00"], [1.0], block="hourly"),  # asked minutely_15
        {k: v for k, v in _minutely().items() if k != "utc_offset_seconds"},
        _answer(["2026-06-20T12:00"], [1.0], offset="0", block="minutely_15"),
        _answer(["2026-06-20T12:00"], [1.0, 2.0], block="minutely_15"),
        _answer(["2026-06-20 12:00"], [1.0], block="minutely_15"),
        _answer([1781956800], [1.0], block="minutely_15"),
        _answer(["2026-06-20T12:00"], ["1.0"], block="minutely_15"),
        _answer(["2026-06-20T12:00"], [2500.0], block="minutely_15"),
        _answer(["2026-06-20T12:00"], [-2500.0], block="minutely_15"),
        _answer(["2026-06-20T12:00"], [None], block="minutely_15"),
        _answer([], [], block="minutely_15"),
        '{"utc_offset_seconds": 0, "minutely_15": {"time": ["2026-06-20T12:00"],'
        ' "global_tilted_irradiance": [NaN]}}',
    ],
    ids=[
        "not-json",
        "list",
        "error-body",
        "wrong-block",
        "no-offset",
        "offset-not-int",
        "length-mismatch",
        "time-format",
        "time-number",
        "gti-string",
        "gti-absurd",
        "gti-absurd-negative",
        "all-null",
        "empty",
        "gti-nan",
    ],
)
async def test_garbage_answer(
    session: aiohttp.ClientSession,
    aioclient_mock: AiohttpClientMocker,
    body: Any,
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    aioclient_mock.get(API, text=text)
    with pytest.raises(ForecastInvalidResponseError, match=r"Open-Meteo|JSON"):
        await OpenMeteoSource().fetch(session, PLANE)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"resolution": "daily"},
        {"forecast_days": 0},
        {"forecast_days": 17},
        {"losses": -0.1},
        {"losses": 1.0},
    ],
)
def test_constructor_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"resolution|forecast_days|losses"):
        OpenMeteoSource(**kwargs)
