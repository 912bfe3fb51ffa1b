"""Built-in offline solar forecast: a PV array's AC power from sun and weather.

The chain, one formula per step:

1. Sun position: NOAA algorithm (see `sun`), apparent zenith.
2. Clear-sky GHI and DNI: Ineichen-Perez (2002) with a fixed Linke turbidity of
   3.5 (a typical summer value for north-west Europe) at sea level, Kasten-Young
   (1989) air mass, extraterrestrial irradiance 1361 W/m2 (Kopp-Lean) / R^2.
   DHI = GHI - DNI cos(zenith).
3. Clouds (optional): Kasten-Czeplak (1980),
   GHI = GHI_clear * (1 - 0.75 * (C/8)^3.4) with C the cover in oktas. The
   same factor scales DNI and DHI, keeping the clear-sky beam/diffuse split: it
   keeps the forecast monotone in cloud cover (more cloud never raises it),
   at the price of over-rating south-facing and under-rating north-facing
   planes slightly under heavy overcast.
4. Plane of array: angle of incidence, Hay-Davies (1980) sky diffuse
   (circumsolar share = DNI / extraterrestrial), ground reflection with
   albedo 0.2.
5. Cell temperature: NOCT model, T_cell = T_amb + (NOCT - 20) / 800 * G_poa with
   NOCT 45 C; power coefficient -0.4 %/K relative to 25 C (a gain below 25 C).
6. DC power = kWp * G_poa / 1000 * temperature factor; minus the lump-sum
   system losses (wiring, soiling, mismatch, reflection at the glass, inverter
   efficiency; 14 % as PVGIS proposes); clipped at the inverter's AC limit.
"""

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from .sun import SunPosition, as_utc, sun_position

SOLAR_CONSTANT_W_M2 = 1361.0
LINKE_TURBIDITY = 3.5
ALBEDO = 0.2
NOCT_C = 45.0
TEMP_COEFF_PER_K = -0.004
DEFAULT_AMBIENT_C = 15.0

_MIN_COS_ZENITH = math.cos(math.radians(89.0))
_HOUR = timedelta(hours=1)

type Series = Sequence[tuple[datetime, float]]
"""(time, AC power in W) samples in time order."""


@dataclass(frozen=True, slots=True)
class SolarArray:
    """One plane of PV panels behind one inverter limit.

    Azimuth: 0 = north, 90 = east, 180 = south, 270 = west. Tilt: 0 = flat.
    """

    name: str
    panels: int
    wp_per_panel: float
    azimuth_deg: float
    tilt_deg: float
    inverter_kw: float
    losses_pct: float = 14.0

    @property
    def kwp(self) -> float:
        """Peak DC power of the array at standard test conditions."""
        return self.panels * self.wp_per_panel / 1000.0


def solar_array_errors(array: SolarArray) -> dict[str, str]:
    """Field -> error key for values out of range."""
    checks = {
        "panels": 1 <= array.panels <= 100_000,
        "wp_per_panel": 1.0 <= array.wp_per_panel <= 1000.0,
        "azimuth_deg": 0.0 <= array.azimuth_deg <= 360.0,
        "tilt_deg": 0.0 <= array.tilt_deg <= 90.0,
        "inverter_kw": 0.0 < array.inverter_kw <= 10_000.0,
        "losses_pct": 0.0 <= array.losses_pct < 100.0,
    }
    return {field: f"{field}_out_of_range" for field, ok in checks.items() if not ok}


@dataclass(frozen=True, slots=True)
class Irradiance:
    """Global horizontal, direct normal and diffuse horizontal, in W/m2."""

    ghi: float
    dni: float
    dhi: float


def extraterrestrial_w_m2(sun: SunPosition) -> float:
    """Normal irradiance at the top of the atmosphere: solar constant / R^2."""
    return SOLAR_CONSTANT_W_M2 / sun.distance_au**2


