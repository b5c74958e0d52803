"""Importing one period window by window, past windows that fail.

A window the provider refuses as too long or too large is halved; a window
that fails otherwise is skipped and reported as a failure (the importer keeps
it as a hole when later hours were stored). A meter's run stops after
``MAX_FAILED_WINDOWS`` failed windows in a row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .api.base import MeterDataClient
from .api.errors import (
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTooLargeError,
)
from .api.models import IntervalSeries, Meter, Quantity
from .const import LOGGER
from .holes import Hole
from .recorder_io import RecorderIO
from .statistics_chain import _Chain, async_close_chains, async_store
from .statistics_rows import HOUR, MetadataOf, _hour_of, _utc

#: A window refused as too long is halved down to a day, then tried as an hour.
MIN_SPLIT = timedelta(days=1)
LAST_SPLIT = timedelta(hours=1)
#: A meter's run stops after this many failed windows in a row.
MAX_FAILED_WINDOWS = 2
#: Adds the series derived from a window [first, stop) just read.
type Derive = Callable[
    [Meter, list[IntervalSeries], datetime, datetime], Awaitable[list[IntervalSeries]]
]
#: Errors that ask for a shorter period.
_TOO_LONG = (MeetdataInvalidRequestError, MeetdataTooLargeError)
#: Errors of one window that do not stop the run (rate limits do).
_SKIPPABLE = (MeetdataConnectionError, MeetdataResponseError, *_TOO_LONG)


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


async def async_import_windows(
    client: MeterDataClient,
    io: RecorderIO,
    metadata: MetadataOf,
    meter: Meter,
    start: datetime,
    end: datetime,
    window: timedelta,
    run: _Run,
    derive: Derive | None = None,
) -> _Outcome:
    """Import [start, end) window by window, past windows that fail.

    A window refused as too long or too large is halved (the shorter
    span stays for the rest of the period); one that fails at the
    shortest span, or for another reason, is skipped. Refused
    credentials, rate limits and meter-wide errors stop at once. ``derive``
    adds what each window gives besides its own series (the quarter-hour
    power, costs).
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
            series = await client.async_get_history(meter, window_start, window_end)
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
            await async_close_chains(io, metadata, meter, chains)
            outcome.failed.append(_Failure(window_start, window_end, err))
            run.streak += 1
            window_start = window_end
            if run.stopped:
                outcome.untried = window_start if window_start < end else None
                break
            continue
        refused = None
        run.streak = 0
        if derive is not None:
            series = await derive(meter, series, window_start, window_end)
        for item in series:
            await async_store(
                io,
                metadata,
                meter,
                item,
                _hour_of(window_start),
                _hour_of(window_end - timedelta(microseconds=1)) + HOUR,
                chains.setdefault(item.quantity, _Chain()),
            )
            if item.intervals:
                outcome.stored_until = window_end
                outcome.newest[metadata(meter, item.quantity)["statistic_id"]] = _utc(
                    _hour_of(max(iv.start for iv in item.intervals))
                )
        window_start = window_end
    await async_close_chains(io, metadata, meter, chains)
    LOGGER.debug("Imported %s from %s to %s", meter.key, start, end)
    return outcome
