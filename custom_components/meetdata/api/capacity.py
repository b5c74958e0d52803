"""Quarter-hour average import power: what the capacity tariff counts.

The Flemish capacity tariff (and the Dutch kW-max of large connections)
bills the highest quarter-hour average power of a month. A quarter's average
power is its import amount (kWh) times four. Amounts of a finer grid (5
minutes, a minute) are added up per quarter first; a quarter counts only when
its intervals cover it completely. Coarser amounts (an hour, a day) give no
quarter-hour power at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
import math

from .models import Interval, IntervalSeries, Quality, Quantity

QUARTER = timedelta(minutes=15)
_QUARTER_S = 900
#: Quarters that count towards a peak: read (measured) or validated values.
PEAK_QUALITIES = frozenset({Quality.MEASURED, Quality.VALIDATED})


def _quarter_of(moment: datetime) -> int:
    ts = int(moment.timestamp())
    return ts - ts % _QUARTER_S


def quarter_hour_powers(intervals: Iterable[Interval]) -> list[Interval]:
    """Return the average power (kW) of every completely covered quarter hour.

    ``intervals`` are import amounts in kWh of at most a quarter hour each,
    none crossing a quarter boundary. A quarter is ESTIMATED when any of its
    parts is not read or validated. Repeated starts: the last one wins.
    """
    by_start: dict[datetime, Interval] = {}
    for item in intervals:
        span = item.end - item.start
        if span <= timedelta(0) or span > QUARTER or not math.isfinite(item.value):
            continue
        by_start[item.start] = item
    acc: dict[int, list[float]] = {}
    for item in by_start.values():
        quarter = _quarter_of(item.start)
        if item.end.timestamp() > quarter + _QUARTER_S:
            continue
        slot = acc.setdefault(quarter, [0.0, 0.0, 0.0])
        slot[0] += item.value
        slot[1] += (item.end - item.start).total_seconds()
        if item.quality not in PEAK_QUALITIES:
            slot[2] = 1.0
    result: list[Interval] = []
    for quarter in sorted(acc):
        amount, covered, estimated = acc[quarter]
        if covered < _QUARTER_S:
            continue
        start = datetime.fromtimestamp(quarter, UTC)
        result.append(
            Interval(
                start,
                start + QUARTER,
                amount * 4,
                Quality.ESTIMATED if estimated else Quality.MEASURED,
            )
        )
    return result


def quarter_hour_power_series(
    series: Iterable[IntervalSeries],
) -> IntervalSeries | None:
    """Return the quarter-hour power of the import series among ``series``.

    A provider's own quarter-hour power series is returned as it is; else it
    is derived from quarter-hour (or finer) import amounts. None: neither.
    """
    imports: IntervalSeries | None = None
    for item in series:
        if item.quantity is Quantity.QUARTER_HOUR_POWER:
            return item
        if item.quantity is Quantity.ENERGY_IMPORT:
            imports = item
    if imports is None or not imports.intervals:
        return None
    powers = quarter_hour_powers(imports.intervals)
    if not powers:
        return None
    return IntervalSeries(imports.meter_key, Quantity.QUARTER_HOUR_POWER, powers)


def read_only(series: IntervalSeries) -> IntervalSeries:
    """Return ``series`` without the quarters that are not read or validated."""
    return IntervalSeries(
        series.meter_key,
        series.quantity,
        [item for item in series.intervals if item.quality in PEAK_QUALITIES],
    )
