"""A site balanced on a DSMR smart meter (P1), closed loop through the real HA layer.

The meter's entities are registered like the dsmr integration registers them
(unique ids ``<serial>_<key>`` under a dsmr config entry and its device) and
fed as it publishes them, once per telegram: consumption and production in kW
with three decimals (totals netted over the phases), per phase too, and phase
currents in unsigned whole amperes (a DSMR 5 meter, the option "minimum time
between entity updates" at 1 s). Two cars share a 25 A fuse with a building
that loads L1 and L3 and exports solar on L2.
"""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stekker.engine.site import PHASES
from custom_components.stekker.meter import entity_field
from custom_components.stekker.p1 import DSMR_KEYS
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import Loop, closed_loop, entity_charger
from .dsmr_stream import NL_SERIAL_HEX
from .test_faults import FAST, Load, issue, limits, never_below_minimum, site_of

FUSE_A, GTV_KW = 25.0, 17.0
# The deadline the flow states for this meter: 5 s of silence (3 reports of
# 1 s, at least 5 s), the 3 s the balancer holds setpoints, one 1 s cycle.
DEADLINE_S = 9


def dsmr_entities(hass: HomeAssistant) -> tuple[dr.DeviceEntry, dict[str, str]]:
    """The electricity meter's device and sensor entities, by key."""
    entry = MockConfigEntry(
        domain="dsmr",
        title="socket://192.0.2.1:2001",
        data={
            "port": "socket://192.0.2.1:2001",
            "dsmr_version": "5",
            "protocol": "dsmr_protocol",
            "serial_id": NL_SERIAL_HEX,
            "serial_id_gas": None,
        },
        options={"time_between_update": 1},
    )
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={("dsmr", NL_SERIAL_HEX)},
        name="Electricity Meter",
    )
    registry = er.async_get(hass)
    entity_ids = {
        key: registry.async_get_or_create(
            "sensor",
            "dsmr",
            f"{NL_SERIAL_HEX}_{key}",
            config_entry=entry,
            device_id=device.id,
            suggested_object_id=f"electricity_meter_{key}",
        ).entity_id
        for key in DSMR_KEYS
        if not key.startswith("belgium")
    }
    return device, entity_ids


def telegram_states(
    hass: HomeAssistant,
    site: SimulatedSite,
    load: Load,
    time_s: float,
    entity_ids: dict[str, str],
) -> None:
    """What dsmr writes for one telegram of the site's present state."""
    volts = site.voltage_v
    building = load(time_s)
    cars = [car.phase_currents() for car in site.cars.values()]
    values: dict[str, tuple[float, str, str]] = {}
    net_kw = 0.0
    for index, phase in enumerate(PHASES):
        watts = building[index] + sum(c[phase] for c in cars) * volts
        net_kw += watts / 1000.0
        values |= {
            f"instantaneous_active_power_{phase}_positive": (
                round(max(0.0, watts) / 1000.0, 3),
                "kW",
                "power",
            ),
            f"instantaneous_active_power_{phase}_negative": (
                round(max(0.0, -watts) / 1000.0, 3),
                "kW",
                "power",
            ),
            # The meter shows whole amperes, without a sign.
            f"instantaneous_current_{phase}": (
                float(int(abs(watts) / volts)),
                "A",
                "current",
            ),
            f"instantaneous_voltage_{phase}": (volts, "V", "voltage"),
        }
    values["current_electricity_usage"] = (
        round(max(0.0, net_kw), 3),
        "kW",
        "power",
    )
    values["current_electricity_delivery"] = (
        round(max(0.0, -net_kw), 3),
        "kW",
        "power",
    )
    for key, (value, unit, device_class) in values.items():
        hass.states.async_set(
            entity_ids[key],
            str(value),
            {
                "unit_of_measurement": unit,
                "device_class": device_class,
                "state_class": "measurement",
            },
        )


async def test_two_cars_on_a_p1_meter_stay_within_the_fuse_and_fail_safe(
    hass: HomeAssistant,
) -> None:
    load = Load(4, -6, 8)  # L1 4 A, solar exporting 6 A on L2, L3 8 A
    cars = {"A": Car("a", max_a=16), "B": Car("b", max_a=16)}
    site = site_of(load, cars)
    device, entity_ids = dsmr_entities(hass)
    meter: dict[str, Any] = {
        "source": "p1",
        "role": "grid",
        "device_id": device.id,
        "p1_integration": "dsmr",
    }
    part_of = dict(DSMR_KEYS)
    meter |= {entity_field(part_of[key]): eid for key, eid in entity_ids.items()}
    on = [True]

    def publish(loop: Loop) -> None:
        if on[0]:
            telegram_states(hass, site, load, loop.time_s, entity_ids)

    # The meter has sent a telegram before Stekker starts.
    telegram_states(hass, site, load, 12 * 3600.0, entity_ids)
    chargers = {"A": entity_charger("A"), "B": entity_charger("B")}
    async with closed_loop(
        hass,
        site,
        chargers,
        site_data=limits(FUSE_A, GTV_KW),
        options=FAST,
        meter=meter,
    ) as loop:
        loop.publish.append(publish)
        loop.on_cycle.append(never_below_minimum)
        await loop.cycle(90)
        # Never over the fuse or the GTV, and the room is used: L3 is the
        # fullest, 25 A - 9 A (8 whole amperes at their worst) - the margin.
        assert site.longest_run_above(phase_a=FUSE_A, power_w=GTV_KW * 1000) == 0
        assert max(s.currents_a["l3"] for s in site.history) <= FUSE_A
        last = site.history[-1]
        assert sum(last.draws_a.values()) >= 14.0
        assert all(a > 6.0 for a in last.setpoints_a.values())
        assert issue(loop, "meter_stale") is None

        # The P1 stops: its numbers stay, "available". Within the stated
        # deadline the chargers are at their fail-safe current.
        on[0] = False
        commanded: list[bool] = []  # per second of silence: all at fail-safe?

        def fail_safe_commanded(loop: Loop) -> None:
            at_six = all(a == 6.0 for a in loop.setpoints().values())
            commanded.append(at_six and issue(loop, "meter_stale") is not None)

        loop.on_cycle.append(fail_safe_commanded)
        await loop.cycle(DEADLINE_S + 3)
        failed = commanded.index(True) + 1
        assert 5 < failed <= DEADLINE_S
        assert all(commanded[failed - 1 :])
        assert issue(loop, "meter_stale") is not None
        assert site.longest_run_above(phase_a=FUSE_A, power_w=GTV_KW * 1000) == 0

        # It comes back: balancing resumes by itself.
        on[0] = True
        await loop.cycle(5)
        assert issue(loop, "meter_stale") is None
