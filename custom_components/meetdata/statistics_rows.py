"""Hourly statistics rows of interval series: ids, metadata, amounts, means, sums."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
import math
import re
from typing import Any, Literal

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    STATISTIC_UNIT_TO_UNIT_CONVERTER,
)

from .api import hours
from .api.models import MEAN_QUANTITIES, QUANTITY_UNITS, Interval, Meter, Quantity, Unit
from .const import DOMAIN

_SUPPORTS_UNIT_CLASS = "unit_class" in StatisticMetaData.__annotations__

type StatType = Literal["last_reset", "max", "mean", "min", "state", "sum"]


def statistic_id(meter: Meter, quantity: Quantity, tag: str = "") -> str:
    """Return ``meetdata:{provider}_{meter}[_{tag}]_{quantity}`` in [a-z0-9_].

    ``tag`` sets apart the statistics of a meter that another entry holds
    first (see ids.py).
    """
    raw = f"{meter.provider}_{meter.key}_{tag}".lower()
    key = re.sub(r"[^a-z0-9]+", "_", raw).strip("_")
    return f"{DOMAIN}:{key}_{quantity}"


#: What gives a meter's statistic of one quantity its metadata (and id).
type MetadataOf = Callable[[Meter, Quantity], StatisticMetaData]


def statistic_metadata(
    meter: Meter,
    quantity: Quantity,
    *,
    tag: str = "",
    holder: str | None = None,
    currency: str = "EUR",
    label: str | None = None,
) -> StatisticMetaData:
    """Return metadata that every supported Home Assistant version accepts.

    ``holder`` (the entry's title) follows the name of tagged statistics;
    costs are in ``currency``; ``label`` names the quantity (default: its
    key in words).
    """
    fixed = QUANTITY_UNITS[quantity]
    unit = currency if fixed is Unit.CURRENCY else str(fixed)
    is_mean = quantity in MEAN_QUANTITIES
    label = label or str(quantity).replace("_", " ").capitalize()
    name = f"{meter.name or meter.key} {label}"
    metadata: dict[str, Any] = {
        "mean_type": StatisticMeanType.ARITHMETIC
        if is_mean
        else StatisticMeanType.NONE,
        "has_sum": not is_mean,
        "name": f"{name} ({holder})" if holder else name,
        "source": DOMAIN,
        "statistic_id": statistic_id(meter, quantity, tag),
        "unit_of_measurement": unit,
    }
    if _SUPPORTS_UNIT_CLASS:
        converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
        metadata["unit_class"] = converter.UNIT_CLASS if converter else None
    return metadata  # type: ignore[return-value]


HOUR = hours.HOUR
_hour_of = hours.hour_of
_unique = hours.unique
#: Amounts summed into the UTC hour their interval starts in.
hourly_amounts = hours.hourly_amounts


def hourly_means(
    intervals: Iterable[Interval],
) -> dict[int, tuple[float, float, float]]:
    """Return time-weighted mean, min and max per UTC hour."""
    acc: dict[int, list[float]] = {}
    for iv in _unique(intervals):
        hour = _hour_of(iv.start)
        weight = (iv.end - iv.start).total_seconds()
        slot = acc.setdefault(hour, [0.0, 0.0, math.inf, -math.inf])
        slot[0] += iv.value * weight
        slot[1] += weight
        slot[2] = min(slot[2], iv.value)
        slot[3] = max(slot[3], iv.value)
    return {
        hour: (total / weight if weight else lo, lo, hi)
        for hour, (total, weight, lo, hi) in acc.items()
    }


def _utc(hour: int) -> datetime:
    return datetime.fromtimestamp(hour, UTC)


def _mean_rows(
    intervals: Iterable[Interval], first: int, stop: int
) -> list[StatisticData]:
    """Return hourly mean/min/max rows of the hours in [first, stop)."""
    return [
        StatisticData(start=_utc(hour), mean=mean, min=low, max=high)
        for hour, (mean, low, high) in sorted(hourly_means(intervals).items())
        if first <= hour < stop
    ]


def _window_amounts(
    intervals: list[Interval], first: int, stop: int
) -> dict[int, float]:
    """Return the hourly amounts of the hours in [first, stop)."""
    return {h: v for h, v in hourly_amounts(intervals).items() if first <= h < stop}


def _chain_rows(
    merged: dict[int, float],
    stored: dict[int, tuple[float, float]],
    total: float,
) -> tuple[list[StatisticData], float, int | None]:
    """Chain the sums of ``merged`` onto ``total``; keep rows that changed.

    Returns the rows to write, the new running total and the last hour.
    """
    rows: list[StatisticData] = []
    last: int | None = None
    for hour in sorted(merged):
        state = merged[hour]
        total += state
        last = hour
        if stored.get(hour) != (state, total):
            rows.append(StatisticData(start=_utc(hour), state=state, sum=total))
    return rows, total, last


def zeroed_rows(rows: list[Any], epsilon: float = 1e-9) -> list[StatisticData]:
    """Return stored hourly rows rewritten as amount 0 at the sum before the first.

    Only rows that change are returned (a second clean-up writes nothing).
    """
    first = rows[0]
    base = float(first.get("sum") or 0.0) - float(first.get("state") or 0.0)
    return [
        StatisticData(start=_utc(int(row["start"])), state=0.0, sum=base)
        for row in rows
        if (row.get("state") or 0.0) != 0.0
        or abs(float(row.get("sum") or 0.0) - base) > epsilon
    ]
