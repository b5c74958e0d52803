"""The capacity tariff: each month's highest quarter-hour import power.

The importer writes every meter's quarter-hour power statistic
(``quarter_hour_power``: hourly mean/min/max of the read and validated
quarters); its highest max in a month is the month's peak, so a statistics
graph with period "month" shows the peaks. The statistic cannot say in which
quarter the peak fell, nor whether an estimated quarter was higher (estimates
are left out): ``CapacityBook`` keeps both per meter and local month in a
Store. ``async_capacity`` combines the two into what the sensors show: this
month's peak (read from the statistic, so sensor and graph agree), its
quarter, and the average of the last 12 monthly peaks, each counted as at
least 2.5 kW (the Flemish rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api.capacity import PEAK_QUALITIES, quarter_hour_power_series, read_only
from .api.models import Interval, IntervalSeries, Quantity
from .const import DOMAIN
from .recorder_io import RecorderIO

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10
#: The Flemish capacity tariff counts every monthly peak as at least this.
MINIMUM_PEAK_KW: Final = 2.5
#: Monthly peaks in the rolling average (this month and the 11 before it).
AVERAGE_MONTHS: Final = 12
#: Months kept in the Store (the average's months and one more).
KEPT_MONTHS: Final = AVERAGE_MONTHS + 1
#: Two peaks closer than this are the same value (read back from a database).
SAME_KW: Final = 1e-6


def storage_key(entry_id: str) -> str:
    """Return the Store key of an entry's peak quarters."""
    return f"{DOMAIN}.capacity.{entry_id}"


def month_key(moment: datetime) -> str:
    """Return the local calendar month of ``moment`` as ``YYYY-MM``."""
    return dt_util.as_local(moment).strftime("%Y-%m")


