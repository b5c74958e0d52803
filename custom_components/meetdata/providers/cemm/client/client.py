"""Client of the CEMM Open API (NL): a CEMM energy monitor read per alias.

Meters are addressed by CEMM uid (its MAC address, e.g. ``FF-FF-FF-FF-FF-FF``)
and alias: ``p1`` (DSMR smart meter), ``p1-gas`` (gas meter behind it) and the
pulse inputs ``s01``, ``s02``, ``s03``. Timestamps are epoch milliseconds; days,
months and years are local days in Europe/Amsterdam.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Final

from ....api.base import UnitFailures
from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataUnsupportedError,
)
from ....api.models import (
    Interval,
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Quantity,
    Reading,
)
from .api import CemmApi
from .fit import RegisterReading, clean_readings
from .parse import (
    _P1_REGISTERS,
    _TARIFFS,
    ALIAS_GAS,
    ALIAS_P1,
    ALIASES,
    S0_ALIASES,
    CemmMeasurement,
    CemmSeries,
    CemmValues,
    _aligned,
    _day_param,
    _grid_spacing,
    _local_date,
    _local_midnight,
    _Ref,
    _require,
    alias_key,
    uid_key,
)
from .provider import PROVIDER
from .series import (
    _answer_size,
    _compute,
    _days_overlapping,
    _fitted_gas,
    _fitted_p1,
    _gather,
    _meter_ref,
    _months_needed,
    _off_loop,
    _s0_minutes,
    _s0_quantity,
    _series,
)
from .tariffs import tariff_readings

#: The P1 registers that add up to import and export (t1/t2 delivered to the
#: client at low/normal tariff, t3/t4 delivered back).
_P1_SUMS: Final = {"import": ("t1", "t2"), "export": ("t3", "t4")}


class CemmClient(CemmApi):
    """Client of the CEMM Open API for one API key (one or more CEMM devices)."""

    reports_meter_failures = True

    # ------------------------------------------------------------------
    # MeterDataClient
    # ------------------------------------------------------------------

    async def async_get_meters(self) -> list[Meter]:
        """Return each CEMM (gateway) and the meters connected to its aliases.

        An alias answering 412 or with empty data is simply not connected.
        """
        meters: list[Meter] = []
        seen: set[str] = set()
        for uid in await self.async_get_devices():
            key = uid_key(uid)
            if key in seen:
                continue
            seen.add(key)
            meters.append(
                Meter(
                    provider=PROVIDER,
                    key=key,
                    kind=MeterKind.GATEWAY,
                    name=f"CEMM {uid}",
                    model="CEMM",
                    serial=uid,
                    attributes={"uid": uid},
                )
            )
            found = await _gather([self._discover(uid, alias) for alias in ALIASES])
            meters.extend(meter for meter in found if meter is not None)
        return meters

    async def _discover(self, uid: str, alias: str) -> Meter | None:
        """Return the meter behind one alias, or None when nothing is connected."""
        try:
            ios = await self.async_get_io_by_alias(uid, alias)
        except MeetdataUnsupportedError:
            return None
        if not ios:
            return None
        io = ios[0]
        if alias == ALIAS_P1:
            kind = MeterKind.ELECTRICITY
        elif alias == ALIAS_GAS:
            kind = MeterKind.GAS
        elif "solar" in io.type.lower():
            kind = MeterKind.PRODUCTION
        else:
            kind = MeterKind.AUXILIARY
        return Meter(
            provider=PROVIDER,
            key=alias_key(uid, alias),
            kind=kind,
            name=f"CEMM {uid} {alias}",
            model=io.type,
            via=uid_key(uid),
            attributes={
                "uid": uid,
                "alias": alias,
                "io_id": str(io.io_id),
                "io_type": io.type,
                "port": str(io.port),
            },
        )

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return the latest readings: one realtime request per alias.

        S0 registers come from the totals endpoint, read at most once per
        ``totals_refresh_interval`` per alias. An alias answering 412 is left
        out; any other error propagates.
        """
        targets: dict[str, Meter] = {}
        for meter in meters:
            if meter.provider == PROVIDER and meter.kind is not MeterKind.GATEWAY:
                targets.setdefault(meter.key, meter)
        refresh = self._totals_due(targets.values())
        results = await _gather(
            [self._latest(meter, refresh) for meter in targets.values()]
        )
        return {
            key: readings
            for key, readings in zip(targets, results, strict=True)
            if readings
        }

    async def async_get_latest_partial(
        self, meters: Sequence[Meter]
    ) -> tuple[LatestReadings, UnitFailures]:
        """Return the latest readings, and the error of each alias that failed.

        Every alias is asked on its own anyway, so one alias's error is
        returned beside the others' readings. A rate limit fails the whole
        poll, and so does a refused key when no alias answered; a key refused
        for some aliases only (403 while others answer, or for a lone alias
        while others answered last) may not read those: a permission error of
        each such meter.
        """
        targets: dict[str, Meter] = {}
        for meter in meters:
            if meter.provider == PROVIDER and meter.kind is not MeterKind.GATEWAY:
                targets.setdefault(meter.key, meter)
        refresh = self._totals_due(targets.values())
        results = await asyncio.gather(
            *(self._latest(meter, refresh) for meter in targets.values()),
            return_exceptions=True,
        )
        readings: LatestReadings = {}
        failures: UnitFailures = {}
        for meter, result in zip(targets.values(), results, strict=True):
            if isinstance(result, MeetdataRateLimitError):
                raise result
            if isinstance(result, MeetdataError):
                failures[self.failure_unit(meter)] = result
            elif isinstance(result, BaseException):
                raise result
            elif result:
                readings[meter.key] = result
        refused = [e for e in failures.values() if isinstance(e, MeetdataAuthError)]
        if readings:
            self._answered = frozenset(readings)
        elif refused and not self._refused_alone(targets.keys()):
            # No alias answered: the key itself is refused.
            self._answered = frozenset()
            raise refused[0]
        for unit, err in failures.items():
            if isinstance(err, MeetdataAuthError):
                failures[unit] = MeetdataPermissionError(str(err), meter=unit)
        return readings, failures

    def _refused_alone(self, keys: Iterable[str]) -> bool:
        """Return whether the key, refused for these meters, answers for others.

        True when the last latest-readings answer came from other aliases
        (the healthy ones are asked first in a poll): then the key may only
        not read this alias. A lone alias that answered last (an account of
        one alias) is the key refused.
        """
        keys = set(keys)
        return len(keys) == 1 and bool(self._answered) and not keys & self._answered

    def _totals_due(self, meters: Iterable[Meter]) -> set[tuple[str, str]]:
        """Return the S0 registers (uid, alias) to read from totals this poll.

        Every register never read yet, and of those older than
        ``totals_refresh_interval`` only the stalest: the hourly refreshes
        spread over consecutive polls, so a steady poll makes at most one
        request more than it has aliases.
        """
        now = self._monotonic()
        max_age = self.totals_refresh_interval.total_seconds()
        due: set[tuple[str, str]] = set()
        stale: list[tuple[float, tuple[str, str]]] = []
        for meter in meters:
            try:
                ref = _meter_ref(meter)
            except MeetdataNotFoundError:
                continue  # _latest raises it
            if ref.alias not in S0_ALIASES:
                continue
            key = (ref.uid, ref.alias)
            cached = self._totals_cache.get(key)
            if cached is None:
                due.add(key)
            elif now - cached[0] >= max_age:
                stale.append((cached[0], key))
        if stale:
            due.add(min(stale)[1])
        return due

    async def _latest(
        self, meter: Meter, refresh: set[tuple[str, str]]
    ) -> dict[Quantity, Reading] | None:
        """Return the latest readings of one alias meter (None: alias unsupported)."""
        ref = _meter_ref(meter)
        try:
            realtime = await self.async_get_realtime(ref.uid, ref.alias)
        except MeetdataUnsupportedError:
            return None
        values = realtime.values
        readings: dict[Quantity, Reading] = {}
        if ref.alias == ALIAS_P1:
            for name, quantity in _P1_REGISTERS.items():
                if (item := values.get(name)) is not None:
                    readings[quantity] = Reading(quantity, item.value, item.timestamp)
            if (item := values.get("electric_power")) is not None:
                readings[Quantity.POWER] = Reading(
                    Quantity.POWER, item.value / 1000, item.timestamp
                )
            if (item := values.get("rate")) is not None and (
                tariff := _TARIFFS.get(int(item.value))
            ) is not None:
                readings[Quantity.TARIFF] = Reading(
                    Quantity.TARIFF, tariff, item.timestamp
                )
            used = [
                values[name]
                for name in (*_P1_REGISTERS, "electric_power", "rate")
                if name in values
            ]
            if used:
                newest = max(item.timestamp for item in used)
                readings[Quantity.LAST_MEASUREMENT] = Reading(
                    Quantity.LAST_MEASUREMENT, newest, newest
                )
        elif ref.alias == ALIAS_GAS:
            if (item := values.get("gas")) is not None:
                readings[Quantity.GAS_VOLUME] = Reading(
                    Quantity.GAS_VOLUME, item.value, item.timestamp
                )
        else:
            power = values.get("electric_power")
            if power is not None:
                readings[Quantity.POWER] = Reading(
                    Quantity.POWER, power.value / 1000, power.timestamp
                )
            register = await self._s0_register(
                meter,
                ref,
                power.timestamp if power is not None else self._clock(),
                refresh=(ref.uid, ref.alias) in refresh,
            )
            if register is not None:
                readings[register.quantity] = register
        return readings

    async def _s0_register(
        self, meter: Meter, ref: _Ref, moment: datetime, *, refresh: bool
    ) -> Reading | None:
        """Return the S0 energy register: read from totals, or the cached one."""
        cache_key = (ref.uid, ref.alias)
        now = self._monotonic()
        cached = self._totals_cache.get(cache_key)
        if cached is not None and not refresh:
            return cached[1]
        quantity = _s0_quantity(meter)
        try:
            totals = await self.async_get_totals(ref.uid, ref.alias, moment)
        except MeetdataUnsupportedError:
            reading: Reading | None = None
        else:
            item = totals.values.get("electric_energy")
            reading = (
                None if item is None else Reading(quantity, item.value, item.timestamp)
            )
        self._totals_cache[cache_key] = (now, reading)
        return reading

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return the intervals of ``meter`` that start in [start, end), sorted.

        p1: per-minute ENERGY_IMPORT / ENERGY_EXPORT from day data, hourly
        ENERGY_IMPORT_LOW / _NORMAL and ENERGY_EXPORT_LOW / _NORMAL divided by
        the tariff registers, and daily ENERGY_NET_LOW / ENERGY_NET_NORMAL
        from month data. p1-gas: GAS_VOLUME per gas interval (hour for DSMR 4,
        5 min for DSMR 5). s0x: PRODUCTION or AUXILIARY per minute. Intervals
        not yet complete by the clock are left out.
        """
        if meter.provider is not PROVIDER or meter.kind is MeterKind.GATEWAY:
            return []
        if start.tzinfo is None or end.tzinfo is None:
            raise MeetdataInvalidRequestError(
                "CEMM history bounds must be timezone-aware"
            )
        ref = _meter_ref(meter)
        now = self._clock()
        window_end = min(end, now)
        days = _days_overlapping(start, window_end)
        try:
            if ref.alias == ALIAS_P1:
                return await self._p1_history(meter, ref, days, start, end, now)
            if ref.alias == ALIAS_GAS:
                return await self._gas_history(meter, ref, days, start, end, now)
            return await self._s0_history(meter, ref, days, start, end, now)
        except MeetdataAuthError as err:
            if not self._refused_alone({meter.key}):
                raise
            # The key answers for other aliases: it may not read this one.
            raise MeetdataPermissionError(str(err), meter=meter.key) from err

    async def _day_series(self, ref: _Ref, days: list[date]) -> list[CemmSeries]:
        """Fetch the day data of each of ``days``."""
        return await _gather(
            [self.async_get_day(ref.uid, ref.alias, _day_param(day)) for day in days]
        )

    async def _day_totals(self, ref: _Ref, days: list[date]) -> list[CemmValues]:
        """Read the registers at the end of each of ``days`` and of the day before.

        An alias without totals (HTTP 412) gives no answers.
        """
        if not days:
            return []
        moments = [days[0] - timedelta(days=1), *days]
        try:
            return await _gather(
                [
                    self.async_get_totals(ref.uid, ref.alias, _day_param(day))
                    for day in moments
                ]
            )
        except MeetdataUnsupportedError:
            return []

    @staticmethod
    def _register_readings(
        answers: list[CemmValues], groups: Mapping[str, tuple[str, ...]]
    ) -> dict[str, list[RegisterReading]]:
        """Return the readings of each sum of totals fields (import = t1 + t2).

        A field missing gives no reading at that moment: without readings
        the intervals keep what the minute data integrate to.
        """
        readings: dict[str, list[RegisterReading]] = {name: [] for name in groups}
        for name, fields in groups.items():
            for answer in answers:
                items = [answer.values.get(field) for field in fields]
                present = [item for item in items if item is not None]
                if len(present) == len(fields):
                    readings[name].append(
                        RegisterReading(
                            max(item.timestamp for item in present),
                            sum(item.value for item in present),
                        )
                    )
            readings[name] = clean_readings(readings[name])
        return readings

    @staticmethod
    def _span_days(
        days: list[date],
        readings: dict[str, list[RegisterReading]],
        start: datetime,
        now: datetime,
    ) -> list[date]:
        """Return the days whose data a fit needs: ``days`` and every register span."""
        moments = [r.timestamp for found in readings.values() for r in found]
        if not days or not moments:
            return days
        first = min(start, *moments)
        last = min(max(_local_midnight(days[-1] + timedelta(days=1)), *moments), now)
        return sorted({*days, *_days_overlapping(first, last)})

    async def _p1_history(
        self,
        meter: Meter,
        ref: _Ref,
        days: list[date],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[IntervalSeries]:
        """Per-minute import/export, hourly per tariff, daily net per tariff of a P1 meter.

        Import and export add up to the registers (import t1 + t2, export
        t3 + t4) between each two readings: the minute power decides only how
        a span's increase is divided over its minutes. Each tariff's hours add
        up to its own register's increase over a day (tariffs.py); a day
        without both readings, or not complete yet, has no hours per tariff.
        """
        totals = await self._day_totals(ref, days)
        readings = self._register_readings(totals, _P1_SUMS)
        span_days = self._span_days(days, readings, start, now)
        answers = await self._day_series(ref, span_days)
        span = (
            _local_midnight(span_days[0]) if span_days else start,
            _local_midnight(span_days[-1] + timedelta(days=1)) if span_days else end,
        )
        fitted = await _compute(
            _answer_size(answers),
            _fitted_p1,
            answers,
            readings["import"],
            readings["export"],
            tariff_readings(totals),
            span,
            start,
            end,
            now,
        )

        # Month data: one value per local day. The document's totals example
        # shows electric_energy = t1 - t3 and electric_energy_high = t2 - t4,
        # i.e. these are NET energy per tariff (delivered minus returned), so
        # electric_energy_low / electric_energy_high become ENERGY_NET_LOW /
        # ENERGY_NET_NORMAL.
        net_low: list[Interval] = []
        net_normal: list[Interval] = []
        for answer in await _gather(
            [
                self.async_get_month(ref.uid, ref.alias, moment)
                for moment in _months_needed(start, end, now)
            ]
        ):
            for name, target in (
                ("electric_energy_low", net_low),
                ("electric_energy_high", net_normal),
            ):
                for entry in _require(answer, name, "p1 month data"):
                    day = _local_date(entry.timestamp)
                    begin = _local_midnight(day)
                    finish = _local_midnight(day + timedelta(days=1))
                    if start <= begin < end and finish <= now:
                        target.append(Interval(begin, finish, entry.value))
        return [
            *(
                _series(meter, quantity, intervals)
                for quantity, intervals in fitted.items()
            ),
            _series(meter, Quantity.ENERGY_NET_LOW, net_low),
            _series(meter, Quantity.ENERGY_NET_NORMAL, net_normal),
        ]

    async def _gas_history(
        self,
        meter: Meter,
        ref: _Ref,
        days: list[date],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[IntervalSeries]:
        """Gas used per entry of the gas grid, adding up to the gas register.

        The grid comes from the answer: minutes with the flow in L/min (DSMR 5
        as the document describes it), hours (DSMR 4) or 5 minutes, both in m³.
        """
        readings = self._register_readings(
            await self._day_totals(ref, days), {"gas": ("gas",)}
        )
        span_days = self._span_days(days, readings, start, now)
        entries: list[CemmMeasurement] = []
        for day, answer in zip(
            span_days, await self._day_series(ref, span_days), strict=True
        ):
            first = _local_midnight(day)
            following = _local_midnight(day + timedelta(days=1))
            # Drops the unaligned end-of-day marker (23:59:59 with value 0)
            # and entries of other days.
            entries.extend(
                entry
                for entry in _aligned(_require(answer, "gas", "p1-gas day data"))
                if first <= entry.timestamp < following
            )
        entries.sort(key=lambda entry: entry.timestamp)
        spacing = _grid_spacing([entry.timestamp for entry in entries])
        if spacing is not None:
            self._gas_grid[meter.key] = spacing
        step = spacing or self._gas_grid.get(meter.key)
        intervals = await _compute(
            len(entries),
            _fitted_gas,
            entries,
            step,
            readings["gas"],
            start,
            end,
            now,
        )
        return [_series(meter, Quantity.GAS_VOLUME, intervals)]

    async def _s0_history(
        self,
        meter: Meter,
        ref: _Ref,
        days: list[date],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[IntervalSeries]:
        """Per-minute energy of a pulse (S0) meter from its average minute power."""
        intervals = await _off_loop(
            _s0_minutes, await self._day_series(ref, days), start, end, now
        )
        return [_series(meter, _s0_quantity(meter), intervals)]


# --------------------------------------------------------------------------
# Module helpers
# --------------------------------------------------------------------------
