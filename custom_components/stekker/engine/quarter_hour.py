"""The quarter-hour import budget: grid operators bill the month's highest
15-minute average import (NL kW-max, the Belgian capacity tariff), so what
matters for the bill is the average over each clock quarter-hour, not a short
peak inside it. The phase fuses stay instantaneous limits; only the kW limit
may use what the current quarter still allows.
"""

from dataclasses import dataclass
from typing import Final

QUARTER_S: Final = 900.0
# The allowance spreads what is left over at least this long: the import
# cannot follow it at once (the cars' lag and a control cycle), so the last
# seconds of a quarter are not handed a large allowance it cannot take back.
MIN_REST_S: Final = 30.0
# The wall clock running ahead of the monotonic one by more than this between
# two samples is a clock step, not the jitter of when a sample is taken.
CLOCK_STEP_S: Final = 5.0


def allowance_kw(
    budget_kw: float, imported_kwh: float, into_s: float, min_rest_s: float = MIN_REST_S
) -> float:
    """The average import (kW) the rest of the quarter may have, so that the
    quarter's average stays within ``budget_kw``; never below 0.

    ``imported_kwh`` is what was imported in the first ``into_s`` seconds.
    """
    rest_s = max(QUARTER_S - into_s, min_rest_s)
    left_kwh = budget_kw * QUARTER_S / 3600.0 - imported_kwh
    return max(0.0, left_kwh * 3600.0 / rest_s)


def live_limit_kw(gtv_kw: float, limit_now_kw: float, allowance: float | None) -> float:
    """The kW limit for now: the lowest of the GTV, the limit now and the
    quarter's allowance (None without a budget)."""
    return min(gtv_kw, limit_now_kw, gtv_kw if allowance is None else allowance)


@dataclass(frozen=True, slots=True)
class QuarterImport:
    """The import of one clock quarter-hour so far.

    ``quarter`` numbers the quarter (its start in seconds since the epoch,
    divided by 900); ``at_s`` and ``kw`` are the time (on a monotonic clock) and
    import of the latest sample, ``into_s`` its seconds into the quarter (wall
    clock).
    """

    quarter: int
    imported_kwh: float
    at_s: float
    kw: float
    into_s: float = 0.0

    def average_kw(self, into_s: float) -> float:
        """The quarter's average import so far."""
        return self.imported_kwh * 3600.0 / into_s if into_s > 0.0 else self.kw


def track_import(
    last: QuarterImport | None,
    quarter: int,
    into_s: float,
    at_s: float,
    import_kw: float,
    meter_average_kw: float | None = None,
) -> tuple[QuarterImport, float | None]:
    """The import so far after a new sample, and the average (kW) of a quarter
    that ended since the last sample (None if none did).

    Between samples the import is taken as linear (trapezoid rule). A quarter
    joined late (at start-up) counts its unseen seconds at the first sample's
    import. A meter that reports the running quarter-hour average itself (a
    Belgian P1 meter) is taken at its word: ``meter_average_kw`` replaces the
    integration.
    """
    import_kw = max(0.0, import_kw)
    ended: float | None = None
    if meter_average_kw is not None:
        if last is not None and last.quarter != quarter:
            ended = last.imported_kwh * 4.0
        imported = max(0.0, meter_average_kw) * into_s / 3600.0
        return QuarterImport(quarter, imported, at_s, import_kw, into_s), ended
    if last is None:
        return QuarterImport(
            quarter, import_kw * into_s / 3600.0, at_s, import_kw, into_s
        ), None
    step_s = max(0.0, at_s - last.at_s)
    step_kwh = (last.kw + import_kw) / 2.0 * step_s / 3600.0
    if last.quarter == quarter:
        # A wall clock stepped forward skipped seconds of the quarter that the
        # monotonic step does not cover: they count at the import now.
        skipped_s = into_s - last.into_s - step_s
        if skipped_s <= CLOCK_STEP_S:
            skipped_s = 0.0
        imported = last.imported_kwh + step_kwh + import_kw * skipped_s / 3600.0
        return QuarterImport(quarter, imported, at_s, import_kw, into_s), None
    # The step crossed into this quarter: the part after its start is this
    # quarter's, the rest the last one's (skipped quarters are not known).
    share = min(1.0, into_s / step_s) if step_s > 0.0 else 1.0
    if quarter == last.quarter + 1:
        ended = (last.imported_kwh + step_kwh * (1.0 - share)) * 4.0
    else:
        ended = last.imported_kwh * 4.0
    unseen_kwh = import_kw * max(0.0, into_s - step_s) / 3600.0
    return (
        QuarterImport(quarter, step_kwh * share + unseen_kwh, at_s, import_kw, into_s),
        ended,
    )


@dataclass(frozen=True, slots=True)
class MonthPeak:
    """The month's highest quarter-hour average import; ``month`` is (year, month)."""

    month: tuple[int, int]
    peak_kw: float


def month_peak(
    last: MonthPeak | None,
    month: tuple[int, int],
    ended: tuple[tuple[int, int], float] | None = None,
    meter_peak_kw: float | None = None,
) -> MonthPeak:
    """The peak after a quarter ended (``ended``: its month and average).

    A new month starts from 0; a quarter of an earlier month does not count.
    A meter that keeps the month's peak itself (a Belgian P1 meter) raises it
    to its own figure.
    """
    peak = last if last is not None and last.month == month else MonthPeak(month, 0.0)
    if ended is not None and ended[0] == month and ended[1] > peak.peak_kw:
        peak = MonthPeak(month, ended[1])
    if meter_peak_kw is not None and meter_peak_kw > peak.peak_kw:
        peak = MonthPeak(month, meter_peak_kw)
    return peak
