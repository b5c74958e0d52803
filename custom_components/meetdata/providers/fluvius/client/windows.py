"""Fluvius request windows: local midnights, 185-day windows, the segment plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from ....api.models import Meter
from .mandates import DataServiceType, Granularity
from .meters import _PERIOD_ATTRS, ATTR_DATA_SERVICE_TYPES, _attr_time
from .parse import BRUSSELS

MAX_WINDOW: Final = timedelta(days=185)


HISTORY_YEARS: Final = 3


def _utcnow() -> datetime:
    """Return the current time (UTC)."""
    return datetime.now(UTC)


def local_midnight_floor(moment: datetime) -> datetime:
    """Return the Brussels midnight at or before ``moment`` (as UTC)."""
    local = moment.astimezone(BRUSSELS)
    return datetime(local.year, local.month, local.day, tzinfo=BRUSSELS).astimezone(UTC)


def local_midnight_ceil(moment: datetime) -> datetime:
    """Return the Brussels midnight at or after ``moment`` (as UTC)."""
    floor = local_midnight_floor(moment)
    if floor == moment:
        return floor
    local = floor.astimezone(BRUSSELS) + timedelta(days=1, hours=3)
    return local_midnight_floor(local)


def _floor(moment: datetime, step: timedelta) -> datetime:
    """Floor an aware UTC datetime to a multiple of ``step`` (≤ 1 h)."""
    utc = moment.astimezone(UTC)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((utc - epoch) // step) * step


def _ceil(moment: datetime, step: timedelta) -> datetime:
    """Ceil an aware UTC datetime to a multiple of ``step`` (≤ 1 h)."""
    floor = _floor(moment, step)
    return floor if floor == moment else floor + step


def split_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split [start, end) into windows of at most 185 days.

    Windows step in Brussels calendar days so daily slices are never cut; a
    window that would span more than 185 days of 24 h (autumn DST) is a day shorter.
    """
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        local = cursor.astimezone(BRUSSELS)
        stop = (local + timedelta(days=185)).astimezone(UTC)
        if stop - cursor > MAX_WINDOW:
            stop = (local + timedelta(days=184)).astimezone(UTC)
        stop = min(stop, end)
        windows.append((cursor, stop))
        cursor = stop
    return windows


def three_years_back(now: datetime) -> datetime:
    """Return the earliest moment the API serves: 3 years back, next midnight."""
    local = now.astimezone(BRUSSELS)
    try:
        back = local.replace(year=local.year - HISTORY_YEARS)
    except ValueError:  # 29 February
        back = local.replace(year=local.year - HISTORY_YEARS, day=28)
    return local_midnight_ceil(back.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class _Segment:
    """A part of a history request served at one detail level."""

    start: datetime
    end: datetime
    granularity: Granularity


def _plan(
    meter: Meter, start: datetime, end: datetime, gas: bool, now: datetime
) -> list[_Segment]:
    """Split [start, end) by the finest detail level mandated for each part.

    Segments are aligned to whole slices (quarter/hour, or Brussels days) and
    never reach past the last whole slice before ``now``.
    """
    periods: dict[Granularity, tuple[datetime | None, datetime | None]] = {}
    services = meter.attributes.get(ATTR_DATA_SERVICE_TYPES)
    for granularity, (lo_attr, hi_attr) in _PERIOD_ATTRS.items():
        if services is None or _service_of(granularity) in services.split(","):
            periods[granularity] = (
                _attr_time(meter, lo_attr),
                _attr_time(meter, hi_attr),
            )
    fine_step = timedelta(hours=1) if gas else timedelta(minutes=15)
    segments: list[_Segment] = []
    remaining = [(start, end)]
    fine = periods.get(Granularity.HOURLY_QUARTERHOURLY)
    if fine is not None:
        lo = max(start, fine[0] or start)
        hi = min(end, fine[1] or end)
        if lo < hi:
            lo, hi = _floor(lo, fine_step), _ceil(hi, fine_step)
            segments.append(_Segment(lo, hi, Granularity.HOURLY_QUARTERHOURLY))
            remaining = [(start, lo), (hi, end)]
    daily = periods.get(Granularity.DAILY)
    if daily is not None:
        for part_lo, part_hi in remaining:
            lo = max(part_lo, daily[0] or part_lo)
            hi = min(part_hi, daily[1] or part_hi)
            if lo < hi:
                lo = local_midnight_floor(lo)
                hi = local_midnight_ceil(hi)
                segments.append(_Segment(lo, hi, Granularity.DAILY))
    segments.sort(key=lambda s: s.start)
    # Daily segments are widened to midnights: they yield to the fine one.
    trimmed: list[_Segment] = []
    for seg in segments:
        if trimmed and seg.start < trimmed[-1].end:
            prev = trimmed[-1]
            if prev.granularity is Granularity.DAILY:
                trimmed[-1] = _Segment(prev.start, seg.start, prev.granularity)
                if prev.start >= seg.start:
                    trimmed.pop()
            else:
                seg = _Segment(prev.end, seg.end, seg.granularity)
        if seg.start < seg.end:
            trimmed.append(seg)
    caps = {
        Granularity.DAILY: local_midnight_floor(now),
        Granularity.HOURLY_QUARTERHOURLY: _floor(now, fine_step),
    }
    return [
        _Segment(seg.start, min(seg.end, caps[seg.granularity]), seg.granularity)
        for seg in trimmed
        if seg.start < caps[seg.granularity]
    ]


def _service_of(granularity: Granularity) -> str:
    """Return the dataServiceType value of a granularity."""
    if granularity is Granularity.DAILY:
        return DataServiceType.DAILY.value
    return DataServiceType.QUARTER_HOURLY.value
