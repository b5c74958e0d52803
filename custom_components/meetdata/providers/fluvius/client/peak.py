"""The monthly capacity peak (piekvermogen), computed from quarter-hour offtake.

Fluvius does not offer the peak through the API; the document says how to
compute it: the highest quarter-hour offtake value (kWh) of the month times
four gives kW, and it is only valid when every quarter of the month has the
validation state READ or VAL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ....api.models import Interval
from .parse import BRUSSELS, PEAK_QUALITIES

QUARTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CapacityPeak:
    """The capacity peak of one month (Europe/Brussels calendar month).

    ``value`` is in kW and ``timestamp`` is the start of the peak quarter
    (both None when no READ/VAL quarter exists). ``complete`` is False when
    any quarter of the month (so far) is missing or EST/NVAL.
    """

    value: float | None
    timestamp: datetime | None
    complete: bool
    expected: int
    counted: int
    estimated: int
    missing: int


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """Return [first local midnight of the month, of the next month) in UTC."""
    start = datetime(year, month, 1, tzinfo=BRUSSELS)
    nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BRUSSELS)
    return start.astimezone(UTC), nxt.astimezone(UTC)


def capacity_peak(
    intervals: Iterable[Interval],
    year: int,
    month: int,
    *,
    now: datetime | None = None,
) -> CapacityPeak:
    """Compute the capacity peak of a month from quarter-hour offtake intervals.

    ``intervals`` are ENERGY_IMPORT quarter-hour intervals (others, e.g. daily
    ones, are ignored). Only MEASURED (READ) and VALIDATED (VAL) quarters
    count. The month is checked for completeness up to ``now`` (floored to the
    quarter) when given, else in full.
    """
    start, end = month_bounds(year, month)
    if now is not None:
        now_utc = now.astimezone(UTC)
        floored = now_utc - timedelta(
            minutes=now_utc.minute % 15,
            seconds=now_utc.second,
            microseconds=now_utc.microsecond,
        )
        end = max(start, min(end, floored))
    expected = int((end - start) / QUARTER)
    best: Interval | None = None
    seen: set[datetime] = set()
    counted = estimated = 0
    for item in intervals:
        if item.end - item.start != QUARTER or not start <= item.start < end:
            continue
        if item.start in seen:
            continue
        seen.add(item.start)
        if item.quality in PEAK_QUALITIES:
            counted += 1
            if best is None or item.value > best.value:
                best = item
        else:
            estimated += 1
    missing = expected - counted - estimated
    return CapacityPeak(
        value=None if best is None else best.value * 4,
        timestamp=None if best is None else best.start,
        complete=missing == 0 and estimated == 0 and expected > 0,
        expected=expected,
        counted=counted,
        estimated=estimated,
        missing=missing,
    )
