"""Charging modes and needs through Home Assistant: entities, actions, restarts."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_RECONFIGURE
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    mock_restore_cache,
    mock_restore_cache_with_extra_data,
)

from custom_components.stekker.balancer import Charger
from custom_components.stekker.charging import ChargingState
from custom_components.stekker.const import DOMAIN
from custom_components.stekker.diagnostics import async_get_config_entry_diagnostics
from custom_components.stekker.engine.modes import ChargeMode
from custom_components.stekker.engine.plan import CarPlan
from custom_components.stekker.planner import ChargerPlan, SitePlan
from simsite.cars import Car
from simsite.site import SimulatedSite

from .closed_loop import Loop, closed_loop, entity_charger, follow_clock

START = datetime.fromisoformat("2026-06-01T10:00:00+00:00")
PLUG = "binary_sensor.car_plugged"


def flat(_seconds: float) -> tuple[float, float, float]:
    return (1000.0, 1000.0, 1000.0)


def one_car() -> tuple[SimulatedSite, dict[str, dict[str, Any]]]:
    site = SimulatedSite(flat, {"Car": Car("car")}, start_s=10 * 3600.0)
    return site, {"Car": entity_charger("Car", status_entity=PLUG)}


def the_charger(loop: Loop) -> Charger:
    (charger,) = loop.entry.runtime_data.balancer.chargers.values()
    return charger


def device_id(hass: HomeAssistant, loop: Loop) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, the_charger(loop).spec.id), loop.entry.entry_id
    )
    assert device is not None
    return device.id


async def call(hass: HomeAssistant, service: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        service,
        data,
        blocking=True,
        return_response=service == "get_plan",
    )


@pytest.fixture
def plugged(hass: HomeAssistant) -> None:
    hass.states.async_set(PLUG, "on")


@pytest.mark.usefixtures("plugged")
async def test_entities_start_at_the_defaults(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await loop.cycle()
        assert hass.states.get("select.car_charging_mode").state == "fast"
        assert hass.states.get("time.car_departure").state == "07:30:00"
        assert hass.states.get("number.car_energy_need").state == "20.0"
        # Fast: not planned, nothing to show.
        assert hass.states.get("sensor.car_planned_power").state == "unknown"
        assert hass.states.get("binary_sensor.car_will_not_make_it").state == "off"
        assert hass.states.get("sensor.office_planned_charging_energy_next_24_h")
        assert hass.states.get("calendar.office_charging_plan").state == "off"


@pytest.mark.usefixtures("plugged")
async def test_a_planned_car_is_planned_and_shown(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await hass.services.async_call(
            "time",
            "set_value",
            {"entity_id": "time.car_departure", "time": "18:00:00"},
            blocking=True,
        )
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": "select.car_charging_mode", "option": "planned"},
            blocking=True,
        )
        await loop.cycle(2)  # the planner's debounce
        # 20 kWh at 11.04 kW (16 A on three phases): 1.81 h from 10:00, as early
        # as it can.
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        made_at = plan.made_at  # a second or two after 10:00, once debounced
        power = hass.states.get("sensor.car_planned_power")
        assert float(power.state) == pytest.approx(11.04, abs=0.01)
        first = power.attributes["plan"][0]
        assert dt_util.parse_datetime(first["start"]) == made_at
        assert first["power_kw"] == pytest.approx(11.04, abs=0.01)
        # 20 kWh less the little counted in the cycles after the car was planned.
        assert power.attributes["need_kwh"] == pytest.approx(20.0, abs=0.01)
        assert float(
            hass.states.get("sensor.car_expected_energy_at_departure").state
        ) == pytest.approx(20.0, abs=0.01)
        done = dt_util.parse_datetime(
            hass.states.get("sensor.car_expected_completion").state
        )
        assert done == START + timedelta(hours=2)  # the end of the slot it ends in
        assert float(
            hass.states.get("sensor.office_planned_charging_energy_next_24_h").state
        ) == pytest.approx(20.0, abs=0.01)
        events = await hass.services.async_call(
            "calendar",
            "get_events",
            {
                "entity_id": "calendar.office_charging_plan",
                "start_date_time": START.isoformat(),
                "end_date_time": (START + timedelta(days=1)).isoformat(),
            },
            blocking=True,
            return_response=True,
        )
        (event,) = events["calendar.office_charging_plan"]["events"]
        assert event["summary"] == "Car: 20.0 kWh"
        assert dt_util.parse_datetime(event["start"]) == made_at
        assert dt_util.parse_datetime(event["end"]) == START + timedelta(hours=2)
        assert hass.states.get("calendar.office_charging_plan").state == "on"
        response = await call(hass, "get_plan", entity_id="select.car_charging_mode")
        (site_plan,) = response["sites"]
        (car,) = site_plan["chargers"]
        assert car["charger"] == "Car"
        assert car["energy_kwh"] == pytest.approx(20.0, abs=0.01)
        # 18:00 in the test's time zone (UTC-7) is 01:00 UTC the next day.
        assert car["departure"] == "2026-06-02T01:00:00+00:00"
        everything = await call(hass, "get_plan")
        assert everything == response


@pytest.mark.usefixtures("plugged")
async def test_a_need_that_cannot_be_met_is_said(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        charger = the_charger(loop)
        await call(
            hass,
            "set_charging_need",
            device_id=device_id(hass, loop),
            energy_kwh=30.0,
            departure=(START + timedelta(hours=1)).isoformat(),
        )
        assert charger.charging.mode is ChargeMode.PLANNED
        assert hass.states.get("select.car_charging_mode").state == "planned"
        # One hour at 11.04 kW: 18.96 kWh short of 30.
        sensor = hass.states.get("binary_sensor.car_will_not_make_it")
        assert sensor.state == "on"
        assert sensor.attributes["shortfall_kwh"] == pytest.approx(18.96, abs=0.01)
        issue_id = f"{loop.entry.entry_id}_plan_shortfall_{charger.spec.id}"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_placeholders["shortfall"] == "19.0"
        assert issue.translation_placeholders["need"] == "30.0"
        await call(hass, "clear_charging_need", entity_id="select.car_charging_mode")
        assert charger.charging.once_kwh is None
        assert hass.states.get("binary_sensor.car_will_not_make_it").state == "off"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.usefixtures("plugged")
async def test_the_need_entities_show_the_need_in_effect(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A one-off need shows on Energy need and Departure while it lasts (the
    usual ones as attributes); set there, it changes; when the car leaves the
    usual ones show again."""
    freezer.move_to(START)
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await loop.cycle(5)  # the car charges fast: the session has energy
        charging = the_charger(loop).charging
        assert charging.session_kwh > 0.0
        await call(
            hass,
            "set_charging_need",
            entity_id="number.car_energy_need",
            energy_kwh=30.0,
            departure="2026-06-02T09:15:00",  # local (UTC-7)
        )
        need = hass.states.get("number.car_energy_need")
        assert float(need.state) == pytest.approx(30.0)  # as asked
        assert need.attributes["usual_need_kwh"] == 20.0
        assert need.attributes["one_off"] is True
        departure = hass.states.get("time.car_departure")
        assert departure.state == "09:15:00"
        assert departure.attributes["usual_departure"] == "07:30:00"
        assert departure.attributes["one_off_departure"] == "2026-06-02T16:15:00+00:00"

        # Set on the entities: the need in effect changes, the usual stays.
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_energy_need", "value": 25.0},
            blocking=True,
        )
        await hass.services.async_call(
            "time",
            "set_value",
            {"entity_id": "time.car_departure", "time": "06:00:00"},
            blocking=True,
        )
        assert float(hass.states.get("number.car_energy_need").state) == 25.0
        assert hass.states.get("time.car_departure").state == "06:00:00"
        assert (charging.need_kwh, charging.departure.isoformat()) == (20.0, "07:30:00")
        # 06:00 local on the one-off departure's day, 2 June (13:00 UTC).
        assert charging.once_departure == datetime.fromisoformat(
            "2026-06-02T13:00:00+00:00"
        )
        await loop.cycle(2)  # the planner's debounce
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        # 25 kWh asked; what came in since counts towards it.
        car = plan.cars[the_charger(loop).spec.id]
        assert car.need_kwh == pytest.approx(
            25.0 - (charging.session_kwh - charging.once_from_kwh), abs=0.05
        )

        hass.states.async_set(PLUG, "off")
        await loop.cycle()
        need = hass.states.get("number.car_energy_need")
        assert (float(need.state), need.attributes["one_off"]) == (20.0, False)
        departure = hass.states.get("time.car_departure")
        assert departure.state == "07:30:00"
        assert departure.attributes["one_off_departure"] is None
        # Set now, it is the usual need again.
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_energy_need", "value": 15.0},
            blocking=True,
        )
        assert charging.need_kwh == 15.0


