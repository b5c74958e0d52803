"""Client of Kenter's Near-RealTime Data webservice (SOAP, EAN-code + passcode)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import functools
import logging
import re
from typing import Final

import aiohttp
from yarl import URL

from ....api.base import MeterDataClient
from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataRateLimitError,
)
from ....api.http import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    REDACTED,
    parse_retry_after,
    redact_url,
    request,
)
from ....api.models import (
    Interval,
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Quantity,
)
from .codec import KenterCodec, LatestValue, SoapFaultError, cached_codec, load_codec
from .const import (
    COUNTER_QUANTITIES,
    DEFAULT_BASE_URL,
    INLINE_PARSE_MAX_BYTES,
    KIND_COUNTERS,
    METER_TYPES,
    OP_LATEST,
    OP_METADATA,
    OP_METER_DATA,
)
from .errors import KenterInvalidRequestError, fault_error, http_status_error
from .parse import CounterSeries
from .provider import PROVIDER
from .readings import latest_readings
from .windows import (
    END_PAD,
    ceil_second,
    floor_second,
    format_timestamp,
    history_windows,
)

_LOGGER = logging.getLogger(__name__)

ENDPOINT_PATH: Final = "/realtime/1.0/"
_KEY_INVALID = re.compile(r"[^a-z0-9_]+")
_HEADERS: Final = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '""',
    "Accept": "text/xml",
}
#: Fault 1005: "maximum period of 31 days exceeded".
FAULT_PERIOD_TOO_LONG: Final = 1005
#: A window refused as too long is halved down to this length, no further.
_MIN_SPLIT: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True, repr=False)
class KenterConnection:
    """One connection (aansluiting): its EAN-code, passcode and optional meter code."""

    ean: str
    passcode: str
    meter_code: str | None = None

    def __repr__(self) -> str:
        """Show the connection without its passcode."""
        return (
            f"KenterConnection(ean={self.ean!r}, passcode={REDACTED!r}, "
            f"meter_code={self.meter_code!r})"
        )


@functools.lru_cache(maxsize=1024)
def meter_key(ean: str, meter_code: str) -> str:
    """Return the stable key of a meter: ``{ean}_{metercode}``, only [a-z0-9_]."""
    return _KEY_INVALID.sub("_", f"{ean}_{meter_code}".lower())


def meter_name(name: str | None, meter_type: str | None) -> str | None:
    """Name a meter after its connection and type: "Kwekerij X Gasmeter".

    A connection may have an electricity and a gas meter: the type tells
    their devices apart.
    """
    return " ".join(part for part in (name, meter_type) if part) or None


def meter_kind(meter_type: str | None) -> MeterKind:
    """Map getMeterMetaData's ``type`` (Elektriciteitsmeter, Gasmeter) to a kind."""
    text = (meter_type or "").strip().lower()
    if text in METER_TYPES:
        return METER_TYPES[text]
    if "gas" in text:
        return MeterKind.GAS
    _LOGGER.debug("Unknown Kenter meter type %r, taken as electricity", meter_type)
    return MeterKind.ELECTRICITY


