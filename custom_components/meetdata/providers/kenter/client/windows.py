"""Kenter request windows: timestamps as the manual writes them, 31-day spans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from .const import COUNTER_INTERVALS, MAX_WINDOW, TIME_ZONE, TIMESTAMP_MARKS_START

#: Extra request span when timestamps mark interval ends (longest interval).
END_PAD: Final = (
    timedelta(0) if TIMESTAMP_MARKS_START else max(COUNTER_INTERVALS.values())
)
SECOND: Final = timedelta(seconds=1)


def format_timestamp(moment: datetime) -> str:
    """Format a moment as the manual's 2.6 demands: YYYY-MM-DDTHH:MI:SS+HH:MI."""
    return moment.astimezone(TIME_ZONE).isoformat(timespec="seconds")


def floor_second(moment: datetime) -> datetime:
    """Drop the microseconds."""
    return moment.replace(microsecond=0)


def ceil_second(moment: datetime) -> datetime:
    """Round up to a whole second."""
    floor = moment.replace(microsecond=0)
    return floor if floor == moment else floor + SECOND


def _wall_clock_add(moment: datetime, span: timedelta) -> datetime:
    """Return ``moment`` plus ``span`` counted on the Dutch wall clock (UTC)."""
    local = moment.astimezone(TIME_ZONE).replace(tzinfo=None) + span
    return local.replace(tzinfo=TIME_ZONE).astimezone(UTC)


def history_windows(
    start: datetime, end: datetime, span: timedelta = MAX_WINDOW
) -> Iterator[tuple[datetime, datetime]]:
    """Split [start, end) into windows whose requests span at most ``span``.

    The document's "maximum of 31 days" does not say which clock it counts,
    so a window stays within it in elapsed time and on the Dutch wall clock
    (a window across the March change is an hour shorter). Windows are counted
    from ``start`` rounded down to a whole second, so the request's rounded
    startDate and endDate never lengthen its span.
    """
    step = span - END_PAD
    window_start = start
    base = floor_second(start)
    while window_start < end:
        window_end = min(base + step, _wall_clock_add(base, step), end)
        yield window_start, window_end
        window_start = base = window_end
