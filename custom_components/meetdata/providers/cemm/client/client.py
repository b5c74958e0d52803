"""Client of the CEMM Open API (NL): a CEMM energy monitor read per alias.

The API lives at ``https://open-api.cemm.nl/v1/``; every request carries the
``api_key`` query parameter (the API accepts no other form), so the key is
passed to :func:`http.request` as a secret parameter and never appears in a
message or log line. When the CEMM cannot answer at once the API returns HTTP
202 with a "promise" that expires after 10 seconds: the client repeats the same
request until the data arrives.

Meters are addressed by CEMM uid (its MAC address, e.g. ``FF-FF-FF-FF-FF-FF``)
and alias: ``p1`` (DSMR smart meter), ``p1-gas`` (gas meter behind it) and the
pulse inputs ``s01``, ``s02``, ``s03``. Timestamps are epoch milliseconds; days,
months and years are local days in Europe/Amsterdam.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import importlib
import itertools
import json
import logging
import math
import time as monotonic_time
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp

from ....api.base import MeterDataClient
from ....api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataUnsupportedError,
)
from ....api.http import DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES, parse_retry_after, request
from ....api.models import (
    Interval,
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Provider,
    Quantity,
    Reading,
)

__all__ = [
    "ALIASES",
    "DEFAULT_BASE_URL",
    "CemmClient",
    "CemmIo",
    "CemmMeasurement",
    "CemmSeries",
    "CemmValues",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://open-api.cemm.nl/v1/"
TIMEZONE: Final = ZoneInfo("Europe/Amsterdam")

ALIAS_P1: Final = "p1"
ALIAS_GAS: Final = "p1-gas"
S0_ALIASES: Final = ("s01", "s02", "s03")
ALIASES: Final = (ALIAS_P1, ALIAS_GAS, *S0_ALIASES)

#: Bodies larger than this are parsed in an executor.
EXECUTOR_PARSE_BYTES: Final = 64 * 1024

_MINUTE: Final = timedelta(minutes=1)
_KWH_PER_WATT_MINUTE: Final = 1 / 1000 / 60

# P1 realtime keys (kWh registers) and the quantity each one becomes.
_P1_REGISTERS: Final = {
    "t1": Quantity.ENERGY_IMPORT_LOW,
    "t2": Quantity.ENERGY_IMPORT_NORMAL,
    "t3": Quantity.ENERGY_EXPORT_LOW,
    "t4": Quantity.ENERGY_EXPORT_NORMAL,
}
_TARIFFS: Final = {1: "low", 2: "normal"}
#: Sensor names the client reads: a malformed one refuses the answer, a
#: malformed unknown one (a field the API added later) is skipped.
_KNOWN_SENSORS: Final = frozenset(
    {
        *_P1_REGISTERS,
        "electric_power",
        "electric_energy",
        "electric_energy_low",
        "electric_energy_high",
        "rate",
        "gas",
    }
)


def _pick_loads() -> Callable[[bytes], Any]:
    """Return orjson.loads when available (it ships with Home Assistant), else json.loads."""
    try:
        module = importlib.import_module("orjson")
    except ImportError:  # pragma: no cover - orjson is installed with Home Assistant
        return json.loads
    loads: Callable[[bytes], Any] = module.loads
    return loads


_loads: Final = _pick_loads()


@dataclass(frozen=True, slots=True)
class CemmMeasurement:
    """One MeasurementArray ``[timestamp ms, value]`` with the timestamp as UTC datetime."""

    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class CemmIo:
    """One activated I/O (meter, sensor or actuator) of a CEMM."""

    io_id: int
    port: int
    type: str
    port_option: str | None = None
    full_id: int | None = None


@dataclass(frozen=True, slots=True)
class CemmValues:
    """A realtime or totals answer: one measurement per sensor name.

    Measurements whose timestamp is 0 (e.g. ``"switch": [0, 0]``) or whose value
    is null mean "no value" and are left out of ``values``.
    """

    io_id: int
    time: datetime | None
    values: dict[str, CemmMeasurement]


@dataclass(frozen=True, slots=True)
class CemmSeries:
    """A day, month or year answer: a list of measurements per sensor name.

    Each list is sorted by timestamp (the API sends some of them in descending
    order); "no value" entries (timestamp 0 or null value) are left out.
    """

    io_id: int
    time: datetime | None
    series: dict[str, list[CemmMeasurement]]


def uid_key(uid: str) -> str:
    """Return the meter key of a CEMM: its uid lower-cased without dashes."""
    return uid.lower().replace("-", "")


def alias_key(uid: str, alias: str) -> str:
    """Return the meter key of one alias of a CEMM, e.g. ``ffffffffffff_p1_gas``."""
    return f"{uid_key(uid)}_{alias.replace('-', '_')}"


def _local_midnight(day: date) -> datetime:
    """Return local midnight (Europe/Amsterdam) of ``day`` as a UTC datetime."""
    return datetime.combine(day, time(0), TIMEZONE).astimezone(UTC)


def _local_date(moment: datetime) -> date:
    """Return the local (Europe/Amsterdam) date of an aware datetime."""
    return moment.astimezone(TIMEZONE).date()


def _time_param(moment: datetime) -> str:
    """Return the ``time`` query parameter (epoch seconds) for an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MeetdataInvalidRequestError("CEMM time parameter must be timezone-aware")
    return str(math.floor(moment.timestamp()))