@pytest.mark.usefixtures("plugged")
async def test_a_target_soc_becomes_an_energy_and_a_need_ends_when_the_car_leaves(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    hass.states.async_set("sensor.car_soc", "35", {"unit_of_measurement": "%"})
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await loop.cycle()
        charger = the_charger(loop)
        await call(
            hass,
            "set_charging_need",
            entity_id="number.car_energy_need",
            target_soc=80,
            battery_kwh=60,
            soc_entity="sensor.car_soc",
            departure="2026-06-01T13:00:00",  # local (UTC-7): 20:00 UTC
        )
        assert charger.charging.once_departure == datetime.fromisoformat(
            "2026-06-01T20:00:00+00:00"
        )
        # (80 - 35) % of 60 kWh.
        assert charger.charging.remaining_kwh(dt_util.utcnow()) == pytest.approx(27.0)
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        assert plan.cars[charger.spec.id].need_kwh == pytest.approx(27.0)
        hass.states.async_set(PLUG, "off")
        await loop.cycle()
        assert charger.charging.once_kwh is None
        assert charger.charging.once_departure is None
        await loop.cycle(2)  # the planner's debounce
        # Gone from the plan: it plans only cars that may be plugged in.
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        assert plan.cars == {}


@pytest.mark.usefixtures("plugged")
async def test_charge_now_runs_fast_until_its_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    site, chargers = one_car()
    quick = {"hysteresis_s": 2.0, "min_write_interval_s": 2.0, "ramp_step_a": 10.0}
    async with closed_loop(hass, site, chargers, grid="total", options=quick) as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        charger = the_charger(loop)
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": "select.car_charging_mode", "option": "off"},
            blocking=True,
        )
        await call(
            hass,
            "charge_now",
            device_id=device_id(hass, loop),
            until=(START + timedelta(minutes=10)).isoformat(),
        )
        now = dt_util.utcnow()
        assert charger.charging.effective_mode(now) is ChargeMode.FAST
        await loop.cycle(8)
        assert site.history[-1].setpoints_a["Car"] == 16.0
        freezer.tick(timedelta(minutes=11))
        await loop.cycle(2)
        assert site.history[-1].setpoints_a["Car"] == 0.0
        assert charger.charging.now_until is None
        # Charge now until an energy is in.
        await call(hass, "charge_now", device_id=device_id(hass, loop), energy_kwh=0.1)
        await loop.cycle(40)  # 11 kW for 33 s and a ramp
        assert site.history[-1].setpoints_a["Car"] == 0.0
        assert charger.charging.now_kwh is None


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    (
        "set_charging_need",
        {"energy_kwh": 5, "departure": "2026-06-02T07:00:00"},
        "charger_required",
    ),
    (
        "set_charging_need",
        {
            "entity_id": "sensor.unknown_thing",
            "energy_kwh": 5,
            "departure": "2026-06-02T07:00:00",
        },
        "charger_not_found",
    ),
    (
        "set_charging_need",
        {"entity_id": "select.car_charging_mode", "departure": "2026-06-02T07:00:00"},
        "need_required",
    ),
    (
        "set_charging_need",
        {
            "entity_id": "select.car_charging_mode",
            "energy_kwh": 5,
            "target_soc": 80,
            "departure": "2026-06-02T07:00:00",
        },
        "need_required",
    ),
    (
        "set_charging_need",
        {
            "entity_id": "select.car_charging_mode",
            "energy_kwh": 5,
            "departure": "2026-06-01T09:00:00+00:00",
        },
        "time_passed",
    ),
    (
        "set_charging_need",
        {
            "entity_id": "select.car_charging_mode",
            "target_soc": 80,
            "departure": "2026-06-02T07:00:00",
        },
        "soc_needs_battery",
    ),
    (
        "set_charging_need",
        {
            "entity_id": "select.car_charging_mode",
            "target_soc": 80,
            "battery_kwh": 60,
            "soc_entity": "sensor.car_soc",
            "departure": "2026-06-02T07:00:00",
        },
        "soc_unavailable",
    ),
    ("charge_now", {"entity_id": "select.car_charging_mode"}, "charge_now_needs_end"),
    (
        "charge_now",
        {"entity_id": "select.car_charging_mode", "until": "2026-06-01T09:00:00+00:00"},
        "time_passed",
    ),
    ("get_plan", {"device_id": "nope"}, "charger_not_found"),
]


