"""Open-Meteo forecast API: global tilted irradiance (GTI) of the plane, turned into watts.

Documented at open-meteo.com/en/docs. Radiation values there are the mean over
the period that ends at the timestamp.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
from yarl import URL

from .base import (
    FETCH_TIMEOUT,
    ForecastInvalidResponseError,
    PlaneForecast,
    PlaneSpec,
    finite_number,
    format_number,
    http_get,
    parse_retry_after,
    raise_for_error_status,
    south_zero_azimuth,
)

API_URL = URL("https://api.open-meteo.com/v1/forecast")
VARIABLE = "global_tilted_irradiance"
# Wiring, mismatch, soiling and temperature losses of a typical roof system.
DEFAULT_LOSSES = 0.14
# The API serves at most 16 forecast days.
MAX_FORECAST_DAYS = 16
# Above the solar constant plus cloud-edge enhancement no irradiance is real.
_MAX_GTI = 2000.0
_TIME_FORMAT = "%Y-%m-%dT%H:%M"

type Resolution = Literal["minutely_15", "hourly"]
_STEP: dict[Resolution, timedelta] = {
    "minutely_15": timedelta(minutes=15),
    "hourly": timedelta(hours=1),
}


class OpenMeteoSource:
    """Watts from Open-Meteo's GTI: GTI/1000 x kWp x (1 - losses), clipped at the
    inverter, then lowered by the plane's damping.
    """

    name = "open_meteo"

    def __init__(
        self,
        *,
        resolution: Resolution = "minutely_15",
        forecast_days: int = 3,
        losses: float = DEFAULT_LOSSES,
        request_timeout: float = FETCH_TIMEOUT,
    ) -> None:
        if resolution not in _STEP:
            raise ValueError(f"unknown resolution: {resolution!r}")
        if not 1 <= forecast_days <= MAX_FORECAST_DAYS:
            raise ValueError(f"forecast_days out of range: {forecast_days!r}")
        if not 0.0 <= losses < 1.0:
            raise ValueError(f"losses out of range: {losses!r}")
        self._resolution = resolution
        self._forecast_days = forecast_days
        self._losses = losses
        self._timeout = request_timeout

    def _params(self, plane: PlaneSpec) -> dict[str, str]:
        """Query for the plane: GTI for its tilt and azimuth (0 = south, -90 = east), in UTC."""
        return {
            "latitude": format_number(plane.latitude),
            "longitude": format_number(plane.longitude),
            self._resolution: VARIABLE,
            "tilt": format_number(plane.tilt_deg),
            "azimuth": format_number(south_zero_azimuth(plane.azimuth_deg)),
            "timezone": "UTC",
            "forecast_days": str(self._forecast_days),
        }

    async def fetch(
        self, session: aiohttp.ClientSession, plane: PlaneSpec
    ) -> PlaneForecast:
        """One request for one plane; raises a ForecastError on any failure."""
        response = await http_get(
            session, API_URL, self._params(plane), request_timeout=self._timeout
        )
        if response.status != 200:
            body = response.json_or_none()
            raise_for_error_status(
                response,
                "Open-Meteo",
                retry_after=parse_retry_after(
                    response.headers.get("Retry-After"), datetime.now(UTC)
                ),
                detail=body.get("reason") if isinstance(body, dict) else None,
            )
        times, values, offset = self._series(response.json())
        return PlaneForecast(
            plane.name, self._watts(times, values, offset, plane), self.name
        )

    def _series(self, data: Any) -> tuple[list[Any], list[Any], int]:
        """Times, GTI values and ``utc_offset_seconds`` of the requested block."""
        block = data.get(self._resolution) if isinstance(data, dict) else None
        match data, block:
            case (
                {"utc_offset_seconds": int() as offset},
                {"time": list() as times, "global_tilted_irradiance": list() as values},
            ) if len(times) == len(values):
                return times, values, offset
        raise ForecastInvalidResponseError("Open-Meteo: unexpected JSON shape")

    def _watts(
        self, times: list[Any], values: list[Any], offset: int, plane: PlaneSpec
    ) -> tuple[tuple[datetime, float], ...]:
        """Period-mean GTI as watts at each period's midpoint, where a mean is most
        like the instantaneous power the other sources give.
        """
        shift = timedelta(seconds=offset) + _STEP[self._resolution] / 2
        per_wm2 = plane.kwp * (1.0 - self._losses)
        ceiling = plane.inverter_kw * 1000.0 if plane.inverter_kw is not None else None
        kept = 1.0 - (plane.damping or 0.0)
        points: dict[datetime, float] = {}
        for stamp, value in zip(times, values, strict=True):
            if value is None:  # beyond the model's horizon
                continue
            try:
                when = datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
            except (TypeError, ValueError) as err:
                raise ForecastInvalidResponseError(
                    f"Open-Meteo: bad time {stamp!r}"
                ) from err
            gti = finite_number(value, f"Open-Meteo GTI at {stamp}")
            if abs(gti) > _MAX_GTI:
                raise ForecastInvalidResponseError(
                    f"Open-Meteo: impossible GTI {gti} W/m² at {stamp}"
                )
            # Negative GTI is a known model artefact (open-meteo issue 1355): no output.
            watts = max(0.0, gti) * per_wm2
            if ceiling is not None:
                watts = min(watts, ceiling)
            points[when - shift] = watts * kept
        if not points:
            raise ForecastInvalidResponseError(
                "Open-Meteo: no irradiance in the answer"
            )
        return tuple(sorted(points.items()))
