"""HTTP plumbing shared by the clients: size cap, timeouts, redaction, Retry-After."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
import functools
import math
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from .errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataTooLargeError,
)

DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
REDACTED = "**REDACTED**"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read, size-checked HTTP response."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def content_type(self) -> str:
        """Return the media type without parameters, lower-case."""
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def basic_authorization(username: str, password: str) -> str:
    """Return an HTTP Basic ``Authorization`` header value (UTF-8, RFC 7617).

    Raises ValueError for a username with a colon, which Basic cannot carry.
    """
    if ":" in username:
        raise ValueError("A colon is not allowed in a Basic username")
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def redact_url(url: str | URL, secret_params: Iterable[str] = ("api_key",)) -> str:
    """Return the URL with credentials and secret query parameters masked."""
    parsed = URL(str(url))
    if parsed.user or parsed.password:
        parsed = parsed.with_user(None)
    secrets = set(secret_params)
    if secrets & set(parsed.query):
        parsed = parsed.with_query(
            [(k, REDACTED if k in secrets else v) for k, v in parsed.query.items()]
        )
    return str(parsed)


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    max_bytes: int = MAX_RESPONSE_BYTES,
    secret_params: Iterable[str] = ("api_key",),
) -> HttpResponse:
    """Send one request and read its body, never more than ``max_bytes``.

    Network failures become MeetdataConnectionError whose message carries only a
    redacted URL: aiohttp puts the full URL (query included) in its exceptions.
    """
    shown = redact_url(URL(url).with_query(params or {}), secret_params)
    try:
        async with asyncio.timeout(timeout):
            async with session.request(
                method,
                url,
                params=params,
                headers=headers,
                data=data,
                allow_redirects=False,
            ) as resp:
                length = resp.content_length
                if length is not None and length > max_bytes:
                    raise MeetdataTooLargeError(
                        f"Response of {length} bytes from {shown} exceeds the "
                        f"{max_bytes} byte limit"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MeetdataTooLargeError(
                            f"Response from {shown} exceeds the {max_bytes} byte limit"
                        )
                    chunks.append(chunk)
                return HttpResponse(resp.status, resp.headers, b"".join(chunks))
    except TimeoutError:
        raise MeetdataTimeoutError(f"Timeout talking to {shown}") from None
    except aiohttp.ClientError as err:
        raise MeetdataConnectionError(
            f"Error talking to {shown}: {type(err).__name__}"
        ) from None


def parse_retry_after(
    value: str | None, now: datetime | None = None, *, dates: bool = True
) -> float | None:
    """Return a Retry-After header in seconds: a number or (``dates``) an HTTP date.

    None: absent or unreadable. A date in the past (or a negative number) is 0.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        if not dates:
            return None
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


STATUS_ERRORS: Mapping[int, type[MeetdataError]] = {
    400: MeetdataInvalidRequestError,
    401: MeetdataAuthError,
    403: MeetdataPermissionError,
    404: MeetdataNotFoundError,
    408: MeetdataTimeoutError,
    413: MeetdataTooLargeError,
    422: MeetdataInvalidRequestError,
    429: MeetdataRateLimitError,
}


def status_error(
    status: int,
    message: str,
    *,
    meter: str | None = None,
    retry_after: float | None = None,
    overrides: Mapping[int, type[MeetdataError]] | None = None,
    default: type[MeetdataError] = MeetdataResponseError,
) -> MeetdataError:
    """Return the Meetdata error of a non-success HTTP status (not raised).

    The common ladder is ``STATUS_ERRORS``, then 500 and up as a connection
    error, else ``default``; ``overrides`` (status → class) take precedence.
    ``retry_after`` goes only to a MeetdataRateLimitError.
    """
    cls = (overrides or {}).get(status) or STATUS_ERRORS.get(status)
    if cls is None:
        cls = MeetdataConnectionError if status >= 500 else default
    if issubclass(cls, MeetdataRateLimitError):
        return cls(message, retry_after=retry_after, meter=meter)
    return cls(message, meter=meter)


async def gather_each[T](
    calls: Iterable[Callable[[], Awaitable[T]]], limit: int
) -> list[T | MeetdataError]:
    """Run calls with at most ``limit`` at a time; each result or its error, in order.

    A ``MeetdataError`` of one call is returned in its place and the others
    go on; any other exception cancels the rest and is raised.
    """

    async def _one(call: Callable[[], Awaitable[T]]) -> T | MeetdataError:
        try:
            return await call()
        except MeetdataError as err:
            return err

    return await gather_limited(
        (functools.partial(_one, call) for call in calls), limit
    )


async def gather_limited[T](
    calls: Iterable[Callable[[], Awaitable[T]]], limit: int
) -> list[T]:
    """Run calls with at most ``limit`` at a time; return results in order.

    The first error cancels the calls still running and is raised as is (no
    ExceptionGroup), so callers keep catching MeetdataError.
    """
    semaphore = asyncio.Semaphore(limit)

    async def _one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    tasks = [asyncio.ensure_future(_one(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
