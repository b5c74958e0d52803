"""Simulator of the CEMM Open API (NL) for tests and local development.

Serves the eight documented endpoints under ``/v1/`` with the ``api_key``
query parameter, HTTP 202 promises and the documented status codes.

Source data (deterministic per seed, uid and local day):

* household consumption per minute (W), plus the power of non-solar S0
  inputs (auxiliary, e.g. a heat pump), minus the power of solar S0 inputs;
  the P1 ``electric_power`` is that net power (negative when returning);
* P1 registers ``t1``..``t4`` integrate the complete minutes of that net
  power, split by the NL tariff rule (low 23:00-07:00 local and all weekend,
  normal otherwise; per device the evening start ``low_from``, e.g. 21:00 as
  some grid operators had it, and ``low_days`` billed wholly at low tariff,
  such as public holidays): t1/t2 import low/normal, t3/t4 export low/normal
  (``rate`` in realtime follows the same schedule). With a
  device's ``drift`` (W), the registers also count import and export that
  net out inside a minute (up to ``drift`` W both ways, while the sun shines
  and now and then), as a real meter does: the minute power then integrates
  to slightly less than the registers;
* gas per 5 minutes in multiples of 1/1024 m³; the gas register integrates
  complete 5-minute slots (DSMR 5) or hours (DSMR 4). Day data per the
  device's ``gas_format``: ``hour`` (DSMR 4: m³ per hour, entries 0..23 and
  the 23:59:59 marker), ``minute`` (DSMR 5 as the document describes it:
  entries 0..1440, the gas flow in L/min per minute, rounded to 0.01 L/min,
  so it too integrates to slightly off the register) or ``five_minutes``
  (m³ per 5 minutes);
* month and year data are sums of the same minutes, so they agree with the
  day data; a register is ``register_base`` plus every complete interval
  since ``history_start``.

Data exists only before ``now``: day data lists complete intervals (and, with
``future_zeros``, zeros for the rest of the day, like the document's year
example that lists a future month as 0); month and year data list every
day/month with the (partial) sums of complete minutes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
import contextlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
import hashlib
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

TZ = ZoneInfo("Europe/Amsterdam")
DEMO_API_KEY = "demo-cemm-key"
DEFAULT_UID = "FF-FF-FF-FF-FF-FF"
ALL_ALIASES = ("p1", "p1-gas", "s01", "s02", "s03")
DEFAULT_ALIASES: dict[str, str] = {"p1": "p1", "p1-gas": "gas", "s01": "solar_energy"}
DEFAULT_NOW = datetime(2025, 11, 3, 10, 30, 15, tzinfo=UTC)  # Monday 11:30 local
DEFAULT_HISTORY_START = date(2025, 1, 1)
DEFAULT_REGISTER_BASE: dict[str, float] = {
    "t1": 1000.0,
    "t2": 1500.0,
    "t3": 300.0,
    "t4": 800.0,
    "gas": 2600.0,
    "s0_low": 1500.0,
    "s0_high": 2500.0,
}
GAS_UNIT = 1 / 1024  # gas amounts are multiples of 1/1024 m³ (as in the document)
#: Day data of p1-gas: DSMR 4 hourly m³, DSMR 5 minute L/min, or 5-minute m³.
GAS_FORMATS = ("hour", "minute", "five_minutes")
_PORTS = {"p1": 3, "p1-gas": 3, "s01": 1, "s02": 2, "s03": 4}
_PORT_OPTIONS = {"p1": "p1_in", "p1-gas": "enabled"}
_SOLAR_SCALE = {"s01": 1.0, "s02": 0.6, "s03": 0.4}


@dataclass(slots=True)
class SimDevice:
    """One simulated CEMM: its uid, connected aliases (alias → io type), per alias data.

    ``drift``: the most W (p1) that its registers count both ways inside a
    minute beyond the minute power (0: the registers integrate it exactly).
    ``gas_format``: what the p1-gas day data hold (see GAS_FORMATS).
    ``low_from``: the local hour the low tariff starts on weekdays (until
    07:00; weekends are low all day). ``low_days``: local days wholly at low
    tariff (public holidays of some grid operators).
    """

    uid: str
    aliases: dict[str, str]
    gas_format: str = "hour"
    drift: int = 0
    low_from: int = 23
    low_days: frozenset[date] = frozenset()

    def is_low(self, moment: datetime) -> bool:
        """Return whether ``moment`` falls in this device's low tariff."""
        local = moment.astimezone(TZ)
        return (
            local.weekday() >= 5
            or local.date() in self.low_days
            or local.hour < 7
            or local.hour >= self.low_from
        )

    @property
    def dsmr5(self) -> bool:
        """Return whether the gas meter updates every 5 minutes (DSMR 5)."""
        return self.gas_format != "hour"

    def solar_aliases(self) -> tuple[str, ...]:
        """Return the S0 aliases whose io type contains "solar"."""
        return tuple(
            a
            for a, kind in self.aliases.items()
            if a.startswith("s0") and "solar" in kind
        )

    def aux_aliases(self) -> tuple[str, ...]:
        """Return the S0 aliases that are not solar (auxiliary consumption)."""
        return tuple(
            a
            for a, kind in self.aliases.items()
            if a.startswith("s0") and "solar" not in kind
        )