def month_start(moment: datetime, back: int = 0) -> datetime:
    """Return the local start of the month of ``moment``, ``back`` months earlier."""
    local = dt_util.as_local(moment)
    index = local.year * 12 + local.month - 1 - back
    return dt_util.start_of_local_day(
        datetime(index // 12, index % 12 + 1, 1, tzinfo=local.tzinfo)
    )


#: Per local month: its highest read quarter and its highest estimated one.
type MonthBests = dict[str, tuple[Interval | None, Interval | None]]


def month_bests(powers: Iterable[Interval]) -> MonthBests:
    """Return the highest read and estimated quarter-hour power of each month.

    Pure (it runs in an executor for long periods).
    """
    best: MonthBests = {}
    for item in powers:
        month = month_key(item.start)
        read, estimated = best.get(month, (None, None))
        if item.quality in PEAK_QUALITIES:
            if read is None or item.value > read.value:
                read = item
        elif estimated is None or item.value > estimated.value:
            estimated = item
        best[month] = (read, estimated)
    return best


@dataclass(frozen=True, slots=True)
class Peak:
    """A quarter hour's average power (kW) and its start."""

    kw: float
    quarter: datetime

    def as_list(self) -> list[Any]:
        """Return the peak as JSON-ready data."""
        return [self.kw, self.quarter.isoformat()]

    @classmethod
    def from_list(cls, data: Any) -> Peak | None:
        """Return a stored peak (None: absent or unreadable)."""
        try:
            return cls(float(data[0]), datetime.fromisoformat(str(data[1])))
        except (IndexError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class MonthPeaks:
    """The highest read and the highest estimated quarter of a month."""

    read: Peak | None = None
    estimated: Peak | None = None


@dataclass(frozen=True, slots=True)
class Capacity:
    """What the capacity sensors of one meter show."""

    #: This month's peak (kW; None: no read quarter yet) and its quarter.
    peak: float | None
    quarter: datetime | None
    #: An estimated quarter of this month was higher than the peak.
    estimate_above: bool
    #: The average of the last monthly peaks (each at least 2.5 kW).
    average: float | None
    #: The months in that average.
    months: int
    #: An estimated quarter was higher than the peak in one of those months.
    estimates_involved: bool


def _higher(
    old: Peak | None, new: Interval | None, first: datetime, stop: datetime
) -> Peak | None:
    """Return the month's peak after quarters [first, stop) were read again.

    A remembered peak inside the re-read period is replaced by what the period
    holds now; one outside it stands unless a new quarter is higher.
    """
    if old is not None and not first <= old.quarter < stop:
        if new is None or old.kw >= new.value:
            return old
    return None if new is None else Peak(new.value, new.start)


class CapacityBook:
    """Per meter and local month: the quarter of the read peak, the top estimate."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry | None) -> None:
        """Bind to an entry's Store (in memory only without an entry)."""
        self.hass = hass
        self._store: Store[dict[str, Any]] | None = (
            None
            if entry is None
            else Store(hass, STORAGE_VERSION, storage_key(entry.entry_id))
        )
        self._months: dict[str, dict[str, MonthPeaks]] = {}
        self._loaded = self._store is None

    async def async_load(self) -> None:
        """Read the stored peaks once."""
        if self._loaded or self._store is None:
            return
        data = await self._store.async_load() or {}
        for meter_key, months in data.get("meters", {}).items():
            self._months[str(meter_key)] = {
                str(month): MonthPeaks(
                    Peak.from_list(item.get("read")),
                    Peak.from_list(item.get("estimated")),
                )
                for month, item in months.items()
                if isinstance(item, dict)
            }
        self._loaded = True

    def month(self, meter_key: str, month: str) -> MonthPeaks:
        """Return what is known of one meter's month."""
        return self._months.get(meter_key, {}).get(month, MonthPeaks())

    def observe(
        self, meter_key: str, bests: MonthBests, first: datetime, stop: datetime
    ) -> None:
        """Take in the best quarters per month of the period [first, stop) just read."""
        months = self._months.setdefault(meter_key, {})
        for month, (read, estimated) in bests.items():
            old = months.get(month, MonthPeaks())
            months[month] = MonthPeaks(
                _higher(old.read, read, first, stop),
                _higher(old.estimated, estimated, first, stop),
            )
        oldest = month_key(month_start(dt_util.utcnow(), KEPT_MONTHS - 1))
        for month in [m for m in months if m < oldest]:
            del months[month]
        if self._store is not None:
            self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> dict[str, Any]:
        return {
            "meters": {
                meter_key: {
                    month: {
                        "read": peaks.read.as_list() if peaks.read else None,
                        "estimated": peaks.estimated.as_list()
                        if peaks.estimated
                        else None,
                    }
                    for month, peaks in months.items()
                }
                for meter_key, months in self._months.items()
            }
        }

    def as_dict(self, meter_key: str) -> dict[str, Any]:
        """Return one meter's months as JSON-ready data (diagnostics)."""
        return dict(self._data()["meters"].get(meter_key, {}))


def _estimate_above(peaks: MonthPeaks, peak: float | None) -> bool:
    estimated = peaks.estimated
    return estimated is not None and (peak is None or estimated.kw > peak + SAME_KW)


async def async_capacity(
    io: RecorderIO,
    book: CapacityBook,
    stat_ids: Mapping[str, str],
    now: datetime,
) -> dict[str, Capacity]:
    """Return the capacity of each meter (by key) from its statistic id.

    Meters whose statistic holds no row of the last 12 months are left out.
    """
    this_month = month_key(now)
    first = month_start(now, AVERAGE_MONTHS - 1).astimezone(UTC)
    maxima = await io.async_month_maxima(set(stat_ids.values()), first)
    result: dict[str, Capacity] = {}
    for meter_key, stat_id in stat_ids.items():
        peaks = {month_key(start): value for start, value in maxima.get(stat_id, [])}
        if not peaks:
            continue
        peak = peaks.get(this_month)
        current = book.month(meter_key, this_month)
        read = current.read
        counted = [max(value, MINIMUM_PEAK_KW) for value in peaks.values()]
        result[meter_key] = Capacity(
            peak=peak,
            quarter=read.quarter
            if read is not None and peak is not None and abs(read.kw - peak) < SAME_KW
            else None,
            estimate_above=_estimate_above(current, peak),
            average=sum(counted) / len(counted),
            months=len(counted),
            estimates_involved=any(
                _estimate_above(book.month(meter_key, month), value)
                for month, value in peaks.items()
            ),
        )
    return result


def with_quarter_hour_power(
    series: list[IntervalSeries],
) -> tuple[list[IntervalSeries], MonthBests | None]:
    """Add the quarter-hour power statistic's series (read quarters only).

    Also returns each month's best quarters, estimates included (None: the
    series give no quarter-hour power). Pure: long windows run it in an
    executor.
    """
    powers = quarter_hour_power_series(series)
    if powers is None:
        return series, None
    return [
        *(item for item in series if item.quantity is not Quantity.QUARTER_HOUR_POWER),
        read_only(powers),
    ], month_bests(powers.intervals)
