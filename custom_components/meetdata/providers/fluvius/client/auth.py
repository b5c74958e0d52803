"""OAuth 2.0 client-credentials tokens from Azure AD, cached and renewed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time

import aiohttp
import orjson

from ....api.errors import MeetdataError, MeetdataResponseError
from ....api.http import request, status_error
from .errors import FluviusTokenError

# The token endpoint knows only 400/401 (above), 429 and 5xx.
_HTTP_OVERRIDES: dict[int, type[MeetdataError]] = dict.fromkeys(
    (403, 404, 408, 422), MeetdataResponseError
)
# Renew this long before the token expires (halved for very short tokens).
RENEW_MARGIN = 300.0
# Azure AD error codes that mean "these credentials are wrong".
_AUTH_ERRORS = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_grant",
        "invalid_scope",
        "invalid_request",
        "unsupported_grant_type",
        "invalid_resource",
    }
)


class FluviusTokenProvider:
    """Fetch Bearer tokens with the client-credentials grant; one fetch at a time.

    A token is reused until ``RENEW_MARGIN`` seconds (at most half its lifetime)
    before it expires. Concurrent callers wait on one lock, so many requests
    waiting for a token cause a single token request.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Store the credentials; nothing is fetched yet."""
        self._session = session
        self._token_url = token_url
        self._form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
            "grant_type": "client_credentials",
        }
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.max_response_bytes = 1024 * 1024

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token (only if it is still ``token`` when given)."""
        if token is None or token == self._token:
            self._token = None
            self._renew_at = 0.0

    async def async_get_token(self) -> str:
        """Return a fresh token, fetching one if the cached one is stale."""
        async with self._lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            token, lifetime = await self._fetch()
            self._token = token
            self._renew_at = self._clock() + lifetime - min(RENEW_MARGIN, lifetime / 2)
            return token

    async def _fetch(self) -> tuple[str, float]:
        """Ask the token endpoint for a token; return it and its lifetime (s)."""
        resp = await request(
            self._session,
            "POST",
            self._token_url,
            data=dict(self._form),
            headers={"Accept": "application/json"},
            max_bytes=self.max_response_bytes,
        )
        try:
            body = orjson.loads(resp.body) if resp.body else None
        except orjson.JSONDecodeError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status in (400, 401):
            code = (
                error
                if isinstance(error, str) and error in _AUTH_ERRORS
                else ("invalid_request" if resp.status == 400 else "unauthorized")
            )
            raise FluviusTokenError(
                f"Fluvius token endpoint refused the client credentials "
                f"(HTTP {resp.status}, {code})",
                code=code,
            )
        if resp.status != 200:
            if resp.status == 429:
                message = "Fluvius token endpoint rate limited the client (HTTP 429)"
            elif resp.status >= 500:
                message = f"Fluvius token endpoint failed (HTTP {resp.status})"
            else:
                message = (
                    f"Unexpected HTTP {resp.status} from the Fluvius token endpoint"
                )
            raise status_error(resp.status, message, overrides=_HTTP_OVERRIDES)
        if not isinstance(body, dict):
            raise MeetdataResponseError("Fluvius token endpoint sent no JSON object")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise MeetdataResponseError("Fluvius token endpoint sent no access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            raise MeetdataResponseError(
                "Fluvius token endpoint sent an invalid expires_in"
            ) from None
        return token, max(0.0, min(lifetime, 3600.0))
