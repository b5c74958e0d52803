"""CEMM minute data as interval series, and the small async helpers of the client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Final

from ....api.errors import MeetdataNotFoundError
from ....api.models import Interval, IntervalSeries, Meter, MeterKind, Quantity
from .parse import (
    _KWH_PER_WATT_MINUTE,
    _MINUTE,
    ALIASES,
    CemmSeries,
    _aligned,
    _day_param,
    _local_date,
    _local_midnight,
    _Ref,
    _require,
)

#: Day answers holding more minutes than this become intervals in an executor
#: (a 7-day history window is 10 080 minutes: ~20 ms of the event loop).
EXECUTOR_MINUTES: Final = 1500


async def _off_loop[T](
    convert: Callable[[list[CemmSeries], datetime, datetime, datetime], T],
    answers: list[CemmSeries],
    start: datetime,
    end: datetime,
    now: datetime,
) -> T:
    """Convert day answers to intervals, in an executor when they are many."""
    minutes = sum(
        len(values) for answer in answers for values in answer.series.values()
    )
    if minutes > EXECUTOR_MINUTES:
        return await asyncio.get_running_loop().run_in_executor(
            None, convert, answers, start, end, now
        )
    return convert(answers, start, end, now)


def _p1_minutes(
    answers: list[CemmSeries], start: datetime, end: datetime, now: datetime
) -> tuple[list[Interval], list[Interval]]:
    """Return per-minute import and export intervals from P1 day answers."""
    imports: list[Interval] = []
    exports: list[Interval] = []
    for answer in answers:
        for entry in _aligned(_require(answer, "electric_power", "p1 day data")):
            begin, finish = entry.timestamp, entry.timestamp + _MINUTE
            if not start <= begin < end or finish > now:
                continue
            # The average net power of the minute: import when positive,
            # export when negative (both directions inside one minute net out).
            energy = entry.value * _KWH_PER_WATT_MINUTE
            imports.append(Interval(begin, finish, max(energy, 0.0)))
            exports.append(Interval(begin, finish, max(-energy, 0.0)))
    return imports, exports


def _s0_minutes(
    answers: list[CemmSeries], start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Return per-minute energy intervals from S0 day answers."""
    intervals: list[Interval] = []
    for answer in answers:
        for entry in _aligned(_require(answer, "electric_power", "s0 day data")):
            begin, finish = entry.timestamp, entry.timestamp + _MINUTE
            if start <= begin < end and finish <= now:
                intervals.append(
                    Interval(
                        begin, finish, max(entry.value, 0.0) * _KWH_PER_WATT_MINUTE
                    )
                )
    return intervals


async def _gather[T](awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Await all concurrently; then raise the first failure (in order), if any."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    values: list[T] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        values.append(result)
    return values


def _meter_ref(meter: Meter) -> _Ref:
    """Return the uid and alias of a meter, from its attributes or else its key."""
    uid = meter.attributes.get("uid")
    alias = meter.attributes.get("alias")
    if uid and alias:
        return _Ref(uid, alias)
    key, _, tail = meter.key.partition("_")
    alias = tail.replace("_", "-")
    if len(key) != 12 or alias not in ALIASES:
        raise MeetdataNotFoundError(
            f"CEMM meter {meter.key} has no uid/alias", meter=meter.key
        )
    rebuilt = "-".join(key[index : index + 2] for index in range(0, 12, 2)).upper()
    return _Ref(rebuilt, alias)


def _s0_quantity(meter: Meter) -> Quantity:
    """Return PRODUCTION for a production pulse meter, AUXILIARY otherwise."""
    return (
        Quantity.PRODUCTION
        if meter.kind is MeterKind.PRODUCTION
        else Quantity.AUXILIARY
    )


def _series(
    meter: Meter, quantity: Quantity, intervals: list[Interval]
) -> IntervalSeries:
    """Return a sorted IntervalSeries."""
    intervals.sort(key=lambda interval: interval.start)
    return IntervalSeries(meter.key, quantity, intervals)


def _days_overlapping(start: datetime, end: datetime) -> list[date]:
    """Return the local days that overlap [start, end)."""
    days: list[date] = []
    if end <= start:
        return days
    day = _local_date(start)
    while _local_midnight(day) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _months_needed(start: datetime, end: datetime, now: datetime) -> list[datetime]:
    """Return one moment per local month holding a complete day that starts in [start, end)."""
    moments: dict[tuple[int, int], datetime] = {}
    day = _local_date(start)
    while (midnight := _local_midnight(day)) < end:
        following = _local_midnight(day + timedelta(days=1))
        if following > now:
            break
        if midnight >= start:
            moments.setdefault((day.year, day.month), _day_param(day))
        day += timedelta(days=1)
    return list(moments.values())