@dataclass(slots=True)
class SimRequest:
    """One request the simulator received (api_key left out)."""

    method: str
    path: str
    params: dict[str, str]
    status: int


@dataclass(slots=True)
class _Forced:
    """A status to answer for the next ``remaining`` matching requests."""

    status: int
    remaining: int
    alias: str | None
    endpoint: str | None


@dataclass(slots=True)
class _Override:
    """A raw body to answer for the next ``remaining`` requests."""

    body: bytes
    status: int
    remaining: int
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class DayData:
    """The generated source data of one local day of one CEMM."""

    start: int  # epoch seconds of local midnight
    minutes: int  # 1380, 1440 or 1500
    low: tuple[bool, ...]  # per minute: low tariff?
    net: tuple[int, ...]  # P1 net power per minute, W
    s0: Mapping[str, tuple[int, ...]]  # per S0 alias: power per minute, W
    gas: tuple[int, ...]  # per 5 minutes: units of 1/1024 m³
    churn: tuple[int, ...] = ()  # per minute: W the registers count both ways

    def minute_start(self, index: int) -> int:
        """Return the epoch seconds at which minute ``index`` starts."""
        return self.start + 60 * index


def local_midnight(day: date) -> datetime:
    """Return local midnight of ``day`` as an aware UTC datetime."""
    return datetime.combine(day, time(0), TZ).astimezone(UTC)


def local_date(moment: datetime | int) -> date:
    """Return the local date of an aware datetime or epoch seconds."""
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(TZ).date()


