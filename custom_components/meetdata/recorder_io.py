"""Reads and writes of our statistics rows through the recorder.

Reads go through the recorder's executor. Writes are recorder jobs of about
``WRITE_JOB_SECONDS`` each, each awaited before the next is queued, so a state
change never waits behind more than one job of ours.
"""

from __future__ import annotations

import asyncio
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

from .const import LOGGER
from .statistics_rows import StatType, _utc

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


class RecorderIO:
    """Read our statistics rows, and write them in jobs sized to the recorder."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Bind to Home Assistant."""
        self.hass = hass
        #: Rows handed to the recorder since start-up (diagnostics, benchmarks).
        self.rows_written = 0
        #: Rows of the next recorder job (adapts to the recorder's speed).
        self.write_batch = FIRST_WRITE_BATCH
        #: Smoothed rows per second of our recorder jobs (None: not measured yet).
        self._write_rate: float | None = None

    async def _async_db(self, func: Any, *args: Any) -> Any:
        return await get_instance(self.hass).async_add_executor_job(func, *args)

    async def async_newest_hour(self, stat_id: str) -> int | None:
        """Return the start (epoch seconds) of the newest stored hour, if any."""
        rows = await self._async_db(
            get_last_statistics, self.hass, 1, stat_id, False, {"sum"}
        )
        if not rows.get(stat_id):
            return None
        return int(rows[stat_id][0]["start"])

    async def async_rows(
        self, stat_id: str, start: int, end: int | None, types: set[StatType]
    ) -> list[Any]:
        """Return the stored hourly rows of a statistic in [start, end)."""
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

    async def async_month_maxima(
        self, stat_ids: set[str], start: datetime
    ) -> dict[str, list[tuple[datetime, float]]]:
        """Return each statistic's highest hourly max per local month from ``start``."""
        if not stat_ids:
            return {}
        rows = await self._async_db(
            statistics_during_period,
            self.hass,
            start,
            None,
            stat_ids,
            "month",
            None,
            {"max"},
        )
        return {
            stat_id: [
                (_utc(int(row["start"])), float(row["max"]))
                for row in stat_rows
                if row.get("max") is not None
            ]
            for stat_id, stat_rows in rows.items()
        }

    async def async_sum_before(self, stat_id: str, hour: int) -> float:
        """Return the running sum of the newest row before ``hour`` (0 if none)."""
        for lookback in SUM_LOOKBACKS:
            start = hour - int(lookback.total_seconds())
            rows = await self.async_rows(stat_id, start, hour, {"sum"})
            if rows:
                return float(rows[-1]["sum"] or 0.0)
        return 0.0

    async def async_write(
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
