"""The Fluvius client: meters, latest readings and history from the energy API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import functools
from typing import Final

from ....api.base import UnitFailures
from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
)
from ....api.http import gather_each, gather_limited
from ....api.models import (
    Interval,
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Quantity,
    Reading,
)
from .energy_api import FluviusEnergyApi
from .errors import FluviusNoMandateError
from .mandates import DataServiceType, EnergyType, Granularity, Mandate, PeriodType
from .meters import (
    _METERING_MODELS,
    ATTR_ENERGY_TYPE,
    ATTR_GCF,
    ATTR_METERING_TYPE,
    ATTR_PERIOD_FROM,
    _attr_time,
    _mandate_attributes,
    _model,
    _request_ean,
    _submeter,
)
from .parse import EnergyData
from .provider import PROVIDER
from .windows import (
    _floor,
    _plan,
    local_midnight_floor,
    split_windows,
    three_years_back,
)

LATEST_LOOKBACK: Final = timedelta(days=4)
#: Requests of one account in flight at once (a probe or latest poll per EAN):
#: setup of many mandates takes round trips / 8, not one after another.
PARALLEL_REQUESTS: Final = 8
#: A later poll asks only from this long before the oldest newest-interval
#: end it saw last time (a quarter of the data to parse), not the whole look-back.
LATEST_MARGIN: Final = timedelta(hours=1)
PROBE_LOOKBACK: Final = timedelta(days=7)


class FluviusClient(FluviusEnergyApi):
    """A Fluvius client: the API with meters, latest readings and history on top."""

    reports_meter_failures = True

    # ------------------------------------------------------------ interface

    async def async_get_meters(self) -> list[Meter]:
        """Return one Meter per approved mandated EAN, plus its AMR submeters.

        Submeters only appear in GET Energy answers, so each EAN is probed with
        a short request; the probe also gives the meter type and meter number.
        """
        mandates = await self.async_get_mandates()
        by_ean: dict[str, list[Mandate]] = {}
        for mandate in mandates:
            if mandate.is_approved and mandate.ean:
                by_ean.setdefault(mandate.ean, []).append(mandate)
        eans = sorted(by_ean)
        probes = await gather_limited(
            (functools.partial(self._probe, ean, by_ean[ean]) for ean in eans),
            PARALLEL_REQUESTS,
        )
        meters: list[Meter] = []
        for ean, probe in zip(eans, probes, strict=True):
            attributes = _mandate_attributes(ean, by_ean[ean])
            head = probe.headpoint if probe else None
            if head is not None:
                attributes[ATTR_METERING_TYPE] = head.metering_type
                if head.gas_conversion_factor:
                    attributes[ATTR_GCF] = head.gas_conversion_factor
            gas = any(m.energy_type is EnergyType.GAS for m in by_ean[ean])
            meters.append(
                Meter(
                    provider=PROVIDER,
                    key=ean,
                    kind=MeterKind.GAS if gas else MeterKind.ELECTRICITY,
                    model=_model(
                        _METERING_MODELS.get(head.metering_type) if head else None,
                        attributes,
                        gas=gas,
                    ),
                    serial=head.meter_ids[0] if head and head.meter_ids else None,
                    attributes=attributes,
                )
            )
            meters.extend(
                _submeter(sub, ean, attributes)
                for sub in (probe.submeters if probe else [])
            )
        return meters

    async def _probe(self, ean: str, mandates: list[Mandate]) -> EnergyData | None:
        """Fetch a few recent days of an EAN to learn its type and submeters."""
        levels = {m.data_service_type for m in mandates}
        granularity = (
            Granularity.DAILY
            if DataServiceType.DAILY in levels
            else Granularity.HOURLY_QUARTERHOURLY
        )
        now = self.utcnow()
        ends = [m.data_period_to for m in mandates]
        end = now if None in ends else min(now, max(e for e in ends if e))
        end = local_midnight_floor(end)
        start = local_midnight_floor(end - PROBE_LOOKBACK)
        starts = [m.data_period_from for m in mandates if m.data_period_from]
        if starts and len(starts) == len(mandates):
            start = max(start, _floor(min(starts), timedelta(hours=1)))
        start = max(start, three_years_back(now))
        if start >= end:
            return None
        try:
            return await self._energy(
                ean, start, end, granularity, PeriodType.READ_TIME
            )
        except MeetdataPermissionError:
            return None

    def failure_unit(self, meter: Meter) -> str:
        """Return the EAN asked for the meter: submeters fail with their headpoint."""
        return _request_ean(meter)

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return LAST_MEASUREMENT per meter; raise the first headpoint's error."""
        readings, failures = await self.async_get_latest_partial(meters)
        if failures:
            raise next(iter(failures.values()))
        return readings

    async def async_get_latest_partial(
        self, meters: Sequence[Meter]
    ) -> tuple[LatestReadings, UnitFailures]:
        """Return LAST_MEASUREMENT (end of the newest interval) per meter.

        One small request per headpoint over the last few days; meters without
        data in that window (or without a valid mandate) are left out. Once a
        poll has seen data, the next asks only from just before the newest
        interval it saw (the answer a quarter the size), and looks back the
        whole window again when a meter's data is no longer there.

        A headpoint whose request fails (403, 5xx, timeout, unreadable) is
        returned by its EAN beside the others' readings; refused credentials
        and rate limits concern the account and are raised.
        """
        groups: dict[str, list[Meter]] = {}
        for meter in meters:
            groups.setdefault(_request_ean(meter), []).append(meter)
        now = self.utcnow()
        start = local_midnight_floor(now - LATEST_LOOKBACK)
        result: LatestReadings = {}
        failures: UnitFailures = {}
        newest = await gather_each(
            (
                functools.partial(self._latest_group, ean, group, start, now)
                for ean, group in groups.items()
            ),
            PARALLEL_REQUESTS,
        )
        for ean, found in zip(groups, newest, strict=True):
            if isinstance(found, MeetdataError):
                if isinstance(found, MeetdataAuthError | MeetdataRateLimitError):
                    raise found
                failures[ean] = found
                continue
            if not found:
                self._latest_seen.pop(ean, None)
                continue
            self._latest_seen[ean] = (min(found.values()), frozenset(found))
            for key, last in found.items():
                result[key] = {
                    Quantity.LAST_MEASUREMENT: Reading(
                        Quantity.LAST_MEASUREMENT, last, last
                    )
                }
        return result, failures

    async def _latest_group(
        self, ean: str, group: list[Meter], start: datetime, now: datetime
    ) -> dict[str, datetime] | None:
        """Return the newest interval ends of a request EAN's meters.

        From just before the newest interval seen last time; over the whole
        window when nothing was seen or a meter's newest data went away.
        """
        seen = self._latest_seen.get(ean)
        if seen is not None and seen[0] - LATEST_MARGIN > start:
            found = await self._latest_of(ean, group, seen[0] - LATEST_MARGIN, now)
            if found is not None and seen[1] <= found.keys():
                return found
        return await self._latest_of(ean, group, start, now)

    async def _latest_of(
        self, ean: str, group: list[Meter], start: datetime, now: datetime
    ) -> dict[str, datetime] | None:
        """Return the newest interval end of each meter of a request EAN.

        None when nothing is mandated for the period (no request made, or 404).
        """
        segments = _plan(group[0], start, now, self._is_gas(group[0]), now)
        if not segments:
            return None
        seg = segments[-1]
        try:
            data = await self._energy(
                ean, seg.start, seg.end, seg.granularity, PeriodType.READ_TIME
            )
        except FluviusNoMandateError:
            return None
        found: dict[str, datetime] = {}
        for meter in group:
            answer = data.meter(meter.key)
            last = answer.last_end() if answer else None
            if last is not None:
                found[meter.key] = last
        return found

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return the meter's intervals that start in [start, end).

        Uses the finest mandated detail level for each part of the period
        (quarter-hour/hour where a VH_kwartier_uur mandate covers it, else
        daily), split into ≤ 185-day windows and clipped to 3 years back. A
        window without a valid mandate (404) is skipped unless all are.
        """
        start = max(start.astimezone(UTC), three_years_back(self.utcnow()))
        end = end.astimezone(UTC)
        if start >= end:
            return []
        ean = _request_ean(meter)
        collected: dict[Quantity, list[Interval]] = {}
        no_mandate: FluviusNoMandateError | None = None
        succeeded = False
        segments = _plan(meter, start, end, self._is_gas(meter), self.utcnow())
        for segment in segments:
            for lo, hi in split_windows(segment.start, segment.end):
                try:
                    data = await self._energy(
                        ean, lo, hi, segment.granularity, PeriodType.READ_TIME
                    )
                except FluviusNoMandateError as err:
                    no_mandate = err
                    continue
                succeeded = True
                found = data.meter(meter.key)
                if found is None:
                    continue
                for quantity, intervals in found.series(segment.granularity).items():
                    bucket = collected.setdefault(quantity, [])
                    bucket.extend(i for i in intervals if start <= i.start < end)
        if no_mandate is not None and not succeeded:
            raise no_mandate
        return [
            IntervalSeries(meter.key, quantity, intervals)
            for quantity, intervals in collected.items()
            if intervals
        ]

    async def async_earliest_change(
        self, meter: Meter, since: datetime, now: datetime
    ) -> datetime | None:
        """Return the earliest read time among values inserted since ``since``.

        One GET Energy by insertTime (both detail levels) per 185 days, at
        most 6 months back: late values and corrections (EST → READ, NVAL →
        VAL, a provisional gas conversion factor made definitive) show up
        here even when their read time is long past.
        """
        start, end = self._clip(since, now, PeriodType.INSERT_TIME)
        ean = _request_ean(meter)
        earliest: datetime | None = None
        for lo, hi in split_windows(start, end):
            try:
                data = await self._energy(ean, lo, hi, None, PeriodType.INSERT_TIME)
            except FluviusNoMandateError:
                continue
            found = data.meter(meter.key)
            if found is None:
                continue
            for level in (found.fine, found.daily):
                for intervals in level.values():
                    for item in intervals:
                        if earliest is None or item.start < earliest:
                            earliest = item.start
        if earliest is not None:
            # Answers cached before these insertions are stale now.
            for key in [key for key in self._cache if key[0] == ean]:
                del self._cache[key]
        return earliest

    def earliest_history(self, meter: Meter) -> datetime | None:
        """Return the start of the mandate's data period (at most 3 years back)."""
        first = _attr_time(meter, ATTR_PERIOD_FROM)
        limit = three_years_back(self.utcnow())
        return limit if first is None else max(first, limit)

    @staticmethod
    def _is_gas(meter: Meter) -> bool:
        """Return whether a meter is a gas EAN (hourly instead of quarter-hour)."""
        return (
            meter.kind is MeterKind.GAS
            or meter.attributes.get(ATTR_ENERGY_TYPE) == EnergyType.GAS.value
        )
