"""A Belgian P1 meter's own quarter-hour average and month peak (DSMR 5B,
read by the core dsmr integration) take the place of Stekker's integration
for the quarter-hour budget."""

import pytest
from homeassistant.core import HomeAssistant

from .dsmr_stream import P1Stream
from .p1_meters import dsmr_device, dsmr_meter, enable_all, meter_state, publish
from .test_p1_meter import pick_p1, stream  # noqa: F401  (the stream fixture)

# dsmr_parser's keep-alive timer outlives the connection it watched.
pytestmark = pytest.mark.parametrize("expected_lingering_timers", [True])

PHASES = {"l1": (2.3, 0.0, 10.48), "l2": (0.0, 1.15, 5.02), "l3": (0.5, 0.0, 2.2)}


def value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_the_meters_average_and_peak_replace_the_integration(
    hass: HomeAssistant,
    stream: P1Stream,  # noqa: F811
) -> None:
    dsmr = await dsmr_meter(hass, stream, "5B", {"time_between_update": 0})
    state = meter_state(PHASES, quarter_hour_kw=2.351, month_peak_kw=3.589)
    await publish(hass, stream, state, belgian=True)
    await enable_all(hass, dsmr, stream)
    await publish(hass, stream, state, belgian=True)
    result = await pick_p1(hass, dsmr_device(hass, dsmr).id)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "save"}
    )
    entry = result["result"]
    await hass.async_block_till_done()
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "quarter_budget_kw": 5.0}
    )
    await hass.async_block_till_done()  # reloaded with the budget
    for meter in entry.runtime_data.meters.values():
        await meter.async_refresh()
    await hass.async_block_till_done()

    # The meter says 2.351 kW so far this quarter, whatever the 1.65 kW now.
    assert value(hass, "sensor.office_quarter_hour_average_demand") == pytest.approx(
        2.351
    )
    assert value(hass, "sensor.office_month_peak_demand") == pytest.approx(3.589)
    quarter = entry.runtime_data.headroom.quarter
    assert quarter is not None
    assert quarter.month_peak_kw(entry.runtime_data.headroom.wall_clock()) == (
        pytest.approx(3.589)
    )
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(dsmr.entry_id)