@pytest.mark.usefixtures("plugged")
async def test_bad_calls_raise_translated_errors_and_change_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    hass.states.async_set("sensor.car_soc", "unavailable")
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        charger = the_charger(loop)
        before = charger.charging.as_dict(), charger.charging.mode
        for service, data, key in BAD_CALLS:
            with pytest.raises(ServiceValidationError) as err:
                await call(hass, service, **data)
            assert err.value.translation_key == key, service
            assert err.value.translation_domain == DOMAIN
            # The message is the translated one, not the key.
            assert str(err.value) and key not in str(err.value)
            assert (charger.charging.as_dict(), charger.charging.mode) == before


async def test_restart_restores_modes_and_needs(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    departure = "2026-06-01T22:00:00+00:00"
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("select.car_charging_mode", "planned"),
                {
                    "once_kwh": 12.0,
                    "once_departure": departure,
                    "now_until": None,
                    "now_kwh": None,
                    "session_kwh": 2.0,
                    "now_from_kwh": 0.0,
                    "plugged": True,
                },
            ),
            (State("time.car_departure", "06:45:00"), {}),
            (
                State("number.car_energy_need", "35.0"),
                {
                    "native_max_value": 200.0,
                    "native_min_value": 0.0,
                    "native_step": 0.5,
                    "native_unit_of_measurement": "kWh",
                    "native_value": 35.0,
                },
            ),
        ],
    )
    hass.states.async_set(PLUG, "on")
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        charging = the_charger(loop).charging
        assert charging.mode is ChargeMode.PLANNED
        assert charging.need_kwh == 35.0
        assert charging.departure.isoformat() == "06:45:00"
        assert charging.once_departure == dt_util.parse_datetime(departure)
        # 12 kWh asked, 2 in before the restart.
        assert charging.remaining_kwh(dt_util.utcnow()) == pytest.approx(10.0)
        # The one-off departure shows (22:00 UTC is 15:00 in UTC-7).
        departure_state = hass.states.get("time.car_departure")
        assert departure_state.state == "15:00:00"
        assert departure_state.attributes["usual_departure"] == "06:45:00"
        assert hass.states.get("select.car_charging_mode").state == "planned"
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        assert plan.cars[the_charger(loop).spec.id].need_kwh == pytest.approx(10.0)
        diagnostics = await async_get_config_entry_diagnostics(hass, loop.entry)
        (shown,) = diagnostics["balancer"]["chargers"]
        assert shown["charging"]["mode"] == "planned"
        assert shown["charging"]["departure"] == "06:45:00"
        assert shown["charging"]["once_kwh"] == 12.0


