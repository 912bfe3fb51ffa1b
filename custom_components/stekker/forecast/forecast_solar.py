"""Forecast.Solar "estimate" endpoint: one plane per request, public or with an API key.

Documented at doc.forecast.solar (pages "api", "api:estimate", "damping").
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from yarl import URL

from .base import (
    FETCH_TIMEOUT,
    ForecastInvalidResponseError,
    HttpResponse,
    PlaneForecast,
    PlaneSpec,
    finite_number,
    format_number,
    http_get,
    parse_retry_after,
    raise_for_error_status,
    south_zero_azimuth,
)

API_URL = URL("https://api.forecast.solar")
# Public (keyless) budget, counted per IP address; every plane costs one request.
PUBLIC_REQUESTS_PER_HOUR = 12
# The service recomputes at most every 15 minutes; asking more often wastes budget.
MIN_REFRESH_INTERVAL = 900.0
# A plane cannot deliver twice its peak power; more means a broken answer.
_MAX_WATTS_PER_KWP = 2000.0
# Without ``?time=...`` the service sends local times in ``message.info.timezone``.
_LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The key becomes a path segment, so it must not be able to add segments or a query.
_API_KEY = re.compile(r"[A-Za-z0-9_-]+")


def forecast_solar_azimuth(azimuth_deg: float) -> int:
    """Our azimuth (0 = north) as Forecast.Solar's integer -180..180 (0 = south, -90 = east)."""
    return round(south_zero_azimuth(azimuth_deg))


def spread_schedule(
    planes: int, requests_per_hour: int = PUBLIC_REQUESTS_PER_HOUR
) -> float:
    """Minimum seconds between two fetches of one plane so all planes fit the budget.

    Never below 15 minutes, as the forecast does not change faster.
    """
    if planes < 1 or requests_per_hour < 1:
        raise ValueError(
            f"need at least one plane and one request per hour, got {planes}, {requests_per_hour}"
        )
    return max(MIN_REFRESH_INTERVAL, planes * 3600.0 / requests_per_hour)


@dataclass(frozen=True, slots=True)
class ForecastSolarRateLimit:
    """Request budget reported in ``message.ratelimit`` of the last good answer."""

    limit: int
    period_s: int
    remaining: int | None


class ForecastSolarSource:
    """Forecast.Solar estimates; with ``api_key`` the account's own plan and budget."""

    name = "forecast_solar"

    def __init__(
        self, api_key: str | None = None, *, request_timeout: float = FETCH_TIMEOUT
    ) -> None:
        """An empty ``api_key`` means the public API, as an optional UI field gives ""."""
        if api_key and not _API_KEY.fullmatch(api_key):
            raise ValueError("API key holds characters a Forecast.Solar key never has")
        self._api_key = api_key or None
        self._timeout = request_timeout
        self.rate_limit: ForecastSolarRateLimit | None = None

    def _url(self, plane: PlaneSpec) -> URL:
        """``[/:apikey]/estimate/:lat/:lon/:dec/:az/:kwp``; dec and az are integers."""
        base = API_URL / self._api_key if self._api_key else API_URL
        return (
            base
            / "estimate"
            / format_number(plane.latitude)
            / format_number(plane.longitude)
            / str(round(plane.tilt_deg))
            / str(forecast_solar_azimuth(plane.azimuth_deg))
            / format_number(plane.kwp)
        )

    @staticmethod
    def _params(plane: PlaneSpec) -> dict[str, str]:
        """Optional query: morning/evening ``damping`` and the ``inverter`` limit in kW."""
        params: dict[str, str] = {}
        if plane.damping is not None:
            params["damping"] = format_number(plane.damping)
        if plane.inverter_kw is not None:
            params["inverter"] = format_number(plane.inverter_kw)
        return params

    async def fetch(
        self, session: aiohttp.ClientSession, plane: PlaneSpec
    ) -> PlaneForecast:
        """One request for one plane; raises a ForecastError on any failure."""
        response = await http_get(
            session,
            self._url(plane),
            self._params(plane),
            request_timeout=self._timeout,
        )
        if response.status != 200:
            body = response.json_or_none()
            retry_after = (
                _retry_after(response, body, datetime.now(UTC))
                if response.status == 429
                else None
            )
            raise_for_error_status(
                response, "Forecast.Solar", retry_after=retry_after, detail=_text(body)
            )
        data = response.json()
        raw_watts, zone_name = _estimate(data)
        zone = await _zone(zone_name)
        watts = _watts_series(raw_watts, zone, plane)
        self.rate_limit = _rate_limit(data)
        return PlaneForecast(plane.name, watts, self.name)


