"""Provider-neutral import of interval series into hourly external statistics.

Amounts (energy, gas) become hourly rows with a running ``sum``; averages
(power, voltage) hourly mean/min/max rows (see ``statistics_rows``). Every
import re-reads an overlap window, merges it with what is stored, and
re-chains the sums of later rows when a stored hour changed. Database reads go
through the recorder's executor; writes are recorder jobs of about
``WRITE_JOB_SECONDS`` each, each awaited before the next is queued, so a state
change never waits behind more than one job of ours. Long series are
aggregated in an executor. This importer is the only writer of our rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
import time
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder.models import StatisticData, StatisticMetaData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.components.recorder.tasks import RecorderTask
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance

from .api.base import MeterDataClient
from .api.models import MEAN_QUANTITIES, IntervalSeries, Meter, Quantity
from .const import LOGGER
from .statistics_rows import (
    HOUR,
    StatType,
    _chain_rows,
    _hour_of,
    _mean_rows,
    _utc,
    _window_amounts,
    statistic_id,  # noqa: F401  (where tests and benchmarks import it from)
    statistic_metadata,
    zeroed_rows,
)

if TYPE_CHECKING:
    from homeassistant.components.recorder.core import Recorder

#: Most rows per recorder job (a fast machine writes them in ~0.4 s).
WRITE_BATCH = 1000
#: Rows of the first job of an importer, before the recorder's speed is known.
FIRST_WRITE_BATCH = 100
#: Fewest rows per job (a very slow recorder).
MIN_WRITE_BATCH = 10
#: What one recorder job of ours should take: well under the 1 s it may.
WRITE_JOB_SECONDS = 0.35
#: Give up waiting for the recorder after this long (it may not have started).
RECORDER_WAIT_TIMEOUT = 300.0
#: Series longer than this are aggregated in an executor, not in the event loop.
INLINE_INTERVALS = 1500
#: How far back to look for the sum an import chains on to.
SUM_LOOKBACKS = (timedelta(days=2), timedelta(days=40), timedelta(days=4000))


@dataclass(slots=True)
class _RecorderDone(RecorderTask):
    """Resolve a future once the recorder has run every task queued before it."""

    future: asyncio.Future[None]
    commit_before = False

    def run(self, instance: Recorder) -> None:
        """Hand the news to the event loop (this runs in the recorder thread)."""
        instance.hass.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(slots=True)
class _Chain:
    """Where the sum of one statistic stands during an import run."""

    hour: int | None = None
    total: float = 0.0
    #: The newest hour stored before this run (None: none); unknown until primed.
    stored_last: int | None = None
    primed: bool = False


class StatisticsImporter:
    """Import the history of one config entry's meters (and clear hours of it)."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: MeterDataClient,
        metadata: Callable[[Meter, Quantity], StatisticMetaData] = statistic_metadata,
    ) -> None:
        """Bind to Home Assistant, a provider client and the entry's statistic ids."""
        self.hass = hass
        self.client = client
        #: The metadata (and id) of a meter's statistic of one quantity.
        self.metadata = metadata
        #: Rows handed to the recorder since start-up (diagnostics, benchmarks).
        self.rows_written = 0
        #: Rows of the next recorder job (adapts to the recorder's speed).
        self.write_batch = FIRST_WRITE_BATCH
        #: Smoothed rows per second of our recorder jobs (None: not measured yet).
        self._write_rate: float | None = None
        #: One writer at a time: the schedule, the import_history action and
        #: a provider's clean-up (Fluvius data periods that ended).
        self.lock = asyncio.Lock()

    async def _async_db(self, func: Any, *args: Any) -> Any:
        return await get_instance(self.hass).async_add_executor_job(func, *args)

    async def async_last_hour(self, stat_id: str) -> datetime | None:
        """Return the start of the newest stored hour of a statistic."""
        hour = await self._async_newest_hour(stat_id)
        return None if hour is None else _utc(hour)

    async def _async_newest_hour(self, stat_id: str) -> int | None:
        rows = await self._async_db(
            get_last_statistics, self.hass, 1, stat_id, False, {"sum"}
        )
        if not rows.get(stat_id):
            return None
        return int(rows[stat_id][0]["start"])

    async def _async_rows(
        self, stat_id: str, start: int, end: int | None, types: set[StatType]
    ) -> list[Any]:
        rows = await self._async_db(
            statistics_during_period,
            self.hass,
            _utc(start),
            None if end is None else _utc(end),
            {stat_id},
            "hour",
            None,
            types,
        )
        return list(rows.get(stat_id, []))

    async def _async_sum_before(self, stat_id: str, hour: int) -> float:
        """Return the running sum of the newest row before ``hour`` (0 if none)."""
        for lookback in SUM_LOOKBACKS:
            start = hour - int(lookback.total_seconds())
            rows = await self._async_rows(stat_id, start, hour, {"sum"})
            if rows:
                return float(rows[-1]["sum"] or 0.0)
        return 0.0

    async def _async_compute[T](
        self, size: int, func: Callable[..., T], *args: Any
    ) -> T:
        """Run a pure computation over ``size`` items, in an executor if large."""
        if size > INLINE_INTERVALS:
            return await self.hass.async_add_executor_job(func, *args)
        return func(*args)

    async def _async_write(
        self, metadata: StatisticMetaData, rows: list[StatisticData]
    ) -> None:
        """Hand rows to the recorder one job at a time, each of a measured size."""
        self.rows_written += len(rows)
        first = 0
        while first < len(rows):
            batch = rows[first : first + self.write_batch]
            first += len(batch)
            started = time.monotonic()
            async_add_external_statistics(self.hass, metadata, batch)
            if await self._async_recorder_done():
                self._measured(len(batch), time.monotonic() - started)

    async def _async_recorder_done(self) -> bool:
        """Wait until the recorder has run our last job; False if it never did."""
        future: asyncio.Future[None] = self.hass.loop.create_future()
        get_instance(self.hass).queue_task(_RecorderDone(future))
        try:
            async with asyncio.timeout(RECORDER_WAIT_TIMEOUT):
                await future
        except TimeoutError:
            LOGGER.debug("The recorder did not run our statistics job in time")
            return False
        return True

    def _measured(self, rows: int, seconds: float) -> None:
        """Size the next job so that it takes about WRITE_JOB_SECONDS."""
        rate = rows / max(seconds, 1e-3)
        if self._write_rate is not None:
            rate = (self._write_rate + rate) / 2
        self._write_rate = rate
        self.write_batch = max(
            MIN_WRITE_BATCH, min(WRITE_BATCH, int(rate * WRITE_JOB_SECONDS))
        )

    async def async_import_meter(
        self,
        meter: Meter,
        *,
        since: datetime,
        now: datetime,
        overlap: timedelta,
        window: timedelta,
    ) -> dict[str, datetime]:
        """Import ``meter`` from where it stopped (less ``overlap``) up to ``now``.

        ``since`` is the oldest moment to import when nothing is stored yet.
        Returns the newest imported hour per statistic id.
        """
        stored = [
            hour
            for quantity in self.client.history_quantities
            if (
                hour := await self.async_last_hour(
                    self.metadata(meter, quantity)["statistic_id"]
                )
            )
        ]
        if not stored:
            start = since
        elif max(stored) >= since:
            # Re-read the overlap, but never reach back past the configured
            # depth (a daily statistic's newest row may lie before ``since``).
            start = max(min(stored) - overlap, since)
        else:
            # Stopped longer ago than the depth (an outage): fill the whole gap.
            start = min(stored) - overlap
        if stored:
            # Values the provider added or corrected since then, however old
            # (within the depth): re-read from the earliest of them.
            changed = await self.client.async_earliest_change(meter, start, now)
            if changed is not None:
                start = min(start, max(changed, since))
        earliest = self.client.earliest_history(meter)
        if earliest is not None:
            start = max(start, earliest)
        if self.client.max_history is not None:
            start = max(start, now - self.client.max_history)
        return await self.async_import_period(meter, start, now, window)

    async def async_import_period(
        self, meter: Meter, start: datetime, end: datetime, window: timedelta
    ) -> dict[str, datetime]:
        """Fetch and store [start, end) window by window; re-chain later sums.

        A window is fetched only once the previous one is written: fetching
        ahead saves time but not CPU, and parsing while the recorder writes
        costs both threads (the GIL) ~10 % more CPU.
        """
        async with self.lock:
            return await self._async_import_period(meter, start, end, window)

    async def _async_import_period(
        self, meter: Meter, start: datetime, end: datetime, window: timedelta
    ) -> dict[str, datetime]:
        start = _utc(_hour_of(start))
        chains: dict[Quantity, _Chain] = {}
        newest: dict[str, datetime] = {}
        window_start = start
        while window_start < end:
            window_end = min(window_start + window, end)
            series = await self.client.async_get_history(
                meter, window_start, window_end
            )
            last_window = window_end >= end
            for item in series:
                await self._async_store(
                    meter,
                    item,
                    _hour_of(window_start),
                    _hour_of(window_end - timedelta(microseconds=1)) + HOUR,
                    chains.setdefault(item.quantity, _Chain()),
                    rechain_after=last_window,
                )
                if item.intervals:
                    newest[self.metadata(meter, item.quantity)["statistic_id"]] = _utc(
                        _hour_of(max(iv.start for iv in item.intervals))
                    )
            window_start = window_end
        LOGGER.debug("Imported %s from %s to %s", meter.key, start, end)
        return newest

    async def _async_store(
        self,
        meter: Meter,
        series: IntervalSeries,
        first: int,
        stop: int,
        chain: _Chain,
        *,
        rechain_after: bool,
    ) -> None:
        """Store one window [first, stop) of one series."""
        metadata = self.metadata(meter, series.quantity)
        stat_id = metadata["statistic_id"]
        size = len(series.intervals)
        if series.quantity in MEAN_QUANTITIES:
            await self._async_write(
                metadata,
                await self._async_compute(
                    size, _mean_rows, series.intervals, first, stop
                ),
            )
            return
        new = await self._async_compute(
            size, _window_amounts, series.intervals, first, stop
        )
        if not new and chain.hour is None:
            return
        if not chain.primed:
            chain.stored_last = await self._async_newest_hour(stat_id)
            chain.primed = True
        # Hours after the newest stored one need no read (a first backfill).
        stored = (
            {
                int(row["start"]): (
                    float(row["state"] or 0.0),
                    float(row["sum"] or 0.0),
                )
                for row in await self._async_rows(
                    stat_id, first, stop, {"state", "sum"}
                )
            }
            if chain.stored_last is not None and chain.stored_last >= first
            else {}
        )
        merged = {h: state for h, (state, _) in stored.items()} | new
        if chain.hour is None and chain.stored_last is not None:
            chain.total = await self._async_sum_before(stat_id, first)
        rows, chain.total, last = await self._async_compute(
            len(merged), _chain_rows, merged, stored, chain.total
        )
        if last is not None:
            chain.hour = last
        await self._async_write(metadata, rows)
        if (
            rechain_after
            and chain.stored_last is not None
            and chain.stored_last >= stop
        ):
            await self._async_rechain_later(metadata, stop, chain.total)

    async def _async_rechain_later(
        self, metadata: StatisticMetaData, after: int, total: float
    ) -> None:
        """Make stored rows from ``after`` on chain onto ``total``."""
        later = await self._async_rows(
            metadata["statistic_id"], after, None, {"state", "sum"}
        )
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
        await self._async_write(metadata, rows)

    async def async_clear_after(
        self, meters: Iterable[Meter], quantities: Iterable[Quantity], end: datetime
    ) -> int:
        """Zero the stored hours (of amounts) of these meters from ``end`` on.

        Rows cannot be deleted for a time range: each hour from ``end`` on gets
        amount 0 and the sum it had at ``end``, so later sums still chain
        (Fluvius: data after a cut-off data period). Returns the rows rewritten.
        """
        async with self.lock:
            written = 0
            for meter in meters:
                for quantity in quantities:
                    metadata = self.metadata(meter, quantity)
                    stat_id = metadata["statistic_id"]
                    rows = await self._async_rows(
                        stat_id, _hour_of(end), None, {"state", "sum"}
                    )
                    new = zeroed_rows(rows) if rows else []
                    if new:
                        await self._async_write(metadata, new)
                        LOGGER.info(
                            "Removed %d hours of %s after the data period ended at %s",
                            len(new),
                            stat_id,
                            end.isoformat(),
                        )
                    written += len(new)
            return written