async def test_restart_during_a_one_off_need_keeps_the_usual_need(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The entities showed the one-off need; the usual one was an attribute."""
    freezer.move_to(START)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("select.car_charging_mode", "planned"),
                {
                    "once_kwh": 14.0,
                    "once_departure": "2026-06-01T22:00:00+00:00",
                    "once_from_kwh": 2.0,
                    "session_kwh": 3.0,
                    "plugged": True,
                },
            ),
            (
                State(
                    "time.car_departure", "15:00:00", {"usual_departure": "06:45:00"}
                ),
                {},
            ),
            (
                State("number.car_energy_need", "12.0", {"usual_need_kwh": 35.0}),
                {"native_value": 12.0},
            ),
        ],
    )
    hass.states.async_set(PLUG, "on")
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        charging = the_charger(loop).charging
        assert (charging.need_kwh, charging.departure.isoformat()) == (35.0, "06:45:00")
        assert float(hass.states.get("number.car_energy_need").state) == 12.0
        assert charging.remaining_kwh(dt_util.utcnow()) == pytest.approx(11.0)


async def test_a_one_off_departure_set_earlier_than_now_on_its_day_moves_a_day(
    hass: HomeAssistant,  # the test time zone, UTC-7
) -> None:
    """The one-off departure is 23:00 today; 01:00 today has passed, so 01:00
    means the night after."""
    now = datetime.fromisoformat("2026-06-01T10:00:00+00:00")  # 03:00 local
    charging = ChargingState()
    charging.set_need(10.0, datetime.fromisoformat("2026-06-02T06:00:00+00:00"))
    charging.set_departure_in_effect(
        datetime.fromisoformat("2026-06-01T01:00").time(), now
    )
    assert charging.once_departure == datetime.fromisoformat(
        "2026-06-02T08:00:00+00:00"
    )


async def test_restore_of_unknown_states_keeps_the_defaults(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    mock_restore_cache(
        hass,
        [
            State("time.car_departure", "unknown"),
            State("select.car_charging_mode", "unavailable"),
        ],
    )
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        charging = the_charger(loop).charging
        assert charging.mode is ChargeMode.FAST
        assert charging.departure.isoformat() == "07:30:00"


@pytest.mark.usefixtures("plugged")
async def test_a_departure_time_already_passed_today_is_tomorrows(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)  # 03:00 in the test's time zone (UTC-7)
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await hass.services.async_call(
            "time",
            "set_value",
            {"entity_id": "time.car_departure", "time": "01:00:00"},
            blocking=True,
        )
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": "select.car_charging_mode", "option": "planned"},
            blocking=True,
        )
        await loop.cycle(2)
        response = await call(hass, "get_plan")
        (car,) = response["sites"][0]["chargers"]
        assert car["departure"] == "2026-06-02T08:00:00+00:00"
        # Lowering the user's maximum plans again: 10 A on three phases.
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.car_maximum_current", "value": 10},
            blocking=True,
        )
        await loop.cycle(2)
        response = await call(hass, "get_plan")
        (car,) = response["sites"][0]["chargers"]
        assert car["slots"][0]["power_kw"] == pytest.approx(6.9)


def test_a_passed_departure_starts_a_new_need_without_a_plug_sensor() -> None:
    """A charger that cannot tell when a car leaves: the usual need comes back
    once the departure has passed, so tomorrow's car is planned too."""
    charging = ChargingState(need_kwh=20.0)
    morning = datetime.fromisoformat("2026-06-01T18:00:00+00:00")  # 11:00 local
    charging.observe(None, 0.0, morning)
    due = charging.due
    assert due == datetime.fromisoformat("2026-06-02T14:30:00+00:00")  # 07:30 local
    charging.observe(None, 20.0, morning + timedelta(hours=8))
    assert charging.remaining_kwh(morning) == 0.0
    charging.set_need(5.0, due - timedelta(hours=1))
    assert charging.once_kwh == 25.0
    # The departure passes: a new session, the one-off need gone.
    assert charging.observe(None, 0.0, due + timedelta(seconds=1))
    assert charging.session_kwh == 0.0
    assert charging.once_kwh is None
    assert charging.remaining_kwh(due) == 20.0
    assert charging.due == due + timedelta(days=1)


async def test_two_planned_cars_and_a_device_that_is_no_charger(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    site = SimulatedSite(flat, {"A": Car("a"), "B": Car("b")}, start_s=10 * 3600.0)
    chargers = {"A": entity_charger("A"), "B": entity_charger("B")}
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        for slug in ("a", "b"):
            await call(
                hass,
                "set_charging_need",
                entity_id=f"select.{slug}_charging_mode",
                energy_kwh=40.0,
                departure=(START + timedelta(hours=2)).isoformat(),
            )
        response = await call(hass, "get_plan", entity_id="time.b_departure")
        (car,) = response["sites"][0]["chargers"]
        assert car["charger"] == "B"
        # Both short: 2 h at 11.04 kW is 22.1 kWh of the 40 each asks.
        assert car["shortfall_kwh"] == pytest.approx(40 - 2 * 11.04, abs=0.05)
        issues = {
            issue_id
            for (domain, issue_id) in ir.async_get(hass).issues
            if domain == DOMAIN and "plan_shortfall" in issue_id
        }
        assert len(issues) == 2
        # The site's own device is no charger.
        site_device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, loop.entry.entry_id), loop.entry.entry_id
        )
        assert site_device is not None
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, "clear_charging_need", device_id=site_device.id)
        assert err.value.translation_key == "charger_not_found"
    # Unloaded: nothing plans the site, so its notices go.
    assert not any(
        domain == DOMAIN and "plan_shortfall" in issue_id
        for (domain, issue_id) in ir.async_get(hass).issues
    )