class KenterClient(MeterDataClient):
    """Pure-async client of one Kenter account: one or more connections.

    Every request carries all (relevant) connections of the account, each an
    EAN-code with its passcode, optionally narrowed to one meter code.
    """

    provider = PROVIDER
    max_history = None
    history_quantities = (
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.REACTIVE_ENERGY_IMPORT,
        Quantity.REACTIVE_ENERGY_EXPORT,
        Quantity.GAS_VOLUME,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        connections: Sequence[KenterConnection],
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """Store the session and connections.

        ``base_url`` is the SOAP endpoint; a bare origin (no path) gets the
        production path ``/realtime/1.0/`` appended.
        """
        self._session = session
        self._connections = tuple(connections)
        #: The meters last read for each connection (EAN-code).
        self._meters_of: dict[str, list[Meter]] = {}
        url = URL(base_url)
        if url.path in ("", "/"):
            url = url.with_path(ENDPOINT_PATH)
        self._url = str(url)
        self._shown_url = redact_url(url)
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._by_ean = {conn.ean: conn for conn in self._connections}

    @property
    def connections(self) -> tuple[KenterConnection, ...]:
        """Return the connections this client asks about."""
        return self._connections

    @property
    def url(self) -> str:
        """Return the SOAP endpoint requests are posted to."""
        return self._url

    async def async_get_meters(self) -> list[Meter]:
        """Return one Meter per meter code of every connection (getMeterMetaData).

        Any fault propagates: the config flow names the connection it concerns.
        """
        return await self._async_meters(skip_failing=False)

    async def async_discover_meters(self) -> list[Meter]:
        """Return the meters of every connection, past one that fails.

        A fault about one connection (no rights, unreachable for it) never
        hides the others: that connection is left out of a new request, and
        its meters are the ones last read for it (none before it ever
        answered). Refused passcodes and account-wide errors propagate.
        """
        return await self._async_meters(skip_failing=True)

    async def _async_meters(self, *, skip_failing: bool) -> list[Meter]:
        if not self._connections:
            return []
        codec = await _async_codec()
        connections = list(self._connections)
        while True:
            try:
                records = await self._call(
                    OP_METADATA, _meter_elements(connections), codec.decode_metadata
                )
                break
            except MeetdataError as err:
                if (
                    not skip_failing
                    or isinstance(err, MeetdataAuthError | MeetdataRateLimitError)
                    or len(connections) == 1
                    or not any(conn.ean == err.meter for conn in connections)
                ):
                    raise
                _LOGGER.debug("Meter data of %s left out: %s", err.meter, err)
                connections = [conn for conn in connections if conn.ean != err.meter]
        meters: dict[str, Meter] = {}
        for record in records:
            key = meter_key(record.ean, record.meter_code)
            kind = meter_kind(record.meter_type)
            attributes = {
                "ean": record.ean,
                "meter_code": record.meter_code,
                "counters": ",".join(KIND_COUNTERS.get(kind, ())),
            }
            if record.meter_type:
                attributes["meter_type"] = record.meter_type
            if record.location:
                attributes["location"] = record.location
            if record.name:
                attributes["name"] = record.name
            meters.setdefault(
                key,
                Meter(
                    provider=PROVIDER,
                    key=key,
                    kind=kind,
                    name=meter_name(record.name, record.meter_type),
                    address=record.address,
                    model=record.meter_type,
                    serial=record.meter_code,
                    attributes=attributes,
                ),
            )
        read = {conn.ean for conn in connections}
        for ean in read:
            self._meters_of[ean] = [m for m in meters.values() if _ean_of(m) == ean]
        for conn in self._connections:
            if conn.ean not in read:
                for meter in self._meters_of.get(conn.ean, []):
                    meters.setdefault(meter.key, meter)
        return list(meters.values())

    def failure_unit(self, meter: Meter) -> str:
        """Return the meter's EAN-code: a fault concerns a connection (manual 2.5)."""
        return _ean_of(meter)

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return the latest readings of these meters in one getLatestMeasurement."""
        wanted = {meter.key for meter in meters}
        eans = {_ean_of(meter) for meter in meters}
        connections = [conn for conn in self._connections if conn.ean in eans]
        if not connections:
            return {}
        codec = await _async_codec()
        values = await self._call(
            OP_LATEST, _meter_elements(connections), codec.decode_latest
        )
        by_meter: dict[str, list[LatestValue]] = {}
        for value in values:
            key = meter_key(value.ean, value.meter_code)
            if key in wanted:
                by_meter.setdefault(key, []).append(value)
        return {key: latest_readings(found) for key, found in by_meter.items()}

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return the intervals of ``meter`` that start in [start, end).

        The period is fetched in windows of at most 31 days (manual 2.4); only
        interval counters are returned, as per-interval amounts.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise MeetdataInvalidRequestError("start and end must be timezone-aware")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        ean = _ean_of(meter)
        connection = self._by_ean.get(ean)
        if connection is None:
            raise MeetdataNotFoundError(
                f"Meter {meter.key} belongs to no configured Kenter connection",
                meter=ean,
            )
        element = {"eanCode": connection.ean, "passcode": connection.passcode}
        meter_code = meter.attributes.get("meter_code") or connection.meter_code
        if meter_code:
            element["meterCode"] = meter_code
        collected: dict[str, list[Interval]] = {}
        now = datetime.now(UTC)
        for window_start, window_end in history_windows(start, end):
            if window_start >= now:
                break
            for series in await self._async_window(
                element, window_start, window_end, now
            ):
                if meter_key(series.ean, series.meter_code) == meter.key:
                    collected.setdefault(series.counter_code, []).extend(
                        series.intervals
                    )
        return [
            IntervalSeries(meter.key, quantity, collected[code])
            for code, quantity in COUNTER_QUANTITIES.items()
            if collected.get(code)
        ]

    async def _async_window(
        self, element: dict[str, str], start: datetime, end: datetime, now: datetime
    ) -> list[CounterSeries]:
        """Fetch one window; halve it while Kenter finds it too long (1005).

        The document's 31-day limit can be counted in more than one way; a
        server that counts it otherwise still gets every hour, in smaller
        requests, instead of a window that fails on every run.
        """
        codec = await _async_codec()
        request_element = element | {
            "startDate": format_timestamp(floor_second(start)),
            "endDate": format_timestamp(ceil_second(min(end + END_PAD, now))),
        }
        decode = functools.partial(
            codec.decode_meter_data, window_start=start, window_end=end
        )
        try:
            return await self._call(OP_METER_DATA, [request_element], decode)
        except KenterInvalidRequestError as err:
            if err.code != FAULT_PERIOD_TOO_LONG or end - start <= _MIN_SPLIT:
                raise
        middle = floor_second(start + (end - start) / 2)
        _LOGGER.debug(
            "Kenter refused %s..%s as too long (1005); asking in two halves",
            start.isoformat(),
            end.isoformat(),
        )
        return [
            *await self._async_window(element, start, middle, now),
            *await self._async_window(element, middle, end, now),
        ]

    async def _call[T](
        self,
        operation: str,
        meters: Sequence[Mapping[str, str]],
        decode: Callable[[bytes], T],
    ) -> T:
        """Post one operation and decode its answer; map faults and statuses.

        An error of a request about one connection names its EAN-code (an
        HTTP 403, 5xx, timeout or unreadable answer concerns that connection
        only), unless it concerns the account: refused access, a rate limit.
        """
        try:
            return await self._post(operation, meters, decode)
        except MeetdataError as err:
            eans = {meter.get("eanCode", "") for meter in meters}
            if (
                err.meter is None
                and len(eans) == 1
                and not isinstance(err, MeetdataAuthError | MeetdataRateLimitError)
            ):
                err.meter = eans.pop() or None
            raise

    async def _post[T](
        self,
        operation: str,
        meters: Sequence[Mapping[str, str]],
        decode: Callable[[bytes], T],
    ) -> T:
        """Post one operation and decode its answer; map faults and statuses."""
        codec = await _async_codec()
        payload = codec.build(operation, meters)
        response = await request(
            self._session,
            "POST",
            self._url,
            headers=_HEADERS,
            data=payload,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
        )
        try:
            if response.status != 200:
                fault = codec.fault_in(response.body)
                if fault is not None:
                    raise fault
                raise http_status_error(
                    response.status,
                    self._shown_url,
                    parse_retry_after(response.headers.get("Retry-After"), dates=False),
                )
            if len(response.body) > INLINE_PARSE_MAX_BYTES:
                return await asyncio.get_running_loop().run_in_executor(
                    None, decode, response.body
                )
            return decode(response.body)
        except SoapFaultError as fault:
            raise self._fault_error(fault, meters) from None

    def _fault_error(
        self, fault: SoapFaultError, meters: Sequence[Mapping[str, str]]
    ) -> MeetdataError:
        """Map a received fault onto a typed error, without any passcode."""
        secrets = {conn.passcode for conn in self._connections}
        secrets.update(meter.get("passcode", "") for meter in meters)
        return fault_error(
            fault.code,
            fault.text,
            eans=[meter.get("eanCode", "") for meter in meters],
            secrets=secrets,
        )


async def _async_codec() -> KenterCodec:
    """Return the codec, loading the WSDL in an executor the first time."""
    codec = cached_codec()
    if codec is None:
        codec = await asyncio.get_running_loop().run_in_executor(None, load_codec)
    return codec


def _meter_elements(connections: Sequence[KenterConnection]) -> list[dict[str, str]]:
    """Return the ``meter`` elements of a request, one per connection."""
    elements: list[dict[str, str]] = []
    for conn in connections:
        element = {"eanCode": conn.ean, "passcode": conn.passcode}
        if conn.meter_code:
            element["meterCode"] = conn.meter_code
        elements.append(element)
    return elements


def _ean_of(meter: Meter) -> str:
    """Return the EAN-code of a meter (from its attributes, else its key)."""
    return meter.attributes.get("ean") or meter.key.split("_", 1)[0]
