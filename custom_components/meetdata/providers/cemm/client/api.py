"""The CEMM Open API's transport and endpoints (the client builds on them).

The API lives at ``https://open-api.cemm.nl/v1/``; every request carries the
``api_key`` query parameter (the API accepts no other form), so the key is
passed to :func:`http.request` as a secret parameter and never appears in a
message or log line. When the CEMM cannot answer at once the API returns HTTP
202 with a "promise" that expires after 10 seconds: the client repeats the same
request until the data arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import logging
import time as monotonic_time
from typing import Any
from urllib.parse import quote

import aiohttp

from ....api.base import MeterDataClient
from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataUnsupportedError,
)
from ....api.http import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    parse_retry_after,
    request,
    status_error,
)
from ....api.models import Quantity, Reading
from .parse import (
    DEFAULT_BASE_URL,
    EXECUTOR_PARSE_BYTES,
    CemmIo,
    CemmSeries,
    CemmValues,
    _parse_io,
    _parse_json,
    _parse_series,
    _parse_uids,
    _parse_values,
    _time_param,
)
from .provider import PROVIDER

_LOGGER = logging.getLogger(__name__)

#: The document answers 403 to a bad key; a 401 (from a gateway in front of
#: the API) means the same: ask for a new key. Other 4xx: request refused.
_OVERRIDES: dict[int, type[MeetdataError]] = {
    403: MeetdataAuthError,
    412: MeetdataUnsupportedError,
}
_MESSAGES = {
    401: "access denied (HTTP {status}), the API key is invalid for this action",
    403: "access denied (HTTP {status}), the API key is invalid for this action",
    404: "not found (HTTP 404)",
    408: "the CEMM did not answer in time (HTTP 408)",
    412: "alias not supported by this CEMM (HTTP 412)",
    429: "rate limited (HTTP 429)",
}


class CemmApi(MeterDataClient):
    """The CEMM Open API for one API key: transport and the eight endpoints."""

    provider = PROVIDER
    max_history = None
    history_quantities = (
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.ENERGY_IMPORT_LOW,
        Quantity.ENERGY_IMPORT_NORMAL,
        Quantity.ENERGY_EXPORT_LOW,
        Quantity.ENERGY_EXPORT_NORMAL,
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
        #: The meters of the last latest-readings call that answered (none
        #: after a refused key; see CemmClient.async_get_latest_partial).
        self._answered: frozenset[str] = frozenset()

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
        if status in _MESSAGES:
            detail = _MESSAGES[status].format(status=status)
        elif status >= 500:
            detail = f"server error (HTTP {status})"
        elif 400 <= status < 500:
            detail = f"request refused (HTTP {status})"
        else:
            detail = f"unexpected HTTP {status}"
        raise status_error(
            status,
            f"CEMM Open API {path}: {detail}",
            meter=meter,
            retry_after=(
                parse_retry_after(retry_after, dates=False) if status == 429 else None
            ),
            overrides=_OVERRIDES,
            default=(
                MeetdataInvalidRequestError
                if 400 <= status < 500
                else MeetdataResponseError
            ),
        )

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
