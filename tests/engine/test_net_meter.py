"""A meter's separate parts (import, export, unsigned currents) as one reading."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.stekker.engine.headroom import compute_headroom
from custom_components.stekker.engine.net_meter import (
    WHOLE_AMPERE_A,
    conservative_current,
    net_values,
)
from custom_components.stekker.engine.readings import (
    MONTH_PEAK,
    QUARTER_HOUR_AVG,
    MeterReading,
    ReadingError,
    check_reading,
)
from custom_components.stekker.engine.site import Site

SITE = Site(gtv_kw=17.0, phases=3, fuse_a=25.0, voltage_v=230.0, margin_kw=0.5)


def test_net_power_is_import_minus_export_in_total_and_per_phase() -> None:
    values = net_values(
        {
            "import_power": 1610.0,
            "export_power": 0.0,
            "import_power_l1": 2300.0,
            "export_power_l1": 0.0,
            "import_power_l2": 0.0,
            "export_power_l2": 1150.0,
            "current_l2": 5.0,
            "voltage_l2": 229.0,
            "quarter_hour_avg": 1200.0,
            "month_peak": 4200.0,
        },
        whole_amperes=False,
    )
    assert values == {
        "power_w": 1610.0,
        "power_l1_w": 2300.0,
        "power_l2_w": -1150.0,
        "current_l2_a": 5.0,
        "voltage_l2_v": 229.0,
        QUARTER_HOUR_AVG: 1200.0,
        MONTH_PEAK: 4200.0,
    }
    reading = MeterReading(values)
    assert reading.signed_current("l2") == -5.0


def test_a_signed_net_power_wins_and_import_alone_is_the_net() -> None:
    """HomeWizard gives a signed net power; a meter without an export sensor
    counts its import as the net (at worst it exports unseen)."""
    assert (
        net_values({"net_power": -300.0, "import_power": 50.0}, whole_amperes=False)[
            "power_w"
        ]
        == -300.0
    )
    assert net_values({"import_power_l3": 700.0}, whole_amperes=False) == {
        "power_l3_w": 700.0
    }


@pytest.mark.parametrize(
    ("amperes", "net_w", "expected"),
    [
        (12.0, 2700.0, 13.0),  # importing "12 A" may be 12.99 A
        (0.0, 10.0, 1.0),
        (12.0, None, 13.0),  # no phase power: counted as import
        (12.0, 0.0, 13.0),
        (12.0, -2700.0, 11.0),  # exporting "12 A" may be exporting 11.5 A
        (0.0, -100.0, 0.0),  # never past zero: the power says it exports
    ],
)
def test_whole_amperes_at_their_worst(
    amperes: float, net_w: float | None, expected: float
) -> None:
    assert conservative_current(amperes, net_w) == pytest.approx(expected)


def test_fine_currents_are_taken_as_they_are() -> None:
    values = net_values(
        {"current_l1": 10.48, "net_power_l1": 2400.0}, whole_amperes=False
    )
    assert values["current_l1_a"] == 10.48


@given(
    true_a=st.floats(-60.0, 60.0, allow_nan=False),
    rounding=st.sampled_from([math.trunc, round]),
)
def test_conservative_current_is_never_better_than_the_truth(
    true_a: float, rounding: object
) -> None:
    """Whether the meter truncates or rounds to whole amperes, the signed
    current used is at least the true one: the fuse never has less room than
    the reading leaves."""
    assert callable(rounding)
    shown = abs(rounding(true_a))
    net_w = true_a * 230.0
    parts = {"current_l1": float(shown), "net_power_l1": net_w}
    reading = MeterReading(net_values(parts, whole_amperes=True))
    signed = reading.signed_current("l1")
    assert signed is not None
    assert signed >= true_a - 1e-9
    assert signed - true_a <= 2 * WHOLE_AMPERE_A


def test_the_headroom_counts_the_worst_case_current() -> None:
    """A phase at 12 whole amperes on a 25 A fuse leaves 25 - 13 - margin."""
    parts = {
        "import_power": 3 * 2760.0,
        **{f"import_power_{p}": 2760.0 for p in ("l1", "l2", "l3")},
        **{f"current_{p}": 12.0 for p in ("l1", "l2", "l3")},
    }
    reading = MeterReading(net_values(parts, whole_amperes=True))
    headroom = compute_headroom(SITE, grid=reading)
    assert headroom.available_a["l1"] == pytest.approx(25.0 - 13.0 - SITE.margin_a)


@pytest.mark.parametrize("key", [QUARTER_HOUR_AVG, MONTH_PEAK])
@pytest.mark.parametrize("value", [-1.0, math.inf, 1e9])
def test_quarter_hour_values_that_cannot_be_true(key: str, value: float) -> None:
    with pytest.raises(ReadingError):
        check_reading(MeterReading({"power_w": 0.0, key: value}), SITE)


def test_import_and_export_both_above_zero_count_the_import_alone() -> None:
    """Two sensors of different moments (import new, export old) never read
    better than the import: the limits are guarded against the worse one."""
    values = net_values(
        {
            "import_power": 5000.0,
            "export_power": 3000.0,
            "import_power_l1": 900.0,
            "export_power_l1": 400.0,
            "import_power_l2": 0.0,
            "export_power_l2": 700.0,
        },
        whole_amperes=False,
    )
    assert values["power_w"] == 5000.0
    assert values["power_l1_w"] == 900.0
    assert values["power_l2_w"] == -700.0
