"""Provider-neutral import of interval series into hourly external statistics.

Amounts (energy, gas) become hourly rows with a running ``sum``; averages
(power, voltage) hourly mean/min/max rows (see ``statistics_rows``). Every
import re-reads an overlap window, merges it with what is stored, and
re-chains the sums of later rows when a stored hour changed. A window the
provider refuses as too long or too large is halved; a window that fails
otherwise is skipped, and kept as a hole (``holes``) when later hours were
stored, to be imported first on the next runs. Database reads go
through the recorder's executor; writes are recorder jobs of about
``WRITE_JOB_SECONDS`` each, each awaited before the next is queued, so a state
change never waits behind more than one job of ours. Long series are
aggregated in an executor. This importer is the only writer of our rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
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
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .api.base import MeterDataClient
from .api.errors import (
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTooLargeError,
)
from .api.models import MEAN_QUANTITIES, IntervalSeries, Meter, Quantity
from .const import LOGGER
from .holes import Hole, HoleBook, error_text
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
#: A window refused as too long is halved down to a day, then tried as an hour.
MIN_SPLIT = timedelta(days=1)
LAST_SPLIT = timedelta(hours=1)
#: A meter's run stops after this many failed windows in a row.
MAX_FAILED_WINDOWS = 2
#: Errors that ask for a shorter period.
_TOO_LONG = (MeetdataInvalidRequestError, MeetdataTooLargeError)
#: Errors of one window that do not stop the run (rate limits do).
_SKIPPABLE = (MeetdataConnectionError, MeetdataResponseError, *_TOO_LONG)


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
    #: The end of the last window stored (rows from here on may need re-chaining).
    stop: int | None = None


@dataclass(slots=True)
class _Failure:
    """A window that failed."""

    start: datetime
    end: datetime
    error: MeetdataError


@dataclass(slots=True)
class _Run:
    """One import run of one meter: its failures in a row, across periods."""

    streak: int = 0

    @property
    def stopped(self) -> bool:
        """Return whether the run gave up on the meter."""
        return self.streak >= MAX_FAILED_WINDOWS


@dataclass(slots=True)
class _Outcome:
    """What importing one period did."""

    newest: dict[str, datetime]
    failed: list[_Failure]
    #: The end of the last window that stored data (None: none did).
    stored_until: datetime | None = None
    #: Where the run stopped, untried (None: it reached the end).
    untried: datetime | None = None


def _without(
    start: datetime, end: datetime, holes: list[Hole]
) -> list[tuple[datetime, datetime]]:
    """Return [start, end) less the periods of ``holes`` (sorted, disjoint)."""
    periods: list[tuple[datetime, datetime]] = []
    for hole in holes:
        if hole.end <= start or hole.start >= end:
            continue
        if hole.start > start:
            periods.append((start, hole.start))
        start = max(start, hole.end)
    if start < end:
        periods.append((start, end))
    return periods


def _smaller(span: timedelta) -> timedelta | None:
    """Return the next shorter window after ``span`` was refused (None: give up)."""
    if span > MIN_SPLIT:
        half = timedelta(hours=(span / LAST_SPLIT) // 2)
        return max(half, MIN_SPLIT)
    if span > LAST_SPLIT:
        return LAST_SPLIT
    return None


class StatisticsImporter:
    """Import the history of one config entry's meters (and clear hours of it)."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: MeterDataClient,
        entry: ConfigEntry | None = None,
        *,
        metadata: Callable[[Meter, Quantity], StatisticMetaData] = statistic_metadata,
    ) -> None:
        """Bind to Home Assistant, a provider client, its entry and its statistic ids.

        The entry keeps the holes; ``metadata`` gives a meter's statistic of one
        quantity its metadata (and id).
        """
        self.hass = hass
        self.client = client
        #: Periods that failed while later hours were stored (per meter).
        self.holes = HoleBook(hass, entry)
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
        """Fill ``meter``'s holes, then import from where it stopped (less ``overlap``).

        ``since`` is the oldest moment to import when nothing is stored yet.
        Returns the newest imported hour per statistic id.
        """
        await self.holes.async_load()
        async with self.lock:
            run = _Run()
            try:
                newest = await self._async_fill_holes(meter, window, run, now)
                # Holes that keep failing never keep the newest hours out:
                # the import gets at least one window of its own.
                run.streak = min(run.streak, MAX_FAILED_WINDOWS - 1)
                start = await self._async_resume_point(meter, since, now, overlap)
                # Holes were just tried: the resume point may lie before one
                # (a daily statistic), but its period is not read twice.
                return newest | await self._async_import_recorded(
                    meter,
                    _without(start, now, self.holes.holes(meter.key)),
                    window,
                    run,
                    now,
                )
            finally:
                self.holes.async_check_issue(meter.key, now)

    async def _async_resume_point(
        self, meter: Meter, since: datetime, now: datetime, overlap: timedelta
    ) -> datetime:
        """Return where the next import of ``meter`` starts."""
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
        return start

    async def async_import_period(
        self, meter: Meter, start: datetime, end: datetime, window: timedelta
    ) -> dict[str, datetime]:
        """Fetch and store [start, end) window by window; re-chain later sums.

        A window is fetched only once the previous one is written: fetching
        ahead saves time but not CPU, and parsing while the recorder writes
        costs both threads (the GIL) ~10 % more CPU. Failed windows are
        handled as in a scheduled run (holes, the error of the last one).
        """
        await self.holes.async_load()
        async with self.lock:
            return await self._async_import_recorded(
                meter, [(start, end)], window, _Run(), dt_util.utcnow()
            )

    async def _async_import_recorded(
        self,
        meter: Meter,
        periods: list[tuple[datetime, datetime]],
        window: timedelta,
        run: _Run,
        now: datetime,
    ) -> dict[str, datetime]:
        """Import periods; keep failed windows before stored data as holes.

        A failed window after the last stored data is no hole: the next run
        resumes before it. Then the meter failed and its last error is raised.
        """
        newest: dict[str, datetime] = {}
        failed: list[_Failure] = []
        stored_until: datetime | None = None
        for start, end in periods:
            if run.stopped:
                break
            outcome = await self._async_import_period(meter, start, end, window, run)
            newest |= outcome.newest
            failed += outcome.failed
            stored_until = outcome.stored_until or stored_until
        holes = [
            failure
            for failure in failed
            if stored_until is not None and failure.end <= stored_until
        ]
        if holes:
            await self.holes.async_set(
                meter.key,
                self.holes.holes(meter.key)
                + [
                    Hole(hole.start, hole.end, now, error_text(hole.error))
                    for hole in holes
                ],
            )
            for hole in holes:
                LOGGER.warning(
                    "Could not import the history of %s from %s to %s (%s); the "
                    "hours after it were imported, this period is tried again on "
                    "every run",
                    meter.key,
                    hole.start.isoformat(),
                    hole.end.isoformat(),
                    error_text(hole.error),
                )
        if len(holes) < len(failed):
            raise failed[-1].error
        return newest

    async def _async_fill_holes(
        self, meter: Meter, window: timedelta, run: _Run, now: datetime
    ) -> dict[str, datetime]:
        """Import each open hole of ``meter`` again; keep what still fails."""
        newest: dict[str, datetime] = {}
        for hole in self.holes.holes(meter.key):
            if run.stopped:
                break
            outcome = await self._async_import_period(
                meter, hole.start, hole.end, window, run
            )
            newest |= outcome.newest
            left = [
                Hole(
                    failure.start,
                    failure.end,
                    hole.since,
                    error_text(failure.error),
                    hole.attempts + 1,
                )
                for failure in outcome.failed
            ]
            if outcome.untried is not None:
                left.append(replace(hole, start=outcome.untried))
            rest = [h for h in self.holes.holes(meter.key) if h != hole]
            await self.holes.async_set(meter.key, rest + left)
            if left:
                LOGGER.debug(
                    "The history of %s from %s to %s still fails: %s",
                    meter.key,
                    hole.start.isoformat(),
                    hole.end.isoformat(),
                    left[-1].error,
                )
            else:
                LOGGER.info(
                    "Imported the history of %s from %s to %s that had failed",
                    meter.key,
                    hole.start.isoformat(),
                    hole.end.isoformat(),
                )
        return newest

    async def _async_import_period(
        self,
        meter: Meter,
        start: datetime,
        end: datetime,
        window: timedelta,
        run: _Run,
    ) -> _Outcome:
        """Import [start, end) window by window, past windows that fail.

        A window refused as too long or too large is halved (the shorter
        span stays for the rest of the period); one that fails at the
        shortest span, or for another reason, is skipped. Refused
        credentials, rate limits and meter-wide errors stop at once.
        """
        start = _utc(_hour_of(start))
        chains: dict[Quantity, _Chain] = {}
        outcome = _Outcome(newest={}, failed=[])
        span = window
        #: The span first refused at this window start (None: none refused).
        refused: timedelta | None = None
        window_start = start
        while window_start < end:
            window_end = min(window_start + span, end)
            try:
                series = await self.client.async_get_history(
                    meter, window_start, window_end
                )
            except _SKIPPABLE as err:
                if isinstance(err, MeetdataRateLimitError):
                    raise
                smaller = _smaller(window_end - window_start)
                if isinstance(err, _TOO_LONG) and smaller is not None:
                    LOGGER.debug(
                        "%s refused %s..%s (%s); asking for %s",
                        meter.key,
                        window_start.isoformat(),
                        window_end.isoformat(),
                        err,
                        smaller,
                    )
                    refused = refused or span
                    span = smaller
                    continue
                if refused is not None:
                    # Not a matter of length: skip what was first asked.
                    span, refused = refused, None
                    window_end = min(window_start + span, end)
                LOGGER.debug(
                    "%s: %s..%s failed: %s",
                    meter.key,
                    window_start.isoformat(),
                    window_end.isoformat(),
                    err,
                )
                await self._async_close_chains(meter, chains)
                outcome.failed.append(_Failure(window_start, window_end, err))
                run.streak += 1
                window_start = window_end
                if run.stopped:
                    outcome.untried = window_start if window_start < end else None
                    break
                continue
            refused = None
            run.streak = 0
            for item in series:
                await self._async_store(
                    meter,
                    item,
                    _hour_of(window_start),
                    _hour_of(window_end - timedelta(microseconds=1)) + HOUR,
                    chains.setdefault(item.quantity, _Chain()),
                )
                if item.intervals:
                    outcome.stored_until = window_end
                    outcome.newest[
                        self.metadata(meter, item.quantity)["statistic_id"]
                    ] = _utc(_hour_of(max(iv.start for iv in item.intervals)))
            window_start = window_end
        await self._async_close_chains(meter, chains)
        LOGGER.debug("Imported %s from %s to %s", meter.key, start, end)
        return outcome

    async def _async_close_chains(
        self, meter: Meter, chains: dict[Quantity, _Chain]
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
                await self._async_rechain_later(
                    self.metadata(meter, quantity), chain.stop, chain.total
                )
            chain.hour = None

    async def _async_store(
        self,
        meter: Meter,
        series: IntervalSeries,
        first: int,
        stop: int,
        chain: _Chain,
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
        chain.stop = stop
        await self._async_write(metadata, rows)

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