def test_a_plan_gives_no_slot_outside_its_horizon() -> None:
    plan = SitePlan(
        made_at=START,
        bounds=((START, START + timedelta(minutes=15)),),
        cars={
            "a": ChargerPlan(
                need_kwh=1.0,
                departure=START + timedelta(minutes=15),
                plan=CarPlan(
                    power_kw=(4.0,), energy_kwh=1.0, shortfall_kwh=0.0, done_slot=0
                ),
            )
        },
    )
    assert plan.slot("a", START) is not None
    assert plan.slot("a", START + timedelta(minutes=15)) is None
    assert plan.slot("b", START) is None


@pytest.mark.usefixtures("plugged")
async def test_the_car_of_a_charger_is_charged_to_its_target_soc(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Reconfigure gives a charger its usual car's battery and SoC sensor: the
    plan then fills the battery to its target instead of the usual need; the
    battery without its sensor is refused and changes nothing."""
    freezer.move_to(START)
    hass.states.async_set("sensor.ev_soc", "40", {"unit_of_measurement": "%"})
    site, chargers = one_car()
    async with closed_loop(hass, site, chargers, grid="total") as loop:
        charger = the_charger(loop)
        subentry_id = charger.spec.id
        limits = {
            key: str(value) if key == "phases" else value
            for key, value in chargers["Car"].items()
            if key in ("phases", "phase", "min_a", "max_a", "priority", "fail_safe_a")
        }
        result = await hass.config_entries.subentries.async_init(
            (loop.entry.entry_id, "charger"),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {**limits, "battery_kwh": 60}
        )
        assert result["errors"] == {"base": "car_needs_battery_and_soc"}
        assert "battery_kwh" not in loop.entry.subentries[subentry_id].data
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {
                **limits,
                "battery_kwh": 60,
                "soc_entity": "sensor.ev_soc",
                "target_soc": 90,
            },
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()  # the site reloads with it
        data = loop.entry.subentries[subentry_id].data
        assert (data["battery_kwh"], data["target_soc"]) == (60.0, 90.0)
        loop.entry.runtime_data.balancer.clock = loop.now
        loop.on_cycle.append(follow_clock(freezer, fire=True))
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": "select.car_charging_mode", "option": "planned"},
            blocking=True,
        )
        await loop.cycle(2)
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        # (90 - 40) % of 60 kWh.
        assert plan.cars[subentry_id].need_kwh == pytest.approx(30.0)
        # A SoC the sensor does not have now: the usual need.
        hass.states.async_set("sensor.ev_soc", "unavailable")
        await loop.entry.runtime_data.planner.async_refresh()
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        assert plan.cars[subentry_id].need_kwh == pytest.approx(20.0, abs=0.05)
