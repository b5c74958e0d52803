"""Client of a metering company's pull API for Liander "Dynamisch Terugleveren".

The profile it implements (paths, fields, units, errors) is described in
``model.py``, next to the vocabulary it defines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
import logging

import aiohttp
from multidict import MultiDict

from ....api.base import MeterDataClient, UnitFailures
from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataRateLimitError,
    MeetdataResponseError,
)
from ....api.http import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    HttpResponse,
    basic_authorization,
    parse_retry_after,
    request,
    status_error,
)
from ....api.models import IntervalSeries, LatestReadings, Meter, Quantity, Reading
from .model import (
    EXECUTOR_SAMPLES,
    EXECUTOR_THRESHOLD,
    LATEST_LOOKAHEAD,
    LATEST_LOOKBACK,
    MAX_HISTORY,
    MAX_WINDOW,
    MEETDATA_PATH,
    METER_KINDS,
    METER_MODELS,
    METERS_PATH,
    METING_QUANTITIES,
    DtlAvailability,
    DtlMeasurements,
    DtlMeterInfo,
    MeterType,
    MetingType,
    Sample,
    _format_time,
    _require_aware,
    _validate_base_url,
    _validate_customers,
    _windows,
    is_ean_format,
    is_valid_ean,
)
from .parse import _build_history, _build_latest, _parse_measurements, _parse_meters
from .provider import PROVIDER

__all__ = [
    "MAX_HISTORY",
    "MAX_WINDOW",
    "DtlAvailability",
    "DtlClient",
    "DtlMeasurements",
    "DtlMeterInfo",
    "MeterType",
    "MetingType",
    "is_ean_format",
    "is_valid_ean",
]

_LOGGER = logging.getLogger(__name__)

#: DTL answers 400 to a refused request; 408 and 422 are not in its document.
_OVERRIDES: dict[int, type[MeetdataError]] = dict.fromkeys(
    (408, 422), MeetdataResponseError
)
_MESSAGES = {
    400: "request refused",
    401: "username or password refused",
    403: "access refused",
    429: "too many requests",
}


class DtlClient(MeterDataClient):
    """Client of one metering-company account under the DTL profile."""

    provider = PROVIDER
    max_history = MAX_HISTORY
    reports_meter_failures = True
    history_quantities = (
        Quantity.POWER,
        Quantity.REACTIVE_POWER,
        Quantity.VOLTAGE_L1,
        Quantity.VOLTAGE_L2,
        Quantity.VOLTAGE_L3,
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.PRODUCTION,
        Quantity.AUXILIARY,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        username: str,
        password: str,
        customer_eans: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """Validate the settings; raise MeetdataInvalidRequestError when unusable."""
        self._session = session
        self._base_url = _validate_base_url(base_url)
        if not username or not password:
            raise MeetdataInvalidRequestError("A username and a password are required")
        try:
            self._headers = {"Authorization": basic_authorization(username, password)}
        except ValueError:
            raise MeetdataInvalidRequestError(
                "The username may not contain a colon"
            ) from None
        self._customers = _validate_customers(customer_eans)
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        #: Malformed rows skipped since this client was created.
        self.skipped_rows = 0
        #: Settled latest readings per meter EAN, with the customer EAN and
        #: datum_laatste_meting they were read for (see async_get_latest).
        self._latest: dict[str, tuple[str, datetime, dict[Quantity, Reading]]] = {}
        #: Meters of the last latest-readings poll that ``/meters`` did not
        #: list (consent withdrawn), with their customer EAN.
        self.unlisted: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        """Return the normalised base URL."""
        return self._base_url

    @property
    def customer_eans(self) -> tuple[str, ...]:
        """Return the expected customer EANs."""
        return self._customers

    async def _get(
        self, path: str, params: MultiDict[str], meter: str | None = None
    ) -> HttpResponse:
        """Send one GET and map every non-success status to a MeetdataError."""
        response = await request(
            self._session,
            "GET",
            f"{self._base_url}{path}",
            params=params,
            headers=self._headers,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            secret_params=(),
        )
        status = response.status
        if 200 <= status < 300:
            return response
        if status == 404:
            detail = (
                "check the base URL" if meter is None else f"meter {meter} not found"
            )
        else:
            detail = _MESSAGES.get(
                status, "server error" if status >= 500 else "unexpected status"
            )
        raise status_error(
            status,
            f"{path} answered HTTP {status}: {detail}",
            meter=meter,
            retry_after=(
                parse_retry_after(response.headers.get("Retry-After"))
                if status == 429
                else None
            ),
            overrides=_OVERRIDES,
        )

    async def _parse[T](self, body: bytes, parse: Callable[[bytes], T]) -> T:
        """Parse small bodies inline and large ones in the executor."""
        if len(body) > EXECUTOR_THRESHOLD:
            return await asyncio.get_running_loop().run_in_executor(None, parse, body)
        return parse(body)

    def _count_skipped(self, skipped: int, what: str) -> None:
        """Add to the skipped-row total and log it (no secrets)."""
        if skipped:
            self.skipped_rows += skipped
            _LOGGER.debug("Skipped %d malformed %s rows", skipped, what)

    async def async_get_available(self) -> DtlAvailability:
        """Call 1: return the meters of the expected customers and who is missing."""
        params: MultiDict[str] = MultiDict(
            ("klant_ean", ean) for ean in self._customers
        )
        response = await self._get(METERS_PATH, params)
        body = b"[]" if response.status == 204 else response.body
        meters, skipped = await self._parse(
            body, partial(_parse_meters, customers=self._customers)
        )
        self._count_skipped(skipped, "meters")
        present = {meter.klant_ean for meter in meters}
        missing = [ean for ean in self._customers if ean not in present]
        return DtlAvailability(meters, missing, skipped)

    async def async_missing_customers(self) -> list[str]:
        """Return the expected customer EANs the API returned no meter for."""
        return (await self.async_get_available()).missing_customers

    async def async_get_measurements(
        self, klant_ean: str, meter_ean: str, start: datetime, end: datetime
    ) -> DtlMeasurements:
        """Call 2 for [start, end), split into windows of at most MAX_WINDOW."""
        _require_aware(start, end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        values: dict[MetingType, list[Sample]] = {kind: [] for kind in MetingType}
        skipped = 0
        for window_start, window_end in _windows(start, end):
            params: MultiDict[str] = MultiDict(
                [
                    ("klant_ean", klant_ean),
                    ("meter_ean", meter_ean),
                    ("start_tijd", _format_time(window_start)),
                    ("eind_tijd", _format_time(window_end)),
                ]
            )
            response = await self._get(MEETDATA_PATH, params, meter=meter_ean)
            body = b"[]" if response.status == 204 else response.body
            part = await self._parse(
                body,
                partial(
                    _parse_measurements,
                    klant_ean=klant_ean,
                    meter_ean=meter_ean,
                    start=window_start,
                    end=window_end,
                ),
            )
            for kind, samples in part.values.items():
                values[kind].extend(samples)
            skipped += part.skipped_rows
        self._count_skipped(skipped, f"meetdata ({meter_ean})")
        return DtlMeasurements(klant_ean, meter_ean, values, skipped)

    async def async_get_meters(self) -> list[Meter]:
        """Return one meter per meter EAN of the expected customers."""
        available = await self.async_get_available()
        meters: list[Meter] = []
        for info in available.meters:
            attributes = {
                "klant_ean": info.klant_ean,
                "meter_type": info.meter_type.value,
            }
            if info.datum_laatste_meting is not None:
                attributes["datum_laatste_meting"] = (
                    info.datum_laatste_meting.isoformat()
                )
            meters.append(
                Meter(
                    provider=PROVIDER,
                    key=info.meter_ean,
                    kind=METER_KINDS[info.meter_type],
                    name=f"{METER_MODELS[info.meter_type]} {info.meter_ean}",
                    model=METER_MODELS[info.meter_type],
                    attributes=attributes,
                )
            )
        return meters

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return the newest 5-minute values of these meters.

        A meter that ``/meters`` no longer lists or that ``/meetdata`` does
        not know (404) is left out; any other error of one meter is raised.
        """
        readings, failures = await self.async_get_latest_partial(meters)
        for err in failures.values():
            if not isinstance(err, MeetdataNotFoundError):
                raise err
        return readings

    async def async_get_latest_partial(
        self, meters: Sequence[Meter]
    ) -> tuple[LatestReadings, UnitFailures]:
        """Return the newest 5-minute values, and the error of each failing meter.

        One ``/meters`` call, then one ``/meetdata`` call per meter whose
        datum_laatste_meting moved since its readings were last read. A meter
        whose readings are settled (all five meting_types at
        datum_laatste_meting) and whose datum_laatste_meting is unchanged
        keeps those readings without a request. A failing ``/meters`` call,
        refused credentials and a rate limit fail the whole poll; a meter
        ``/meters`` no longer lists (its customer withdrew consent) and any
        other error of one meter's ``/meetdata`` are returned per meter.
        """
        if not meters:
            return {}, {}
        available = await self.async_get_available()
        by_key = {info.meter_ean: info for info in available.meters}
        self.unlisted = {
            meter.key: meter.attributes.get("klant_ean", "")
            for meter in meters
            if meter.key not in by_key
        }
        result: LatestReadings = {}
        failures: UnitFailures = {}
        for meter in meters:
            info = by_key.get(meter.key)
            if info is None:
                failures[self.failure_unit(meter)] = MeetdataNotFoundError(
                    f"/meters no longer lists meter {meter.key}", meter=meter.key
                )
                self._latest.pop(meter.key, None)
                continue
            if info.datum_laatste_meting is None:
                self._latest.pop(meter.key, None)
                continue
            anchor = info.datum_laatste_meting
            cached = self._latest.get(meter.key)
            if cached is not None and cached[:2] == (info.klant_ean, anchor):
                result[meter.key] = dict(cached[2])
                continue
            self._latest.pop(meter.key, None)
            try:
                data = await self.async_get_measurements(
                    info.klant_ean,
                    info.meter_ean,
                    anchor - LATEST_LOOKBACK,
                    anchor + LATEST_LOOKAHEAD,
                )
            except (MeetdataAuthError, MeetdataRateLimitError):
                raise
            except MeetdataError as err:
                failures[self.failure_unit(meter)] = err
                continue
            if readings := _build_latest(data):
                result[meter.key] = readings
                if _settled(readings, anchor):
                    self._latest[meter.key] = (info.klant_ean, anchor, dict(readings))
        return result, failures

    async def _klant_ean_of(self, meter: Meter) -> str:
        """Return the customer EAN of ``meter`` (from its attributes or call 1)."""
        if klant_ean := meter.attributes.get("klant_ean"):
            return klant_ean
        for info in (await self.async_get_available()).meters:
            if info.meter_ean == meter.key:
                return info.klant_ean
        raise MeetdataNotFoundError(
            f"Meter {meter.key} is not listed for the configured customers",
            meter=meter.key,
        )

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return the 5-minute series of ``meter`` for intervals starting in [start, end)."""
        _require_aware(start, end)
        if start >= end:
            empty = DtlMeasurements("", meter.key, {kind: [] for kind in MetingType})
            return _build_history(meter, empty)
        klant_ean = await self._klant_ean_of(meter)
        data = await self.async_get_measurements(klant_ean, meter.key, start, end)
        if sum(map(len, data.values.values())) > EXECUTOR_SAMPLES:
            # A 7-day window becomes ~14 000 intervals: not in the event loop.
            return await asyncio.get_running_loop().run_in_executor(
                None, _build_history, meter, data
            )
        return _build_history(meter, data)


def _settled(readings: dict[Quantity, Reading], anchor: datetime) -> bool:
    """Return whether every meting_type has a value at ``anchor`` (the newest).

    Then reading the same window again gives the same readings as long as
    datum_laatste_meting stays ``anchor``; readings with a type missing or
    older (rows that may still arrive), or newer than ``anchor``, are read
    again on every poll as before.
    """
    return all(
        (reading := readings.get(quantity)) is not None and reading.timestamp == anchor
        for quantity in (*METING_QUANTITIES.values(), Quantity.LAST_MEASUREMENT)
    )