def _day_param(day: date) -> datetime:
    """Return a moment safely inside local ``day`` (the middle of the day)."""
    start = _local_midnight(day)
    end = _local_midnight(day + timedelta(days=1))
    return start + (end - start) / 2


# --------------------------------------------------------------------------
# Parsing helpers: every shape error becomes MeetdataResponseError.
# --------------------------------------------------------------------------


def _parse_json(body: bytes) -> Any:
    """Decode a JSON body; malformed JSON becomes MeetdataResponseError."""
    try:
        return _loads(body)
    except (ValueError, RecursionError):
        raise MeetdataResponseError("CEMM Open API returned malformed JSON") from None


def _as_object(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not an object")
    return value


def _as_list(value: Any, what: str) -> list[Any]:
    """Return ``value`` if it is a JSON array."""
    if not isinstance(value, list):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not an array")
    return value


def _field(obj: dict[str, Any], name: str, what: str) -> Any:
    """Return a required field of a JSON object."""
    if name not in obj:
        raise MeetdataResponseError(f"CEMM Open API: {what} lacks '{name}'")
    return obj[name]


def _as_int(value: Any, what: str) -> int:
    """Return ``value`` as int (integral floats accepted, booleans refused)."""
    if isinstance(value, bool):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise MeetdataResponseError(f"CEMM Open API: {what} is not an integer")


def _as_str(value: Any, what: str) -> str:
    """Return ``value`` if it is a string."""
    if not isinstance(value, str):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not a string")
    return value


def _ms_to_datetime(value: int, what: str) -> datetime:
    """Convert epoch milliseconds to an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise MeetdataResponseError(
            f"CEMM Open API: {what} has an impossible timestamp"
        ) from None


def _measurement(value: Any, what: str) -> CemmMeasurement | None:
    """Parse one MeasurementArray; None when it means "no value"."""
    pair = _as_list(value, what)
    if len(pair) < 2:
        raise MeetdataResponseError(
            f"CEMM Open API: {what} is not a [timestamp, value] pair"
        )
    stamp = _as_int(pair[0], f"{what} timestamp")
    raw = pair[1]
    if stamp == 0 or raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise MeetdataResponseError(f"CEMM Open API: {what} value is not a number")
    number = float(raw)
    if not math.isfinite(number):
        raise MeetdataResponseError(f"CEMM Open API: {what} value is not finite")
    return CemmMeasurement(_ms_to_datetime(stamp, what), number)


def _optional_time(obj: dict[str, Any], what: str) -> datetime | None:
    """Parse the optional ``time`` field (milliseconds) of an answer."""
    raw = obj.get("time")
    if raw is None:
        return None
    return _ms_to_datetime(_as_int(raw, f"{what} time"), what)


def _parse_uids(payload: Any) -> list[str]:
    """Parse the ``cemm/`` answer into a list of uids."""
    data = _as_list(_field(_as_object(payload, "answer"), "data", "answer"), "data")
    uids: list[str] = []
    for index, item in enumerate(data):
        what = f"device {index}"
        uid = _as_str(_field(_as_object(item, what), "uid", what), f"{what} uid")
        if not uid:
            raise MeetdataResponseError(f"CEMM Open API: {what} has an empty uid")
        uids.append(uid)
    return uids


def _parse_io(payload: Any) -> list[CemmIo]:
    """Parse an I/O list answer (``io/`` or by alias)."""
    data = _as_list(_field(_as_object(payload, "answer"), "data", "answer"), "data")
    ios: list[CemmIo] = []
    for index, item in enumerate(data):
        what = f"io {index}"
        obj = _as_object(item, what)
        port_option = obj.get("port_option")
        full_id = obj.get("full_id")
        ios.append(
            CemmIo(
                io_id=_as_int(_field(obj, "io_id", what), f"{what} io_id"),
                port=_as_int(_field(obj, "port", what), f"{what} port"),
                type=_as_str(_field(obj, "type", what), f"{what} type"),
                port_option=None
                if port_option is None
                else _as_str(port_option, f"{what} port_option"),
                full_id=None
                if full_id is None
                else _as_int(full_id, f"{what} full_id"),
            )
        )
    return ios


def _parse_values(payload: Any) -> CemmValues:
    """Parse a realtime or totals answer."""
    obj = _as_object(payload, "answer")
    io_id = _as_int(_field(obj, "io_id", "answer"), "io_id")
    data = _as_object(_field(obj, "data", "answer"), "data")
    values: dict[str, CemmMeasurement] = {}
    for name, raw in data.items():
        try:
            measurement = _measurement(raw, name)
        except MeetdataResponseError:
            if name in _KNOWN_SENSORS:
                raise
            _LOGGER.debug("CEMM Open API: unreadable unknown field %r skipped", name)
            continue
        if measurement is not None:
            values[name] = measurement
    return CemmValues(io_id, _optional_time(obj, "answer"), values)


def _parse_series(payload: Any) -> CemmSeries:
    """Parse a day, month or year answer."""
    obj = _as_object(payload, "answer")
    io_id = _as_int(_field(obj, "io_id", "answer"), "io_id")
    data = _as_object(_field(obj, "data", "answer"), "data")
    series: dict[str, list[CemmMeasurement]] = {}
    for name, raw in data.items():
        try:
            entries = [
                measurement
                for index, item in enumerate(_as_list(raw, name))
                if (measurement := _measurement(item, f"{name}[{index}]")) is not None
            ]
        except MeetdataResponseError:
            if name in _KNOWN_SENSORS:
                raise
            _LOGGER.debug("CEMM Open API: unreadable unknown field %r skipped", name)
            continue
        entries.sort(key=lambda entry: entry.timestamp)
        series[name] = entries
    return CemmSeries(io_id, _optional_time(obj, "answer"), series)


def _require(series: CemmSeries, name: str, what: str) -> list[CemmMeasurement]:
    """Return one named array of a series answer; missing means a malformed answer."""
    if name not in series.series:
        raise MeetdataResponseError(f"CEMM Open API: {what} lacks '{name}'")
    return series.series[name]


def _aligned(entries: Iterable[CemmMeasurement]) -> list[CemmMeasurement]:
    """Drop entries not on a whole minute, such as the 23:59:59 end-of-day marker."""
    return [
        entry
        for entry in entries
        if entry.timestamp.second == 0 and entry.timestamp.microsecond == 0
    ]


def _grid_spacing(stamps: Sequence[datetime]) -> timedelta | None:
    """Return the smallest positive spacing between sorted timestamps, if any."""
    spacing: timedelta | None = None
    for earlier, later in itertools.pairwise(stamps):
        step = later - earlier
        if step > timedelta(0) and (spacing is None or step < spacing):
            spacing = step
    return spacing


def _guess_spacing(stamp: datetime) -> timedelta:
    """Guess the gas grid from one timestamp: on the hour → hourly, else 5 min."""
    local = stamp.astimezone(TIMEZONE)
    if local.minute == 0:
        return timedelta(hours=1)
    if local.minute % 5 == 0:
        return timedelta(minutes=5)
    return _MINUTE


@dataclass(frozen=True, slots=True)
class _Ref:
    """Where a meter lives: CEMM uid and alias."""

    uid: str
    alias: str


class CemmClient(MeterDataClient):
    """Client of the CEMM Open API for one API key (one or more CEMM devices)."""

    provider = Provider.CEMM
    max_history = None
    history_quantities = (
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.ENERGY_NET_LOW,
        Quantity.ENERGY_NET_NORMAL,
        Quantity.GAS_VOLUME,
        Quantity.PRODUCTION,
        Quantity.AUXILIARY,
    )

    #: How often the totals endpoint is read for an S0 register (per alias).
    totals_refresh_interval: timedelta = timedelta(hours=1)
    #: At most this many requests in flight at once.
    max_concurrent_requests: int = 4
    #: Timeout of one HTTP request in seconds.
    request_timeout: float = DEFAULT_TIMEOUT
    #: Size cap of one response body in bytes.
    max_response_bytes: int = MAX_RESPONSE_BYTES
    #: Bodies larger than this are parsed in an executor.
    executor_parse_bytes: int = EXECUTOR_PARSE_BYTES

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        promise_retry_delay: float = 1.0,
        promise_timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Store the session, key and options.

        ``clock`` returns the current aware time (default: the system clock); it
        decides which days are requested and which intervals are complete.
        """
        self._session = session
        self._api_key = api_key
        self._base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self._promise_retry_delay = promise_retry_delay
        self._promise_timeout = promise_timeout
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._monotonic: Callable[[], float] = monotonic_time.monotonic
        self._semaphore = asyncio.Semaphore(self.max_concurrent_requests)
        # (uid, alias) -> (monotonic time fetched, register reading or None)
        self._totals_cache: dict[tuple[str, str], tuple[float, Reading | None]] = {}
        # meter key -> gas grid spacing learnt from earlier day data
        self._gas_grid: dict[str, timedelta] = {}

    # ------------------------------------------------------------------
    # Transport
    # ------------------------------------------------------------------

    async def _get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        meter: str | None = None,
    ) -> Any:
        """GET ``path`` (relative to the base URL), follow promises, return parsed JSON."""
        query = {"api_key": self._api_key, **(params or {})}
        url = self._base_url + path
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            async with self._semaphore:
                response = await request(
                    self._session,
                    "GET",
                    url,
                    params=query,
                    timeout=self.request_timeout,
                    max_bytes=self.max_response_bytes,
                    secret_params=("api_key",),
                )
            if response.status != 202:
                break
            # A promise: the CEMM is being asked; repeat the same request.
            now = loop.time()
            if deadline is None:
                deadline = now + self._promise_timeout
            if now + self._promise_retry_delay > deadline:
                raise MeetdataTimeoutError(
                    f"CEMM Open API promise for {path} did not resolve within "
                    f"{self._promise_timeout:g} s",
                    meter=meter,
                )
            _LOGGER.debug("CEMM promise for %s; asking again", path)
            await asyncio.sleep(self._promise_retry_delay)
        self._raise_for_status(
            response.status, response.headers.get("Retry-After"), path, meter
        )
        if len(response.body) > self.executor_parse_bytes:
            return await loop.run_in_executor(None, _parse_json, response.body)
        return _parse_json(response.body)

    @staticmethod
    def _raise_for_status(
        status: int, retry_after: str | None, path: str, meter: str | None
    ) -> None:
        """Map a non-200 status to the MeetdataError hierarchy."""
        if status == 200:
            return
        where = f"CEMM Open API {path}"
        if status in (401, 403):
            # The document answers 403 to a bad key; a 401 (from a gateway in
            # front of the API) means the same: ask for a new key.
            raise MeetdataAuthError(
                f"{where}: access denied (HTTP {status}), the API key is invalid "
                "for this action",
                meter=meter,
            )
        if status == 408:
            raise MeetdataTimeoutError(
                f"{where}: the CEMM did not answer in time (HTTP 408)", meter=meter
            )
        if status == 412:
            raise MeetdataUnsupportedError(
                f"{where}: alias not supported by this CEMM (HTTP 412)", meter=meter
            )
        if status == 404:
            raise MeetdataNotFoundError(f"{where}: not found (HTTP 404)", meter=meter)
        if status == 429:
            raise MeetdataRateLimitError(
                f"{where}: rate limited (HTTP 429)",
                retry_after=parse_retry_after(retry_after, dates=False),
                meter=meter,
            )
        if status >= 500:
            raise MeetdataConnectionError(
                f"{where}: server error (HTTP {status})", meter=meter
            )
        if 400 <= status < 500:
            raise MeetdataInvalidRequestError(
                f"{where}: request refused (HTTP {status})", meter=meter
            )
        raise MeetdataResponseError(f"{where}: unexpected HTTP {status}", meter=meter)

    @staticmethod
    def _alias_path(uid: str, alias: str, suffix: str = "") -> str:
        """Return ``cemm/<uid>/<alias>/<suffix>`` with path segments quoted."""
        return f"cemm/{quote(uid, safe='')}/{quote(alias, safe='')}/{suffix}"

    # ------------------------------------------------------------------
    # The eight endpoints
    # ------------------------------------------------------------------

    async def async_get_devices(self) -> list[str]:
        """Return the uids of the CEMM devices linked to the API key (``cemm/``)."""
        return _parse_uids(await self._get("cemm/"))

    async def async_get_io(self, uid: str) -> list[CemmIo]:
        """Return every activated I/O of a CEMM (``cemm/<uid>/io/``)."""
        path = f"cemm/{quote(uid, safe='')}/io/"
        return _parse_io(await self._get(path, meter=uid))

    async def async_get_io_by_alias(self, uid: str, alias: str) -> list[CemmIo]:
        """Return the I/O behind an alias (``cemm/<uid>/<alias>/``); empty if none."""
        return _parse_io(await self._get(self._alias_path(uid, alias), meter=uid))

    async def async_get_realtime(self, uid: str, alias: str) -> CemmValues:
        """Return the realtime values of an alias (``.../realtime/``)."""
        path = self._alias_path(uid, alias, "realtime/")
        return _parse_values(await self._get(path, meter=uid))

    async def async_get_day(self, uid: str, alias: str, moment: datetime) -> CemmSeries:
        """Return the day data (minutes; hours or 5 min for gas) of the day of ``moment``."""
        path = self._alias_path(uid, alias, "data/day/")
        return _parse_series(
            await self._get(path, {"time": _time_param(moment)}, meter=uid)
        )

    async def async_get_month(
        self, uid: str, alias: str, moment: datetime
    ) -> CemmSeries:
        """Return the month data (one value per local day) of the month of ``moment``."""
        path = self._alias_path(uid, alias, "data/month/")
        return _parse_series(
            await self._get(path, {"time": _time_param(moment)}, meter=uid)
        )

    async def async_get_year(
        self, uid: str, alias: str, moment: datetime
    ) -> CemmSeries:
        """Return the year data (one value per local month) of the year of ``moment``.

        The integration does not import these: month data covers the same
        period at a finer grain (days), so this exists for completeness only.
        """
        path = self._alias_path(uid, alias, "data/year/")
        return _parse_series(
            await self._get(path, {"time": _time_param(moment)}, meter=uid)
        )

    async def async_get_totals(
        self, uid: str, alias: str, moment: datetime
    ) -> CemmValues:
        """Return the last known meter readings of the day of ``moment`` (``.../totals/``)."""
        path = self._alias_path(uid, alias, "totals/")
        return _parse_values(
            await self._get(path, {"time": _time_param(moment)}, meter=uid)
        )

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
                    provider=Provider.CEMM,
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
            provider=Provider.CEMM,
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
            if meter.provider is Provider.CEMM and meter.kind is not MeterKind.GATEWAY:
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

        p1: per-minute ENERGY_IMPORT / ENERGY_EXPORT from day data and daily
        ENERGY_NET_LOW / ENERGY_NET_NORMAL from month data. p1-gas: GAS_VOLUME
        per gas interval (hour for DSMR 4, 5 min for DSMR 5). s0x: PRODUCTION
        or AUXILIARY per minute. Intervals not yet complete by the clock are
        left out.
        """
        if meter.provider is not Provider.CEMM or meter.kind is MeterKind.GATEWAY:
            return []
        if start.tzinfo is None or end.tzinfo is None:
            raise MeetdataInvalidRequestError(
                "CEMM history bounds must be timezone-aware"
            )
        ref = _meter_ref(meter)
        now = self._clock()
        window_end = min(end, now)
        days = _days_overlapping(start, window_end)
        if ref.alias == ALIAS_P1:
            return await self._p1_history(meter, ref, days, start, end, now)
        if ref.alias == ALIAS_GAS:
            return await self._gas_history(meter, ref, days, start, end, now)
        return await self._s0_history(meter, ref, days, start, end, now)

    async def _day_series(self, ref: _Ref, days: list[date]) -> list[CemmSeries]:
        """Fetch the day data of each of ``days``."""
        return await _gather(
            [self.async_get_day(ref.uid, ref.alias, _day_param(day)) for day in days]
        )

    async def _p1_history(
        self,
        meter: Meter,
        ref: _Ref,
        days: list[date],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[IntervalSeries]:
        """Per-minute import/export and daily net per tariff of a P1 meter."""
        imports, exports = await _off_loop(
            _p1_minutes, await self._day_series(ref, days), start, end, now
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
            _series(meter, Quantity.ENERGY_IMPORT, imports),
            _series(meter, Quantity.ENERGY_EXPORT, exports),
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
        """Gas used per interval of the gas grid (hourly for DSMR 4, 5 min for DSMR 5)."""
        entries: list[CemmMeasurement] = []
        for answer in await self._day_series(ref, days):
            # Drops the unaligned end-of-day marker (23:59:59 with value 0).
            entries.extend(_aligned(_require(answer, "gas", "p1-gas day data")))
        entries.sort(key=lambda entry: entry.timestamp)
        spacing = _grid_spacing([entry.timestamp for entry in entries])
        if spacing is not None:
            self._gas_grid[meter.key] = spacing
        intervals: list[Interval] = []
        seen: set[datetime] = set()
        for entry in entries:
            begin = entry.timestamp
            if begin in seen:
                continue
            seen.add(begin)
            step = spacing or self._gas_grid.get(meter.key) or _guess_spacing(begin)
            finish = begin + step
            if start <= begin < end and finish <= now:
                intervals.append(Interval(begin, finish, entry.value))
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

#: Day answers holding more minutes than this become intervals in an executor
#: (a 7-day history window is 10 080 minutes: ~20 ms of the event loop).
EXECUTOR_MINUTES: Final = 1500


async def _off_loop[T](
    convert: Callable[[list[CemmSeries], datetime, datetime, datetime], T],
    answers: list[CemmSeries],
    start: datetime,
    end: datetime,
    now: datetime,
) -> T:
    """Convert day answers to intervals, in an executor when they are many."""
    minutes = sum(
        len(values) for answer in answers for values in answer.series.values()
    )
    if minutes > EXECUTOR_MINUTES:
        return await asyncio.get_running_loop().run_in_executor(
            None, convert, answers, start, end, now
        )
    return convert(answers, start, end, now)


def _p1_minutes(
    answers: list[CemmSeries], start: datetime, end: datetime, now: datetime
) -> tuple[list[Interval], list[Interval]]:
    """Return per-minute import and export intervals from P1 day answers."""
    imports: list[Interval] = []
    exports: list[Interval] = []
    for answer in answers:
        for entry in _aligned(_require(answer, "electric_power", "p1 day data")):
            begin, finish = entry.timestamp, entry.timestamp + _MINUTE
            if not start <= begin < end or finish > now:
                continue
            # The average net power of the minute: import when positive,
            # export when negative (both directions inside one minute net out).
            energy = entry.value * _KWH_PER_WATT_MINUTE
            imports.append(Interval(begin, finish, max(energy, 0.0)))
            exports.append(Interval(begin, finish, max(-energy, 0.0)))
    return imports, exports


def _s0_minutes(
    answers: list[CemmSeries], start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Return per-minute energy intervals from S0 day answers."""
    intervals: list[Interval] = []
    for answer in answers:
        for entry in _aligned(_require(answer, "electric_power", "s0 day data")):
            begin, finish = entry.timestamp, entry.timestamp + _MINUTE
            if start <= begin < end and finish <= now:
                intervals.append(
                    Interval(
                        begin, finish, max(entry.value, 0.0) * _KWH_PER_WATT_MINUTE
                    )
                )
    return intervals


