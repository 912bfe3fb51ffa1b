"""Constants for the Stekker integration."""

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "stekker"
LOGGER = logging.getLogger(__package__)

# Site (config entry data)
CONF_GTV_KW: Final = "gtv_kw"
CONF_PHASES: Final = "phases"
CONF_FUSE_A: Final = "fuse_a"
CONF_VOLTAGE_V: Final = "voltage_v"
CONF_MARGIN_KW: Final = "margin_kw"
CONF_EAN: Final = "ean"
# Options
CONF_POLL_INTERVAL: Final = "poll_interval"

DEFAULT_VOLTAGE_V: Final = 230.0
DEFAULT_MARGIN_KW: Final = 0.5
DEFAULT_POLL_INTERVAL: Final = 1.0
MIN_POLL_INTERVAL: Final = 0.5
MAX_POLL_INTERVAL: Final = 5.0

# Meters (config subentries)
SUBENTRY_METER: Final = "meter"
CONF_SOURCE: Final = "source"
CONF_ROLE: Final = "role"
CONF_PROFILE: Final = "profile"
CONF_UNIT_ID: Final = "unit_id"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_BYTESIZE: Final = "bytesize"
CONF_POWER_ENTITY: Final = "power_entity"
CONF_CURRENT_ENTITIES: Final = (
    "current_l1_entity",
    "current_l2_entity",
    "current_l3_entity",
)

SOURCE_MODBUS_TCP: Final = "modbus_tcp"
SOURCE_MODBUS_RTU_TCP: Final = "modbus_rtu_tcp"
SOURCE_MODBUS_SERIAL: Final = "modbus_serial"
SOURCE_SENSORS: Final = "sensors"
# A smart meter (P1) read through HA's dsmr or homewizard integration: its device.
SOURCE_P1: Final = "p1"
# A meter of separate HA sensors: import and export power, per phase too.
SOURCE_NET_SENSORS: Final = "net_sensors"
CONF_DEVICE_ID: Final = "device_id"
CONF_P1_INTEGRATION: Final = "p1_integration"  # "dsmr" or "homewizard"

# Shorter than the 1 s control cycle: a silent device cannot hold up a cycle.
MODBUS_TIMEOUT: Final = timedelta(seconds=0.8)

# Chargers (config subentries)
SUBENTRY_CHARGER: Final = "charger"
CONF_DRIVER: Final = "driver"
DRIVER_ENTITY: Final = "entity"
DRIVER_MODBUS: Final = "modbus"
CONF_NUMBER_ENTITY: Final = "number_entity"
CONF_STATUS_ENTITY: Final = "status_entity"
CONF_PHASE: Final = "phase"
CONF_MIN_A: Final = "min_a"
CONF_MAX_A: Final = "max_a"
CONF_PRIORITY: Final = "priority"
CONF_FAIL_SAFE_A: Final = "fail_safe_a"
# The car usually charged here (optional): its need from its state of charge.
CONF_BATTERY_KWH: Final = "battery_kwh"
CONF_SOC_ENTITY: Final = "soc_entity"
CONF_TARGET_SOC: Final = "target_soc"
CAR_FIELDS: Final = (CONF_BATTERY_KWH, CONF_SOC_ENTITY, CONF_TARGET_SOC)

# Balancing options
CONF_STALE_CYCLES: Final = "stale_cycles"  # before stale_s; read for old sites
CONF_STALE_S: Final = "stale_s"
# Setpoints are held without fresh meter data for at most this long.
MAX_STALE_S: Final = 10.0
CONF_RAMP_STEP_A: Final = "ramp_step_a"
CONF_HYSTERESIS_S: Final = "hysteresis_s"
CONF_MIN_WRITE_INTERVAL_S: Final = "min_write_interval_s"
CONF_ROTATION_S: Final = "rotation_s"
BALANCING_DEFAULTS: Final = {
    CONF_STALE_S: 3.0,
    CONF_RAMP_STEP_A: 2.0,
    CONF_HYSTERESIS_S: 10.0,
    CONF_MIN_WRITE_INTERVAL_S: 30.0,
    CONF_ROTATION_S: 900.0,
}
# Native chargers fall back to their safe current when not refreshed in time
# (Alfen's validity time defaults to 60 s): rewrite well inside it.
MODBUS_CHARGER_REFRESH_S: Final = 15.0
# Native chargers are set in steps of 0.1 A, so a read-back compares exactly.
MODBUS_STEP_A: Final = 0.1
# Entity chargers are re-sent their setpoint this often even when nothing changed,
# in case a charger behind another integration forgot it (reboot, reconnect).
ENTITY_CHARGER_REFRESH_S: Final = 120.0

# Solar arrays (config subentries) and the site's forecast options
SUBENTRY_SOLAR_ARRAY: Final = "solar_array"
CONF_PANELS: Final = "panels"
CONF_WP_PER_PANEL: Final = "wp_per_panel"
CONF_KWP: Final = "kwp"
CONF_AZIMUTH_DEG: Final = "azimuth_deg"
CONF_TILT_DEG: Final = "tilt_deg"
CONF_INVERTER_KW: Final = "inverter_kw"
CONF_LOSSES_PCT: Final = "losses_pct"
CONF_DAMPING: Final = "damping"
CONF_FORECAST_SOURCE: Final = "forecast_source"
CONF_WEATHER_ENTITY: Final = "weather_entity"
FORECAST_FORECAST_SOLAR: Final = "forecast_solar"
FORECAST_OPEN_METEO: Final = "open_meteo"
FORECAST_BUILTIN: Final = "builtin"
DEFAULT_LOSSES_PCT: Final = 14.0

# Grid limit, quarter-hour budget and prices (options)
CONF_LIMIT_SCHEDULE: Final = "limit_schedule"
CONF_LIMIT_ENTITY: Final = "limit_entity"
CONF_QUARTER_BUDGET_KW: Final = "quarter_budget_kw"
CONF_CAPACITY_PRICE: Final = "capacity_price_per_kw"
CONF_PRICE_ENTITY: Final = "price_entity"
# Or a config entry of a core integration whose action gives the prices ahead
CONF_PRICE_ENTRY: Final = "price_entry"
NORDPOOL_DOMAIN: Final = "nordpool"
ENERGYZERO_DOMAIN: Final = "energyzero"
PRICE_DOMAINS: Final = (NORDPOOL_DOMAIN, ENERGYZERO_DOMAIN)

# Chargers: where another integration reports a session's id tag and energy
CONF_ID_TAG_ENTITY: Final = "id_tag_entity"
CONF_ENERGY_ENTITY: Final = "energy_entity"

# Sessions and cards (their cost uses the price entity above)
SUBENTRY_CARD: Final = "card"
CONF_ID_TAG: Final = "id_tag"
CONF_NEED_KWH: Final = "need_kwh"
CONF_DEPARTURE: Final = "departure"
