"""Charging sessions through Home Assistant: the closed loop plugs cars in and out."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.stekker.const import DOMAIN, SUBENTRY_CARD
from simsite.cars import Car
from simsite.site import SimulatedSite, SiteSample

from .closed_loop import Loop, alfen_charger, closed_loop, entity_charger

DT_S = 10.0
SITE = {"gtv_kw": 50.0, "phases": 3, "fuse_a": 80.0, "voltage_v": 230.0}
TAG = "04A2B3C4"
# Wall time runs (asyncio and the Modbus client need it to) and jumps a control
# cycle with each step of the loop.
pytestmark = pytest.mark.freeze_time("2026-03-10 12:00:00", tick=True)


def building(watts: float) -> Any:
    return lambda _seconds: (watts, watts, watts)


def wallbox(**extra: Any) -> dict[str, Any]:
    return entity_charger(
        "Wallbox",
        status_entity="binary_sensor.wallbox_plugged",
        id_tag_entity="sensor.wallbox_id_tag",
        **extra,
    )


def plug(hass: HomeAssistant, loop: Loop, name: str, connected: bool) -> None:
    """A car arrives at or leaves a charger (and its plug sensor, if any, says so)."""
    loop.site.cars[name].connected = connected
    if name in loop.entity_chargers:
        hass.states.async_set(
            f"binary_sensor.{loop.entity_chargers[name]}_plugged",
            "on" if connected else "off",
        )


def ticking(loop: Loop, freezer: FrozenDateTimeFactory) -> None:
    """Wall time follows the loop's simulated time, one control cycle a step."""
    loop.dt_s = DT_S
    loop.on_cycle.append(lambda _: freezer.tick(timedelta(seconds=DT_S)))


def drawn_kwh(samples: Sequence[SiteSample], name: str, phases: int = 3) -> float:
    return sum(s.draws_a[name] * phases * 230.0 * s.dt_s for s in samples) / 3.6e6


def solar_kwh(samples: Sequence[SiteSample], name: str) -> float:
    """The README's rule: each step, the chargers' draw the grid did not supply,
    shared pro rata to their draw."""
    total = 0.0
    for s in samples:
        draws = {n: a * 3 * 230.0 / 1000.0 for n, a in s.draws_a.items()}
        together = sum(draws.values())
        if together > 0:
            solar = min(together, max(0.0, together - s.power_w / 1000.0))
            total += draws[name] * solar / together * s.dt_s / 3600.0
    return total


def book(loop: Loop) -> Any:
    return loop.entry.runtime_data.sessions.book


