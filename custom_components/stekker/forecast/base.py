"""Types, errors and HTTP plumbing shared by the solar forecast sources.

Plain aiohttp, no Home Assistant import: the HA layer passes in its shared
``ClientSession``, so the sources stay testable and reusable outside HA.
"""

import asyncio
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
from yarl import URL

# Bound on one fetch (connect + body); a hung service must never stall a refresh.
FETCH_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class PlaneSpec:
    """One solar plane (array orientation) as the installer configured it.

    ``azimuth_deg`` uses OUR convention: 0 = north, 90 = east, 180 = south,
    270 = west; each source converts it to its own. ``damping`` (0..1) is the
    fraction by which the forecast is lowered: Forecast.Solar applies it to
    mornings and evenings (its ``damping`` parameter), Open-Meteo to the whole day.
    """

    name: str
    latitude: float
    longitude: float
    kwp: float
    azimuth_deg: float
    tilt_deg: float
    inverter_kw: float | None = None
    damping: float | None = None

    def __post_init__(self) -> None:
        """Reject impossible planes here rather than send them to a service."""
        if not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude out of range: {self.latitude!r}")
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude out of range: {self.longitude!r}")
        if not 0.0 < self.kwp < math.inf:
            raise ValueError(f"kwp must be positive: {self.kwp!r}")
        if not 0.0 <= self.azimuth_deg <= 360.0:
            raise ValueError(f"azimuth out of range: {self.azimuth_deg!r}")
        if not 0.0 <= self.tilt_deg <= 90.0:
            raise ValueError(f"tilt out of range: {self.tilt_deg!r}")
        if self.inverter_kw is not None and not 0.0 < self.inverter_kw < math.inf:
            raise ValueError(f"inverter_kw must be positive: {self.inverter_kw!r}")
        if self.damping is not None and not 0.0 <= self.damping <= 1.0:
            raise ValueError(f"damping out of range: {self.damping!r}")


@dataclass(frozen=True, slots=True)
class PlaneForecast:
    """Forecast power of one plane: ``watts`` pairs of (aware UTC time, W), ascending."""

    plane: str
    watts: tuple[tuple[datetime, float], ...]
    source: str

    def __post_init__(self) -> None:
        """Guard the invariant every consumer relies on, whatever the source."""
        previous: datetime | None = None
        for when, _ in self.watts:
            if when.utcoffset() != timedelta(0):
                raise ValueError(f"timestamp not in UTC: {when!r}")
            if previous is not None and when <= previous:
                raise ValueError(f"timestamps not ascending at {when.isoformat()}")
            previous = when


class ForecastError(Exception):
    """A forecast could not be fetched; callers keep serving the last good one."""


class ForecastConnectionError(ForecastError):
    """Network failure, timeout or server-side (5xx) error: retry later."""


class ForecastAuthError(ForecastError):
    """The service refused the API key (401/403): the user must fix it."""


class ForecastRequestError(ForecastError):
    """The service rejected the plane parameters (other 4xx): retrying will not help."""


class ForecastInvalidResponseError(ForecastError):
    """The body is not what the service documents, or holds impossible values."""


class ForecastRateLimitedError(ForecastError):
    """The service answered 429; ``retry_after`` is seconds to wait, if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ForecastSource(Protocol):
    """A web service that forecasts one plane per request."""

    name: str

    async def fetch(
        self, session: aiohttp.ClientSession, plane: PlaneSpec
    ) -> PlaneForecast:
        """Fetch the forecast of one plane; raise a ForecastError on any failure."""
        ...


def south_zero_azimuth(azimuth_deg: float) -> float:
    """Our 0 = north azimuth as -180..180 with 0 = south, -90 = east, 90 = west.

    Forecast.Solar and Open-Meteo both use this convention.
    """
    return azimuth_deg % 360.0 - 180.0


def format_number(value: float) -> str:
    """Shortest text of ``value`` rounded to 4 decimals (about 10 m for coordinates)."""
    return str(round(value, 4) + 0.0)


def finite_number(value: object, what: str) -> float:
    """``value`` as a float if it is a finite JSON number, else an invalid response."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ForecastInvalidResponseError(f"{what} is not a number: {value!r}")
    if not math.isfinite(value):
        raise ForecastInvalidResponseError(f"{what} is not finite: {value!r}")
    return float(value)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except TypeError, ValueError:
        return None
    if when.tzinfo is None:  # "-0000" means UTC without a named zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """Status, headers and body of a finished request."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or an invalid-response error."""
        try:
            return json.loads(self.body)
        except ValueError as err:
            raise ForecastInvalidResponseError("response is not JSON") from err

    def json_or_none(self) -> Any:
        """The body as JSON when it is JSON; error pages often are not."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


async def http_get(
    session: aiohttp.ClientSession,
    url: URL,
    params: Mapping[str, str],
    *,
    request_timeout: float,
) -> HttpResponse:
    """GET ``url`` within ``request_timeout`` seconds; network trouble is a connection error.

    The message leaves out the URL on purpose: it may carry an API key.
    """
    try:
        async with (
            asyncio.timeout(request_timeout),
            session.get(url, params=params) as response,
        ):
            return HttpResponse(
                response.status, response.headers, await response.read()
            )
    except TimeoutError as err:
        raise ForecastConnectionError(
            f"no answer within {request_timeout:g} s"
        ) from err
    except aiohttp.ClientError as err:
        raise ForecastConnectionError(f"request failed: {type(err).__name__}") from err


def raise_for_error_status(
    response: HttpResponse,
    source: str,
    *,
    retry_after: float | None = None,
    detail: object = None,
) -> None:
    """Raise the ForecastError that fits a non-200 status; ``detail`` is the service's reason."""
    message = f"{source} answered HTTP {response.status}"
    if isinstance(detail, str) and detail:
        message = f"{message}: {detail}"
    if response.status < 400:
        raise ForecastInvalidResponseError(message)
    if response.status in (401, 403):
        raise ForecastAuthError(message)
    if response.status == 429:
        raise ForecastRateLimitedError(message, retry_after)
    if response.status >= 500:
        raise ForecastConnectionError(message)
    raise ForecastRequestError(message)
