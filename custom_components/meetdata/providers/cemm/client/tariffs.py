"""P1 energy per tariff: fitted hours divided by the tariff registers' increase.

The CEMM's minute data carry no tariff, its totals endpoint gives the four
P1 registers (t1/t2 import low/normal, t3/t4 export low/normal) at the end of
each local day. Between two such readings the fitted import (export) hours
add up to t1 + t2 (t3 + t4); api/tariffs.py divides them over the tariffs so
that each tariff adds up to its own register's increase.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import itertools
from typing import Final

from ....api.models import Interval
from ....api.tariffs import adds_up, split_day
from .parse import TIMEZONE, CemmValues

#: The P1 tariff registers.
TARIFF_REGISTERS: Final = ("t1", "t2", "t3", "t4")

#: A span between two readings longer than the longest local day (25 h)
#: misses a day's reading: its days get no rows per tariff.
MAX_SPAN: Final = timedelta(hours=25)

_HOUR: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class TariffReading:
    """The four P1 tariff registers (kWh) read at one moment."""

    timestamp: datetime
    values: dict[str, float]


def tariff_readings(answers: Iterable[CemmValues]) -> list[TariffReading]:
    """Return the totals answers that hold all four registers, one per moment, sorted.

    A register the CEMM has no reading of (0 where an import or export
    register should be) gives increases the fitted hours do not add up to,
    so ``split_tariffs`` leaves its spans out.
    """
    by_moment: dict[datetime, TariffReading] = {}
    for answer in answers:
        items = [answer.values.get(name) for name in TARIFF_REGISTERS]
        present = [item for item in items if item is not None]
        if len(present) < len(TARIFF_REGISTERS):
            continue
        moment = max(item.timestamp for item in present)
        values = {name: answer.values[name].value for name in TARIFF_REGISTERS}
        by_moment[moment] = TariffReading(moment, values)
    return [by_moment[moment] for moment in sorted(by_moment)]


def _hour(moment: datetime) -> datetime:
    """Return the start of the UTC hour ``moment`` falls in."""
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % 3600, UTC)


def split_tariffs(
    intervals: Sequence[Interval],
    readings: Sequence[TariffReading],
    low: str,
    normal: str,
) -> tuple[list[Interval], list[Interval]]:
    """Return hourly ``low`` and ``normal`` tariff amounts of the fitted ``intervals``.

    ``intervals`` are sorted, one per start, fitted to ``low + normal``
    (fit.py). A span between two consecutive readings is divided when it
    is at most a day long, its data reach its end, neither register went
    down and its intervals add up to both increases; an hour gets rows only
    when every interval in it lies in such a span (the hour the newest
    reading falls in waits for the next one).
    """
    starts = [interval.start for interval in intervals]
    horizon = max((interval.end for interval in intervals), default=None)
    low_hours: dict[datetime, float] = {}
    normal_hours: dict[datetime, float] = {}
    covered = 0  # intervals in divided spans
    uncovered: set[datetime] = set()
    position = 0
    for earlier, later in itertools.pairwise(readings):
        first = bisect_left(starts, earlier.timestamp, lo=position)
        position = bisect_left(starts, later.timestamp, lo=first)
        low_delta = later.values[low] - earlier.values[low]
        normal_delta = later.values[normal] - earlier.values[normal]
        totals: dict[datetime, float] = {}
        for interval in intervals[first:position]:
            hour = _hour(interval.start)
            totals[hour] = totals.get(hour, 0.0) + interval.value
        if (
            horizon is None
            or horizon < later.timestamp
            or later.timestamp - earlier.timestamp > MAX_SPAN
            or low_delta < 0
            or normal_delta < 0
            or not adds_up(totals, low_delta, normal_delta)
        ):
            uncovered.update(totals)
            continue
        covered += position - first
        split = split_day(totals, low_delta, normal_delta, tz=TIMEZONE)
        for hour in totals:
            low_hours[hour] = low_hours.get(hour, 0.0) + split.low[hour]
            normal_hours[hour] = normal_hours.get(hour, 0.0) + split.normal[hour]
    if covered < len(intervals):
        # Intervals before the first or after the last reading.
        uncovered.update(
            _hour(interval.start)
            for interval in intervals
            if not readings
            or interval.start < readings[0].timestamp
            or interval.start >= readings[-1].timestamp
        )
    return (
        [
            Interval(hour, hour + _HOUR, value)
            for hour, value in sorted(low_hours.items())
            if hour not in uncovered
        ],
        [
            Interval(hour, hour + _HOUR, value)
            for hour, value in sorted(normal_hours.items())
            if hour not in uncovered
        ],
    )
