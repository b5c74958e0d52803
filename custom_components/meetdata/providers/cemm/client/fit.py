"""Amounts made to add up to the meter's registers.

The CEMM's minute data (average power, gas flow) integrate to nearly, but not
exactly, what the meter's registers count: import and export inside one minute
net out in its average power, and averages are rounded. The registers are what
the bill uses, so every span between two register readings gets the register's
increase, divided over its intervals in proportion to their integrated amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import itertools

from ....api.models import Interval

#: Relative difference below which the amounts already match the register.
_SAME = 1e-9


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """A register's value (kWh or m³) at a moment."""

    timestamp: datetime
    value: float


def clean_readings(readings: Sequence[RegisterReading]) -> list[RegisterReading]:
    """Return the readings sorted by time, one per moment, without empty registers.

    A register of 0 or less is a meter the CEMM has no reading of, not a count.
    """
    by_moment = {r.timestamp: r for r in readings if r.value > 0}
    return [by_moment[moment] for moment in sorted(by_moment)]


def fit_to_registers(
    intervals: Sequence[Interval], readings: Sequence[RegisterReading]
) -> list[Interval]:
    """Return ``intervals``, one per start and sorted, fitted to the register ``readings``.

    Between two consecutive readings the intervals starting in that span get
    the register's increase, in proportion to their own amounts (evenly when
    those add up to nothing; spread evenly over the hours when the span has no
    interval at all). A span whose data is not complete yet (the newest
    interval ends before the span does), whose register went down (a new
    meter) or whose amounts already add up to the increase keeps the intervals
    as they are; so do intervals outside every span.
    """
    # One interval per start (the last one wins, as in the hourly statistics).
    result = list({interval.start: interval for interval in intervals}.values())
    result.sort(key=lambda interval: interval.start)
    if not result:
        return result
    horizon = max(interval.end for interval in result)
    extra: list[Interval] = []
    position = 0
    for earlier, later in itertools.pairwise(readings):
        increase = later.value - earlier.value
        while position < len(result) and result[position].start < earlier.timestamp:
            position += 1
        first = position
        while position < len(result) and result[position].start < later.timestamp:
            position += 1
        if increase < 0 or horizon < later.timestamp:
            continue
        if first == position:
            extra.extend(_spread(earlier.timestamp, later.timestamp, increase))
            continue
        members = result[first:position]
        total = sum(interval.value for interval in members)
        if abs(increase - total) <= _SAME * max(1.0, total):
            continue  # already equal: keep the amounts bit for bit
        if total > 0:
            factor = increase / total
            scaled = [replace(iv, value=iv.value * factor) for iv in members]
        else:
            even = increase / len(members)
            scaled = [replace(iv, value=even) for iv in members]
        result[first:position] = scaled
    if extra:
        result.extend(extra)
        result.sort(key=lambda interval: interval.start)
    return result


def _spread(start: datetime, end: datetime, amount: float) -> list[Interval]:
    """Divide ``amount`` over [start, end) in pieces that each lie in one UTC hour."""
    length = (end - start).total_seconds()
    pieces: list[Interval] = []
    begin = start
    while begin < end:
        epoch = begin.timestamp()
        finish = min(end, begin + timedelta(seconds=3600 - epoch % 3600))
        share = (finish - begin).total_seconds() / length
        pieces.append(Interval(begin, finish, amount * share))
        begin = finish
    return pieces