@lru_cache(maxsize=8192)
def generate_day(
    seed: int,
    uid: str,
    solar: tuple[str, ...],
    aux: tuple[str, ...],
    day: date,
    drift: int = 0,
    low_from: int = 23,
    holiday: bool = False,
) -> DayData:
    """Generate the source data of one local day (deterministic, cached).

    Low tariff: weekends, ``holiday`` and weekdays before 07:00 or from
    ``low_from`` local.
    """
    start = int(local_midnight(day).timestamp())
    end = int(local_midnight(day + timedelta(days=1)).timestamp())
    minutes = (end - start) // 60
    rng = random.Random(f"cemm:{seed}:{uid}:{day.isoformat()}")
    churn_rng = random.Random(f"cemm-churn:{seed}:{uid}:{day.isoformat()}")
    churn: list[int] = []
    weekend = day.weekday() >= 5 or holiday
    doy = day.timetuple().tm_yday
    season = 0.5 + 0.5 * math.cos(2 * math.pi * (doy - 172) / 365.25)  # 1 = midsummer
    # Local clock hour of each UTC hour of the day (NL offsets are whole hours).
    hours = [
        datetime.fromtimestamp(start + 3600 * h, TZ).hour
        for h in range((minutes + 59) // 60)
    ]
    hour_level = [rng.randint(0, 250) for _ in hours]
    cloud = [0.35 + 0.65 * rng.random() for _ in hours]
    aux_on = {
        alias: [rng.random() < 0.2 + 0.6 * (1 - season) for _ in hours] for alias in aux
    }
    peak = 600 + 3400 * season
    length = 8 + 8 * season
    rise = 13.5 - length / 2

    low: list[bool] = []
    net: list[int] = []
    s0: dict[str, list[int]] = {alias: [] for alias in (*solar, *aux)}
    for index in range(minutes):
        h = index // 60
        local_hour = hours[h] + (index % 60) / 60
        low.append(weekend or hours[h] < 7 or hours[h] >= low_from)
        watts = 180 + hour_level[h] + rng.randint(0, 120)
        if 7 <= hours[h] < 9:
            watts += 400
        elif 17 <= hours[h] < 22:
            watts += 700
        if rng.random() < 0.02:
            watts += 2000
        sun = 0.0
        if rise < local_hour < rise + length:
            sun = math.sin(math.pi * (local_hour - rise) / length) * peak * cloud[h]
        for alias in solar:
            produced = int(sun * _SOLAR_SCALE.get(alias, 1.0))
            s0[alias].append(produced)
            watts -= produced
        for alias in aux:
            used = 1200 + rng.randint(0, 300) if aux_on[alias][h] else 5
            s0[alias].append(used)
            watts += used
        net.append(watts)
        if drift:
            busy = sun > 0 or churn_rng.random() < 0.05
            churn.append(churn_rng.randint(0, drift) if busy else 0)

    gas: list[int] = []
    for slot in range(minutes // 5):
        hour = hours[slot // 12]
        heating = (1 - season) * (0.03 if 6 <= hour < 10 or 17 <= hour < 23 else 0.01)
        if hour == 7:
            heating += 0.008
        gas.append(round(heating * (0.5 + rng.random()) / GAS_UNIT))
    return DayData(
        start,
        minutes,
        tuple(low),
        tuple(net),
        {alias: tuple(values) for alias, values in s0.items()},
        tuple(gas),
        tuple(churn),
    )


@dataclass(frozen=True, slots=True)
class _Sums:
    """Integer sums of a day (or part of it): W·min per register, gas units."""

    imp_low: int = 0
    imp_high: int = 0
    exp_low: int = 0
    exp_high: int = 0
    s0_low: Mapping[str, int] = field(default_factory=dict)
    s0_high: Mapping[str, int] = field(default_factory=dict)
    gas: int = 0

    def __add__(self, other: _Sums) -> _Sums:
        """Add two sums."""
        keys = set(self.s0_low) | set(other.s0_low)
        return _Sums(
            self.imp_low + other.imp_low,
            self.imp_high + other.imp_high,
            self.exp_low + other.exp_low,
            self.exp_high + other.exp_high,
            {k: self.s0_low.get(k, 0) + other.s0_low.get(k, 0) for k in keys},
            {k: self.s0_high.get(k, 0) + other.s0_high.get(k, 0) for k in keys},
            self.gas + other.gas,
        )


def _sum_day(data: DayData, until: int, gas_step: int) -> _Sums:
    """Sum the minutes (and gas intervals of ``gas_step`` s) that end by ``until``."""
    count = max(0, min(data.minutes, (until - data.start) // 60))
    imp_low = imp_high = exp_low = exp_high = 0
    s0_low = dict.fromkeys(data.s0, 0)
    s0_high = dict.fromkeys(data.s0, 0)
    for index in range(count):
        watts = data.net[index]
        is_low = data.low[index]
        both = data.churn[index] if data.churn else 0
        if is_low:
            imp_low += max(watts, 0) + both
            exp_low += max(-watts, 0) + both
        else:
            imp_high += max(watts, 0) + both
            exp_high += max(-watts, 0) + both
        for alias, values in data.s0.items():
            if is_low:
                s0_low[alias] += values[index]
            else:
                s0_high[alias] += values[index]
    per_step = gas_step // 300
    steps = max(0, min(len(data.gas) // per_step, (until - data.start) // gas_step))
    gas = sum(data.gas[: steps * per_step])
    return _Sums(imp_low, imp_high, exp_low, exp_high, s0_low, s0_high, gas)


@lru_cache(maxsize=8192)
def _full_day_sums(
    seed: int,
    uid: str,
    solar: tuple[str, ...],
    aux: tuple[str, ...],
    day: date,
    drift: int = 0,
    low_from: int = 23,
    holiday: bool = False,
) -> _Sums:
    """Return the (cached) sums of a whole day."""
    data = generate_day(seed, uid, solar, aux, day, drift, low_from, holiday)
    return _sum_day(data, data.start + 60 * data.minutes, 300)


class CemmSimulator:
    """State, knobs and data of a simulated CEMM Open API account."""

    def __init__(
        self,
        api_key: str = DEMO_API_KEY,
        seed: int = 1,
        *,
        devices: Mapping[str, Mapping[str, str]] | None = None,
        dsmr5: bool = False,
        gas_format: str | None = None,
        drift: int = 0,
        now: datetime | None = DEFAULT_NOW,
        history_start: date = DEFAULT_HISTORY_START,
        prefix: str = "/v1",
    ) -> None:
        """Create the account.

        ``devices`` maps uid → {alias: io type}; default one CEMM
        ``FF-FF-FF-FF-FF-FF`` with p1, p1-gas and a solar s01. ``gas_format``
        (default ``minute`` with ``dsmr5``, else ``hour``) and ``drift`` apply
        to every device (``add_device`` sets them per device). ``now`` None
        follows the system clock.
        """
        self.api_key = api_key
        self.seed = seed
        self.prefix = prefix
        self.history_start = history_start
        self._now = now
        self.devices: dict[str, SimDevice] = {}
        for uid, aliases in (devices or {DEFAULT_UID: DEFAULT_ALIASES}).items():
            self.add_device(
                uid, aliases, dsmr5=dsmr5, gas_format=gas_format, drift=drift
            )
        self.register_base = dict(DEFAULT_REGISTER_BASE)
        #: (uid, minute start in epoch seconds) -> corrected P1 net power in W.
        self.corrections: dict[tuple[str, int], int] = {}
        #: (uid, local day) whose P1 totals have no register value ([0, 0]).
        self.totals_gaps: set[tuple[str, date]] = set()
        # Knobs
        self.promise_count = 0
        self.never_resolve = False
        self.future_zeros = True
        self.empty_for_missing_alias = False
        self.delay = 0.0
        self._forced: list[_Forced] = []
        self._overrides: list[_Override] = []
        self._promises: Counter[str] = Counter()
        # Request log
        self.requests: list[SimRequest] = []
        self.request_count: Counter[str] = Counter()

    # ------------------------------------------------------------------
    # Configuration and knobs
    # ------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Return the simulator's clock (aware UTC)."""
        return self._now if self._now is not None else datetime.now(UTC)

    @now.setter
    def now(self, value: datetime | None) -> None:
        """Set the clock (None: follow the system clock)."""
        self._now = value

    def add_device(
        self,
        uid: str,
        aliases: Mapping[str, str] | None = None,
        *,
        dsmr5: bool = False,
        gas_format: str | None = None,
        drift: int = 0,
        low_from: int = 23,
        low_days: frozenset[date] = frozenset(),
    ) -> SimDevice:
        """Add a CEMM with aliases {alias: io type} (default p1, p1-gas, solar s01).

        ``gas_format`` is one of GAS_FORMATS (default ``minute`` with
        ``dsmr5``, else ``hour``); ``drift``, ``low_from`` and ``low_days``
        see SimDevice.
        """
        chosen = gas_format or ("minute" if dsmr5 else "hour")
        if chosen not in GAS_FORMATS:
            raise ValueError(chosen)
        device = SimDevice(
            uid,
            dict(aliases if aliases is not None else DEFAULT_ALIASES),
            chosen,
            drift,
            low_from,
            frozenset(low_days),
        )
        self.devices[uid] = device
        return device

    def connect(self, uid: str, alias: str, io_type: str) -> None:
        """Connect a meter to an alias of a CEMM (the alias answers with data)."""
        self.devices[uid].aliases[alias] = io_type

    def disconnect(self, uid: str, alias: str) -> None:
        """Disconnect the meter of an alias (the alias answers 412 again)."""
        del self.devices[uid].aliases[alias]

    def force_status(
        self,
        status: int,
        count: int = 1,
        *,
        alias: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Answer ``status`` to the next ``count`` matching requests.

        ``alias`` limits it to one alias, ``endpoint`` to paths containing that
        fragment (e.g. ``"/totals/"``).
        """
        self._forced.append(_Forced(status, count, alias, endpoint))

    def malformed_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with a truncated JSON body."""
        self.override_next(b'{"io_id": 1, "data": {"t1": [1496', count=count)

    def override_next(
        self,
        body: bytes | str,
        *,
        status: int = 200,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests with this raw body, status and headers."""
        raw = body.encode() if isinstance(body, str) else body
        self._overrides.append(_Override(raw, status, count, dict(headers or {})))

    def count(self, fragment: str) -> int:
        """Return how many requests had ``fragment`` in their path."""
        return sum(1 for req in self.requests if fragment in req.path)

    def reset_log(self) -> None:
        """Forget the request log."""
        self.requests.clear()
        self.request_count.clear()

    # ------------------------------------------------------------------
    # Source data
    # ------------------------------------------------------------------

    def device(self, uid: str) -> SimDevice:
        """Return the device with this uid."""
        return self.devices[uid]

    def _day_args(self, uid: str, day: date) -> tuple[Any, ...]:
        """Return what generates one local day of a device (seed to holiday)."""
        dev = self.devices[uid]
        return (
            self.seed,
            uid,
            dev.solar_aliases(),
            dev.aux_aliases(),
            day,
            dev.drift,
            dev.low_from,
            day in dev.low_days,
        )

    def day_data(self, uid: str, day: date) -> DayData:
        """Return the generated source data of one local day."""
        data = generate_day(*self._day_args(uid, day))
        fixes = {
            (moment - data.start) // 60: watts
            for (fix_uid, moment), watts in self.corrections.items()
            if fix_uid == uid and data.start <= moment < data.start + 60 * data.minutes
        }
        if not fixes:
            return data
        net = tuple(fixes.get(index, watts) for index, watts in enumerate(data.net))
        return replace(data, net=net)

    def correct_minute(self, uid: str, moment: datetime, watts: int) -> None:
        """Change the P1 net power of one minute (a correction by the CEMM)."""
        self.corrections[(uid, int(moment.timestamp()))] = watts

    def _gas_step(self, dev: SimDevice) -> int:
        """Return the gas register's grid in seconds (300 for DSMR 5, 3600 for DSMR 4)."""
        return 300 if dev.dsmr5 else 3600

    def _whole_day(self, uid: str, day: date) -> _Sums:
        """Return the sums of a whole day (corrected minutes included)."""
        if any(
            fix_uid == uid and local_date(moment) == day
            for fix_uid, moment in self.corrections
        ):
            data = self.day_data(uid, day)
            return _sum_day(data, data.start + 60 * data.minutes, 300)
        return _full_day_sums(*self._day_args(uid, day))

    def _now_s(self) -> int:
        """Return the clock in whole epoch seconds."""
        return math.floor(self.now.timestamp())

    def _days(self, first: date, last: date) -> Iterator[date]:
        """Yield each date in [first, last]."""
        day = first
        while day <= last:
            yield day
            day += timedelta(days=1)

    def sums_until(self, uid: str, first: date, until: int) -> _Sums:
        """Sum every interval from local day ``first`` that ends by ``until`` (epoch s)."""
        dev = self.devices[uid]
        until = min(until, self._now_s())
        first = max(first, self.history_start)
        total = _Sums()
        if until <= int(local_midnight(first).timestamp()):
            return total
        for day in self._days(first, local_date(until)):
            data = self.day_data(uid, day)
            if data.start + 60 * data.minutes <= until:
                total += self._whole_day(uid, day)
            else:
                total += _sum_day(data, until, self._gas_step(dev))
        return total

    def _period_sums(self, uid: str, first: date, last: date) -> _Sums:
        """Sum the complete intervals of local days [first, last] (up to now)."""
        dev = self.devices[uid]
        until = min(
            int(local_midnight(last + timedelta(days=1)).timestamp()), self._now_s()
        )
        total = _Sums()
        for day in self._days(max(first, self.history_start), last):
            data = self.day_data(uid, day)
            if data.start >= until:
                break
            if data.start + 60 * data.minutes <= until:
                total += self._whole_day(uid, day)
            else:
                total += _sum_day(data, until, self._gas_step(dev))
        return total

    def registers(self, uid: str, at: datetime | None = None) -> dict[str, float]:
        """Return every register (kWh, m³) at ``at`` (default now): t1..t4, gas, S0."""
        moment = math.floor((at or self.now).timestamp())
        sums = self.sums_until(uid, self.history_start, moment)
        base = self.register_base
        result = {
            "t1": base["t1"] + sums.imp_low / 60000,
            "t2": base["t2"] + sums.imp_high / 60000,
            "t3": base["t3"] + sums.exp_low / 60000,
            "t4": base["t4"] + sums.exp_high / 60000,
            "gas": base["gas"] + sums.gas * GAS_UNIT,
        }
        for alias in (
            *self.devices[uid].solar_aliases(),
            *self.devices[uid].aux_aliases(),
        ):
            low = base["s0_low"] + sums.s0_low.get(alias, 0) / 60000
            high = base["s0_high"] + sums.s0_high.get(alias, 0) / 60000
            result[f"{alias}_high"] = high
            result[alias] = low + high
        return result

    def minute_power(
        self, uid: str, alias: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, int]]:
        """Return (minute start, W) of complete minutes starting in [start, end).

        p1: net power (negative when returning); s0x: the input's power.
        """
        limit = self._now_s()
        lo, hi = start.timestamp(), end.timestamp()
        result: list[tuple[datetime, int]] = []
        first = max(local_date(start), self.history_start)
        for day in self._days(first, local_date(end)):
            data = self.day_data(uid, day)
            values = data.net if alias == "p1" else data.s0[alias]
            for index, watts in enumerate(values):
                begin = data.minute_start(index)
                if lo <= begin < hi and begin + 60 <= limit:
                    result.append((datetime.fromtimestamp(begin, UTC), watts))
        return result

    def minute_energy(
        self, uid: str, alias: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float, float]]:
        """Return (minute start, import kWh, export kWh) of complete minutes in [start, end).

        For an S0 alias the second value is the input's energy and the third 0.
        """
        return [
            (moment, max(watts, 0) / 60000, max(-watts, 0) / 60000)
            for moment, watts in self.minute_power(uid, alias, start, end)
        ]

    def gas_intervals(
        self, uid: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime, float]]:
        """Return (start, end, m³) on the device's gas grid, complete, starting in [start, end)."""
        dev = self.devices[uid]
        step = self._gas_step(dev)
        per_step = step // 300
        limit = self._now_s()
        lo, hi = start.timestamp(), end.timestamp()
        result: list[tuple[datetime, datetime, float]] = []
        first = max(local_date(start), self.history_start)
        for day in self._days(first, local_date(end)):
            data = self.day_data(uid, day)
            for slot in range(len(data.gas) // per_step):
                begin = data.start + slot * step
                if lo <= begin < hi and begin + step <= limit:
                    units = sum(data.gas[slot * per_step : (slot + 1) * per_step])
                    result.append(
                        (
                            datetime.fromtimestamp(begin, UTC),
                            datetime.fromtimestamp(begin + step, UTC),
                            units * GAS_UNIT,
                        )
                    )
        return result

    def hourly_gas(
        self, uid: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        """Return (hour start, m³) of complete hours starting in [start, end)."""
        limit = self._now_s()
        lo, hi = start.timestamp(), end.timestamp()
        result: list[tuple[datetime, float]] = []
        first = max(local_date(start), self.history_start)
        for day in self._days(first, local_date(end)):
            data = self.day_data(uid, day)
            for hour in range(len(data.gas) // 12):
                begin = data.start + hour * 3600
                if lo <= begin < hi and begin + 3600 <= limit:
                    units = sum(data.gas[hour * 12 : (hour + 1) * 12])
                    result.append(
                        (datetime.fromtimestamp(begin, UTC), units * GAS_UNIT)
                    )
        return result

    def daily_net(
        self, uid: str, first: date, last: date
    ) -> list[tuple[date, float, float]]:
        """Return (day, net low kWh, net normal kWh) of complete days in [first, last]."""
        result: list[tuple[date, float, float]] = []
        limit = self._now_s()
        for day in self._days(max(first, self.history_start), last):
            if local_midnight(day + timedelta(days=1)).timestamp() > limit:
                break
            sums = self._whole_day(uid, day)
            result.append(
                (
                    day,
                    (sums.imp_low - sums.exp_low) / 60000,
                    (sums.imp_high - sums.exp_high) / 60000,
                )
            )
        return result

    def tariff_at(self, moment: datetime, uid: str | None = None) -> int:
        """Return the NL tariff at ``moment``: 1 low, 2 normal.

        The schedule of device ``uid``; without one 23-07 and weekends.
        """
        device = self.devices[uid] if uid is not None else SimDevice("", {})
        return 1 if device.is_low(moment) else 2

    def current_power(self, uid: str, alias: str) -> int:
        """Return the power (W) of the minute that contains now."""
        now = self._now_s()
        day = local_date(now)
        if day < self.history_start:
            return 0
        data = self.day_data(uid, day)
        index = min((now - data.start) // 60, data.minutes - 1)
        return data.net[index] if alias == "p1" else data.s0[alias][index]

    def gas_boundary(self, uid: str, at: int | None = None) -> int:
        """Return the last gas grid boundary (epoch s) at or before ``at`` (default now)."""
        moment = self._now_s() if at is None else at
        step = self._gas_step(self.devices[uid])
        midnight = int(local_midnight(local_date(moment)).timestamp())
        return midnight + (moment - midnight) // step * step

    # ------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """Return the aiohttp application serving the API."""
        app = web.Application(middlewares=[self._middleware])
        p = self.prefix
        app.router.add_get(f"{p}/cemm/", self._devices)
        app.router.add_get(f"{p}/cemm/{{uid}}/io/", self._io)
        app.router.add_get(f"{p}/cemm/{{uid}}/{{alias}}/", self._io_alias)
        app.router.add_get(f"{p}/cemm/{{uid}}/{{alias}}/realtime/", self._realtime)
        app.router.add_get(
            f"{p}/cemm/{{uid}}/{{alias}}/data/{{period:day|month|year}}/", self._data
        )
        app.router.add_get(f"{p}/cemm/{{uid}}/{{alias}}/totals/", self._totals)
        return app

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Log and count; apply delay, forced statuses, overrides, key check, promises."""
        params = {k: v for k, v in request.query.items() if k != "api_key"}
        entry = SimRequest(request.method, request.path, params, 0)
        self.requests.append(entry)
        self.request_count[request.path] += 1
        response = await self._answer(request, handler, params)
        entry.status = response.status
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        params: dict[str, str],
    ) -> web.StreamResponse:
        """Produce the answer for one request."""
        if self.delay:
            await asyncio.sleep(self.delay)
        alias = request.match_info.get("alias")
        for forced in self._forced:
            if (
                forced.remaining > 0
                and forced.alias in (None, alias)
                and (forced.endpoint is None or forced.endpoint in request.path)
            ):
                forced.remaining -= 1
                self._forced = [f for f in self._forced if f.remaining > 0]
                return _error(forced.status)
        for override in self._overrides:
            if override.remaining > 0:
                override.remaining -= 1
                self._overrides = [o for o in self._overrides if o.remaining > 0]
                return web.Response(
                    body=override.body,
                    status=override.status,
                    headers=override.headers,
                    content_type="application/json",
                )
        if request.query.get("api_key") != self.api_key:
            return _error(403)
        key = f"{request.path}?{sorted(params.items())}"
        if self.never_resolve or self._promises[key] < self.promise_count:
            self._promises[key] += 1
            code = hashlib.sha256(f"{key}:{self._promises[key]}".encode()).hexdigest()[
                :16
            ]
            return web.json_response({"promise": code}, status=202)
        self._promises.pop(key, None)
        return await handler(request)

    def _device_for(self, request: web.Request) -> SimDevice | None:
        """Return the device named in the path, or None (→ 403)."""
        return self.devices.get(request.match_info["uid"])

    def _alias_for(self, request: web.Request) -> tuple[SimDevice, str] | web.Response:
        """Return (device, alias) or the error answer (403 unknown uid, 412 alias)."""
        dev = self._device_for(request)
        if dev is None:
            return _error(403)
        alias = request.match_info["alias"]
        if alias not in ALL_ALIASES or alias not in dev.aliases:
            return _error(412)
        return dev, alias

    def _io_entry(self, dev: SimDevice, alias: str) -> dict[str, Any]:
        """Return the I/O object of an alias."""
        io_type = dev.aliases[alias]
        return {
            "io_id": list(dev.aliases).index(alias) + 1,
            "port": _PORTS[alias],
            "type": io_type,
            "port_option": _PORT_OPTIONS.get(alias, "s0_in"),
            "full_id": 16384,
        }

    async def _devices(self, request: web.Request) -> web.Response:
        """GET cemm/."""
        return web.json_response({"data": [{"uid": uid} for uid in self.devices]})

    async def _io(self, request: web.Request) -> web.Response:
        """GET cemm/<uid>/io/."""
        dev = self._device_for(request)
        if dev is None:
            return _error(403)
        return web.json_response(
            {"data": [self._io_entry(dev, a) for a in dev.aliases]}
        )

    async def _io_alias(self, request: web.Request) -> web.Response:
        """GET cemm/<uid>/<alias>/."""
        dev = self._device_for(request)
        alias = request.match_info["alias"]
        if (
            self.empty_for_missing_alias
            and dev is not None
            and alias in ALL_ALIASES
            and alias not in dev.aliases
        ):
            return web.json_response({"data": []})
        found = self._alias_for(request)
        if isinstance(found, web.Response):
            return found
        dev, alias = found
        return web.json_response({"data": [self._io_entry(dev, alias)]})

    async def _realtime(self, request: web.Request) -> web.Response:
        """GET cemm/<uid>/<alias>/realtime/."""
        found = self._alias_for(request)
        if isinstance(found, web.Response):
            return found
        dev, alias = found
        now_ms = self._now_s() * 1000
        io_id = self._io_entry(dev, alias)["io_id"]
        if alias == "p1-gas":
            data: dict[str, list[float]] = {"gas": self._gas_pair(dev)}
        elif alias == "p1":
            regs = self.registers(dev.uid)
            data = {
                name: [now_ms, round(regs[name], 3)]
                for name in ("t1", "t2", "t3", "t4")
            }
            data["electric_power"] = [now_ms, self.current_power(dev.uid, "p1")]
            data["rate"] = [now_ms, self.tariff_at(self.now, dev.uid)]
            data["switch"] = [0, 0]
            data["gas"] = self._gas_pair(dev) if "p1-gas" in dev.aliases else [0, 0]
        else:
            data = {"electric_power": [now_ms, self.current_power(dev.uid, alias)]}
        return web.json_response({"io_id": io_id, "data": data})

    def _gas_pair(self, dev: SimDevice, at: int | None = None) -> list[float]:
        """Return [boundary ms, gas register] at the last gas boundary."""
        boundary = self.gas_boundary(dev.uid, at)
        register = self.registers(dev.uid, datetime.fromtimestamp(boundary, UTC))["gas"]
        return [boundary * 1000, register]

    def _time_param(self, request: web.Request) -> int | None:
        """Return the ``time`` parameter in seconds, or None when missing/invalid."""
        try:
            return int(request.query["time"])
        except (KeyError, ValueError):
            return None

    async def _data(self, request: web.Request) -> web.Response:
        """GET cemm/<uid>/<alias>/data/{day,month,year}/."""
        found = self._alias_for(request)
        if isinstance(found, web.Response):
            return found
        dev, alias = found
        moment = self._time_param(request)
        if moment is None:
            return _error(400)
        day = local_date(moment)
        period = request.match_info["period"]
        if period == "day":
            data = self._day_body(dev, alias, day)
        elif period == "month":
            data = self._month_body(dev, alias, day)
        else:
            data = self._year_body(dev, alias, day)
        io_id = self._io_entry(dev, alias)["io_id"]
        return web.json_response({"io_id": io_id, "time": moment * 1000, "data": data})

    def _day_body(
        self, dev: SimDevice, alias: str, day: date
    ) -> dict[str, list[list[float]]]:
        """Return the data object of one day."""
        limit = self._now_s()
        if day < self.history_start:
            return {"gas" if alias == "p1-gas" else "electric_power": []}
        data = self.day_data(dev.uid, day)
        if alias == "p1-gas":
            entries = (
                self._gas_flow(data, limit)
                if dev.gas_format == "minute"
                else self._gas_amounts(data, limit, 3600 if not dev.dsmr5 else 300)
            )
            # End-of-day marker at 23:59:59 local, as in the document's example.
            entries.append([(data.start + 60 * data.minutes - 1) * 1000, 0])
            entries.reverse()  # the document lists gas newest first
            return {"gas": entries}
        values = data.net if alias == "p1" else data.s0[alias]
        power: list[list[float]] = []
        for index, watts in enumerate(values):
            begin = data.minute_start(index)
            if begin + 60 <= limit:
                power.append([begin * 1000, watts])
            elif self.future_zeros:
                power.append([begin * 1000, 0])
        return {"electric_power": power}

    def _gas_amounts(self, data: DayData, limit: int, step: int) -> list[list[float]]:
        """Return [start ms, m³] per gas interval of ``step`` s (complete ones)."""
        per_step = step // 300
        entries: list[list[float]] = []
        for slot in range(len(data.gas) // per_step):
            begin = data.start + slot * step
            if begin + step <= limit:
                units = sum(data.gas[slot * per_step : (slot + 1) * per_step])
                entries.append([begin * 1000, units * GAS_UNIT])
            elif self.future_zeros:
                entries.append([begin * 1000, 0])
        return entries

    def _gas_flow(self, data: DayData, limit: int) -> list[list[float]]:
        """Return [minute start ms, L/min] per minute whose 5-minute slot is complete.

        DSMR 5 updates the gas register every 5 minutes; the CEMM shows each
        minute of a slot the flow of that slot, rounded to 0.01 L/min.
        """
        entries: list[list[float]] = []
        for index in range(data.minutes):
            begin = data.minute_start(index)
            slot = index // 5
            if data.start + (slot + 1) * 300 <= limit:
                litres = data.gas[slot] * GAS_UNIT * 1000
                entries.append([begin * 1000, round(litres / 5, 2)])
            elif self.future_zeros:
                entries.append([begin * 1000, 0])
        return entries

    def _month_body(
        self, dev: SimDevice, alias: str, day: date
    ) -> dict[str, list[list[float]]]:
        """Return the data object of the month of ``day`` (newest day first)."""
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        rows = [
            (d, self._period_sums(dev.uid, d, d))
            for d in self._days(first, following - timedelta(days=1))
        ]
        return self._energy_rows(alias, rows)

    def _year_body(
        self, dev: SimDevice, alias: str, day: date
    ) -> dict[str, list[list[float]]]:
        """Return the data object of the year of ``day`` (newest month first)."""
        rows: list[tuple[date, _Sums]] = []
        for month in range(1, 13):
            first = date(day.year, month, 1)
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            rows.append((first, self._period_sums(dev.uid, first, last)))
        return self._energy_rows(alias, rows)

    def _energy_rows(
        self, alias: str, rows: list[tuple[date, _Sums]]
    ) -> dict[str, list[list[float]]]:
        """Turn (period start, sums) rows into month/year data arrays, newest first."""
        rows = sorted(rows, key=lambda row: row[0], reverse=True)
        if alias == "p1-gas":
            return {
                "gas": [
                    [int(local_midnight(d).timestamp()) * 1000, s.gas * GAS_UNIT]
                    for d, s in rows
                ]
            }
        low: list[list[float]] = []
        high: list[list[float]] = []
        for d, s in rows:
            stamp = int(local_midnight(d).timestamp()) * 1000
            if alias == "p1":
                low.append([stamp, (s.imp_low - s.exp_low) / 60000])
                high.append([stamp, (s.imp_high - s.exp_high) / 60000])
            else:
                low.append([stamp, s.s0_low.get(alias, 0) / 60000])
                high.append([stamp, s.s0_high.get(alias, 0) / 60000])
        return {"electric_energy_low": low, "electric_energy_high": high}

    async def _totals(self, request: web.Request) -> web.Response:
        """GET cemm/<uid>/<alias>/totals/: the last readings of the day (5-min grid)."""
        found = self._alias_for(request)
        if isinstance(found, web.Response):
            return found
        dev, alias = found
        moment = self._time_param(request)
        if moment is None:
            return _error(400)
        day = local_date(moment)
        day_end = int(local_midnight(day + timedelta(days=1)).timestamp())
        at = min(day_end, self._now_s() // 300 * 300)
        at = max(at, int(local_midnight(self.history_start).timestamp()))
        regs = self.registers(dev.uid, datetime.fromtimestamp(at, UTC))
        stamp = at * 1000
        data: dict[str, list[float]]
        if alias == "p1-gas":
            data = {"gas": self._gas_pair(dev, at)}
        elif alias == "p1":
            data = {name: [stamp, regs[name]] for name in ("t1", "t2", "t3", "t4")}
            if (dev.uid, day) in self.totals_gaps:
                data = {name: [0, 0] for name in data}
            # electric_energy = t1 - t3, electric_energy_high = t2 - t4 (document example)
            data["electric_energy"] = [stamp, regs["t1"] - regs["t3"]]
            data["electric_energy_high"] = [stamp, regs["t2"] - regs["t4"]]
            data["gas"] = self._gas_pair(dev, at) if "p1-gas" in dev.aliases else [0, 0]
        else:
            data = {
                "electric_energy": [stamp, regs[alias]],
                "electric_energy_high": [stamp, regs[f"{alias}_high"]],
            }
        io_id = self._io_entry(dev, alias)["io_id"]
        return web.json_response({"io_id": io_id, "time": moment * 1000, "data": data})


_REASONS = {
    400: "Bad Request",
    403: "Unauthorized",
    408: "Request Timeout",
    412: "Precondition Failed",
    502: "Bad Gateway",
}


def _error(status: int) -> web.Response:
    """Return an error answer with a small JSON body."""
    return web.json_response(
        {"error": _REASONS.get(status, "Error"), "status": status}, status=status
    )


async def _serve(host: str, port: int, sim: CemmSimulator) -> None:
    """Serve until interrupted."""
    runner = web.AppRunner(sim.build_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    uids = ", ".join(sim.devices)
    print(  # noqa: T201
        f"CEMM Open API simulator on http://{host}:{port}{sim.prefix}/\n"
        f"  api_key: {sim.api_key}\n  uid(s): {uids}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Run the simulator standalone: ``python -m tests.simulators.cemm --port N``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dsmr5", action="store_true", help="DSMR 5 gas: minute data in L/min"
    )
    parser.add_argument("--gas-format", choices=GAS_FORMATS, default=None)
    parser.add_argument(
        "--drift",
        type=int,
        default=20,
        help="W the P1 registers count beyond the minute power (0: none)",
    )
    parser.add_argument(
        "--promises", type=int, default=0, help="202 answers before data"
    )
    args = parser.parse_args()
    sim = CemmSimulator(
        seed=args.seed,
        dsmr5=args.dsmr5,
        gas_format=args.gas_format,
        drift=args.drift,
        now=None,
        history_start=datetime.now(UTC).date() - timedelta(days=90),
    )
    sim.promise_count = args.promises
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, sim))


if __name__ == "__main__":
    main()
