"""Where the sun is: position, solar noon, sunrise and sunset.

The NOAA solar calculator algorithm (low-precision Meeus, *Astronomical
Algorithms*): geometric mean longitude and anomaly, equation of centre, apparent
longitude, obliquity of the ecliptic, declination, equation of time, hour angle.
Accurate to about a minute of time and 0.02 degrees of angle for 1900-2100, far
better than a solar forecast needs. UTC stands in for terrestrial time (a ~70 s
difference, negligible here).

Azimuth uses the project convention: 0 = north, 90 = east, 180 = south,
270 = west. The zenith returned is the apparent one, corrected for atmospheric
refraction with NOAA's piecewise formula; sunrise and sunset use the standard
geometric zenith of 90.833 degrees (refraction at the horizon plus the sun's
semi-diameter).
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_J2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
_SUNRISE_ZENITH_COS = math.cos(math.radians(90.833))


@dataclass(frozen=True, slots=True)
class SunPosition:
    """The sun seen from one place at one instant."""

    zenith_deg: float
    """Apparent (refraction-corrected) zenith angle."""
    azimuth_deg: float
    declination_deg: float
    equation_of_time_min: float
    distance_au: float
    """Earth-sun distance, for the extraterrestrial irradiance."""

    @property
    def elevation_deg(self) -> float:
        """Apparent elevation above the horizon; negative at night."""
        return 90.0 - self.zenith_deg


@dataclass(frozen=True, slots=True)
class SunTimes:
    """Solar noon, sunrise and sunset of one solar day.

    Sunrise and sunset are None when the sun does not cross the horizon
    (polar day or polar night); day_length is then 24 h or 0.
    """

    solar_noon: datetime
    sunrise: datetime | None
    sunset: datetime | None
    day_length: timedelta


def as_utc(when: datetime) -> datetime:
    """`when` in UTC; naive times are refused (the engine never guesses a zone)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    return when.astimezone(UTC)


def _solar_terms(when: datetime) -> tuple[float, float, float]:
    """Declination (rad), equation of time (min) and distance (AU) at `when`."""
    t = (when - _J2000).total_seconds() / 86400.0 / 36525.0
    mean_long = math.radians((280.46646 + t * (36000.76983 + t * 0.0003032)) % 360.0)
    anomaly = math.radians(357.52911 + t * (35999.05029 - 0.0001537 * t))
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    centre = math.radians(
        math.sin(anomaly) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * anomaly) * (0.019993 - 0.000101 * t)
        + math.sin(3 * anomaly) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * t)
    apparent_long = (
        mean_long + centre - math.radians(0.00569 + 0.00478 * math.sin(omega))
    )
    mean_obliquity = (
        23.0
        + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    )
    obliquity = math.radians(mean_obliquity + 0.00256 * math.cos(omega))
    declination = math.asin(math.sin(obliquity) * math.sin(apparent_long))
    y = math.tan(obliquity / 2.0) ** 2
    eot = 4.0 * math.degrees(
        y * math.sin(2 * mean_long)
        - 2 * ecc * math.sin(anomaly)
        + 4 * ecc * y * math.sin(anomaly) * math.cos(2 * mean_long)
        - 0.5 * y * y * math.sin(4 * mean_long)
        - 1.25 * ecc * ecc * math.sin(2 * anomaly)
    )
    distance = 1.000001018 * (1 - ecc * ecc) / (1 + ecc * math.cos(anomaly + centre))
    return declination, eot, distance


def _refraction_deg(elevation_deg: float) -> float:
    """NOAA's atmospheric refraction (degrees) for a geometric elevation."""
    if elevation_deg > 85.0:
        return 0.0
    tan_e = math.tan(math.radians(elevation_deg))
    if elevation_deg > 5.0:
        arcsec = 58.1 / tan_e - 0.07 / tan_e**3 + 0.000086 / tan_e**5
    elif elevation_deg > -0.575:
        e = elevation_deg
        arcsec = 1735.0 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
    else:
        arcsec = -20.772 / tan_e
    return arcsec / 3600.0


def sun_position(when: datetime, latitude: float, longitude: float) -> SunPosition:
    """Apparent zenith and azimuth of the sun at `when` (timezone-aware)."""
    when = as_utc(when)
    declination, eot, distance = _solar_terms(when)
    minutes = (
        when.hour * 60.0 + when.minute + (when.second + when.microsecond / 1e6) / 60.0
    )
    hour_angle = math.radians((minutes + eot + 4.0 * longitude) / 4.0 - 180.0)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    zenith = math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))
    azimuth = math.degrees(
        math.atan2(
            math.sin(hour_angle),
            math.cos(hour_angle) * math.sin(lat)
            - math.tan(declination) * math.cos(lat),
        )
    )
    return SunPosition(
        zenith_deg=zenith - _refraction_deg(90.0 - zenith),
        azimuth_deg=(azimuth + 180.0) % 360.0,
        declination_deg=math.degrees(declination),
        equation_of_time_min=eot,
        distance_au=distance,
    )


def _sunrise_hour_angle_deg(latitude: float, declination: float) -> float:
    """Half the day's arc in degrees: 0 for polar night, 180 for polar day."""
    lat = math.radians(latitude)
    cos_h = (_SUNRISE_ZENITH_COS - math.sin(lat) * math.sin(declination)) / (
        math.cos(lat) * math.cos(declination)
    )
    return math.degrees(math.acos(max(-1.0, min(1.0, cos_h))))


def _event(
    midnight: datetime, latitude: float, longitude: float, side: int
) -> datetime:
    """Solar noon (side 0), sunrise (-1) or sunset (+1) on the day at `midnight`."""
    when = midnight + timedelta(minutes=720.0 - 4.0 * longitude)
    for _ in range(3):
        declination, eot, _ = _solar_terms(when)
        arc = _sunrise_hour_angle_deg(latitude, declination) if side else 0.0
        minutes = 720.0 - 4.0 * longitude - eot + side * 4.0 * arc
        when = midnight + timedelta(minutes=minutes)
    return when


def sun_times(day: date, latitude: float, longitude: float) -> SunTimes:
    """Solar noon, sunrise and sunset of the solar day centred on `day` at `longitude`.

    Solar noon is 12:00 UTC - 4 min per degree east - equation of time; sunrise
    and sunset are noon -/+ 4 min per degree of the sunrise hour angle
    (cos H0 = (cos 90.833 - sin lat sin decl) / (cos lat cos decl)). Each event
    is refined by recomputing declination and equation of time at its own
    instant; three fixed-point steps converge to well under a second.
    Latitudes of exactly +/-90 degrees are not supported.
    """
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    noon = _event(midnight, latitude, longitude, 0)
    arc = _sunrise_hour_angle_deg(latitude, _solar_terms(noon)[0])
    if arc in (0.0, 180.0):
        # Polar night or polar day: the sun does not cross the horizon.
        return SunTimes(noon, None, None, timedelta(hours=24 * arc / 180.0))
    sunrise = _event(midnight, latitude, longitude, -1)
    sunset = _event(midnight, latitude, longitude, 1)
    return SunTimes(noon, sunrise, sunset, sunset - sunrise)
