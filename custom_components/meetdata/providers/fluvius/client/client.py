"""The Fluvius API client for professional grid users (BE)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
import time
from typing import Any, Final

import aiohttp
from multidict import MultiDict
import orjson

from ....api.base import MeterDataClient
from ....api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
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
from .auth import FluviusTokenProvider
from .energy import parse_energy
from .errors import FluviusNoMandateError
from .mandates import (
    ComplexEnergyType,
    DataServiceType,
    EnergyType,
    Granularity,
    Mandate,
    MandateStatus,
    PeriodType,
    RenewalStatus,
    format_utc,
    mandate_from_json,
    mandate_to_json,
    parse_mandates,
    parse_utc,
)
from .parse import BRUSSELS, EXECUTOR_THRESHOLD, EnergyData, EnergyMeter, SeriesMap
from .paths import (
    BASE_URLS,
    ENERGY_PATH,
    LIVE,
    MANDATE_PATH,
    MOCK_MANDATE_PATH,
    SANDBOX,
    SUBSCRIPTION_KEY_HEADER,
    api_url,
    normalize_base_url,
    token_url as default_token_url,
)
from .sandbox import decode_sandbox_ean

_LOGGER = logging.getLogger(__name__)

MAX_WINDOW: Final = timedelta(days=185)
HISTORY_YEARS: Final = 3
INSERT_TIME_LOOKBACK: Final = timedelta(days=185)
LATEST_LOOKBACK: Final = timedelta(days=4)
#: A later poll asks only from this long before the oldest newest-interval
#: end it saw last time (a quarter of the data to parse), not the whole look-back.
LATEST_MARGIN: Final = timedelta(hours=1)
PROBE_LOOKBACK: Final = timedelta(days=7)
_CACHE_SIZE: Final = 6

_METERING_MODELS: Final = {
    "metering-on-meter": "Digital meter",
    "metering-on-headpoint": "AMR meter",
    "metering-on-headpoint-and-meter": "Digital meter (EAN and meter level)",
}
_SUBMETER_MODELS: Final = {
    MeterKind.PRODUCTION: "production submeter",
    MeterKind.AUXILIARY: "auxiliary submeter",
}

# Meter attribute names (strings, as Meter.attributes holds strings only).
ATTR_EAN: Final = "ean"
ATTR_ENERGY_TYPE: Final = "energyType"
ATTR_DATA_SERVICE_TYPE: Final = "dataServiceType"
ATTR_DATA_SERVICE_TYPES: Final = "dataServiceTypes"
ATTR_PERIOD_FROM: Final = "dataPeriodFrom"
ATTR_PERIOD_TO: Final = "dataPeriodTo"
ATTR_DAILY_FROM: Final = "dailyPeriodFrom"
ATTR_DAILY_TO: Final = "dailyPeriodTo"
ATTR_FINE_FROM: Final = "quarterHourlyPeriodFrom"
ATTR_FINE_TO: Final = "quarterHourlyPeriodTo"
ATTR_STATUS: Final = "status"
ATTR_RENEWAL_STATUS: Final = "renewalStatus"
ATTR_EXPIRATION: Final = "expiration"
ATTR_REFERENCE: Final = "referenceNumber"
ATTR_METERING_TYPE: Final = "meteringType"
ATTR_HEADPOINT: Final = "headpoint"
ATTR_SEQ_NUMBER: Final = "seqNumber"
ATTR_INSTALLATION_TYPE: Final = "installationType"
ATTR_GCF: Final = "gasConversionFactor"

_PERIOD_ATTRS: Final = {
    Granularity.DAILY: (ATTR_DAILY_FROM, ATTR_DAILY_TO),
    Granularity.HOURLY_QUARTERHOURLY: (ATTR_FINE_FROM, ATTR_FINE_TO),
}


def _utcnow() -> datetime:
    """Return the current time (UTC)."""
    return datetime.now(UTC)


def local_midnight_floor(moment: datetime) -> datetime:
    """Return the Brussels midnight at or before ``moment`` (as UTC)."""
    local = moment.astimezone(BRUSSELS)
    return datetime(local.year, local.month, local.day, tzinfo=BRUSSELS).astimezone(UTC)


def local_midnight_ceil(moment: datetime) -> datetime:
    """Return the Brussels midnight at or after ``moment`` (as UTC)."""
    floor = local_midnight_floor(moment)
    if floor == moment:
        return floor
    local = floor.astimezone(BRUSSELS) + timedelta(days=1, hours=3)
    return local_midnight_floor(local)


def _floor(moment: datetime, step: timedelta) -> datetime:
    """Floor an aware UTC datetime to a multiple of ``step`` (≤ 1 h)."""
    utc = moment.astimezone(UTC)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((utc - epoch) // step) * step


def _ceil(moment: datetime, step: timedelta) -> datetime:
    """Ceil an aware UTC datetime to a multiple of ``step`` (≤ 1 h)."""
    floor = _floor(moment, step)
    return floor if floor == moment else floor + step


def split_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split [start, end) into windows of at most 185 days.

    Windows step in Brussels calendar days so daily slices are never cut; a
    window that would span more than 185 days of 24 h (autumn DST) is a day shorter.
    """
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        local = cursor.astimezone(BRUSSELS)
        stop = (local + timedelta(days=185)).astimezone(UTC)
        if stop - cursor > MAX_WINDOW:
            stop = (local + timedelta(days=184)).astimezone(UTC)
        stop = min(stop, end)
        windows.append((cursor, stop))
        cursor = stop
    return windows


