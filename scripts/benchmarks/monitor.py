"""Instruments: event-loop step times, HTTP exchange recording and replay."""

from __future__ import annotations

import asyncio
import asyncio.events
from collections import Counter
from dataclasses import dataclass, field
import gc
import os
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

_ORIGINAL_RUN = asyncio.events.Handle._run  # noqa: SLF001


def _describe(handle: asyncio.Handle) -> str:
    """Name what a loop step ran: the task's coroutine chain, or the callback."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        names: list[str] = []
        coro: Any = task.get_coro()
        while coro is not None and len(names) < 12:
            code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
            if code is None:
                break
            names.append(code.co_qualname)
            coro = getattr(coro, "cr_await", None) or getattr(
                coro, "gi_yieldfrom", None
            )
        return "task " + " > ".join(names)
    return repr(handle)[:200]


def _where(frame: Any) -> str:
    """Name the innermost frames of ours or Home Assistant's (a sampled stack)."""
    names: list[str] = []
    while frame is not None and len(names) < 4:
        path = frame.f_code.co_filename
        if "custom_components" in path or "homeassistant" in path:
            names.append(
                f"{os.path.basename(path)}:{frame.f_code.co_qualname}:{frame.f_lineno}"
            )
        frame = frame.f_back
    return " < ".join(names) or "elsewhere"


@dataclass(slots=True)
class Step:
    """One slow event-loop step."""

    wall: float
    cpu: float
    what: str
    #: Of ``wall``: garbage collections (any generation) on the loop's thread.
    gc: float = 0.0
    #: With sampling: the most frequent places the step was found in.
    samples: list[tuple[str, int]] = field(default_factory=list)

    def text(self) -> str:
        """Describe the step for the log."""
        where = "".join(f"\n      {count} x {place}" for place, count in self.samples)
        return (
            f"slow step {self.wall * 1000:.1f} ms (cpu {self.cpu * 1000:.1f}, "
            f"garbage collection {self.gc * 1000:.1f}): {self.what}{where}"
        )


@dataclass(slots=True)
class LoopMonitor:
    """Times every event-loop step (``Handle._run``) while active.

    Wall time is how long the loop was held; the thread CPU time of the step is
    what our code itself computed. They differ when the loop thread waited for
    the GIL (the recorder thread writing) or for a CPU (a loaded machine).
    """

    threshold: float = 0.005
    active: bool = False
    max_wall: float = 0.0
    max_cpu: float = 0.0
    #: The longest step's CPU less the garbage collections within it.
    max_own: float = 0.0
    total_cpu: float = 0.0
    steps: int = 0
    slow: list[Step] = field(default_factory=list)
    #: Seconds of garbage collection on the installing (loop) thread so far.
    gc_seconds: float = 0.0
    #: Sample the loop thread's stack every millisecond during a step (a
    #: diagnosis of slow steps: MEETDATA_BENCH_SAMPLE=1; it costs CPU itself).
    sample: bool = field(
        default_factory=lambda: os.environ.get("MEETDATA_BENCH_SAMPLE") == "1"
    )

    def install(self) -> None:
        """Patch ``Handle._run`` (all loops of this process); time collections."""
        monitor = self
        perf = time.perf_counter
        thread_time = time.thread_time
        loop_thread = threading.get_ident()
        started = [0.0]

        def _gc(phase: str, info: dict[str, int]) -> None:
            if threading.get_ident() != loop_thread:
                return
            if phase == "start":
                started[0] = perf()
            else:
                monitor.gc_seconds += perf() - started[0]

        gc.callbacks.append(_gc)
        #: The samples of the step running now (None: no step runs).
        running: list[list[str] | None] = [None]

        def _sampler() -> None:
            while True:
                time.sleep(0.001)
                samples = running[0]
                frame = sys._current_frames().get(loop_thread)  # noqa: SLF001
                if samples is not None and frame is not None:
                    samples.append(_where(frame))

        if self.sample:
            threading.Thread(target=_sampler, daemon=True).start()

        def _run(handle: asyncio.Handle) -> None:
            if not monitor.active:
                _ORIGINAL_RUN(handle)
                return
            samples: list[str] = []
            running[0] = samples
            gc0 = monitor.gc_seconds
            cpu0 = thread_time()
            t0 = perf()
            _ORIGINAL_RUN(handle)
            wall = perf() - t0
            used = thread_time() - cpu0
            running[0] = None
            collected = monitor.gc_seconds - gc0
            monitor.steps += 1
            monitor.total_cpu += used
            monitor.max_wall = max(monitor.max_wall, wall)
            monitor.max_cpu = max(monitor.max_cpu, used)
            monitor.max_own = max(monitor.max_own, used - collected)
            if wall >= monitor.threshold or used >= monitor.threshold:
                monitor.slow.append(
                    Step(
                        wall,
                        used,
                        _describe(handle),
                        collected,
                        Counter(samples).most_common(3),
                    )
                )

        asyncio.events.Handle._run = _run  # type: ignore[method-assign,assignment]  # noqa: SLF001

    def start(self) -> None:
        """Start a measurement window."""
        self.max_wall = 0.0
        self.max_cpu = 0.0
        self.max_own = 0.0
        self.total_cpu = 0.0
        self.steps = 0
        self.slow = []
        self.active = True

    def stop(self) -> LoopMonitor:
        """End the window; return self."""
        self.active = False
        return self

    def top(self, count: int = 3) -> list[Step]:
        """Return the steps that computed longest."""
        return sorted(self.slow, key=lambda step: step.cpu, reverse=True)[:count]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request as it went out."""

    method: str
    url: URL
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Recorder:
    """Records the requests a session sends (aiohttp tracing), bodies included."""

    def __init__(self) -> None:
        """Create the trace config."""
        self.active = False
        self.exchanges: list[Exchange] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_headers_sent.append(self._headers)  # type: ignore[arg-type]
        self.trace.on_request_chunk_sent.append(self._chunk)  # type: ignore[arg-type]

    async def _headers(
        self,
        session: Any,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        if not self.active:
            return
        # Headers go out before the body: keep a slot, add the body chunks later.
        ctx.bench_slot = len(self.exchanges)
        self.exchanges.append(
            Exchange(params.method, params.url, tuple(params.headers.items()), b"")
        )

    async def _chunk(
        self,
        session: Any,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestChunkSentParams,
    ) -> None:
        slot = getattr(ctx, "bench_slot", None)
        if not self.active or slot is None:
            return
        old = self.exchanges[slot]
        self.exchanges[slot] = Exchange(
            old.method, old.url, old.headers, old.body + params.chunk
        )

    def start(self) -> None:
        """Start recording (forgets earlier exchanges)."""
        self.exchanges = []
        self.active = True

    def stop(self) -> list[Exchange]:
        """Stop recording; return the exchanges."""
        self.active = False
        return self.exchanges


_SKIP_HEADERS = frozenset({"content-length", "host", "transfer-encoding"})


async def replay(session: aiohttp.ClientSession, exchanges: list[Exchange]) -> int:
    """Send the same requests bare (no parsing) and read every body; return bytes."""
    total = 0
    for exchange in exchanges:
        headers = CIMultiDict(
            (k, v) for k, v in exchange.headers if k.lower() not in _SKIP_HEADERS
        )
        async with session.request(
            exchange.method,
            exchange.url,
            headers=headers,
            data=exchange.body or None,
            allow_redirects=False,
        ) as response:
            total += len(await response.read())
    return total


def cpu() -> float:
    """Return this process's CPU time (all threads)."""
    return time.process_time()
