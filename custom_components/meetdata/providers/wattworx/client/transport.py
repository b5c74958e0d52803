"""Wattworx HTTP: one GET per endpoint, its XML decoded, its errors mapped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import partial
import logging
import re
from typing import cast

import aiohttp

from ....api.errors import MeetdataAuthError, MeetdataError, MeetdataResponseError
from ....api.http import (
    REDACTED,
    HttpResponse,
    parse_retry_after,
    request,
    status_error,
)
from . import params as p
from .parse import parse_error
from .xmlsafe import Element, parse_xml

_LOGGER = logging.getLogger(__name__)

#: Bodies larger than this are parsed in an executor.
EXECUTOR_THRESHOLD = 64 * 1024
_KEY_RE = re.compile(r"^[\x21-\x7e]+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_MAX_MESSAGE = 200


class WattworxTransport:
    """The HTTP side of a Wattworx client: key check, GET, decode, error mapping."""

    _session: aiohttp.ClientSession
    _api_key: str
    _base_url: str
    _timeout: float
    _max_bytes: int
    #: Per URL: the last body answered and what it parsed to (``reuse=True``).
    _answers: dict[str, tuple[bytes, object]]

    # ------------------------------------------------------------------
    # HTTP and error mapping

    async def _call[T](
        self,
        endpoint: tuple[str, str],
        *segments: str,
        parse: Callable[[Element], T],
        query: Mapping[str, str] | None = None,
        meter: str | None = None,
        reuse: bool = False,
    ) -> T:
        """GET one endpoint and parse its XML body with ``parse``.

        With ``reuse`` (for a ``parse`` whose result is not modified), a body
        equal to the last one of this URL is not parsed again: the earlier
        result is returned.
        """
        if not _KEY_RE.match(self._api_key):
            raise MeetdataAuthError("Missing or malformed Wattworx API key")
        url = p.build_url(self._base_url, *endpoint, *segments)
        name = "/".join(endpoint)
        response = await request(
            self._session,
            p.METHOD,
            url,
            params=query,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Accept": "application/xml",
            },
            timeout=self._timeout,
            max_bytes=self._max_bytes,
        )
        if not 200 <= response.status < 300:
            raise self._http_error(response, name, meter)
        body = response.body
        if reuse and (kept := self._answers.get(url)) is not None and kept[0] == body:
            return cast("T", kept[1])
        decode = partial(self._decode, parse=parse, name=name, meter=meter)
        if len(body) > EXECUTOR_THRESHOLD:
            result = await asyncio.get_running_loop().run_in_executor(
                None, decode, body
            )
        else:
            result = decode(body)
        if reuse:
            self._answers[url] = (body, result)
        return result

    def _decode[T](
        self,
        body: bytes,
        *,
        parse: Callable[[Element], T],
        name: str,
        meter: str | None,
    ) -> T:
        """Parse a successful body; an ``<error>`` root is still an error."""
        root = parse_xml(body)
        if root.tag == "error":
            code, message = parse_error(root)
            if code is None or 200 <= code < 300:
                raise MeetdataResponseError(
                    f"Wattworx {name} error: {self._clean(message)}", meter=meter
                )
            raise self._status_error(code, None, message, name, meter)
        return parse(root)

    def _http_error(
        self, response: HttpResponse, name: str, meter: str | None
    ) -> MeetdataError:
        """Return the error of a non-2xx answer (XML error body when given)."""
        message = None
        try:
            root = parse_xml(response.body)
        except MeetdataResponseError:
            pass
        else:
            if root.tag == "error":
                message = parse_error(root)[1]
        return self._status_error(
            response.status, response.headers.get("Retry-After"), message, name, meter
        )

    def _status_error(
        self,
        status: int,
        retry_after: str | None,
        message: str | None,
        name: str,
        meter: str | None,
    ) -> MeetdataError:
        """Map an HTTP status (or an error body's code) to a Meetdata error."""
        text = f"Wattworx {name} answered {status}"
        if message:
            text += f": {self._clean(message)}"
        # A valid key that may not read this EAN (authorisation not signed)
        # is not a reason to re-authenticate; a 403 without a meter is.
        overrides: dict[int, type[MeetdataError]] = {408: MeetdataResponseError}
        if meter is None:
            overrides[403] = MeetdataAuthError
        if status >= 600:
            overrides[status] = MeetdataResponseError
        return status_error(
            status,
            text,
            meter=None if status == 401 else meter,
            retry_after=parse_retry_after(retry_after) if status == 429 else None,
            overrides=overrides,
        )

    def _clean(self, message: str | None) -> str:
        """Return a server message without the key or control characters."""
        text = message or "no message"
        if self._api_key:
            text = text.replace(self._api_key, REDACTED)
        text = _CONTROL_RE.sub(" ", text).strip()
        return text[:_MAX_MESSAGE]
