"""Solar forecast web sources behind one small interface (``ForecastSource``).

No Home Assistant import here: the HA layer passes in its shared aiohttp session.
"""

from .base import (
    FETCH_TIMEOUT,
    ForecastAuthError,
    ForecastConnectionError,
    ForecastError,
    ForecastInvalidResponseError,
    ForecastRateLimitedError,
    ForecastRequestError,
    ForecastSource,
    PlaneForecast,
    PlaneSpec,
)
from .forecast_solar import (
    MIN_REFRESH_INTERVAL,
    PUBLIC_REQUESTS_PER_HOUR,
    ForecastSolarRateLimit,
    ForecastSolarSource,
    spread_schedule,
)
from .open_meteo import OpenMeteoSource

__all__ = [
    "FETCH_TIMEOUT",
    "MIN_REFRESH_INTERVAL",
    "PUBLIC_REQUESTS_PER_HOUR",
    "ForecastAuthError",
    "ForecastConnectionError",
    "ForecastError",
    "ForecastInvalidResponseError",
    "ForecastRateLimitedError",
    "ForecastRequestError",
    "ForecastSolarRateLimit",
    "ForecastSolarSource",
    "ForecastSource",
    "OpenMeteoSource",
    "PlaneForecast",
    "PlaneSpec",
    "spread_schedule",
]
