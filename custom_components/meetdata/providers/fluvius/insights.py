"""Yesterday's offtake and injection and the monthly capacity peaks of Fluvius EANs.

Fluvius offers no capacity peak through the API; it is computed from the
quarter-hour offtake of the month (highest READ/VAL quarter in kWh times 4 = kW,
valid only when every quarter is READ or VAL). Hourly statistics cannot give
it, so this coordinator keeps the quarter-hour (and daily) offtake and
injection of the previous and the current month in memory: one GET Energy by
readTime at start-up, then only what Fluvius inserted since the previous
poll (periodType insertTime), which also brings corrections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from ...api.errors import MeetdataAuthError, MeetdataError, MeetdataRateLimitError
from ...api.failure_domains import most_telling
from ...api.models import Interval, IntervalSeries, Meter, MeterKind, Quality, Quantity
from ...const import DOMAIN, LOGGER
from ...errors import ha_error
from ...outages import MeterOutages
from ..base import MeetdataEntry
from .client import (
    CapacityPeak,
    FluviusClient,
    FluviusNoMandateError,
    PeriodType,
    capacity_peak,
)
from .client.meters import ATTR_HEADPOINT
from .client.parse import BRUSSELS
from .client.windows import local_midnight_floor

INSIGHTS_UPDATE_INTERVAL = timedelta(hours=1)
#: How far before the previous poll an insertTime request starts (clock skew).
INSERT_MARGIN = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
#: What the first read covers for every EAN (yesterday, whatever the hour).
RECENT = timedelta(days=2)

#: The sensor quantity of yesterday's amount of each source quantity.
YESTERDAY = {
    Quantity.ENERGY_IMPORT: Quantity.ENERGY_IMPORT_YESTERDAY,
    Quantity.ENERGY_EXPORT: Quantity.ENERGY_EXPORT_YESTERDAY,
}
PEAKS = (Quantity.CAPACITY_PEAK, Quantity.CAPACITY_PEAK_LAST_MONTH)


@dataclass(frozen=True, slots=True)
class DayAmount:
    """The amount of one local day; ``complete`` when every value is final."""

    start: datetime
    end: datetime
    value: float
    complete: bool
    intervals: int
    estimated: int


@dataclass(slots=True)
class MeterInsights:
    """What the sensors of one EAN show."""

    amounts: dict[Quantity, DayAmount] = field(default_factory=dict)
    peaks: dict[Quantity, CapacityPeak] = field(default_factory=dict)


@dataclass(slots=True)
class _Store:
    """Intervals of one EAN by quantity, detail level and start."""

    fine: dict[Quantity, dict[datetime, Interval]] = field(default_factory=dict)
    daily: dict[Quantity, dict[datetime, Interval]] = field(default_factory=dict)

    def add(self, quantity: Quantity, intervals: list[Interval]) -> None:
        """Add (or replace by start) intervals of one quantity."""
        for item in intervals:
            level = self.fine if item.end - item.start <= QUARTER else self.daily
            level.setdefault(quantity, {})[item.start] = item

    def prune(self, before: datetime) -> None:
        """Drop intervals that start before ``before``."""
        for level in (self.fine, self.daily):
            for by_start in level.values():
                for start in [s for s in by_start if s < before]:
                    del by_start[start]


def insight_meters(meters: list[Meter]) -> list[Meter]:
    """Return the electricity headpoints (the EANs that have offtake/injection)."""
    return [
        m
        for m in meters
        if m.kind is MeterKind.ELECTRICITY and ATTR_HEADPOINT not in m.attributes
    ]


def month_start(moment: datetime, months_back: int = 0) -> datetime:
    """Return the first Brussels midnight of the month ``months_back`` before."""
    local = moment.astimezone(BRUSSELS)
    index = local.year * 12 + local.month - 1 - months_back
    first = datetime(index // 12, index % 12 + 1, 1, tzinfo=BRUSSELS)
    return first.astimezone(UTC)


def day_amount(store: _Store, quantity: Quantity, now: datetime) -> DayAmount | None:
    """Return yesterday's (Brussels) amount: quarters if any, else the day value."""
    today = local_midnight_floor(now)
    yesterday = local_midnight_floor(today - timedelta(hours=1))
    quarters = [
        item
        for start, item in store.fine.get(quantity, {}).items()
        if yesterday <= start < today
    ]
    if quarters:
        estimated = sum(1 for q in quarters if q.quality is Quality.ESTIMATED)
        expected = int((today - yesterday) / QUARTER)
        return DayAmount(
            yesterday,
            today,
            round(sum(q.value for q in quarters), 6),
            complete=len(quarters) == expected and not estimated,
            intervals=len(quarters),
            estimated=estimated,
        )
    day = store.daily.get(quantity, {}).get(yesterday)
    if day is None:
        return None
    estimated = int(day.quality is Quality.ESTIMATED)
    return DayAmount(
        yesterday,
        today,
        round(day.value, 6),
        complete=not estimated,
        intervals=1,
        estimated=estimated,
    )


