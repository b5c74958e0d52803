"""CEMM minute data as interval series, and the small async helpers of the client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
import functools
from typing import Any, Final

from ....api.errors import MeetdataNotFoundError
from ....api.models import Interval, IntervalSeries, Meter, MeterKind, Quantity
from .fit import RegisterReading, fit_to_registers
from .parse import (
    _KWH_PER_WATT_MINUTE,
    _MINUTE,
    ALIASES,
    CemmMeasurement,
    CemmSeries,
    _aligned,
    _day_param,
    _guess_spacing,
    _local_date,
    _local_midnight,
    _Ref,
    _require,
)
from .tariffs import TariffReading, split_tariffs

#: Day answers holding more minutes than this become intervals in an executor
#: (a 7-day history window is 10 080 minutes: ~20 ms of the event loop).
EXECUTOR_MINUTES: Final = 1500


#: A litre of gas in m³: DSMR 5 minute data give the gas flow in L/min.
_M3_PER_LITRE: Final = 1 / 1000


async def _compute[T](size: int, func: Callable[..., T], *args: Any) -> T:
    """Run a pure conversion of ``size`` items, in an executor when they are many."""
    if size > EXECUTOR_MINUTES:
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(func, *args)
        )
    return func(*args)


def _answer_size(answers: Iterable[CemmSeries]) -> int:
    """Return how many measurements the answers hold."""
    return sum(len(values) for answer in answers for values in answer.series.values())


async def _off_loop[T](
    convert: Callable[[list[CemmSeries], datetime, datetime, datetime], T],
    answers: list[CemmSeries],
    start: datetime,
    end: datetime,
    now: datetime,
) -> T:
    """Convert day answers to intervals, in an executor when they are many."""
    return await _compute(_answer_size(answers), convert, answers, start, end, now)


def _within(
    intervals: Iterable[Interval], start: datetime, end: datetime
) -> list[Interval]:
    """Return the intervals that start in [start, end)."""
    return [interval for interval in intervals if start <= interval.start < end]


def _whole_hours(
    intervals: Iterable[Interval], start: datetime, end: datetime
) -> list[Interval]:
    """Return the intervals that lie wholly in [start, end)."""
    return [iv for iv in intervals if start <= iv.start and iv.end <= end]


def _fitted_p1(
    answers: list[CemmSeries],
    imports_read: Sequence[RegisterReading],
    exports_read: Sequence[RegisterReading],
    tariffs_read: Sequence[TariffReading],
    span: tuple[datetime, datetime],
    start: datetime,
    end: datetime,
    now: datetime,
) -> dict[Quantity, list[Interval]]:
    """Per-minute import/export fitted to the registers, hourly per tariff, in [start, end).

    ``answers`` are the day data of every day of ``span``: a register span
    needs all its minutes, also those outside [start, end), and so does the
    tariff split of a day.
    """
    imports, exports = _p1_minutes(answers, span[0], span[1], now)
    fitted_in = fit_to_registers(imports, imports_read)
    fitted_out = fit_to_registers(exports, exports_read)
    in_low, in_normal = split_tariffs(fitted_in, tariffs_read, "t1", "t2")
    out_low, out_normal = split_tariffs(fitted_out, tariffs_read, "t3", "t4")
    # An hour per tariff only once it is over (the total's hour fills up).
    until = min(end, now)
    return {
        Quantity.ENERGY_IMPORT: _within(fitted_in, start, end),
        Quantity.ENERGY_EXPORT: _within(fitted_out, start, end),
        Quantity.ENERGY_IMPORT_LOW: _whole_hours(in_low, start, until),
        Quantity.ENERGY_IMPORT_NORMAL: _whole_hours(in_normal, start, until),
        Quantity.ENERGY_EXPORT_LOW: _whole_hours(out_low, start, until),
        Quantity.ENERGY_EXPORT_NORMAL: _whole_hours(out_normal, start, until),
    }


def _fitted_gas(
    entries: list[CemmMeasurement],
    step: timedelta | None,
    readings: Sequence[RegisterReading],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Interval]:
    """Gas used per entry of the gas grid, fitted to the register, in [start, end).

    On a minute grid an entry is the flow in L/min (DSMR 5, as the document
    describes it), so a minute used value/1000 m³; on a coarser grid (hourly
    for DSMR 4, or 5 minutes) an entry is the m³ used in its interval.
    ``step`` None: each entry's grid is guessed from its alignment.
    """
    intervals: list[Interval] = []
    seen: set[datetime] = set()
    for entry in entries:
        begin = entry.timestamp
        if begin in seen:
            continue
        seen.add(begin)
        each = step or _guess_spacing(begin)
        finish = begin + each
        if finish <= now:
            amount = entry.value * (_M3_PER_LITRE if each == _MINUTE else 1.0)
            intervals.append(Interval(begin, finish, amount))
    return _within(fit_to_registers(intervals, readings), start, end)


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