async def _gather[T](awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Await all concurrently; then raise the first failure (in order), if any."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    values: list[T] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        values.append(result)
    return values


def _meter_ref(meter: Meter) -> _Ref:
    """Return the uid and alias of a meter, from its attributes or else its key."""
    uid = meter.attributes.get("uid")
    alias = meter.attributes.get("alias")
    if uid and alias:
        return _Ref(uid, alias)
    key, _, tail = meter.key.partition("_")
    alias = tail.replace("_", "-")
    if len(key) != 12 or alias not in ALIASES:
        raise MeetdataNotFoundError(
            f"CEMM meter {meter.key} has no uid/alias", meter=meter.key
        )
    rebuilt = "-".join(key[index : index + 2] for index in range(0, 12, 2)).upper()
    return _Ref(rebuilt, alias)


def _s0_quantity(meter: Meter) -> Quantity:
    """Return PRODUCTION for a production pulse meter, AUXILIARY otherwise."""
    return (
        Quantity.PRODUCTION
        if meter.kind is MeterKind.PRODUCTION
        else Quantity.AUXILIARY
    )


def _series(
    meter: Meter, quantity: Quantity, intervals: list[Interval]
) -> IntervalSeries:
    """Return a sorted IntervalSeries."""
    intervals.sort(key=lambda interval: interval.start)
    return IntervalSeries(meter.key, quantity, intervals)


def _days_overlapping(start: datetime, end: datetime) -> list[date]:
    """Return the local days that overlap [start, end)."""
    days: list[date] = []
    if end <= start:
        return days
    day = _local_date(start)
    while _local_midnight(day) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _months_needed(start: datetime, end: datetime, now: datetime) -> list[datetime]:
    """Return one moment per local month holding a complete day that starts in [start, end)."""
    moments: dict[tuple[int, int], datetime] = {}
    day = _local_date(start)
    while (midnight := _local_midnight(day)) < end:
        following = _local_midnight(day + timedelta(days=1))
        if following > now:
            break
        if midnight >= start:
            moments.setdefault((day.year, day.month), _day_param(day))
        day += timedelta(days=1)
    return list(moments.values())