def meter_insights(store: _Store, now: datetime) -> MeterInsights:
    """Compute the sensors' values of one EAN from its stored intervals."""
    insights = MeterInsights()
    for source, target in YESTERDAY.items():
        if (amount := day_amount(store, source, now)) is not None:
            insights.amounts[target] = amount
    quarters = list(store.fine.get(Quantity.ENERGY_IMPORT, {}).values())
    if quarters:
        this_month = now.astimezone(BRUSSELS)
        last_month = month_start(now, 1).astimezone(BRUSSELS)
        insights.peaks[Quantity.CAPACITY_PEAK] = capacity_peak(
            quarters, this_month.year, this_month.month, now=now
        )
        insights.peaks[Quantity.CAPACITY_PEAK_LAST_MONTH] = capacity_peak(
            quarters, last_month.year, last_month.month
        )
    return insights


class FluviusInsightsCoordinator(DataUpdateCoordinator[dict[str, MeterInsights]]):
    """Keep two months of offtake/injection per EAN; compute the sensor values."""

    config_entry: MeetdataEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataEntry,
        client: FluviusClient,
        meters: list[Meter],
    ) -> None:
        """Follow ``meters`` (electricity headpoints) through ``client``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title} capacity peaks",
            update_interval=INSIGHTS_UPDATE_INTERVAL,
        )
        self.client = client
        self.meters = meters
        self._stores: dict[str, _Store] = {}
        #: When each EAN's store was last brought up to date (absent: read fully).
        self._synced: dict[str, datetime] = {}
        self.outages = MeterOutages(entry.title, "daily amounts and capacity peaks")

    def quantities(self, meter: Meter) -> list[Quantity]:
        """Return the sensor quantities an EAN has data for (all before any data)."""
        store = self._stores.get(meter.key)
        if store is None:
            return [*YESTERDAY.values(), *PEAKS]
        found = [
            target
            for source, target in YESTERDAY.items()
            if store.fine.get(source) or store.daily.get(source)
        ]
        if store.fine.get(Quantity.ENERGY_IMPORT):
            found += PEAKS
        return found

    async def _async_update_data(self) -> dict[str, MeterInsights]:
        """Bring every EAN's store up to date; one EAN's error spares the others.

        An EAN that fails is left out (its sensors unavailable) and caught up
        from its own last success on the next poll. Refused credentials, a
        rate limit, or every EAN failing fail the poll as a whole.
        """
        now = dt_util.utcnow()
        since = month_start(now, 1)
        failures: dict[str, MeetdataError] = {}
        for meter in self.meters:
            try:
                await self._async_update_meter(meter, since, now)
            except MeetdataError as err:
                if isinstance(err, MeetdataAuthError | MeetdataRateLimitError):
                    raise ha_error(err) from err
                failures[meter.key] = err
        if failures and len(failures) == len(self.meters):
            raise ha_error(most_telling(failures.values()))
        self.outages.update(failures, (meter.key for meter in self.meters))
        present = {meter.key for meter in self.meters}
        for gone in self._stores.keys() - present:  # EANs that left the account
            del self._stores[gone]
            self._synced.pop(gone, None)
        for store in self._stores.values():
            store.prune(since)
        return {
            key: meter_insights(store, now)
            for key, store in self._stores.items()
            if key not in failures
        }

    async def _async_update_meter(
        self, meter: Meter, since: datetime, now: datetime
    ) -> None:
        """Read an EAN fully the first time, then what was inserted since."""
        synced = self._synced.get(meter.key)
        if synced is None:
            self._stores[meter.key] = await self._async_read(meter, since, now)
        else:
            await self._async_insertions(
                self._stores[meter.key], meter, synced - INSERT_MARGIN, now
            )
        self._synced[meter.key] = now

    async def _async_read(self, meter: Meter, since: datetime, now: datetime) -> _Store:
        """Read the last days by readTime; the two months where there is offtake.

        The peaks need every quarter-hour of offtake of both months; an EAN
        without quarter-hour offtake (injection only, or daily access) needs
        only yesterday.
        """
        store = _Store()
        recent = local_midnight_floor(now - RECENT)
        for lo, hi in ((recent, now), (since, recent)):
            try:
                series: list[IntervalSeries] = await self.client.async_get_history(
                    meter, lo, hi
                )
            except FluviusNoMandateError:
                continue
            for item in series:
                if item.quantity in YESTERDAY:
                    store.add(item.quantity, item.intervals)
            if not store.fine.get(Quantity.ENERGY_IMPORT):
                break
        return store

    async def _async_insertions(
        self, store: _Store, meter: Meter, since: datetime, now: datetime
    ) -> None:
        """Add what Fluvius inserted in [since, now): new and corrected values."""
        try:
            data = await self.client.async_get_energy(
                meter.key,
                since,
                now,
                granularity=None,
                period_type=PeriodType.INSERT_TIME,
            )
        except FluviusNoMandateError:
            return
        found = data.meter(meter.key)
        for level in (found.daily, found.fine) if found else ():
            for quantity in YESTERDAY:
                store.add(quantity, level.get(quantity, []))
