"""Interval amounts by the UTC hour they start in (the grid of hourly statistics)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
import math
from typing import Final

from .models import Interval

HOUR: Final = 3600


def hour_of(moment: datetime) -> int:
    """Return the UTC hour (epoch seconds) that ``moment`` falls in."""
    ts = int(moment.timestamp())
    return ts - ts % HOUR


def unique(intervals: Iterable[Interval]) -> Iterable[Interval]:
    """Drop repeated starts (the last one wins) and non-finite values."""
    by_start = {iv.start: iv for iv in intervals if math.isfinite(iv.value)}
    return by_start.values()


def hourly_amounts(intervals: Iterable[Interval]) -> dict[int, float]:
    """Sum amounts into the UTC hour their interval starts in."""
    hours: dict[int, float] = {}
    for iv in unique(intervals):
        hour = hour_of(iv.start)
        hours[hour] = hours.get(hour, 0.0) + iv.value
    return hours
