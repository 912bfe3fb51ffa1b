"""Energy platform: the site's solar forecast on the Energy dashboard."""

from datetime import timedelta

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import DOMAIN
from .runtime import StekkerConfigEntry

_HOUR = timedelta(hours=1)


async def async_get_solar_forecast(
    hass: HomeAssistant, config_entry_id: str
) -> dict[str, dict[str, float | int]] | None:
    """Forecast energy (Wh) per hour of the site's arrays, keyed by the hour's start."""
    entry: StekkerConfigEntry | None = hass.config_entries.async_get_entry(
        config_entry_id
    )
    if (
        entry is None
        or entry.domain != DOMAIN
        or entry.state is not ConfigEntryState.LOADED
        or (solar := entry.runtime_data.solar) is None
    ):
        return None
    site = solar.data.site
    first, last = site.watts[0][0], site.watts[-1][0]
    hours = int((last - first) / _HOUR)
    return {
        "wh_hours": {
            (start := first + index * _HOUR).isoformat(): round(
                site.energy_kwh(start, start + _HOUR) * 1000.0, 1
            )
            for index in range(hours)
        }
    }
