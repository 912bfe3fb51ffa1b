"""Plane and forecast types, azimuth convention, Retry-After and status mapping."""

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from multidict import CIMultiDict

from custom_components.stekker.forecast import (
    ForecastAuthError,
    ForecastConnectionError,
    ForecastError,
    ForecastInvalidResponseError,
    ForecastRateLimitedError,
    ForecastRequestError,
    PlaneForecast,
    PlaneSpec,
)
from custom_components.stekker.forecast.base import (
    HttpResponse,
    finite_number,
    format_number,
    parse_retry_after,
    raise_for_error_status,
    south_zero_azimuth,
)

NOW = datetime(2026, 6, 20, 7, 41, 12, tzinfo=UTC)


def test_plane_spec_keeps_what_the_installer_entered() -> None:
    plane = PlaneSpec("garage", 52.09, 5.12, 4.2, 135.0, 30.0, 3.6, 0.2)
    assert (plane.azimuth_deg, plane.inverter_kw, plane.damping) == (135.0, 3.6, 0.2)
    assert PlaneSpec("flat", -33.9, 151.2, 0.4, 0.0, 0.0).inverter_kw is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 90.5),
        ("latitude", math.nan),
        ("longitude", -180.5),
        ("kwp", 0.0),
        ("kwp", math.inf),
        ("azimuth_deg", -1.0),
        ("azimuth_deg", 360.5),
        ("tilt_deg", 91.0),
        ("inverter_kw", 0.0),
        ("damping", -0.1),
        ("damping", 1.5),
    ],
)
def test_plane_spec_rejects_impossible_planes(field: str, value: float) -> None:
    values: dict[str, float] = {
        "latitude": 52.09,
        "longitude": 5.12,
        "kwp": 4.2,
        "azimuth_deg": 180.0,
        "tilt_deg": 35.0,
    }
    values[field] = value
    with pytest.raises(ValueError, match=field.split("_")[0]):
        PlaneSpec("roof", **values)


def test_plane_forecast_accepts_ascending_utc() -> None:
    points = ((NOW, 10.0), (NOW + timedelta(minutes=15), 20.0))
    assert PlaneForecast("roof", points, "test").watts == points


@pytest.mark.parametrize(
    "points",
    [
        ((NOW.replace(tzinfo=None), 1.0),),
        ((NOW.astimezone(timezone(timedelta(hours=2))), 1.0),),
        ((NOW, 1.0), (NOW, 2.0)),
        ((NOW, 1.0), (NOW - timedelta(minutes=15), 2.0)),
    ],
    ids=["naive", "not-utc", "duplicate", "descending"],
)
def test_plane_forecast_rejects_broken_series(
    points: tuple[tuple[datetime, float], ...],
) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        PlaneForecast("roof", points, "test")


@pytest.mark.parametrize(
    ("ours", "south_zero"),
    [
        (0.0, -180.0),  # north
        (90.0, -90.0),  # east
        (180.0, 0.0),  # south
        (270.0, 90.0),  # west
        (360.0, -180.0),  # north again
        (135.0, -45.0),  # south-east
        (202.5, 22.5),  # south-south-west
    ],
)
def test_south_zero_azimuth(ours: float, south_zero: float) -> None:
    assert south_zero_azimuth(ours) == south_zero


@pytest.mark.parametrize(
    ("value", "text"),
    [(52.09071234, "52.0907"), (4.0, "4.0"), (-0.00001, "0.0"), (-89.5, "-89.5")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize("value", ["12", True, None, math.nan, -math.inf, [1]])
def test_finite_number_rejects_non_numbers(value: object) -> None:
    with pytest.raises(ForecastInvalidResponseError, match="watts"):
        finite_number(value, "watts")


def test_finite_number_accepts_ints_and_floats() -> None:
    assert finite_number(3, "watts") == 3.0
    assert finite_number(-2.5, "watts") == -2.5


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Sat, 20 Jun 2026 07:46:12 GMT", 300.0),
        ("Sat, 20 Jun 2026 07:46:12 -0000", 300.0),
        ("Sat, 20 Jun 2026 09:46:12 +0200", 300.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # already past: go now
        ("1.5", None),
        ("-5", None),
        ("²", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def _response(status: int) -> HttpResponse:
    return HttpResponse(status, CIMultiDict(), b"")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (204, ForecastInvalidResponseError),
        (400, ForecastRequestError),
        (401, ForecastAuthError),
        (403, ForecastAuthError),
        (404, ForecastRequestError),
        (422, ForecastRequestError),
        (429, ForecastRateLimitedError),
        (500, ForecastConnectionError),
        (503, ForecastConnectionError),
    ],
)
def test_raise_for_error_status(status: int, error: type[ForecastError]) -> None:
    with pytest.raises(error, match=f"Svc answered HTTP {status}: bad tilt"):
        raise_for_error_status(_response(status), "Svc", detail="bad tilt")


def test_rate_limited_error_carries_retry_after() -> None:
    with pytest.raises(ForecastRateLimitedError) as caught:
        raise_for_error_status(_response(429), "Svc", retry_after=42.0)
    assert caught.value.retry_after == 42.0
    assert str(caught.value) == "Svc answered HTTP 429"


def test_http_response_json() -> None:
    assert HttpResponse(200, CIMultiDict(), b'{"a": 1}').json() == {"a": 1}
    garbage = HttpResponse(502, CIMultiDict(), b"<html>Bad gateway</html>")
    assert garbage.json_or_none() is None
    with pytest.raises(ForecastInvalidResponseError, match="not JSON"):
        garbage.json()
