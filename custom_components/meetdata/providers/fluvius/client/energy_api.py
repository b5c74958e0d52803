"""GET Energy requests: windows clipped to the API's reach, a short answer cache."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import time
from typing import Final

from multidict import MultiDict

from ....api.errors import MeetdataInvalidRequestError, MeetdataResponseError
from .api import FluviusApi, _CacheKey
from .energy import parse_energy
from .mandates import ComplexEnergyType, Granularity, PeriodType, format_utc
from .meters import _check_ean, _merge
from .parse import EXECUTOR_THRESHOLD, EnergyData
from .paths import ENERGY_PATH
from .windows import _ceil, split_windows, three_years_back

INSERT_TIME_LOOKBACK: Final = timedelta(days=185)
_CACHE_SIZE: Final = 6


class FluviusEnergyApi(FluviusApi):
    """The Fluvius API with GET Energy split, clipped, parsed and cached."""

    async def async_get_energy(
        self,
        ean: str,
        start: datetime,
        end: datetime,
        *,
        granularity: Granularity | None = Granularity.HOURLY_QUARTERHOURLY,
        period_type: PeriodType = PeriodType.READ_TIME,
        complex_energy_types: Sequence[ComplexEnergyType] = (),
    ) -> EnergyData:
        """Return GET Energy for [start, end), split into ≤ 185-day windows.

        Periods are clipped to what the API serves (3 years back for readTime,
        185 days back for insertTime). Series of all windows are concatenated
        per meter (headpoint and submeters).
        """
        _check_ean(ean)
        start, end = self._clip(start, end, period_type)
        if start >= end:
            raise MeetdataInvalidRequestError(
                f"Empty or too old period for EAN {ean}", meter=ean
            )
        parts = [
            await self._energy(
                ean, lo, hi, granularity, period_type, complex_energy_types
            )
            for lo, hi in split_windows(start, end)
        ]
        return _merge(parts)

    def _clip(
        self, start: datetime, end: datetime, period_type: PeriodType
    ) -> tuple[datetime, datetime]:
        """Clip a period to the API's reach (nothing older than allowed)."""
        now = self.utcnow()
        if period_type is PeriodType.INSERT_TIME:
            earliest = _ceil(now - INSERT_TIME_LOOKBACK, timedelta(hours=1))
        else:
            earliest = three_years_back(now)
        return max(start.astimezone(UTC), earliest), end.astimezone(UTC)

    async def _energy(
        self,
        ean: str,
        start: datetime,
        end: datetime,
        granularity: Granularity | None,
        period_type: PeriodType,
        complex_types: Sequence[ComplexEnergyType] = (),
    ) -> EnergyData:
        """Fetch and parse one GET Energy window (≤ 185 days), with a short cache."""
        key: _CacheKey = (
            ean,
            format_utc(start),
            format_utc(end),
            granularity.value if granularity else "",
            period_type.value,
            ",".join(sorted(c.value for c in complex_types)),
        )
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_ttl:
            self._cache.move_to_end(key)
            return await asyncio.shield(cached[1])
        future: asyncio.Future[EnergyData] = asyncio.get_running_loop().create_future()
        if period_type is PeriodType.READ_TIME and self.cache_ttl > 0:
            self._cache[key] = (now, future)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        try:
            result = await self._fetch_energy(key, complex_types)
        except BaseException as err:
            self._cache.pop(key, None)
            if isinstance(err, Exception):
                future.set_exception(err)
                future.exception()  # mark retrieved: waiters re-raise it
            else:
                future.cancel()
            raise
        future.set_result(result)
        return result

    async def _fetch_energy(
        self, key: _CacheKey, complex_types: Sequence[ComplexEnergyType]
    ) -> EnergyData:
        """Send GET Energy for a cache key and parse the answer."""
        ean, start, end, granularity, period_type, _ = key
        params: MultiDict[str] = MultiDict(
            [("ean", ean), ("periodType", period_type), ("from", start), ("to", end)]
        )
        if granularity:
            params.add("granularity", granularity)
        for complex_type in complex_types:
            params.add("complexEnergyTypes", complex_type.value)
        body = await self._call("GET", ENERGY_PATH, params=params, ean=ean)
        try:
            if len(body) > EXECUTOR_THRESHOLD:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(None, parse_energy, body)
            return parse_energy(body)
        except MeetdataResponseError as err:
            raise MeetdataResponseError(f"{err} (EAN {ean})", meter=ean) from None
