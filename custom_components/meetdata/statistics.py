"""Provider-neutral import of interval series into hourly external statistics.

Amounts (energy, gas) become hourly rows with a running ``sum``; averages
(power, voltage) become hourly mean/min/max rows. Every import re-reads an
overlap window, merges it with what is stored, and re-chains the sums of all
later rows when a stored hour changed. Database reads go through the
recorder's executor; writes are cut into small recorder jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance

from .api.base import MeterDataClient
from .api.models import (
    MEAN_QUANTITIES,
    QUANTITY_UNITS,
    Interval,
    IntervalSeries,
    Meter,
    Quantity,
)
from .const import DOMAIN, LOGGER

HOUR = 3600
#: Rows per recorder job: keeps each job of ours well under a second.
WRITE_BATCH = 500
#: How far back to look for the sum an import chains on to.
SUM_LOOKBACKS = (timedelta(days=2), timedelta(days=40), timedelta(days=4000))

_SUPPORTS_UNIT_CLASS = "unit_class" in StatisticMetaData.__annotations__

type StatType = Literal["last_reset", "max", "mean", "min", "state", "sum"]


def statistic_id(meter: Meter, quantity: Quantity) -> str:
    """Return ``meetdata:{provider}_{meter}_{quantity}`` in [a-z0-9_]."""
    key = re.sub(r"[^a-z0-9]+", "_", f"{meter.provider}_{meter.key}".lower()).strip("_")
    return f"{DOMAIN}:{key}_{quantity}"


def statistic_metadata(meter: Meter, quantity: Quantity) -> StatisticMetaData:
    """Return metadata that every supported Home Assistant version accepts."""
    unit = str(QUANTITY_UNITS[quantity])
    is_mean = quantity in MEAN_QUANTITIES
    label = str(quantity).replace("_", " ").capitalize()
    metadata: dict[str, Any] = {
        "mean_type": StatisticMeanType.ARITHMETIC
        if is_mean
        else StatisticMeanType.NONE,
        "has_sum": not is_mean,
        "name": f"{meter.name or meter.key} {label}",
        "source": DOMAIN,
        "statistic_id": statistic_id(meter, quantity),
        "unit_of_measurement": unit,
    }
    if _SUPPORTS_UNIT_CLASS:
        converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
        metadata["unit_class"] = converter.UNIT_CLASS if converter else None
    return metadata  # type: ignore[return-value]


def _hour_of(moment: datetime) -> int:
    """Return the UTC hour (epoch seconds) that ``moment`` falls in."""
    ts = int(moment.timestamp())
    return ts - ts % HOUR


def _unique(intervals: Iterable[Interval]) -> Iterable[Interval]:
    """Drop repeated starts (the last one wins) and non-finite values."""
    by_start = {iv.start: iv for iv in intervals if math.isfinite(iv.value)}
    return by_start.values()


def hourly_amounts(intervals: Iterable[Interval]) -> dict[int, float]:
    """Sum amounts into the UTC hour their interval starts in."""
    hours: dict[int, float] = {}
    for iv in _unique(intervals):
        hour = _hour_of(iv.start)
        hours[hour] = hours.get(hour, 0.0) + iv.value
    return hours


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


@dataclass(slots=True)
class _Chain:
    """Where the sum of one statistic stands during an import run."""

    hour: int | None = None
    total: float = 0.0


class StatisticsImporter:
    """Import the history of one config entry's meters."""

    def __init__(self, hass: HomeAssistant, client: MeterDataClient) -> None:
        """Bind to Home Assistant and a provider client."""
        self.hass = hass
        self.client = client
        #: Rows handed to the recorder since start-up (diagnostics, benchmarks).
        self.rows_written = 0

    async def _async_db(self, func: Any, *args: Any) -> Any:
        return await get_instance(self.hass).async_add_executor_job(func, *args)

    async def async_last_hour(self, stat_id: str) -> datetime | None:
        """Return the start of the newest stored hour of a statistic."""
        rows = await self._async_db(
            get_last_statistics, self.hass, 1, stat_id, False, {"sum"}
        )
        if not rows.get(stat_id):
            return None
        return _utc(int(rows[stat_id][0]["start"]))

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

    def _write(self, metadata: StatisticMetaData, rows: list[StatisticData]) -> None:
        self.rows_written += len(rows)
        for first in range(0, len(rows), WRITE_BATCH):
            async_add_external_statistics(
                self.hass, metadata, rows[first : first + WRITE_BATCH]
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
            if (hour := await self.async_last_hour(statistic_id(meter, quantity)))
        ]
        if not stored:
            start = since
        elif min(stored) >= since:
            # Re-read the overlap, but never reach back past the configured depth.
            start = max(min(stored) - overlap, since)
        else:
            # Stopped longer ago than the depth (an outage): fill the whole gap.
            start = min(stored) - overlap
        earliest = self.client.earliest_history(meter)
        if earliest is not None:
            start = max(start, earliest)
        if self.client.max_history is not None:
            start = max(start, now - self.client.max_history)
        return await self.async_import_period(meter, start, now, window)

    async def async_import_period(
        self, meter: Meter, start: datetime, end: datetime, window: timedelta
    ) -> dict[str, datetime]:
        """Fetch and store [start, end) window by window; re-chain later sums."""
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
                    newest[statistic_id(meter, item.quantity)] = _utc(
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
        metadata = statistic_metadata(meter, series.quantity)
        stat_id = metadata["statistic_id"]
        if series.quantity in MEAN_QUANTITIES:
            self._write(metadata, _mean_rows(series.intervals, first, stop))
            return
        new = {
            h: v
            for h, v in hourly_amounts(series.intervals).items()
            if first <= h < stop
        }
        if not new and chain.hour is None:
            return
        stored = {
            int(row["start"]): (float(row["state"] or 0.0), float(row["sum"] or 0.0))
            for row in await self._async_rows(stat_id, first, stop, {"state", "sum"})
        }
        merged = {h: state for h, (state, _) in stored.items()} | new
        if chain.hour is None:
            chain.total = await self._async_sum_before(stat_id, first)
        rows: list[StatisticData] = []
        for hour in sorted(merged):
            chain.total += merged[hour]
            chain.hour = hour
            if stored.get(hour) != (merged[hour], chain.total):
                rows.append(
                    StatisticData(start=_utc(hour), state=merged[hour], sum=chain.total)
                )
        self._write(metadata, rows)
        if rechain_after:
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
        self._write(metadata, rows)
