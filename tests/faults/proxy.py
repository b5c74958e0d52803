"""A fault-injecting HTTP proxy in front of any simulator.

Every provider client talks to the proxy instead of its simulator; while a
fault is set, matching requests get it instead of (or on top of) the
simulator's answer. This keeps the fault matrix provider-neutral: a fault is
defined once and applied to all five APIs.

Faults: ``delay`` (answer late), ``status`` (a canned status/body/headers),
``transform`` (the simulator's real answer, rewritten: duplicates, missing
fields, NaN...), ``truncate`` (the real answer cut in half), ``huge`` (an
endless-looking body, streamed; with or without Content-Length) and ``drop``
(the connection is closed halfway through the body). ``stop()``/``start()``
make the port refuse connections and come back on the same port; an
``ssl_context`` serves the proxy over TLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import ssl
from typing import Literal

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

type FaultKind = Literal["delay", "status", "transform", "truncate", "huge", "drop"]

#: Headers that belong to one hop and are not passed on.
_HOP = {
    "connection",
    "content-length",
    "content-encoding",
    "date",
    "host",
    "keep-alive",
    "server",
    "transfer-encoding",
}
HUGE_BYTES = 50 * 1024 * 1024
_AUTH_HEADERS = ("Authorization", "Ocp-Apim-Subscription-Key")
_CHUNK = 1024 * 1024


@dataclass(slots=True)
class Fault:
    """What the proxy does to the requests ``match`` accepts (all: None)."""

    kind: FaultKind
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    seconds: float = 0.0
    transform: Callable[[bytes], bytes] | None = None
    content_length: bool = True
    match: Callable[[web.Request], bool] | None = None


@dataclass(slots=True)
class Seen:
    """One request the proxy received."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class FaultProxy:
    """Forward to ``upstream``; inject the current ``fault``."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1") -> None:
        """Proxy to ``upstream`` (scheme://host:port, no path)."""
        self.upstream = upstream.rstrip("/")
        self.host = host
        self.port = 0
        self._fault: Fault | None = None
        self.seen: list[Seen] = []
        #: Bytes each ``huge`` answer got out before the client hung up.
        self.huge_written: list[int] = []
        #: ``huge`` answers that were sent to their end (must stay 0).
        self.huge_completed = 0
        #: Answers of the simulator by request, when its data does not move
        #: (a fixed clock): the matrix asks the same questions many times.
        self.cache: dict[tuple[str, ...], tuple[int, CIMultiDict[str], bytes]] | None
        self.cache = None
        self._transformed: dict[bytes, bytes] = {}
        #: Set when the fault changes or the proxy stops: wakes delayed answers.
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._scheme = "http"

    @property
    def fault(self) -> Fault | None:
        """Return the fault applied to matching requests (None: pass through)."""
        return self._fault

    @fault.setter
    def fault(self, fault: Fault | None) -> None:
        """Set (or clear) the fault; forget answers transformed by the last one."""
        self._fault = fault
        self._transformed.clear()
        self._release.set()
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        """Return the proxy's origin."""
        return f"{self._scheme}://{self.host}:{self.port}"

    async def start(self, *, ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve (again, on the same port once it has one); return the origin."""
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._scheme = "https" if ssl_context else "http"
        return self.url

    async def stop(self) -> None:
        """Stop listening and close every connection (the port refuses)."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        """Stop and close the upstream session."""
        await self.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _key(self, request: web.Request, body: bytes) -> tuple[str, ...] | None:
        """Return the cache key of a request (None: not cacheable)."""
        if self.cache is None or "token" in request.path:
            return None
        auth = (request.headers.get(h, "") for h in _AUTH_HEADERS)
        return (request.method, request.path_qs, body.decode("latin-1"), *auth)

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        """Return the simulator's answer to this request."""
        assert self._session is not None
        key = self._key(request, body)
        if key is not None and self.cache is not None and key in self.cache:
            status, cached_headers, data = self.cache[key]
            return web.Response(status=status, body=data, headers=cached_headers)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as resp:
            data = await resp.read()
            out = CIMultiDict(
                (k, v) for k, v in resp.headers.items() if k.lower() not in _HOP
            )
        if key is not None and self.cache is not None and resp.status == 200:
            self.cache[key] = (resp.status, out, data)
        return web.Response(status=resp.status, body=data, headers=out)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(request.method, request.path_qs, dict(request.headers), body)
        )
        fault = self.fault
        if fault is None or (fault.match is not None and not fault.match(request)):
            return await self._forward(request, body)
        if fault.kind == "delay":
            release = self._release
            try:
                await asyncio.wait_for(release.wait(), fault.seconds)
            except TimeoutError:
                return await self._forward(request, body)
            return web.Response(status=503, text="released")
        if fault.kind == "status":
            headers = CIMultiDict(fault.headers)
            if fault.content_type is not None:
                headers["Content-Type"] = fault.content_type
            return web.Response(status=fault.status, body=fault.body, headers=headers)
        if fault.kind == "huge":
            return await self._huge(request, fault)
        real = await self._forward(request, body)
        raw = real.body if isinstance(real.body, bytes) else b""
        if fault.kind == "drop":
            return await self._drop(request, real, raw)
        if fault.kind == "truncate":
            new = raw[: len(raw) // 2]
        elif real.status != 200:
            new = raw
        else:
            assert fault.transform is not None
            done = raw
            if done and done in self._transformed:
                new = self._transformed[done]
            else:
                new = fault.transform(raw)
                if self.cache is not None:
                    if len(self._transformed) > 256:
                        self._transformed.clear()
                    self._transformed[done] = new
        headers = CIMultiDict(real.headers)
        if fault.content_type is not None:
            headers["Content-Type"] = fault.content_type
        return web.Response(status=real.status, body=new, headers=headers)

    async def _huge(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """Stream 50 MB (announced by Content-Length or chunked)."""
        resp = web.StreamResponse(status=200)
        resp.content_type = fault.content_type or "application/json"
        if fault.content_length:
            resp.content_length = HUGE_BYTES
        await resp.prepare(request)
        chunk = b"[" + b"0," * (_CHUNK // 2 - 1) + b"0"
        self.huge_written.append(0)
        slot = len(self.huge_written) - 1
        with contextlib.suppress(ConnectionError, RuntimeError):
            while self.huge_written[slot] < HUGE_BYTES:
                await resp.write(chunk)
                self.huge_written[slot] += len(chunk)
            await resp.write_eof()
            self.huge_completed += 1
        return resp

    async def _drop(
        self, request: web.Request, real: web.Response, raw: bytes
    ) -> web.StreamResponse:
        """Announce the whole body, send half, then close the connection."""
        resp = web.StreamResponse(status=real.status, headers=real.headers)
        resp.content_length = max(len(raw), 2)
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await resp.write(raw[: len(raw) // 2])
        if request.transport is not None:
            request.transport.close()
        return resp