def _estimate(data: Any) -> tuple[dict[str, Any], str]:
    """``result.watts`` and ``message.info.timezone`` of an estimate answer."""
    match data:
        case {
            "result": {"watts": dict() as watts},
            "message": {"info": {"timezone": str() as zone}},
        }:
            return watts, zone
    raise ForecastInvalidResponseError("Forecast.Solar: unexpected JSON shape")


async def _zone(name: str) -> ZoneInfo:
    """Load the zone in the executor: the first load reads tzdata from disk."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, ZoneInfo, name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise ForecastInvalidResponseError(
            f"Forecast.Solar: unknown time zone {name!r}"
        ) from err


def _watts_series(
    raw: dict[str, Any], zone: ZoneInfo, plane: PlaneSpec
) -> tuple[tuple[datetime, float], ...]:
    """Local-time watts as ascending UTC pairs; impossible values fail the whole answer."""
    ceiling = plane.kwp * _MAX_WATTS_PER_KWP
    points: dict[datetime, float] = {}
    for stamp, value in raw.items():
        try:
            local = datetime.strptime(stamp, _LOCAL_TIME_FORMAT)
        except ValueError as err:
            raise ForecastInvalidResponseError(
                f"Forecast.Solar: bad timestamp {stamp!r}"
            ) from err
        watts = finite_number(value, f"Forecast.Solar watts at {stamp}")
        if not 0.0 <= watts <= ceiling:
            raise ForecastInvalidResponseError(
                f"Forecast.Solar: impossible {watts} W at {stamp} for {plane.kwp} kWp"
            )
        if plane.inverter_kw is not None:
            # Whether the service applies the inverter parameter is not ours to trust.
            watts = min(watts, plane.inverter_kw * 1000.0)
        points[local.replace(tzinfo=zone).astimezone(UTC)] = watts
    if not points:
        raise ForecastInvalidResponseError("Forecast.Solar: no watts in the answer")
    return tuple(sorted(points.items()))


def _rate_limit(data: Any) -> ForecastSolarRateLimit | None:
    """``message.ratelimit`` when the answer reports it."""
    match data:
        case {
            "message": {
                "ratelimit": {
                    "limit": int() as limit,
                    "period": int() as period,
                } as info
            }
        } if limit > 0 and period > 0:
            remaining = info.get("remaining")
            return ForecastSolarRateLimit(
                limit, period, remaining if isinstance(remaining, int) else None
            )
    return None


def _text(body: Any) -> object:
    """The service's own words (``message.text``) for an error message."""
    match body:
        case {"message": {"text": str() as text}}:
            return text
    return None


def _retry_after(response: HttpResponse, body: Any, now: datetime) -> float | None:
    """Seconds until the budget refills: standard Retry-After first, then the
    service's own ``X-Ratelimit-Retry-At`` header or ``message.ratelimit.retry-at``.
    """
    seconds = parse_retry_after(response.headers.get("Retry-After"), now)
    if seconds is not None:
        return seconds
    retry_at = response.headers.get("X-Ratelimit-Retry-At")
    if retry_at is None:
        match body:
            case {"message": {"ratelimit": {"retry-at": str() as text}}}:
                retry_at = text
            case _:
                return None
    try:
        when = datetime.fromisoformat(retry_at)
    except ValueError:
        return None
    if when.tzinfo is None:  # a local time of an unknown zone tells nothing
        return None
    return max(0.0, (when - now).total_seconds())