def three_years_back(now: datetime) -> datetime:
    """Return the earliest moment the API serves: 3 years back, next midnight."""
    local = now.astimezone(BRUSSELS)
    try:
        back = local.replace(year=local.year - HISTORY_YEARS)
    except ValueError:  # 29 February
        back = local.replace(year=local.year - HISTORY_YEARS, day=28)
    return local_midnight_ceil(back.astimezone(UTC))


def _attr_time(meter: Meter, name: str) -> datetime | None:
    """Read an ISO timestamp attribute of a meter ("" or absent: None)."""
    raw = meter.attributes.get(name)
    if not raw:
        return None
    try:
        return parse_utc(raw, name)
    except MeetdataResponseError:
        return None


@dataclass(frozen=True, slots=True)
class _Segment:
    """A part of a history request served at one detail level."""

    start: datetime
    end: datetime
    granularity: Granularity


type _CacheKey = tuple[str, str, str, str, str, str]


class FluviusClient(MeterDataClient):
    """Client of the Fluvius API for professional grid users.

    Authenticates with OAuth 2.0 client credentials against Azure AD and sends
    the Bearer token plus the APIM subscription key with every request.

    Tunables (public attributes, e.g. for tests): ``rate_limit_retries``,
    ``retry_backoff`` (seconds, doubled per retry without Retry-After),
    ``max_retry_after`` (a longer Retry-After is not waited for),
    ``max_response_bytes``, ``timeout``, ``cache_ttl`` (seconds a parsed
    energy answer is reused, e.g. for submeters of the same headpoint) and
    ``utcnow`` (the clock).
    """

    provider = Provider.FLUVIUS
    max_history = timedelta(days=3 * 365)
    history_quantities = (
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.REACTIVE_ENERGY_INDUCTIVE,
        Quantity.REACTIVE_ENERGY_CAPACITIVE,
        Quantity.GAS_VOLUME,
        Quantity.GAS_ENERGY,
        Quantity.PRODUCTION,
        Quantity.AUXILIARY,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        subscription_key: str,
        environment: str = SANDBOX,
        base_url: str | None = None,
        token_url: str | None = None,
    ) -> None:
        """Set up the client; no request is made until a method is called."""
        if environment not in BASE_URLS:
            raise MeetdataInvalidRequestError(
                f"Unknown Fluvius environment {environment!r} (sandbox or live)"
            )
        self._session = session
        self.environment = environment
        self.base_url = normalize_base_url(base_url or BASE_URLS[environment])
        self._subscription_key = subscription_key
        self._secrets = tuple(s for s in (client_secret, subscription_key) if s)
        self._tokens = FluviusTokenProvider(
            session,
            token_url=token_url or default_token_url(tenant_id),
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
        )
        self.rate_limit_retries = 3
        self.retry_backoff = 2.0
        self.max_retry_after = 60.0
        self.max_response_bytes = MAX_RESPONSE_BYTES
        self.timeout = DEFAULT_TIMEOUT
        self.cache_ttl = 120.0
        self.utcnow: Callable[[], datetime] = _utcnow
        self._cache: OrderedDict[_CacheKey, tuple[float, asyncio.Future[EnergyData]]]
        self._cache = OrderedDict()
        # Request EAN -> (oldest newest-end of its meters, meters that had one),
        # from the last poll: the next poll asks from just before it.
        self._latest_seen: dict[str, tuple[datetime, frozenset[str]]] = {}

    # ------------------------------------------------------------------ HTTP

    async def async_authenticate(self) -> None:
        """Fetch a token now (validates tenant, client id, secret and scope)."""
        await self._tokens.async_get_token()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: MultiDict[str] | None = None,
        body: dict[str, str] | None = None,
        ean: str | None = None,
    ) -> bytes:
        """Send one API request with token refresh, 429 retries and error mapping."""
        url = api_url(self.base_url, path)
        auth_retried = False
        rate_retries = 0
        while True:
            token = await self._tokens.async_get_token()
            headers = {
                "Authorization": f"Bearer {token}",
                SUBSCRIPTION_KEY_HEADER: self._subscription_key,
                "Accept": "application/json",
            }
            data: bytes | None = None
            if body is not None:
                data = orjson.dumps(body)
                headers["Content-Type"] = "application/json"
            resp = await request(
                self._session,
                method,
                url,
                params=params,
                headers=headers,
                data=data,
                timeout=self.timeout,
                max_bytes=self.max_response_bytes,
            )
            status = resp.status
            if 200 <= status < 300:
                return resp.body
            if status == 401 and not auth_retried:
                # The token may have expired or been revoked: renew it once.
                auth_retried = True
                self._tokens.invalidate(token)
                continue
            if status == 429:
                retry_after = parse_retry_after(
                    resp.headers.get("Retry-After"), self.utcnow()
                )
                if rate_retries < self.rate_limit_retries and (
                    retry_after is None or retry_after <= self.max_retry_after
                ):
                    delay = (
                        retry_after
                        if retry_after is not None
                        else self.retry_backoff * 2**rate_retries
                    )
                    rate_retries += 1
                    _LOGGER.debug("Fluvius rate limit; retrying in %.1f s", delay)
                    await asyncio.sleep(delay)
                    continue
                raise MeetdataRateLimitError(
                    f"Fluvius rate limit exceeded on {path} (HTTP 429)",
                    retry_after=retry_after,
                    meter=ean,
                )
            raise self._error(status, path, resp.body, ean)

    def _error(
        self, status: int, path: str, body: bytes, ean: str | None
    ) -> MeetdataError:
        """Map a non-success status to the Meetdata error hierarchy."""
        detail = self._server_message(body)
        where = f"{path} for EAN {ean}" if ean else path
        suffix = f": {detail}" if detail else ""
        if status == 400:
            return MeetdataInvalidRequestError(
                f"Fluvius refused the request to {where} (HTTP 400){suffix}", meter=ean
            )
        if status == 401:
            return MeetdataAuthError(
                f"Fluvius refused the token or subscription key (HTTP 401){suffix}",
                meter=ean,
            )
        if status == 403:
            return MeetdataPermissionError(
                f"Fluvius denies access to {where} (HTTP 403){suffix}", meter=ean
            )
        if status == 404:
            return FluviusNoMandateError(
                f"No valid Fluvius mandate for {where} (HTTP 404){suffix}", meter=ean
            )
        if status >= 500:
            return MeetdataConnectionError(
                f"Fluvius server error on {where} (HTTP {status})", meter=ean
            )
        return MeetdataResponseError(
            f"Unexpected HTTP {status} from Fluvius on {where}", meter=ean
        )

    def _server_message(self, body: bytes) -> str:
        """Return a short, secret-free message from an error body."""
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return ""
        found: Any = None
        if isinstance(payload, dict):
            for key in ("message", "detail", "title", "error_description", "error"):
                if isinstance(payload.get(key), str):
                    found = payload[key]
                    break
            errors = payload.get("errors")
            if found is None and isinstance(errors, list) and errors:
                first = errors[0]
                found = first.get("message") if isinstance(first, dict) else first
        if not isinstance(found, str):
            return ""
        for secret in self._secrets:
            found = found.replace(secret, "**REDACTED**")
        return " ".join(found.split())[:200]

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: MultiDict[str] | None = None,
        body: dict[str, str] | None = None,
        ean: str | None = None,
    ) -> object:
        """Send a request and decode its JSON body."""
        raw = await self._call(method, path, params=params, body=body, ean=ean)
        if not raw.strip():
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise MeetdataResponseError(
                f"Fluvius sent invalid JSON on {path}", meter=ean
            ) from None

    # -------------------------------------------------------------- mandates

    async def async_get_mandates(
        self,
        *,
        ean: str | None = None,
        status: MandateStatus | None = None,
        energy_type: EnergyType | None = None,
        data_service_types: Iterable[DataServiceType] = (),
        reference_number: str | None = None,
        expiration: datetime | None = None,
        renewal_status: RenewalStatus | None = None,
        last_updated_from: datetime | None = None,
        last_updated_to: datetime | None = None,
    ) -> list[Mandate]:
        """Return the mandates matching the GET Mandate filters (404: none)."""
        if ean is not None:
            _check_ean(ean)
        params: MultiDict[str] = MultiDict()
        if reference_number:
            params.add("referenceNumber", reference_number)
        if status is not None:
            params.add("status", status.value)
        if ean is not None:
            params.add("ean", ean)
        if energy_type is not None:
            params.add("energyType", energy_type.value)
        for service in data_service_types:
            params.add("dataServiceTypes", service.value)
        if expiration is not None:
            params.add("mandateExpirationDate", format_utc(expiration))
        if renewal_status is not None:
            params.add("renewalStatus", renewal_status.value)
        if last_updated_from is not None:
            params.add("lastUpdatedFrom", format_utc(last_updated_from))
        if last_updated_to is not None:
            params.add("lastUpdatedTo", format_utc(last_updated_to))
        try:
            payload = await self._json("GET", MANDATE_PATH, params=params, ean=ean)
        except FluviusNoMandateError:
            return []
        return parse_mandates(payload)

    async def async_create_mock_mandate(
        self,
        ean: str,
        *,
        status: MandateStatus = MandateStatus.APPROVED,
        energy_type: EnergyType | None = None,
        data_service_type: DataServiceType | None = None,
        data_period_from: datetime | None = None,
        data_period_to: datetime | None = None,
        expiration: datetime | None = None,
        renewal_status: RenewalStatus | None = None,
        reference_number: str | None = None,
    ) -> Mandate:
        """Create a fictitious mandate in the sandbox (POST Create Mock Mandate).

        The EAN must be one of the addendum's sandbox combinations; energy type
        and detail level default to what the EAN encodes. Refused in live.
        """
        if self.environment == LIVE:
            raise MeetdataInvalidRequestError(
                "Mock mandates exist only in the Fluvius sandbox", meter=ean
            )
        info = decode_sandbox_ean(ean)
        if info is None:
            raise MeetdataInvalidRequestError(
                f"EAN {ean} is not a sandbox EAN of an allowed combination", meter=ean
            )
        mandate = Mandate(
            status=status,
            ean=ean,
            energy_type=energy_type or info.energy_type,
            data_service_type=data_service_type or info.data_service_type,
            data_period_from=data_period_from,
            data_period_to=data_period_to,
            expiration=expiration,
            renewal_status=renewal_status,
            reference_number=reference_number,
        )
        payload = await self._json(
            "POST", MOCK_MANDATE_PATH, body=mandate_to_json(mandate), ean=ean
        )
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict):
            item = data.get("mandate", data)
            if isinstance(item, dict) and "status" in item:
                return mandate_from_json(item)
            items = data.get("mandates")
            if isinstance(items, list) and items and isinstance(items[0], dict):
                return mandate_from_json(items[0])
        return mandate

    # ---------------------------------------------------------------- energy

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
        meters: list[Meter] = []
        for ean in sorted(by_ean):
            attributes = _mandate_attributes(ean, by_ean[ean])
            probe = await self._probe(ean, by_ean[ean])
            head = probe.headpoint if probe else None
            if head is not None:
                attributes[ATTR_METERING_TYPE] = head.metering_type
                if head.gas_conversion_factor:
                    attributes[ATTR_GCF] = head.gas_conversion_factor
            gas = any(m.energy_type is EnergyType.GAS for m in by_ean[ean])
            meters.append(
                Meter(
                    provider=Provider.FLUVIUS,
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

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return LAST_MEASUREMENT (end of the newest interval) per meter.

        One small request per headpoint over the last few days; meters without
        data in that window (or without a valid mandate) are left out. Once a
        poll has seen data, the next asks only from just before the newest
        interval it saw (the answer a quarter the size), and looks back the
        whole window again when a meter's data is no longer there.
        """
        groups: dict[str, list[Meter]] = {}
        for meter in meters:
            groups.setdefault(_request_ean(meter), []).append(meter)
        now = self.utcnow()
        start = local_midnight_floor(now - LATEST_LOOKBACK)
        result: LatestReadings = {}
        for ean, group in groups.items():
            seen = self._latest_seen.get(ean)
            found: dict[str, datetime] | None = None
            if seen is not None and seen[0] - LATEST_MARGIN > start:
                begin = seen[0] - LATEST_MARGIN
                found = await self._latest_of(ean, group, begin, now)
                if found is not None and not seen[1] <= found.keys():
                    found = None  # a meter's newest data went away: look further
            if found is None:
                found = await self._latest_of(ean, group, start, now)
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
        return result

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


def _check_ean(ean: str) -> None:
    """Refuse an EAN that is not 18 digits before sending anything."""
    if len(ean) != 18 or not ean.isdigit():
        raise MeetdataInvalidRequestError("An EAN must be 18 digits", meter=ean)


def _request_ean(meter: Meter) -> str:
    """Return the EAN to ask GET Energy for: the headpoint for submeters."""
    return meter.attributes.get(ATTR_HEADPOINT) or meter.via or meter.key


def _plan(
    meter: Meter, start: datetime, end: datetime, gas: bool, now: datetime
) -> list[_Segment]:
    """Split [start, end) by the finest detail level mandated for each part.

    Segments are aligned to whole slices (quarter/hour, or Brussels days) and
    never reach past the last whole slice before ``now``.
    """
    periods: dict[Granularity, tuple[datetime | None, datetime | None]] = {}
    services = meter.attributes.get(ATTR_DATA_SERVICE_TYPES)
    for granularity, (lo_attr, hi_attr) in _PERIOD_ATTRS.items():
        if services is None or _service_of(granularity) in services.split(","):
            periods[granularity] = (
                _attr_time(meter, lo_attr),
                _attr_time(meter, hi_attr),
            )
    fine_step = timedelta(hours=1) if gas else timedelta(minutes=15)
    segments: list[_Segment] = []
    remaining = [(start, end)]
    fine = periods.get(Granularity.HOURLY_QUARTERHOURLY)
    if fine is not None:
        lo = max(start, fine[0] or start)
        hi = min(end, fine[1] or end)
        if lo < hi:
            lo, hi = _floor(lo, fine_step), _ceil(hi, fine_step)
            segments.append(_Segment(lo, hi, Granularity.HOURLY_QUARTERHOURLY))
            remaining = [(start, lo), (hi, end)]
    daily = periods.get(Granularity.DAILY)
    if daily is not None:
        for part_lo, part_hi in remaining:
            lo = max(part_lo, daily[0] or part_lo)
            hi = min(part_hi, daily[1] or part_hi)
            if lo < hi:
                lo = local_midnight_floor(lo)
                hi = local_midnight_ceil(hi)
                segments.append(_Segment(lo, hi, Granularity.DAILY))
    segments.sort(key=lambda s: s.start)
    # Daily segments are widened to midnights: they yield to the fine one.
    trimmed: list[_Segment] = []
    for seg in segments:
        if trimmed and seg.start < trimmed[-1].end:
            prev = trimmed[-1]
            if prev.granularity is Granularity.DAILY:
                trimmed[-1] = _Segment(prev.start, seg.start, prev.granularity)
                if prev.start >= seg.start:
                    trimmed.pop()
            else:
                seg = _Segment(prev.end, seg.end, seg.granularity)
        if seg.start < seg.end:
            trimmed.append(seg)
    caps = {
        Granularity.DAILY: local_midnight_floor(now),
        Granularity.HOURLY_QUARTERHOURLY: _floor(now, fine_step),
    }
    return [
        _Segment(seg.start, min(seg.end, caps[seg.granularity]), seg.granularity)
        for seg in trimmed
        if seg.start < caps[seg.granularity]
    ]


def _service_of(granularity: Granularity) -> str:
    """Return the dataServiceType value of a granularity."""
    if granularity is Granularity.DAILY:
        return DataServiceType.DAILY.value
    return DataServiceType.QUARTER_HOURLY.value


def _iso(moment: datetime | None) -> str:
    """Format an optional timestamp for Meter.attributes ("" when open)."""
    return format_utc(moment) if moment else ""


def _mandate_attributes(ean: str, mandates: list[Mandate]) -> dict[str, str]:
    """Summarize the approved mandates of one EAN as Meter attributes."""
    services = sorted({m.data_service_type for m in mandates if m.data_service_type})
    attrs: dict[str, str] = {ATTR_EAN: ean}
    first = mandates[0]
    if first.energy_type is not None:
        attrs[ATTR_ENERGY_TYPE] = first.energy_type.value
    if services:
        attrs[ATTR_DATA_SERVICE_TYPES] = ",".join(s.value for s in services)
        attrs[ATTR_DATA_SERVICE_TYPE] = (
            DataServiceType.QUARTER_HOURLY.value
            if DataServiceType.QUARTER_HOURLY in services
            else DataServiceType.DAILY.value
        )
    froms = [m.data_period_from for m in mandates]
    tos = [m.data_period_to for m in mandates]
    attrs[ATTR_PERIOD_FROM] = "" if None in froms else _iso(min(f for f in froms if f))
    attrs[ATTR_PERIOD_TO] = "" if None in tos else _iso(max(t for t in tos if t))
    for mandate in mandates:
        if mandate.data_service_type is None:
            continue
        granularity = (
            Granularity.DAILY
            if mandate.data_service_type is DataServiceType.DAILY
            else Granularity.HOURLY_QUARTERHOURLY
        )
        lo_attr, hi_attr = _PERIOD_ATTRS[granularity]
        attrs[lo_attr] = _iso(mandate.data_period_from)
        attrs[hi_attr] = _iso(mandate.data_period_to)
    attrs[ATTR_STATUS] = first.status.value if first.status else ""
    renewals = [m.renewal_status for m in mandates if m.renewal_status]
    attrs[ATTR_RENEWAL_STATUS] = renewals[0].value if renewals else ""
    expirations = [m.expiration for m in mandates if m.expiration]
    attrs[ATTR_EXPIRATION] = _iso(min(expirations)) if expirations else ""
    references = [m.reference_number for m in mandates if m.reference_number]
    if references:
        attrs[ATTR_REFERENCE] = references[0]
    return attrs


def _model(base: str | None, attrs: dict[str, str], *, gas: bool) -> str:
    """Describe a meter: its type, energy type and finest mandated detail level.

    E.g. "Digital meter · electricity · quarter-hour" or "PV production
    submeter · quarter-hour" (submeters share the headpoint's energy type).
    """
    service = attrs.get(ATTR_DATA_SERVICE_TYPE)
    level = {
        DataServiceType.QUARTER_HOURLY.value: "hourly" if gas else "quarter-hour",
        DataServiceType.DAILY.value: "daily",
    }.get(service or "")
    energy = None if base and "submeter" in base else ("gas" if gas else "electricity")
    parts = [part for part in (base, energy, level) if part]
    text = " · ".join(parts)
    return text[:1].upper() + text[1:]


def _submeter(sub: EnergyMeter, head_ean: str, head_attrs: dict[str, str]) -> Meter:
    """Build the Meter of an AMR submeter (its own EAN, via the headpoint)."""
    attributes = {
        k: v
        for k, v in head_attrs.items()
        if k not in (ATTR_EAN, ATTR_METERING_TYPE, ATTR_GCF)
    }
    attributes[ATTR_EAN] = sub.ean
    attributes[ATTR_HEADPOINT] = head_ean
    attributes[ATTR_METERING_TYPE] = sub.metering_type
    if sub.seq_number:
        attributes[ATTR_SEQ_NUMBER] = sub.seq_number
    if sub.installation_type:
        attributes[ATTR_INSTALLATION_TYPE] = sub.installation_type
    return Meter(
        provider=Provider.FLUVIUS,
        key=sub.ean,
        kind=sub.kind,
        model=_model(
            " ".join(
                filter(
                    None,
                    (
                        sub.installation_type,
                        _SUBMETER_MODELS.get(sub.kind, "submeter"),
                    ),
                )
            ),
            attributes,
            gas=sub.energy_type is EnergyType.GAS,
        ),
        serial=sub.meter_ids[0] if sub.meter_ids else None,
        via=head_ean,
        attributes=attributes,
    )


def _merge(parts: list[EnergyData]) -> EnergyData:
    """Concatenate the per-window answers of one EAN, meter by meter."""
    first = parts[0]
    if len(parts) == 1:
        return first
    merged = EnergyData(
        headpoint=_copy_meter(first.headpoint),
        submeters=[_copy_meter(s) for s in first.submeters],
    )
    for part in parts[1:]:
        for meter in part.meters():
            target = merged.meter(meter.ean)
            if target is None:
                target = _copy_meter(meter)
                target.daily, target.fine = {}, {}
                merged.submeters.append(target)
            _extend(target.daily, meter.daily)
            _extend(target.fine, meter.fine)
            for meter_id in meter.meter_ids:
                if meter_id not in target.meter_ids:
                    target.meter_ids.append(meter_id)
            target.gas_conversion_factor = (
                meter.gas_conversion_factor or target.gas_conversion_factor
            )
    return merged


def _copy_meter(meter: EnergyMeter) -> EnergyMeter:
    """Copy an EnergyMeter with fresh series lists (cached answers stay intact)."""
    return EnergyMeter(
        ean=meter.ean,
        kind=meter.kind,
        metering_type=meter.metering_type,
        energy_type=meter.energy_type,
        via=meter.via,
        seq_number=meter.seq_number,
        installation_type=meter.installation_type,
        meter_ids=list(meter.meter_ids),
        gas_conversion_factor=meter.gas_conversion_factor,
        daily={q: list(v) for q, v in meter.daily.items()},
        fine={q: list(v) for q, v in meter.fine.items()},
    )


def _extend(target: SeriesMap, extra: SeriesMap) -> None:
    """Append the series of a later window."""
    for quantity, intervals in extra.items():
        target.setdefault(quantity, []).extend(intervals)
