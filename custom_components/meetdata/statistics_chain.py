"""Storing one window of a series: merge with stored hours, chain the sums.

Amounts are merged with the stored hours of the window and chained onto the
sum stored before it; when a stored hour changed, later stored rows are
re-chained. Means are written as they are. Long series are aggregated in an
executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import math
from typing import Any

from homeassistant.components.recorder.models import StatisticData, StatisticMetaData

from .api.models import MEAN_QUANTITIES, IntervalSeries, Meter, Quantity
from .recorder_io import RecorderIO
from .statistics_rows import MetadataOf, _chain_rows, _mean_rows, _utc, _window_amounts

#: Series longer than this are aggregated in an executor, not in the event loop.
INLINE_INTERVALS = 1500


@dataclass(slots=True)
class _Chain:
    """Where the sum of one statistic stands during an import run."""

    hour: int | None = None
    total: float = 0.0
    #: The newest hour stored before this run (None: none); unknown until primed.
    stored_last: int | None = None
    primed: bool = False
    #: The end of the last window stored (rows from here on may need re-chaining).
    stop: int | None = None


async def async_compute[T](
    io: RecorderIO, size: int, func: Callable[..., T], *args: Any
) -> T:
    """Run a pure computation over ``size`` items, in an executor if large.

    A small one runs in the event loop and then yields it, so that several in
    a row (a window's power, amounts, costs) never add up to one long step.
    """
    if size > INLINE_INTERVALS:
        return await io.hass.async_add_executor_job(func, *args)
    result = func(*args)
    await asyncio.sleep(0)
    return result


async def _async_prime(io: RecorderIO, stat_id: str, chain: _Chain) -> None:
    """Read the newest stored hour of a statistic once per run."""
    if not chain.primed:
        chain.stored_last = await io.async_newest_hour(stat_id)
        chain.primed = True


def _same_mean(row: StatisticData, stored: Mapping[int, tuple[Any, ...]]) -> bool:
    """Return whether a mean row equals the stored row of its hour."""
    old = stored.get(int(row["start"].timestamp()))
    new = (row.get("mean"), row.get("min"), row.get("max"))
    return old is not None and all(
        a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12)
        for a, b in zip(old, new, strict=True)
    )


async def async_close_chains(
    io: RecorderIO,
    metadata: MetadataOf,
    meter: Meter,
    chains: dict[Quantity, _Chain],
) -> None:
    """Re-chain stored rows after each chain's last window; start chains anew.

    Called where the stored windows end: after the last one, and before a
    window that failed (the next stored window chains on the stored sum).
    """
    for quantity, chain in chains.items():
        if (
            chain.hour is not None
            and chain.stop is not None
            and chain.stored_last is not None
            and chain.stored_last >= chain.stop
        ):
            await _async_rechain_later(
                io, metadata(meter, quantity), chain.stop, chain.total
            )
        chain.hour = None


async def async_store(
    io: RecorderIO,
    metadata_of: MetadataOf,
    meter: Meter,
    series: IntervalSeries,
    first: int,
    stop: int,
    chain: _Chain,
) -> None:
    """Store one window [first, stop) of one series."""
    metadata = metadata_of(meter, series.quantity)
    stat_id = metadata["statistic_id"]
    size = len(series.intervals)
    if series.quantity in MEAN_QUANTITIES:
        rows = await async_compute(io, size, _mean_rows, series.intervals, first, stop)
        if rows:
            await _async_prime(io, stat_id, chain)
        if rows and chain.stored_last is not None and chain.stored_last >= first:
            stored_means = {
                int(row["start"]): (row["mean"], row["min"], row["max"])
                for row in await io.async_rows(
                    stat_id, first, stop, {"mean", "min", "max"}
                )
            }
            rows = [row for row in rows if not _same_mean(row, stored_means)]
        await io.async_write(metadata, rows)
        return
    new = await async_compute(io, size, _window_amounts, series.intervals, first, stop)
    if not new and chain.hour is None:
        return
    await _async_prime(io, stat_id, chain)
    # Hours after the newest stored one need no read (a first backfill).
    stored = (
        {
            int(row["start"]): (
                float(row["state"] or 0.0),
                float(row["sum"] or 0.0),
            )
            for row in await io.async_rows(stat_id, first, stop, {"state", "sum"})
        }
        if chain.stored_last is not None and chain.stored_last >= first
        else {}
    )
    merged = {h: state for h, (state, _) in stored.items()} | new
    if chain.hour is None and chain.stored_last is not None:
        chain.total = await io.async_sum_before(stat_id, first)
    rows, chain.total, last = await async_compute(
        io, len(merged), _chain_rows, merged, stored, chain.total
    )
    if last is not None:
        chain.hour = last
    chain.stop = stop
    await io.async_write(metadata, rows)


async def _async_rechain_later(
    io: RecorderIO, metadata: StatisticMetaData, after: int, total: float
) -> None:
    """Make stored rows from ``after`` on chain onto ``total``."""
    later = await io.async_rows(metadata["statistic_id"], after, None, {"state", "sum"})
    if not later:
        return
    first = later[0]
    delta = total + float(first["state"] or 0.0) - float(first["sum"] or 0.0)
    if abs(delta) < 1e-9:
        return
    rows = [
        StatisticData(
            start=_utc(int(row["start"])),
            state=row["state"],
            sum=float(row["sum"] or 0.0) + delta,
        )
        for row in later
    ]
    await io.async_write(metadata, rows)
