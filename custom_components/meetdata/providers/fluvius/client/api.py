"""The Fluvius API's transport (token, retries, errors) and mandate endpoints."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
import logging
from typing import Any

import aiohttp
from multidict import MultiDict
import orjson

from ....api.base import MeterDataClient
from ....api.errors import (
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataRateLimitError,
    MeetdataResponseError,
)
from ....api.http import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    parse_retry_after,
    request,
    status_error,
)
from ....api.models import Quantity
from .auth import FluviusTokenProvider
from .errors import FluviusNoMandateError
from .mandates import (
    DataServiceType,
    EnergyType,
    Mandate,
    MandateStatus,
    RenewalStatus,
    format_utc,
    mandate_from_json,
    mandate_to_json,
    parse_mandates,
)
from .meters import _check_ean
from .parse import EnergyData
from .paths import (
    BASE_URLS,
    LIVE,
    MANDATE_PATH,
    MOCK_MANDATE_PATH,
    SANDBOX,
    SUBSCRIPTION_KEY_HEADER,
    api_url,
    normalize_base_url,
    token_url as default_token_url,
)
from .provider import PROVIDER
from .sandbox import decode_sandbox_ean
from .windows import _utcnow

_LOGGER = logging.getLogger(__name__)

#: Fluvius answers 404 for a missing mandate; 429 is retried above.
_OVERRIDES: dict[int, type[MeetdataError]] = {
    404: FluviusNoMandateError,
    408: MeetdataResponseError,
    422: MeetdataResponseError,
    429: MeetdataResponseError,
}

type _CacheKey = tuple[str, str, str, str, str, str]


class FluviusApi(MeterDataClient):
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

    provider = PROVIDER
    max_history = timedelta(days=3 * 365)
    history_quantities = (
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.ENERGY_IMPORT_DAY,
        Quantity.ENERGY_IMPORT_NIGHT,
        Quantity.ENERGY_EXPORT_DAY,
        Quantity.ENERGY_EXPORT_NIGHT,
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
            try:
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
            except MeetdataError as err:
                # A timeout or unreadable answer about one EAN concerns that EAN.
                if err.meter is None and not isinstance(err, MeetdataRateLimitError):
                    err.meter = ean
                raise
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
            message = f"Fluvius refused the request to {where} (HTTP 400){suffix}"
        elif status == 401:
            message = (
                f"Fluvius refused the token or subscription key (HTTP 401){suffix}"
            )
        elif status == 403:
            message = f"Fluvius denies access to {where} (HTTP 403){suffix}"
        elif status == 404:
            message = f"No valid Fluvius mandate for {where} (HTTP 404){suffix}"
        elif status >= 500:
            message = f"Fluvius server error on {where} (HTTP {status})"
        else:
            message = f"Unexpected HTTP {status} from Fluvius on {where}"
        return status_error(status, message, meter=ean, overrides=_OVERRIDES)

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
