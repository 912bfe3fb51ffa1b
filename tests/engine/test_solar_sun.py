"""Sun position and sun times against published and hand-worked references."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.sun import sun_position, sun_times

UTRECHT = (52.09, 5.12)
SOLSTICE = date(2026, 6, 21)

latitudes = st.floats(min_value=-60.0, max_value=60.0)
longitudes = st.floats(min_value=-180.0, max_value=180.0)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.just(UTC),
)


def test_meeus_example_25a() -> None:
    """Meeus, Astronomical Algorithms, examples 25.a and 28.b (1992-10-13 0h).

    Published: apparent declination -7.78507 deg, R = 0.99766 AU, equation of
    time 13 min 42.6 s. Tolerance 0.001 deg, 0.00001 AU, 0.02 min.
    """
    sun = sun_position(datetime(1992, 10, 13, tzinfo=UTC), 0.0, 0.0)
    assert sun.declination_deg == pytest.approx(-7.78507, abs=0.001)
    assert sun.distance_au == pytest.approx(0.99766, abs=0.00001)
    assert sun.equation_of_time_min == pytest.approx(13 + 42.6 / 60, abs=0.02)


def test_utrecht_solstice_noon() -> None:
    """Solar noon in Utrecht on 2026-06-21, by hand.

    Equation of time on 21 June is -1.8 min, so noon = 12:00 UTC - 4 min/deg x
    5.12 deg + 1.8 min = 11:41:19 UTC (tolerance 1 min). Maximum elevation
    90 - 52.09 + 23.44 = 61.35 deg plus 0.009 deg refraction
    (58.1"/tan 61.35); tolerance 0.01 deg. The sun is due south then.
    """
    times = sun_times(SOLSTICE, *UTRECHT)
    expected_noon = datetime(2026, 6, 21, 11, 41, 19, tzinfo=UTC)
    assert abs(times.solar_noon - expected_noon) < timedelta(minutes=1)
    sun = sun_position(times.solar_noon, *UTRECHT)
    assert sun.equation_of_time_min == pytest.approx(-1.8, abs=0.1)
    assert sun.elevation_deg == pytest.approx(61.359, abs=0.01)
    assert sun.azimuth_deg == pytest.approx(180.0, abs=0.01)


def test_utrecht_solstice_sunrise_sunset() -> None:
    """Sunrise and sunset in Utrecht on 2026-06-21, by hand.

    cos H0 = (cos 90.833 - sin 52.09 sin 23.44) / (cos 52.09 cos 23.44)
    = -0.5828, H0 = 125.65 deg = 8 h 22.6 min either side of 11:41.3 UTC:
    sunrise 03:18.7 UTC, sunset 20:03.9 UTC, day 16 h 45 min (Berlin, 0.4 deg
    further north, is published at 16 h 47 min). Tolerance 2 min.
    """
    times = sun_times(SOLSTICE, *UTRECHT)
    assert times.sunrise is not None
    assert times.sunset is not None
    two_minutes = timedelta(minutes=2)
    assert (
        abs(times.sunrise - datetime(2026, 6, 21, 3, 18, 42, tzinfo=UTC)) < two_minutes
    )
    assert (
        abs(times.sunset - datetime(2026, 6, 21, 20, 3, 54, tzinfo=UTC)) < two_minutes
    )
    assert abs(times.day_length - timedelta(hours=16, minutes=45)) < two_minutes


def test_equinox_day_at_the_equator_is_a_little_over_twelve_hours() -> None:
    """Refraction and the sun's semi-diameter add ~0.833 deg each side: 12 h 7 min.

    4 min/deg x 2 x 0.833 deg = 6.7 min at the equator; tolerance 1 min.
    """
    times = sun_times(date(2026, 3, 20), 0.0, 0.0)
    expected = timedelta(hours=12, minutes=6.7)
    assert abs(times.day_length - expected) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("day", "length"),
    [(date(2026, 6, 21), timedelta(hours=24)), (date(2026, 12, 21), timedelta(0))],
)
def test_polar_day_and_night(day: date, length: timedelta) -> None:
    """At 78 N (Svalbard) the sun neither sets in June nor rises in December."""
    times = sun_times(day, 78.0, 15.0)
    assert times.sunrise is None
    assert times.sunset is None
    assert times.day_length == length


def test_sun_overhead_at_the_tropic_on_the_solstice() -> None:
    """At 23.44 N on the June solstice the noon sun is within 0.1 deg of the zenith."""
    times = sun_times(SOLSTICE, 23.44, 0.0)
    assert sun_position(times.solar_noon, 23.44, 0.0).zenith_deg < 0.1


def test_local_time_zones_give_the_same_position() -> None:
    """A time with any UTC offset names the same instant as its UTC form."""
    cest = timezone(timedelta(hours=2))
    local = sun_position(datetime(2026, 6, 21, 13, 41, tzinfo=cest), *UTRECHT)
    utc = sun_position(datetime(2026, 6, 21, 11, 41, tzinfo=UTC), *UTRECHT)
    assert local == utc


def test_naive_time_is_refused() -> None:
    """The engine never guesses a time zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        sun_position(datetime(2026, 6, 21, 12), *UTRECHT)


@given(instants, latitudes, longitudes)
def test_position_is_in_range(when: datetime, lat: float, lon: float) -> None:
    sun = sun_position(when, lat, lon)
    assert 0.0 <= sun.azimuth_deg < 360.0
    assert 0.0 <= sun.zenith_deg <= 180.0
    assert -23.45 <= sun.declination_deg <= 23.45
    assert -14.6 <= sun.equation_of_time_min <= 16.6  # Feb -14.2, Nov +16.4


@given(days, latitudes, longitudes)
def test_sunrise_sunset_are_at_the_horizon(day: date, lat: float, lon: float) -> None:
    """At sunrise/sunset the geometric centre is 0.833 deg below the horizon.

    NOAA refraction there, -20.772" / tan(-0.833 deg), lifts it by 0.397 deg:
    apparent elevation -0.436 deg (tolerance 0.02 deg). Morning: east of the
    meridian; evening: west.
    """
    times = sun_times(day, lat, lon)
    assert times.sunrise is not None
    assert times.sunset is not None
    rise = sun_position(times.sunrise, lat, lon)
    set_ = sun_position(times.sunset, lat, lon)
    assert rise.elevation_deg == pytest.approx(-0.436, abs=0.02)
    assert set_.elevation_deg == pytest.approx(-0.436, abs=0.02)
    assert 0.0 < rise.azimuth_deg < 180.0 < set_.azimuth_deg < 360.0
    assert times.sunrise < times.solar_noon < times.sunset


@given(days, latitudes, longitudes)
def test_solar_noon_is_the_highest_point(day: date, lat: float, lon: float) -> None:
    noon = sun_times(day, lat, lon).solar_noon
    top = sun_position(noon, lat, lon).elevation_deg
    for offset in (timedelta(minutes=-10), timedelta(minutes=10)):
        assert sun_position(noon + offset, lat, lon).elevation_deg < top
