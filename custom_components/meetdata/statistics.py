"""Provider-neutral import of interval series into hourly external statistics.

Amounts (energy, gas) become hourly rows with a running ``sum``; averages
(power, voltage) hourly mean/min/max rows (see ``statistics_rows``). Every
import re-reads an overlap window, merges it with what is stored, and
re-chains the sums of later rows when a stored hour changed
(``statistics_chain``). A window the provider refuses as too long or too
large is halved; a window that fails otherwise is skipped
(``statistics_windows``), and kept as a hole (``holes``) when later hours
were stored, to be imported first on the next runs. Rows are read and
written through the recorder in small, awaited jobs (``recorder_io``). This
module decides what each run imports; the importer is the only writer of
our rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .api.base import MeterDataClient
from .api.models import IntervalSeries, Meter, Quantity
from .capacity import CapacityBook, with_quarter_hour_power
from .const import LOGGER
from .costs import CostPricer
from .holes import Hole, HoleBook, error_text
from .prices import PRICED
from .recorder_io import RecorderIO
from .statistics_chain import async_compute
from .statistics_rows import MetadataOf, _hour_of, _utc, statistic_metadata, zeroed_rows
from .statistics_windows import (
    MAX_FAILED_WINDOWS,
    _Failure,
    _Run,
    _without,
    async_import_windows,
)


class StatisticsImporter:
    """Import the history of one config entry's meters (and clear hours of it)."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: MeterDataClient,
        entry: ConfigEntry | None = None,
        *,
        metadata: MetadataOf = statistic_metadata,
        pricer: CostPricer | None = None,
    ) -> None:
        """Bind to Home Assistant, a provider client, its entry and its statistic ids.

        The entry keeps the holes; ``metadata`` gives a meter's statistic of one
        quantity its metadata (and id); ``pricer`` adds cost statistics.
        """
        self.hass = hass
        self.client = client
        #: Periods that failed while later hours were stored (per meter).
        self.holes = HoleBook(hass, entry)
        #: The quarter of each month's peak, and the highest estimate.
        self.peaks = CapacityBook(hass, entry)
        #: The metadata (and id) of a meter's statistic of one quantity.
        self.metadata = metadata
        #: Prices the amounts of each window (no settings: no costs).
        self.pricer = pricer or CostPricer(hass, [])
        #: Reads and (job-sized) writes of our rows through the recorder.
        self.io = RecorderIO(hass)
        #: One writer at a time: the schedule, the import_history action and
        #: a provider's clean-up (Fluvius data periods that ended).
        self.lock = asyncio.Lock()

    @property
    def rows_written(self) -> int:
        """Return the rows handed to the recorder since start-up."""
        return self.io.rows_written

    @property
    def write_batch(self) -> int:
        """Return the rows of the next recorder job."""
        return self.io.write_batch

    async def async_last_hour(self, stat_id: str) -> datetime | None:
        """Return the start of the newest stored hour of a statistic."""
        hour = await self.io.async_newest_hour(stat_id)
        return None if hour is None else _utc(hour)

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
        await self._async_load()
        async with self.lock:
            run = _Run()
            try:
                newest = await self._async_fill_holes(meter, window, run, now)
                # Holes that keep failing never keep the newest hours out:
                # the import gets at least one window of its own.
                run.streak = min(run.streak, MAX_FAILED_WINDOWS - 1)
                start = await self._async_resume_point(
                    meter, since, now, overlap, window
                )
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

    async def _async_load(self) -> None:
        """Read the entry's holes and peak quarters once."""
        await self.holes.async_load()
        await self.peaks.async_load()

    async def _async_resume_point(
        self,
        meter: Meter,
        since: datetime,
        now: datetime,
        overlap: timedelta,
        window: timedelta,
    ) -> datetime:
        """Return where the next import of ``meter`` starts.

        A statistic more than a window behind the meter's newest one (a
        quantity the provider stopped sending: a tariff register) no longer
        holds the start back: each run would re-read all of the depth.
        """
        newest: dict[Quantity, datetime | None] = {
            quantity: await self.async_last_hour(
                self.metadata(meter, quantity)["statistic_id"]
            )
            for quantity in self.client.history_quantities
        }
        stored = [hour for hour in newest.values() if hour]
        if stored:
            stored = [hour for hour in stored if hour >= max(stored) - window]
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
            # Costs behind their amounts (a price that became known later,
            # a price source set since): re-read where they stopped.
            catch_up = await self._async_cost_catch_up(
                meter, newest, since, overlap, now
            )
            if catch_up is not None:
                start = min(start, catch_up)
        earliest = self.client.earliest_history(meter)
        if earliest is not None:
            start = max(start, earliest)
        if self.client.max_history is not None:
            start = max(start, now - self.client.max_history)
        return start

    async def _async_cost_catch_up(
        self,
        meter: Meter,
        newest: dict[Quantity, datetime | None],
        since: datetime,
        overlap: timedelta,
        now: datetime,
    ) -> datetime | None:
        """Return where lagging cost statistics of ``meter`` catch up (None: none lag).

        ``newest`` holds the newest stored hour of the provider's quantities
        (read for the resume point); only the cost statistics are read here.
        """
        if not self.pricer.settings:
            return None
        costs = {
            cost: await self.async_last_hour(self.metadata(meter, cost)["statistic_id"])
            for setting in self.pricer.settings
            for amount, cost in PRICED[setting.kind].costed()
            if newest.get(amount) is not None
        }
        return await self.pricer.async_catch_up(
            meter, newest | costs, since, overlap, now
        )

    async def _async_derive(
        self,
        meter: Meter,
        series: list[IntervalSeries],
        first: datetime,
        stop: datetime,
    ) -> list[IntervalSeries]:
        """Add a window's quarter-hour power (and its month peaks) and costs."""
        series, bests = await async_compute(
            self.io,
            sum(len(item.intervals) for item in series),
            with_quarter_hour_power,
            series,
        )
        if bests is not None:
            self.peaks.observe(meter.key, bests, first, stop)
        return await self.pricer.async_with_costs(
            self.io, series, first, stop, dt_util.utcnow()
        )

    async def async_import_period(
        self, meter: Meter, start: datetime, end: datetime, window: timedelta
    ) -> dict[str, datetime]:
        """Fetch and store [start, end) window by window; re-chain later sums.

        A window is fetched only once the previous one is written: fetching
        ahead saves time but not CPU, and parsing while the recorder writes
        costs both threads (the GIL) ~10 % more CPU. Failed windows are
        handled as in a scheduled run (holes, the error of the last one).
        """
        await self._async_load()
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
            outcome = await async_import_windows(
                self.client,
                self.io,
                self.metadata,
                meter,
                start,
                end,
                window,
                run,
                self._async_derive,
            )
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
            outcome = await async_import_windows(
                self.client,
                self.io,
                self.metadata,
                meter,
                hole.start,
                hole.end,
                window,
                run,
                self._async_derive,
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
                    rows = await self.io.async_rows(
                        stat_id, _hour_of(end), None, {"state", "sum"}
                    )
                    new = zeroed_rows(rows) if rows else []
                    if new:
                        await self.io.async_write(metadata, new)
                        LOGGER.info(
                            "Removed %d hours of %s after the data period ended at %s",
                            len(new),
                            stat_id,
                            end.isoformat(),
                        )
                    written += len(new)
            return written
