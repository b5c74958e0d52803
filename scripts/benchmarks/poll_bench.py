"""requests_per_poll and poll_cpu: what one poll costs, counted at the simulators."""

from __future__ import annotations

from datetime import datetime, timedelta
import time
from typing import Any

import aiohttp

from .clients import PROVIDERS, build_client, history_defaults
from .figures import Target, emit, log, median, skipped
from .monitor import Recorder, cpu, replay
from .sims import SimProcess, Size


def _import_error(provider: str) -> str | None:
    """Return why a provider's client cannot be imported (None: it can)."""
    module = {
        "kenter": "custom_components.meetdata.providers.kenter.client",
        "cemm": "custom_components.meetdata.providers.cemm.client.client",
        "wattworx": "custom_components.meetdata.providers.wattworx.client",
        "dtl": "custom_components.meetdata.providers.dtl.client.client",
        "fluvius": "custom_components.meetdata.providers.fluvius.client",
    }[provider]
    try:
        __import__(module)
    except ImportError as err:
        return f"{provider} client not importable ({err})"
    return None


async def requests_per_poll(sims: SimProcess, now: datetime, size: Size) -> None:
    """Count the requests of polls (and the Fluvius backfill) at the simulators."""
    async with aiohttp.ClientSession() as session:
        await _kenter_requests(sims, session, now, size)
        await _cemm_requests(sims, session, now, size)
        for provider in ("wattworx", "dtl", "fluvius"):
            await _plain_requests(provider, sims, session, now, size)
        await _fluvius_backfill(sims, session, now, size)


async def _kenter_requests(
    sims: SimProcess, session: aiohttp.ClientSession, now: datetime, size: Size
) -> None:
    name = "requests_per_poll.kenter"
    if reason := _import_error("kenter"):
        skipped(name, "requests", reason, Target("value", 1))
        return
    client = build_client(
        "kenter", "kenter_poll", session, sims.urls["kenter_poll"], now, size.meters
    )
    meters = await client.async_get_meters()
    sims.reset("kenter_poll")
    await client.async_get_latest(meters)
    counts = sims.counts("kenter_poll")
    emit(
        name,
        counts["total"],
        "requests",
        baseline=1,
        target=Target("value", 1),
        note=f"account with {len(client.connections)} connections ({len(meters)} meters); "
        "baseline: the API minimum (one getLatestMeasurement carries all)",
    )


async def _cemm_requests(
    sims: SimProcess, session: aiohttp.ClientSession, now: datetime, size: Size
) -> None:
    """CEMM with 5 aliases: the first poll, then polls over more than an hour."""
    name = "requests_per_poll.cemm"
    if reason := _import_error("cemm"):
        skipped(name, "requests", reason, Target("value", 6))
        return
    client = build_client("cemm", "cemm_five", session, sims.urls["cemm_five"], now, 5)
    meters = await client.async_get_meters()
    aliases = sum(1 for m in meters if m.via)
    clock = time.monotonic()
    client._monotonic = lambda: clock  # noqa: SLF001 - simulated passing of time
    per_poll: list[int] = []
    polls = 6 if size.quick else 70  # one a minute, past the hourly register refresh
    for index in range(polls):
        sims.reset("cemm_five")
        client._monotonic = lambda index=index: clock + 60 * index  # noqa: SLF001
        await client.async_get_latest(meters)
        per_poll.append(sims.counts("cemm_five")["total"])
    first, steady = per_poll[0], per_poll[1:]
    emit(
        name,
        max(steady),
        "requests",
        baseline=aliases,
        target=Target("value", 6),
        note=f"{aliases} aliases; max over {len(steady)} polls a minute apart "
        f"(incl. the hourly S0 register refresh), steady polls {min(steady)}; "
        f"the first poll after start-up makes {first}; baseline: one realtime "
        "request per alias",
    )
    emit(
        "requests_per_poll.cemm_first",
        first,
        "requests",
        baseline=aliases,
        note="the first poll after start-up also reads every S0 register (totals)",
    )


async def _plain_requests(
    provider: str,
    sims: SimProcess,
    session: aiohttp.ClientSession,
    now: datetime,
    size: Size,
) -> None:
    """Wattworx, DTL, Fluvius: one steady-state poll of the 10-meter account.

    Wattworx and DTL list each meter's last data date: a poll with no new
    data is one request for the whole account (issue 18).
    """
    name = f"requests_per_poll.{provider}"
    account = f"{provider}_poll"
    target = None if provider == "fluvius" else Target("value", 1)
    if reason := _import_error(provider):
        skipped(name, "requests", reason, target)
        return
    client = build_client(
        provider, account, session, sims.urls[account], now, size.meters
    )
    meters = await client.async_get_meters()
    polled = [m for m in meters if _polled(m)]
    await client.async_get_latest(polled)
    sims.reset(account)
    await client.async_get_latest(polled)
    counts = sims.counts(account)
    emit(
        name,
        counts["total"],
        "requests",
        baseline=len(polled),
        target=target,
        note=f"{len(polled)} meters, steady-state poll with no new data"
        + ("; no target in the issue" if target is None else "")
        + "; baseline: one request per meter",
    )


