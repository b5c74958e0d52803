"""The simulated accounts the benchmarks talk to, served from a child process.

The simulators run in their own process so that rendering a 1 MB answer never
shows up as CPU time, GIL contention or an event-loop step of the measured
process. The parent talks to the child over a pipe: it asks for the base URLs
once and for request counters (``counts``) around each measurement.

Every account is built by a function of (now, size) so that both processes
can build the same one: the parent needs the credentials and meter codes, the
child serves the data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import multiprocessing as mp
from multiprocessing.connection import Connection
import sys
from typing import Any

# -- shared account definitions -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Size:
    """How big the accounts are (``--quick`` shrinks them)."""

    meters: int  # meters of the poll accounts (the issue: 10)
    quick: bool


def kenter_connections(count: int, *, prefix: str = "87169400000") -> list[Any]:
    """Return ``count`` Kenter connections, one electricity meter each."""
    from custom_components.meetdata.api.models import MeterKind
    from tests.simulators.kenter import SimConnection, SimMeter

    return [
        SimConnection(
            f"{prefix}{index:07d}",
            f"pass{index:03d}",
            f"Kas {index}",
            f"Westlandseweg {index}",
            "Naaldwijk",
            [SimMeter(f"E00{index:014d}", MeterKind.ELECTRICITY)],
        )
        for index in range(1, count + 1)
    ]


#: Meters of the import account: two per round of (bare, ours, ours, bare),
#: three rounds, and one for the memory pass.
IMPORT_METERS = 13


def kenter_import_connections() -> list[Any]:
    """Return connections whose one meter reports only LVR (one quantity)."""
    from custom_components.meetdata.api.models import MeterKind
    from tests.simulators.kenter import SimConnection, SimMeter

    return [
        SimConnection(
            f"87169500000000{index:04d}",
            f"imp{index:03d}",
            f"Import {index}",
            "Importweg 1",
            "Delft",
            [SimMeter(f"I00{index:014d}", MeterKind.ELECTRICITY, counters=("LVR",))],
        )
        for index in range(1, IMPORT_METERS + 1)
    ]


CEMM_FIVE = {
    "p1": "p1",
    "p1-gas": "gas",
    "s01": "solar_energy",
    "s02": "heat_pump",
    "s03": "solar_energy",
}


def cemm_uids(count: int) -> list[str]:
    """Return the uids of ``count`` CEMM devices."""
    return [f"AA-BB-CC-DD-EE-{index:02X}" for index in range(1, count + 1)]


def wattworx_eans(count: int, offset: int = 0) -> list[str]:
    """Return ``count`` Wattworx electricity EANs (18 digits), after ``offset``."""
    return [
        f"8712345000000{index:05d}" for index in range(offset + 1, offset + count + 1)
    ]


def dtl_meters(count: int) -> list[tuple[str, str]]:
    """Return (customer EAN, meter EAN) of ``count`` transfer-point meters."""
    from tests.simulators.dtl import with_check_digit

    return [
        (
            with_check_digit(f"871687140001{index:05d}"),
            with_check_digit(f"871687140009{index:05d}"),
        )
        for index in range(1, count + 1)
    ]


def fluvius_eans(count: int) -> list[str]:
    """Return ``count`` sandbox EANs: digital electricity, offtake+injection, 15'."""
    return [f"541440110000000{index:03d}" for index in range(1, count + 1)]


# Digital electricity, offtake only, quarter-hour detail.
FLUVIUS_BACKFILL_EAN = "541440010000000900"


def _kenter(now: datetime, connections: list[Any]) -> Any:
    from tests.simulators.kenter import KenterSimulator

    return KenterSimulator(connections, now=now)


def _cemm(now: datetime, uids: list[str], aliases: dict[str, str]) -> Any:
    from tests.simulators.cemm import CemmSimulator

    return CemmSimulator(
        devices=dict.fromkeys(uids, aliases),
        now=now,
        history_start=(now - timedelta(days=400)).date(),
    )


def _wattworx(now: datetime, count: int | None, offset: int = 0) -> Any:
    from tests.simulators import wattworx as ww

    sim = ww.WattworxSimulator(now=now)
    if count is None:
        return sim
    template = sim.devices[ww.EAN_POWER]
    sim.devices = {}
    for index, ean in enumerate(wattworx_eans(count, offset), start=offset + 1):
        sim.devices[ean] = ww.SimDevice(
            20000 + index,
            ean,
            "KVBE",
            f"BENCH{index:05d}",
            template.address,
            template.zip,
            template.city,
            template.rnb,
            template.client_id,
            template.authorisation,
            template.authorisation_status,
            date(2024, 1, 1),
            solar=index % 2 == 0,
        )
    return sim