async def test_sessions_from_plug_in_to_plug_out(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A socket with an energy counter and a charger without one; the site
    exports 6 kW of solar, so part of what the cars draw is solar."""
    site = SimulatedSite(
        building(-2000.0),
        {
            "Alfen": Car("Alfen car", connected=False),
            "Wallbox": Car("Wb", connected=False),
        },
        alfen_sockets=1,
        start_s=12 * 3600.0,
    )
    hass.states.async_set("binary_sensor.wallbox_plugged", "off")
    hass.states.async_set("sensor.wallbox_id_tag", "unknown")
    chargers = {"Alfen": alfen_charger(1), "Wallbox": wallbox()}
    async with closed_loop(hass, site, chargers, site_data=SITE) as loop:
        ticking(loop, freezer)
        await loop.cycle(3)
        assert book(loop).open == {}
        plug(hass, loop, "Alfen", True)
        plug(hass, loop, "Wallbox", True)
        plugged_at = len(site.history)
        await loop.cycle(30)
        opened = book(loop).open
        assert set(opened) == set(loop.entry.runtime_data.balancer.chargers)
        plug(hass, loop, "Alfen", False)
        plug(hass, loop, "Wallbox", False)
        await loop.cycle(8)  # past the sensors' once-a-minute publishing
        closed = {s.charger: s for s in book(loop).closed}
        # The cycle that saw the plug opened the session; energy counts after it.
        during = site.history[plugged_at + 1 : plugged_at + 31]
        alfen, wb = closed["Alfen"], closed["Wallbox"]
        assert alfen.energy_source == "counter"
        assert wb.energy_source == "power"
        assert alfen.energy_kwh == pytest.approx(drawn_kwh(during, "Alfen"), rel=1e-3)
        assert wb.energy_kwh == pytest.approx(drawn_kwh(during, "Wallbox"), rel=1e-3)
        assert wb.energy_kwh > 0.5
        assert (wb.end - wb.start).total_seconds() == pytest.approx(30 * DT_S, abs=0.5)
        assert wb.peak_kw == pytest.approx(16.0 * 3 * 230.0 / 1000.0, rel=1e-3)
        for session, name in ((alfen, "Alfen"), (wb, "Wallbox")):
            assert session.solar_kwh == pytest.approx(solar_kwh(during, name), rel=1e-3)
            assert 0.0 < session.solar_kwh < session.energy_kwh
        assert wb.card is None and wb.cost is None  # no card known, no price set
        energy = hass.states.get("sensor.wallbox_charged_energy")
        assert energy is not None
        assert float(energy.state) == pytest.approx(wb.energy_kwh, abs=1e-3)
        assert energy.attributes["state_class"] == "total_increasing"
        assert energy.attributes["device_class"] == "energy"
        assert energy.attributes["unit_of_measurement"] == "kWh"
        month = hass.states.get("sensor.wallbox_energy_this_month")
        assert month is not None
        assert float(month.state) == pytest.approx(wb.energy_kwh, abs=1e-3)
        reset = datetime.fromisoformat(month.attributes["last_reset"])
        assert (reset.day, reset.hour, reset.minute) == (1, 0, 0)
        last = hass.states.get("sensor.alfen_last_session_energy")
        assert last is not None
        assert float(last.state) == pytest.approx(alfen.energy_kwh, abs=1e-3)
        assert last.attributes["energy_source"] == "counter"
        # No price sensor: no cost sensor.
        assert hass.states.get("sensor.wallbox_cost_this_month") is None


async def add_card(hass: HomeAssistant, loop: Loop, **data: Any) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (loop.entry.entry_id, SUBENTRY_CARD), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], data
    )
    await hass.async_block_till_done()
    return dict(result)


async def restarted(hass: HomeAssistant, loop: Loop) -> None:
    """The site set up again (a reload, or Home Assistant started again)."""
    if loop.entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(loop.entry.entry_id)
    assert await hass.config_entries.async_setup(loop.entry.entry_id)
    await hass.async_block_till_done()
    loop.entry.runtime_data.balancer.clock = loop.now


async def test_an_id_tag_brings_the_card_and_a_price_the_cost(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    site = SimulatedSite(
        building(1000.0), {"Wallbox": Car("Wb", connected=False)}, start_s=43200.0
    )
    hass.states.async_set("binary_sensor.wallbox_plugged", "off")
    hass.states.async_set("sensor.price", "250", {"unit_of_measurement": "EUR/MWh"})
    async with closed_loop(hass, site, {"Wallbox": wallbox()}, site_data=SITE) as loop:
        ticking(loop, freezer)
        result = await add_card(
            hass,
            loop,
            id_tag=" 04a2b3c4 ",
            name="Flat 12",
            need_kwh=80,
            departure="12:03:00",
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        options = await hass.config_entries.options.async_init(loop.entry.entry_id)
        options = await hass.config_entries.options.async_configure(
            options["flow_id"], {"next_step_id": "prices"}
        )
        options = await hass.config_entries.options.async_configure(
            options["flow_id"], {"price_entity": "sensor.price"}
        )
        assert options["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        await restarted(hass, loop)  # the reload after the options, with the clock
        # A price that is no number is no price (no car yet: nothing to price).
        for price in ("n/a", "nan"):
            hass.states.async_set(
                "sensor.price", price, {"unit_of_measurement": "EUR/MWh"}
            )
            await loop.cycle(1)
        hass.states.async_set("sensor.price", "250", {"unit_of_measurement": "EUR/MWh"})
        plug(hass, loop, "Wallbox", True)
        await loop.cycle(2)
        hass.states.async_set("sensor.wallbox_id_tag", "04A2B3C4")
        await loop.cycle(20)
        session = book(loop).open[next(iter(loop.entry.runtime_data.balancer.chargers))]
        assert (session.card, session.card_name) == (TAG, "Flat 12")
        assert session.need_kwh == 80
        assert session.departure is not None
        assert session.departure.strftime("%H:%M") == "12:03"
        assert session.cost == pytest.approx(session.energy_kwh * 0.25)
        plug(hass, loop, "Wallbox", False)
        await loop.cycle(7)
        (done,) = book(loop).closed
        # It left before its departure with less than it needed.
        assert done.by_departure_kwh is None
        assert done.need_met is False
        cost = hass.states.get("sensor.wallbox_cost_this_month")
        assert cost is not None
        assert float(cost.state) == pytest.approx(done.cost, abs=0.01)
        assert cost.attributes["device_class"] == "monetary"
        assert cost.attributes["unit_of_measurement"] == hass.config.currency


async def test_sessions_survive_a_restart(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_storage: dict[str, Any]
) -> None:
    site = SimulatedSite(
        building(1000.0),
        {"Wallbox": Car("Wb", connected=False), "Other": Car("O", connected=False)},
        start_s=43200.0,
    )
    for name in ("wallbox", "other"):
        hass.states.async_set(f"binary_sensor.{name}_plugged", "off")
    chargers = {
        "Wallbox": wallbox(),
        "Other": entity_charger("Other", status_entity="binary_sensor.other_plugged"),
    }
    async with closed_loop(hass, site, chargers, site_data=SITE) as loop:
        ticking(loop, freezer)
        key = f"{DOMAIN}.{loop.entry.entry_id}.sessions"
        plug(hass, loop, "Wallbox", True)
        plug(hass, loop, "Other", True)
        await loop.cycle(10)
        ids = {
            c.name: cid for cid, c in loop.entry.runtime_data.balancer.chargers.items()
        }
        before = {n: book(loop).open[i].energy_kwh for n, i in ids.items()}
        assert before["Wallbox"] > 0
        # Home Assistant stops: the Store's final write saves the open sessions.
        hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
        await hass.async_block_till_done()
        stored = hass_storage[key]["data"]["open"]
        assert {s["charger"]: s["energy_kwh"] for s in stored} == pytest.approx(before)
        # Down for ten minutes; meanwhile one car leaves.
        recorder = loop.entry.runtime_data.sessions
        await hass.config_entries.async_unload(loop.entry.entry_id)
        freezer.tick(timedelta(minutes=10))
        plug(hass, loop, "Other", False)
        last_seen = recorder.book.open[ids["Other"]].seen
        await restarted(hass, loop)
        # Still plugged in: the same session goes on.
        wallbox_session = book(loop).open[ids["Wallbox"]]
        assert wallbox_session.energy_kwh == pytest.approx(before["Wallbox"])
        await loop.cycle(5)
        assert wallbox_session.energy_kwh > before["Wallbox"]
        # Gone: closed with what was measured, when it was last seen.
        (other,) = book(loop).closed
        assert other.charger == "Other"
        assert other.end == last_seen
        assert other.energy_kwh == pytest.approx(before["Other"])
        # A charger removed while its car was plugged in: its session closes.
        hass.config_entries.async_remove_subentry(loop.entry, ids["Wallbox"])
        await hass.async_block_till_done()
        loop.entry.runtime_data.balancer.clock = loop.now
        assert book(loop).open == {}
        assert [s.charger for s in book(loop).closed] == ["Other", "Wallbox"]
    # The site removed: so are its sessions.
    await hass.config_entries.async_remove(loop.entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_an_energy_sensor_counts_for_a_charger_driven_through_an_entity(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    site = SimulatedSite(
        building(1000.0), {"Wallbox": Car("Wb", connected=False)}, start_s=43200.0
    )
    hass.states.async_set("binary_sensor.wallbox_plugged", "off")
    counter = {"kwh": 500.0}

    def publish(loop: Loop) -> None:
        """The charger's own counter, as the OCPP integration would report it."""
        car = loop.site.cars["Wallbox"]
        counter["kwh"] += car.draw_a * 3 * 230.0 * loop.dt_s / 3.6e6
        hass.states.async_set(
            "sensor.wallbox_energy",
            f"{counter['kwh'] * 1000:.1f}",
            {"unit_of_measurement": "Wh", "device_class": "energy"},
        )

    chargers = {"Wallbox": wallbox(energy_entity="sensor.wallbox_energy")}
    # Not a number at first: no counter reading yet.
    hass.states.async_set("sensor.wallbox_energy", "n/a", {"unit_of_measurement": "Wh"})
    async with closed_loop(hass, site, chargers, site_data=SITE) as loop:
        ticking(loop, freezer)
        publish(loop)
        loop.on_cycle.insert(0, publish)
        start_kwh = counter["kwh"]  # what the cycle that sees the plug reads
        plug(hass, loop, "Wallbox", True)
        await loop.cycle(21)
        end_kwh = counter["kwh"]  # what the next cycle reads
        await loop.cycle(1)
        plug(hass, loop, "Wallbox", False)
        hass.states.async_set("sensor.wallbox_energy", "unavailable")
        await loop.cycle(1)
        (session,) = book(loop).closed
        assert session.energy_source == "counter"
        assert session.energy_kwh == pytest.approx(end_kwh - start_kwh, abs=1e-3)
        assert session.energy_kwh > 0.3


@pytest.mark.parametrize(
    ("mode", "planned"), [("fast", True), ("solar", True), ("off", False)]
)
async def test_a_card_with_a_need_plans_its_car(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, mode: str, planned: bool
) -> None:
    """The card says 20 kWh by 07:30: the charger goes to mode planned (not
    from off) and the plan holds the card's need; the entities show it."""
    site = SimulatedSite(
        building(1000.0), {"Wallbox": Car("Wb", connected=False)}, start_s=43200.0
    )
    hass.states.async_set("binary_sensor.wallbox_plugged", "off")
    async with closed_loop(hass, site, {"Wallbox": wallbox()}, site_data=SITE) as loop:
        ticking(loop, freezer)
        await add_card(
            hass, loop, id_tag=TAG, name="Flat 12", need_kwh=20, departure="07:30:00"
        )
        await hass.async_block_till_done()
        await restarted(hass, loop)  # the reload after the new card
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": "select.wallbox_charging_mode", "option": mode},
            blocking=True,
        )
        plug(hass, loop, "Wallbox", True)
        await loop.cycle(2)
        charger = next(iter(loop.entry.runtime_data.balancer.chargers.values()))
        assert charger.charging.once_kwh is None  # no card yet
        hass.states.async_set("sensor.wallbox_id_tag", TAG)
        await loop.cycle(3)
        expected = "planned" if planned else mode
        assert hass.states.get("select.wallbox_charging_mode").state == expected
        plan = loop.entry.runtime_data.planner.current
        assert plan is not None
        if not planned:
            assert plan.cars == {}
            return
        car = plan.cars[charger.spec.id]
        # 20 kWh for the whole session, less what it got since the plug-in.
        assert car.need_kwh == pytest.approx(
            20.0 - charger.charging.session_kwh, abs=0.05
        )
        # 07:30 local (the test's UTC-7) after 12:00 UTC (05:00 local): today.
        assert car.departure == datetime.fromisoformat("2026-03-10T14:30:00+00:00")
        need = hass.states.get("number.wallbox_energy_need")
        assert (float(need.state), need.attributes["one_off"]) == (20.0, True)
        assert hass.states.get("time.wallbox_departure").state == "07:30:00"

        # An action's one-off need is not overridden by the card; the car
        # leaving ends the card's need.
        plug(hass, loop, "Wallbox", False)
        hass.states.async_set("sensor.wallbox_id_tag", "unknown")
        await loop.cycle(3)
        assert charger.charging.once_kwh is None
        await hass.services.async_call(
            DOMAIN,
            "set_charging_need",
            {
                "entity_id": "select.wallbox_charging_mode",
                "energy_kwh": 5.0,
                "departure": "2026-03-10T23:00:00+00:00",
            },
            blocking=True,
        )
        plug(hass, loop, "Wallbox", True)
        await loop.cycle(2)
        hass.states.async_set("sensor.wallbox_id_tag", TAG)
        await loop.cycle(3)
        assert book(loop).open[charger.spec.id].card == TAG
        assert float(hass.states.get("number.wallbox_energy_need").state) == 5.0