def _polled(meter: Any) -> bool:
    """Return whether a meter has readings (not a gateway/client node)."""
    from custom_components.meetdata.api.models import MeterKind

    return meter.kind is not MeterKind.GATEWAY


async def _fluvius_backfill(
    sims: SimProcess, session: aiohttp.ClientSession, now: datetime, size: Size
) -> None:
    """Backfill three years of one EAN at quarter-hour detail, in importer windows."""
    name = "requests_per_poll.fluvius_backfill"
    if reason := _import_error("fluvius"):
        skipped(name, "requests", reason, Target("value", 7))
        skipped(
            "requests_per_poll.fluvius_backfill_token",
            "requests",
            reason,
            Target("value", 1),
        )
        return
    from custom_components.meetdata.statistics_rows import _hour_of, _utc

    url = sims.urls["fluvius_backfill"]
    meters = await build_client(
        "fluvius", "fluvius_backfill", session, url, now, 1
    ).async_get_meters()
    meter = next(m for m in meters if not m.via)
    defaults = history_defaults("fluvius")
    depth = timedelta(days=30 if size.quick else 3 * 365 + 1)
    # A fresh client: its token request belongs to the backfill.
    client = build_client("fluvius", "fluvius_backfill", session, url, now, 1)
    sims.reset("fluvius_backfill")
    # The importer's windows (StatisticsImporter.async_import_period).
    start = _utc(
        _hour_of(max(now - depth, client.earliest_history(meter) or now - depth))
    )
    intervals = 0
    window_start = start
    while window_start < now:
        window_end = min(window_start + defaults.window, now)
        for series in await client.async_get_history(meter, window_start, window_end):
            intervals += len(series.intervals)
        window_start = window_end
    by = sims.counts("fluvius_backfill")["by"]
    windows = -(-(now - start) // timedelta(days=185))
    emit(
        name,
        by.get("energy", 0),
        "requests",
        baseline=windows,
        target=Target("value", 7),
        note=f"{(now - start).days} days of one EAN at quarter-hour detail in "
        f"{defaults.window.days}-day importer windows "
        f"({'spec' if defaults.from_spec else 'fallback'}), {intervals} intervals; "
        "baseline: the API minimum (185-day requests)",
    )
    emit(
        "requests_per_poll.fluvius_backfill_token",
        by.get("token", 0),
        "requests",
        baseline=1,
        target=Target("value", 1),
    )


async def poll_cpu(sims: SimProcess, now: datetime, size: Size) -> None:
    """CPU of one steady-state poll of 10 meters vs replaying its HTTP bare."""
    recorder = Recorder()
    repeats = 3 if size.quick else 25
    async with aiohttp.ClientSession(trace_configs=[recorder.trace]) as session:
        for provider in PROVIDERS:
            name = f"poll_cpu.{provider}"
            if reason := _import_error(provider):
                skipped(name, "ms", reason, Target("ratio", 3))
                continue
            account = f"{provider}_poll"
            client = build_client(
                provider, account, session, sims.urls[account], now, size.meters
            )
            meters = [m for m in await client.async_get_meters() if _polled(m)]
            for _ in range(2):  # steady state: codecs loaded, caches warm
                await client.async_get_latest(meters)
            recorder.start()
            await client.async_get_latest(meters)
            exchanges = recorder.stop()
            await replay(session, exchanges)
            ours: list[float] = []
            bare: list[float] = []
            for _ in range(repeats):
                start = cpu()
                await client.async_get_latest(meters)
                ours.append(cpu() - start)
                start = cpu()
                await replay(session, exchanges)
                bare.append(cpu() - start)
            log(
                f"{name}: {len(exchanges)} requests, ours {median(ours) * 1000:.2f} ms, bare {median(bare) * 1000:.2f} ms"
            )
            emit(
                name,
                median(ours) * 1000,
                "ms",
                baseline=median(bare) * 1000,
                target=Target("ratio", 3),
                note=f"{len(meters)} meters, {len(exchanges)} requests per poll; "
                "process CPU, median of "
                f"{repeats}; baseline: the same requests replayed with "
                "session.request + read()",
            )