def _dtl(now: datetime, count: int | None) -> Any:
    from tests.simulators.dtl import DtlSimulator, SimMeter

    sim = DtlSimulator(now=now)
    if count is not None:
        sim.meters = [
            SimMeter(customer, meter, "overdrachtspunt", index, 900, 150)
            for index, (customer, meter) in enumerate(dtl_meters(count), start=1)
        ]
    return sim


def _fluvius(now: datetime, eans: list[str] | None, since: datetime | None) -> Any:
    from tests.simulators.fluvius import DIGITAL_EAN, FluviusSimulator, SimMandate

    sim = FluviusSimulator(now=now)
    if eans is None:
        # The demo's digital meter: daily and quarter-hour mandates, one EAN
        # (the whole demo account is ~47 000 rows per 180-day window).
        sim.mandates = [m for m in sim.mandates if m.ean == DIGITAL_EAN]
    else:
        sim.mandates = [
            SimMandate(
                ean,
                data_period_from=since,
                expiration=now + timedelta(days=365),
            )
            for ean in eans
        ]
    return sim


def build_sims(now: datetime, size: Size) -> dict[str, Callable[[], Any]]:
    """Return a builder per simulated account, by name."""
    n = size.meters
    back = now - timedelta(days=3 * 366 + 10)
    return {
        "kenter_poll": lambda: _kenter(now, kenter_connections(n)),
        "kenter_refresh": lambda: _kenter(
            now, kenter_connections(1, prefix="87169600000")
        ),
        "kenter_import": lambda: _kenter(now, kenter_import_connections()),
        "cemm_five": lambda: _cemm(now, cemm_uids(1), CEMM_FIVE),
        "cemm_poll": lambda: _cemm(now, cemm_uids(max(1, n // 5)), CEMM_FIVE),
        "cemm_refresh": lambda: _cemm(
            now, cemm_uids(1), {"p1": "p1", "p1-gas": "gas", "s01": "solar_energy"}
        ),
        "wattworx_poll": lambda: _wattworx(now, n),
        "wattworx_refresh": lambda: _wattworx(now, None),
        "dtl_poll": lambda: _dtl(now, n),
        "dtl_refresh": lambda: _dtl(now, None),
        "fluvius_poll": lambda: _fluvius(
            now, fluvius_eans(n), now - timedelta(days=30)
        ),
        "fluvius_backfill": lambda: _fluvius(now, [FLUVIUS_BACKFILL_EAN], back),
        "fluvius_refresh": lambda: _fluvius(now, None, None),
    } | large_sims(now, size)


# -- the large account (scripts/bench --only large) ---------------------------------

#: Days of quarter-hour history each meter of the large account imports.
LARGE_DAYS = 90
#: Simulated round-trip time of the 50-mandate Fluvius account (seconds).
FLUVIUS_LATENCY = 0.05


@dataclass(frozen=True, slots=True)
class LargeAccount:
    """Half Kenter connections, half Wattworx EANs; distinct ids per account."""

    name: str
    meters: int
    offset: int

    @property
    def kenter(self) -> int:
        """Return the number of Kenter connections."""
        return self.meters // 2

    @property
    def wattworx(self) -> int:
        """Return the number of Wattworx EANs."""
        return self.meters - self.meters // 2


def large_accounts(size: Size) -> list[LargeAccount]:
    """Return the large account (4 meters with ``--quick``)."""
    return [LargeAccount("large", 4 if size.quick else 50, 100)]


def large_kenter_connections(account: LargeAccount) -> list[Any]:
    """Return the Kenter connections of a large account."""
    return kenter_connections(account.kenter + account.offset, prefix="87169800000")[
        account.offset :
    ]


def large_fluvius_mandates(size: Size) -> int:
    """Return the number of mandates of the large Fluvius account."""
    return 4 if size.quick else 50


def large_fluvius_eans(size: Size) -> list[str]:
    """Return the sandbox EANs (digital electricity, 15') of the large account."""
    count = large_fluvius_mandates(size)
    return [f"541440110000000{index:03d}" for index in range(101, 101 + count)]


def _latency(delay: float) -> Any:
    """Return a middleware that delays every answer (a round trip to Fluvius)."""
    from aiohttp import web

    @web.middleware
    async def latency(request: web.Request, handler: Any) -> web.StreamResponse:
        await asyncio.sleep(delay)
        response: web.StreamResponse = await handler(request)
        return response

    return latency


def large_sims(now: datetime, size: Size) -> dict[str, Callable[[], Any]]:
    """Return the simulators of the large accounts, by name."""
    sims: dict[str, Callable[[], Any]] = {}
    for account in large_accounts(size):
        sims[f"kenter_{account.name}"] = lambda a=account: _kenter(
            now, large_kenter_connections(a)
        )
        sims[f"wattworx_{account.name}"] = lambda a=account: _wattworx(
            now, a.wattworx, a.offset
        )
    sims["fluvius_large"] = lambda: _fluvius(
        now,
        large_fluvius_eans(size),
        now - timedelta(days=LARGE_DAYS),
    )
    return sims


#: Simulators that answer after FLUVIUS_LATENCY.
SLOW = frozenset({"fluvius_large"})


# -- the child process ------------------------------------------------------------

#: Accounts whose answers are cached by request: a dry run fills the cache, so
#: during the measurement the simulator does not render (its CPU would compete
#: with the recorder's on a 2-vCPU machine and inflate both).
CACHED = frozenset({"kenter_import"})


def _answer_cache() -> Any:
    """Return a middleware answering a repeated request from a cache."""
    from aiohttp import web

    answers: dict[tuple[str, str, bytes], tuple[int, bytes, str]] = {}

    @web.middleware
    async def cache(request: web.Request, handler: Any) -> web.StreamResponse:
        key = (request.method, request.path_qs, await request.read())
        if (hit := answers.get(key)) is not None:
            return web.Response(status=hit[0], body=hit[1], content_type=hit[2])
        response: web.StreamResponse = await handler(request)
        if isinstance(response, web.Response) and response.status == 200:
            body = response.body
            if isinstance(body, bytes):
                answers[key] = (response.status, body, response.content_type)
        return response

    return cache


def _counts(sim: Any) -> dict[str, Any]:
    """Return the request counters of any simulator."""
    by: dict[str, int] = {}
    for attr in ("operation_counts", "request_count"):
        counter = getattr(sim, attr, None)
        if isinstance(counter, dict) and counter:
            by.update({str(k): int(v) for k, v in counter.items()})
            break
    return {"total": len(sim.requests), "by": by}


def _reset(sim: Any) -> None:
    sim.requests.clear()
    for attr in ("operation_counts", "request_count", "request_counts"):
        counter = getattr(sim, attr, None)
        if isinstance(counter, dict):
            counter.clear()


async def _child_main(conn: Connection, now: datetime, size: Size) -> None:
    from tests.simulators.server import start_app

    sims: dict[str, Any] = {}
    urls: dict[str, str] = {}
    runners = []
    for name, build in build_sims(now, size).items():
        try:
            sim = build()
            app = sim.build_app()
            if name in CACHED:
                app.middlewares.append(_answer_cache())
            if name in SLOW:
                app.middlewares.append(_latency(FLUVIUS_LATENCY))
            runner, url = await start_app(app)
        except Exception as err:  # noqa: BLE001 - reported to the parent
            urls[name] = f"error: {type(err).__name__}: {err}"
            continue
        sims[name] = sim
        urls[name] = url
        runners.append(runner)
    conn.send(urls)
    loop = asyncio.get_running_loop()
    while True:
        command, name = await loop.run_in_executor(None, conn.recv)
        if command == "stop":
            break
        if command == "counts":
            conn.send(_counts(sims[name]))
        elif command == "reset":
            _reset(sims[name])
            conn.send(None)
    for runner in runners:
        await runner.cleanup()
    conn.send(None)


def child(conn: Connection, root: str, now: datetime, size: Size) -> None:
    """Entry point of the simulator process."""
    if root not in sys.path:
        sys.path.insert(0, root)
    asyncio.run(_child_main(conn, now, size))


class SimProcess:
    """The parent's handle on the simulator process."""

    def __init__(self, root: str, now: datetime, size: Size) -> None:
        """Start the child and wait for its base URLs."""
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(
            target=child, args=(child_conn, root, now, size), daemon=True
        )
        self._proc.start()
        self.urls: dict[str, str] = self._conn.recv()

    def available(self, name: str) -> bool:
        """Return whether a simulator is being served."""
        return not self.urls.get(name, "error").startswith("error")

    def counts(self, name: str) -> dict[str, Any]:
        """Return the request counters of a simulator."""
        self._conn.send(("counts", name))
        result: dict[str, Any] = self._conn.recv()
        return result

    def reset(self, name: str) -> None:
        """Forget a simulator's request log."""
        self._conn.send(("reset", name))
        self._conn.recv()

    def stop(self) -> None:
        """Stop the child."""
        try:
            self._conn.send(("stop", ""))
            self._conn.recv()
        except (EOFError, OSError):
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()


def bench_now() -> datetime:
    """Return the shared clock: the current hour, UTC."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)
