"""The engine's site model from a config entry's data and options."""

from collections.abc import Mapping
from typing import Any

from .const import (
    CONF_FUSE_A,
    CONF_GTV_KW,
    CONF_MARGIN_KW,
    CONF_PHASES,
    CONF_VOLTAGE_V,
    DEFAULT_MARGIN_KW,
)
from .engine.site import Site


def site_from(data: Mapping[str, Any], options: Mapping[str, Any]) -> Site:
    return Site(
        gtv_kw=float(data[CONF_GTV_KW]),
        phases=int(data[CONF_PHASES]),
        fuse_a=float(data[CONF_FUSE_A]),
        voltage_v=float(data[CONF_VOLTAGE_V]),
        margin_kw=float(options.get(CONF_MARGIN_KW, DEFAULT_MARGIN_KW)),
    )