def clear_sky(sun: SunPosition, linke_turbidity: float = LINKE_TURBIDITY) -> Irradiance:
    """Ineichen-Perez clear-sky irradiance at sea level; zero below the horizon.

    AM = 1 / (cos z + 0.50572 (96.07995 - z)^-1.6364)      (Kasten-Young)
    GHI = 0.868 I0 cos z exp(-0.0387 AM TL) exp(0.01 AM^1.8)
    DNI = min(0.827 I0 exp(-0.09 AM (TL - 1)),
              GHI (1 - (0.1 - 0.2 exp(-TL)) / 0.982) / cos z)
    (the general form's altitude terms fh1 = fh2 = 1 at sea level).
    """
    zenith = sun.zenith_deg
    if zenith >= 90.0:
        return Irradiance(0.0, 0.0, 0.0)
    cos_z = math.cos(math.radians(zenith))
    air_mass = 1.0 / (cos_z + 0.50572 * (96.07995 - zenith) ** -1.6364)
    i0 = extraterrestrial_w_m2(sun)
    ghi = (
        0.868
        * i0
        * cos_z
        * math.exp(-0.0387 * air_mass * linke_turbidity)
        * math.exp(0.01 * air_mass**1.8)
    )
    beam = 0.827 * i0 * math.exp(-0.09 * air_mass * (linke_turbidity - 1.0))
    beam_limit = (
        ghi
        * (1.0 - (0.1 - 0.2 * math.exp(-linke_turbidity)) / 0.982)
        / max(cos_z, _MIN_COS_ZENITH)
    )
    dni = min(beam, beam_limit)
    return Irradiance(ghi, dni, max(ghi - dni * cos_z, 0.0))


def cloud_factor(cloud_cover_pct: float) -> float:
    """Kasten-Czeplak: GHI / GHI_clear = 1 - 0.75 (C/8)^3.4, C in oktas.

    Cover is clamped to 0..100 %; NaN is refused rather than read as clear.
    """
    if math.isnan(cloud_cover_pct):
        raise ValueError("cloud cover is NaN")
    oktas_fraction = min(max(cloud_cover_pct, 0.0), 100.0) / 100.0
    return 1.0 - 0.75 * math.pow(oktas_fraction, 3.4)


def angle_of_incidence_cos(
    sun: SunPosition, tilt_deg: float, azimuth_deg: float
) -> float:
    """cos of the angle between the sun and the plane's normal (negative: behind).

    cos AOI = cos z cos tilt + sin z sin tilt cos(sun azimuth - plane azimuth).
    """
    zenith = math.radians(sun.zenith_deg)
    tilt = math.radians(tilt_deg)
    return math.cos(zenith) * math.cos(tilt) + math.sin(zenith) * math.sin(
        tilt
    ) * math.cos(math.radians(sun.azimuth_deg - azimuth_deg))


def plane_irradiance(
    sun: SunPosition, sky: Irradiance, tilt_deg: float, azimuth_deg: float
) -> float:
    """Plane-of-array irradiance (W/m2): beam + Hay-Davies sky diffuse + ground.

    beam = DNI max(cos AOI, 0)
    sky = DHI (A Rb + (1 - A) (1 + cos tilt) / 2), A = DNI / I0,
          Rb = max(cos AOI, 0) / max(cos z, cos 89)
    ground = GHI albedo (1 - cos tilt) / 2
    """
    if sky.ghi <= 0.0:
        return 0.0
    cos_aoi = max(angle_of_incidence_cos(sun, tilt_deg, azimuth_deg), 0.0)
    cos_z = max(math.cos(math.radians(sun.zenith_deg)), _MIN_COS_ZENITH)
    cos_tilt = math.cos(math.radians(tilt_deg))
    anisotropy = sky.dni / extraterrestrial_w_m2(sun)
    sky_diffuse = sky.dhi * (
        anisotropy * cos_aoi / cos_z + (1.0 - anisotropy) * (1.0 + cos_tilt) / 2.0
    )
    ground = sky.ghi * ALBEDO * (1.0 - cos_tilt) / 2.0
    return sky.dni * cos_aoi + sky_diffuse + ground


def cell_temperature_c(ambient_c: float, poa_w_m2: float) -> float:
    """NOCT model: T_cell = T_amb + (NOCT - 20) / 800 * G_poa."""
    return ambient_c + (NOCT_C - 20.0) / 800.0 * poa_w_m2


