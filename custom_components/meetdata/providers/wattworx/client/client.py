"""The Wattworx API v1 client (REST, XML, API key as Bearer token)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import partial
import logging

import aiohttp

from ....api.base import MeterDataClient, UnitFailures
from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
)
from ....api.http import DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES
from ....api.models import (
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Quantity,
    Reading,
)
from . import params as p
from .convert import (
    ATTR_FIRST_DATA_DATE,
    QUARTER,
    client_meters,
    device_to_meter,
    electricity_series,
    gas_series,
    latest_readings,
    unique_devices,
)
from .ids import _check_ean, _check_id, _selector
from .models import (
    AuthorisationStatus,
    ClientInfo,
    DayDetailValue,
    DayRequestResult,
    DayValue,
    Device,
    DeviceType,
    EanChange,
    MonthValue,
)
from .parse import (
    parse_authorisation_statuses,
    parse_client,
    parse_clients,
    parse_day_details,
    parse_day_request,
    parse_day_values,
    parse_device_tuple,
    parse_device_types,
    parse_ean_change,
    parse_month_values,
)
from .provider import PROVIDER
from .times import day_end, local_date, local_day_start, parse_date
from .transport import WattworxTransport

_LOGGER = logging.getLogger(__name__)
#: Day detail rows beyond this become series in an executor (about three days).
EXECUTOR_ROWS = 300


class WattworxClient(WattworxTransport, MeterDataClient):
    """A client of one Wattworx API key (possibly covering several clients).

    Every documented endpoint has a method; the ``MeterDataClient`` methods
    build meters (one per EAN), latest readings and history on top of them.
    """

    provider = PROVIDER
    max_history = None
    reports_meter_failures = True
    history_quantities = (
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.ENERGY_IMPORT_LOW,
        Quantity.ENERGY_IMPORT_NORMAL,
        Quantity.ENERGY_EXPORT_LOW,
        Quantity.ENERGY_EXPORT_NORMAL,
        Quantity.GAS_VOLUME,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        *,
        base_url: str = p.DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """Store the session, key and endpoint; nothing is sent yet."""
        self._session = session
        self._api_key = api_key.strip()
        self._base_url = base_url
        self._timeout = timeout
        self._max_bytes = max_bytes
        #: The devices of the latest device list answer, by EAN.
        self.known_devices: dict[str, Device] = {}
        self._answers = {}
        #: Latest readings per EAN with the last data date and meter kind
        #: they were read for (see async_get_latest).
        self._latest: dict[str, tuple[date, MeterKind, dict[Quantity, Reading]]] = {}

    # ------------------------------------------------------------------
    # Endpoints

    async def async_get_devices(self) -> list[Device]:
        """Return every device of the key (all clients of a multi-client key).

        The answer is also kept, one device per EAN, in ``known_devices``. An
        answer equal to the previous one is not parsed again.
        """
        devices = await self._call(p.EAN_LIST, parse=parse_device_tuple, reuse=True)
        self.known_devices = unique_devices(devices)
        return list(devices)

    async def async_get_device_types(self) -> list[DeviceType]:
        """Return the available device types."""
        return await self._call(p.EAN_TYPES, parse=parse_device_types)

    async def async_get_authorisation_statuses(self) -> list[AuthorisationStatus]:
        """Return the possible authorisation statuses."""
        return await self._call(
            p.EAN_AUTHORISATION_STATUS, parse=parse_authorisation_statuses
        )

    async def async_get_month_values(
        self,
        ean: str | None = None,
        start: date | None = None,
        end: date | None = None,
        *,
        device_id: str | None = None,
    ) -> list[MonthValue]:
        """Return month readings of a device (by EAN or device id)."""
        selector, meter = _selector(ean, device_id)
        return await self._call(
            p.EAN_MONTH_VALUES,
            *selector,
            *p.date_range(start, end),
            parse=parse_month_values,
            meter=meter,
        )

    async def async_get_day_values(
        self,
        ean: str | None = None,
        start: date | None = None,
        end: date | None = None,
        *,
        device_id: str | None = None,
    ) -> list[DayValue]:
        """Return day readings of a device (by EAN or device id)."""
        selector, meter = _selector(ean, device_id)
        return await self._call(
            p.EAN_DAY_VALUES,
            *selector,
            *p.date_range(start, end),
            parse=parse_day_values,
            meter=meter,
        )

    async def async_get_day_detail_values(
        self,
        ean: str | None,
        start: date,
        end: date,
        *,
        device_id: str | None = None,
        values: str = p.VALUES_KWH,
        time_format: str | None = p.TF_UTC,
    ) -> list[DayDetailValue]:
        """Return the interval rows of the local days start..end (inclusive).

        The range is split into requests of at most 60 days. ``values``
        (KWH or WH) and ``time_format`` (``tf``: "4" for UTC, None for local
        time) are the metering time format options of the document.
        """
        selector, meter = _selector(ean, device_id)
        if values not in (p.VALUES_KWH, p.VALUES_WH):
            raise MeetdataInvalidRequestError(
                f"Unknown Wattworx values mode {values!r}"
            )
        if time_format not in (None, p.TF_UTC):
            raise MeetdataInvalidRequestError(
                f"Unsupported Wattworx time format {time_format!r}"
            )
        if end < start:
            raise MeetdataInvalidRequestError(
                "Wattworx date range ends before it starts"
            )
        query = p.detail_query(values, time_format)
        result: list[DayDetailValue] = []
        for first, last in p.split_days(start, end):
            parse = partial(
                parse_day_details,
                values=values,
                utc=time_format == p.TF_UTC,
                window=(local_day_start(first), day_end(last)),
            )
            result += await self._call(
                p.EAN_DAY_DETAIL_VALUES,
                *selector,
                *p.date_range(first, last),
                parse=parse,
                query=query,
                meter=meter,
            )
        return result

    async def async_add_ean(self, client_id: str, ean: str, eantype: str) -> EanChange:
        """Add an EAN of type ``eantype`` (KVBE, KVBG, ...) to a client."""
        _check_id(client_id)
        _check_ean(ean)
        return await self._call(
            p.EAN_ADD,
            "client",
            client_id,
            "code",
            ean,
            "eantype",
            eantype,
            parse=parse_ean_change,
            meter=ean,
        )

    async def async_delete_ean(self, client_id: str, ean: str) -> EanChange:
        """Delete an EAN from a client."""
        _check_id(client_id)
        _check_ean(ean)
        return await self._call(
            p.EAN_DELETE,
            "client",
            client_id,
            "code",
            ean,
            parse=parse_ean_change,
            meter=ean,
        )

    async def async_get_clients(self) -> list[ClientInfo]:
        """Return every client of the account with its authorisations."""
        return await self._call(p.CLIENT_LIST, parse=parse_clients)

    async def async_add_client(
        self, name: str, address: str, zip_code: str, city: str
    ) -> ClientInfo:
        """Add a client (the details are URL-encoded path segments)."""
        return await self._call(
            p.CLIENT_ADD,
            "name",
            name,
            "address",
            address,
            "zip",
            zip_code,
            "city",
            city,
            parse=parse_client,
        )

    async def async_delete_client(self, client_id: str) -> ClientInfo:
        """Delete a client; the answer carries its status ("Removed")."""
        _check_id(client_id)
        return await self._call(p.CLIENT_DELETE, "id", client_id, parse=parse_client)

    async def async_request_day_values(self, ean: str, day: date) -> DayRequestResult:
        """Request the data of one day: queued, or the day values at once.

        The document allows at most 30 days in the past; future days are fine.
        """
        _check_ean(ean)
        return await self._call(
            p.EAN_REQUEST_DAY_VALUES,
            "code",
            ean,
            "date",
            p.format_date(day),
            parse=parse_day_request,
            meter=ean,
        )

    async def async_account_id(self) -> str:
        """Return a stable source for the account's unique id.

        The sorted client ids of the key, comma-separated; the caller hashes
        it. The key itself never goes into an id.
        """
        clients = await self.async_get_clients()
        ids = sorted({client.id for client in clients}, key=lambda cid: (len(cid), cid))
        if not ids:
            raise MeetdataResponseError("The Wattworx key gives access to no client")
        return ",".join(ids)

    # ------------------------------------------------------------------
    # MeterDataClient

    async def async_get_meters(self) -> list[Meter]:
        """Return one gateway meter per client, then one meter per EAN."""
        await self.async_get_devices()
        meters: list[Meter] = []
        owners: list[Device] = []
        for device in self.known_devices.values():
            meter = device_to_meter(device)
            if meter is not None:
                meters.append(meter)
                owners.append(device)
        return client_meters(owners) + meters

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return the registers of each meter's last data date.

        An EAN the key may not read (403) or that Wattworx does not know
        (404) is left out; any other error of one EAN is raised.
        """
        readings, failures = await self.async_get_latest_partial(meters)
        for key, err in failures.items():
            if isinstance(err, MeetdataNotFoundError | MeetdataPermissionError):
                _LOGGER.debug("No Wattworx readings for %s: %s", key, err)
                continue
            raise err
        return readings

    async def async_get_latest_partial(
        self, meters: Sequence[Meter]
    ) -> tuple[LatestReadings, UnitFailures]:
        """Return the registers of each meter's last data date, and each EAN's error.

        One device list request (fresh last data dates and authorisation
        statuses) plus one day values request per meter with new data: the
        document has no endpoint with readings of all devices at once. A
        meter whose last data date is the one its readings were read for
        keeps those readings without a request, so a poll with no new data
        is one request for the whole account. Meters without a signed
        authorisation or without data are left out. A failing device list,
        a refused key and a rate limit fail the whole poll; any other error
        of one EAN's day values is returned beside the others' readings.
        """
        wanted = [meter for meter in meters if meter.provider == PROVIDER]
        if not wanted:
            return {}, {}
        await self.async_get_devices()
        devices = self.known_devices
        result: LatestReadings = {}
        failures: UnitFailures = {}
        for meter in wanted:
            device = devices.get(meter.key)
            last = (
                device.client.last_data_date
                if device is not None and device.client is not None and device.signed
                else None
            )
            if last is None:
                self._latest.pop(meter.key, None)
                continue
            cached = self._latest.get(meter.key)
            if cached is not None and cached[:2] == (last, meter.kind):
                result[meter.key] = dict(cached[2])
                continue
            self._latest.pop(meter.key, None)
            try:
                days = await self.async_get_day_values(meter.key, last, last)
            except MeetdataError as err:
                if isinstance(err, MeetdataRateLimitError) or (
                    isinstance(err, MeetdataAuthError) and err.meter is None
                ):
                    raise
                failures[self.failure_unit(meter)] = err
                continue
            day = max(days, key=lambda row: row.date) if days else None
            result[meter.key] = readings = latest_readings(meter.kind, day, last)
            if day is not None and day.date == last:
                # The day's readings are in: the same until the date moves.
                self._latest[meter.key] = (last, meter.kind, dict(readings))
        return result, failures

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return 15-minute kWh amounts or hourly gas amounts in [start, end).

        Electricity comes from day detail values: per quarter the total and,
        from register differences, the low and normal tariff amounts (see
        ``electricity_series``); the first quarter needs the reading at its
        start, the row of the quarter before, so a window that starts at
        local midnight also asks for the day before (in the same request).
        Gas amounts are differences of consecutive hourly readings, so gas
        windows reach one hour past ``end`` for the closing reading.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise MeetdataInvalidRequestError("History bounds must be timezone-aware")
        if meter.kind not in (MeterKind.ELECTRICITY, MeterKind.GAS):
            raise MeetdataInvalidRequestError(
                f"Wattworx has no history for {meter.kind} meters", meter=meter.key
            )
        if end <= start:
            return []
        known = self.known_devices.get(meter.key)
        if known is not None and not known.signed:
            # No data without a signed authorisation (the API answers 403).
            return []
        first = local_date(start if meter.kind is MeterKind.GAS else start - QUARTER)
        earliest = self.earliest_history(meter)
        if earliest is not None:
            first = max(first, local_date(earliest))
        if meter.kind is MeterKind.GAS:
            last = local_date(end + timedelta(hours=1))
        else:
            last = local_date(end - timedelta(microseconds=1))
        if last < first:
            return []
        details = await self.async_get_day_detail_values(meter.key, first, last)
        if meter.kind is MeterKind.GAS:
            return [gas_series(meter.key, details, start, end)]
        if len(details) > EXECUTOR_ROWS:
            # Six series of a month of quarters: too long a step for the event loop.
            return await asyncio.get_running_loop().run_in_executor(
                None, electricity_series, meter.key, details, start, end
            )
        return electricity_series(meter.key, details, start, end)

    def earliest_history(self, meter: Meter) -> datetime | None:
        """Return the start of the device's first data date (local midnight)."""
        text = meter.attributes.get(ATTR_FIRST_DATA_DATE)
        if not text:
            return None
        try:
            return local_day_start(parse_date(text))
        except MeetdataResponseError:
            return None