def _power_from_poa(array: SolarArray, poa: float, ambient_c: float) -> float:
    temperature_factor = 1.0 + TEMP_COEFF_PER_K * (
        cell_temperature_c(ambient_c, poa) - 25.0
    )
    dc = array.panels * array.wp_per_panel * poa / 1000.0 * temperature_factor
    ac = dc * (1.0 - array.losses_pct / 100.0)
    return max(min(ac, array.inverter_kw * 1000.0), 0.0)


def array_power_w(
    array: SolarArray,
    latitude: float,
    longitude: float,
    when: datetime,
    *,
    cloud_cover_pct: float | None = None,
    ambient_c: float = DEFAULT_AMBIENT_C,
) -> float:
    """Expected AC power (W) of `array` at `when`; clear sky unless cloud is given."""
    sun = sun_position(when, latitude, longitude)
    sky = clear_sky(sun)
    poa = plane_irradiance(sun, sky, array.tilt_deg, array.azimuth_deg)
    if cloud_cover_pct is not None:
        poa *= cloud_factor(cloud_cover_pct)
    return _power_from_poa(array, poa, ambient_c)


def _hourly(values: Mapping[datetime, float]) -> Callable[[datetime], float | None]:
    """Look a time up in hourly values: the latest key at most an hour before it."""
    items = sorted((as_utc(key), value) for key, value in values.items())
    keys = [key for key, _ in items]

    def lookup(when: datetime) -> float | None:
        index = bisect.bisect_right(keys, when) - 1
        if index < 0 or when - keys[index] >= _HOUR:
            return None
        return items[index][1]

    return lookup


def _constant(value: float) -> Callable[[datetime], float]:
    return lambda _: value


def forecast_series(
    array: SolarArray,
    latitude: float,
    longitude: float,
    start: datetime,
    hours: int,
    step_minutes: int = 15,
    cloud_cover: Mapping[datetime, float] | None = None,
    ambient_c: Mapping[datetime, float] | float = DEFAULT_AMBIENT_C,
) -> list[tuple[datetime, float]]:
    """AC power samples (UTC times) from `start` to `start + hours` inclusive.

    Cloud cover and ambient temperature are hourly values keyed by the start of
    their hour; a sample uses the value of the hour it falls in. A sample with no
    cloud value is clear sky; one with no temperature uses 15 C.
    """
    if step_minutes <= 0:
        raise ValueError("step_minutes must be positive")
    start = as_utc(start)
    cloud_at = _hourly(cloud_cover or {})
    ambient_at = (
        _hourly(ambient_c) if isinstance(ambient_c, Mapping) else _constant(ambient_c)
    )

    step = timedelta(minutes=step_minutes)
    series: list[tuple[datetime, float]] = []
    for index in range(hours * 60 // step_minutes + 1):
        when = start + index * step
        ambient = ambient_at(when)
        power = array_power_w(
            array,
            latitude,
            longitude,
            when,
            cloud_cover_pct=cloud_at(when),
            ambient_c=DEFAULT_AMBIENT_C if ambient is None else ambient,
        )
        series.append((when, power))
    return series


def energy_between_kwh(series: Series, start: datetime, end: datetime) -> float:
    """Energy (kWh) from `start` to `end`, power linear between samples (trapezoid).

    Only the part of [start, end] the series covers counts.
    """
    total_wh = 0.0
    for (t0, p0), (t1, p1) in pairwise(series):
        lo, hi = max(t0, start), min(t1, end)
        if hi <= lo:
            continue
        span = (t1 - t0).total_seconds()
        p_lo = p0 + (p1 - p0) * (lo - t0).total_seconds() / span
        p_hi = p0 + (p1 - p0) * (hi - t0).total_seconds() / span
        total_wh += (p_lo + p_hi) / 2.0 * (hi - lo).total_seconds() / 3600.0
    return total_wh / 1000.0


def energy_kwh(series: Series) -> float:
    """Energy (kWh) over the whole series, by the trapezoid rule."""
    if not series:
        return 0.0
    return energy_between_kwh(series, series[0][0], series[-1][0])


def peak(series: Series) -> tuple[datetime, float] | None:
    """The first sample of highest power, or None when nothing is produced."""
    best = max(series, key=lambda sample: sample[1], default=None)
    if best is None or best[1] <= 0.0:
        return None
    return best
