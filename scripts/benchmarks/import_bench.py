"""statistics_import, backfill_peak_memory and loop_block_max (importer and refreshes)."""

from __future__ import annotations

from datetime import datetime, timedelta
import gc
import time
import tracemalloc
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant

from .clients import PROVIDERS, build_client, history_defaults
from .figures import Target, emit, log, skipped
from .hass import QueueProbe, RecorderJobs, async_recorder_idle, hourly_rows
from .monitor import LoopMonitor
from .sims import SimProcess, Size, kenter_import_connections

LOOP_TARGET = Target("value", 20, "ms")


def _source_rows(now: datetime, start: datetime, meter_code: str) -> list[Any]:
    """Return the hourly rows of a meter's LVR source, precomputed (not timed)."""
    from custom_components.meetdata.statistics import hourly_amounts  # noqa: PLC0415
    from tests.simulators.kenter import KenterSimulator  # noqa: PLC0415

    sim = KenterSimulator(kenter_import_connections(), now=now)
    intervals = sim.source_intervals(meter_code, "LVR", start, now)
    return hourly_rows(hourly_amounts(intervals))


async def statistics_import(
    hass: HomeAssistant,
    sims: SimProcess,
    now: datetime,
    size: Size,
    monitor: LoopMonitor,
    jobs: RecorderJobs,
) -> dict[str, float]:
    """Three years of 15-minute data of one quantity, ours vs a bare import.

    Ours: StatisticsImporter.async_import_meter fed by the Kenter client over
    HTTP from the simulator (31-day getMeterData windows, parse included) until
    the recorder has committed every row. Bare: one async_add_external_statistics
    of the same hourly rows, precomputed, until committed.
    Returns the loop-block figures for the overall loop_block_max.
    """
    from homeassistant.components.recorder.models import (  # noqa: PLC0415
        StatisticMeanType,
    )
    from homeassistant.components.recorder.statistics import (  # noqa: PLC0415
        async_add_external_statistics,
    )

    from custom_components.meetdata.api.models import Quantity  # noqa: PLC0415
    from custom_components.meetdata.statistics import (  # noqa: PLC0415
        StatisticsImporter,
        statistic_id,
    )

    days = 3 if size.quick else 3 * 365 + 1
    start = now - timedelta(days=days)
    conn_a, conn_b = kenter_import_connections()
    code_a = conn_a.meters[0].code
    rows = _source_rows(now, start, code_a)
    log(f"statistics_import: {days} days, {len(rows)} hourly rows precomputed")

    # Bare: one call with every row, then wait until the recorder ran it.
    bare_id = "meetdata:bench_bare_energy_import"
    metadata: Any = {
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": "bench bare",
        "source": "meetdata",
        "statistic_id": bare_id,
        "unit_of_measurement": "kWh",
    }
    from custom_components.meetdata.statistics import (  # noqa: PLC0415
        _SUPPORTS_UNIT_CLASS,
    )

    if _SUPPORTS_UNIT_CLASS:
        metadata["unit_class"] = "energy"
    probe = QueueProbe(hass)
    gc.collect()
    probe.start()
    t0, c0 = time.perf_counter(), time.process_time()
    async_add_external_statistics(hass, metadata, rows)
    await async_recorder_idle(hass)
    bare_seconds = time.perf_counter() - t0
    bare_cpu = time.process_time() - c0
    bare_wait = await probe.stop()
    bare_jobs = jobs.of([bare_id])
    bare_job_max = max(job.seconds for job in bare_jobs)
    log(f"bare: {bare_seconds:.1f} s, CPU {bare_cpu:.1f} s, {len(bare_jobs)} job(s)")

    # Ours.
    async with aiohttp.ClientSession() as session:
        url = sims.urls["kenter_import"]
        client = build_client("kenter", "kenter_import", session, url, now, 1)
        meters = {m.serial: m for m in await client.async_get_meters()}
        meter = meters[code_a]
        ours_id = statistic_id(meter, Quantity.ENERGY_IMPORT)
        importer = StatisticsImporter(hass, client)
        gc.collect()
        probe.start()
        monitor.start()
        t0, c0 = time.perf_counter(), time.process_time()
        await importer.async_import_meter(
            meter,
            since=start,
            now=now,
            overlap=timedelta(days=2),
            window=timedelta(days=31),
        )
        monitor.stop()
        await async_recorder_idle(hass)
        ours_seconds = time.perf_counter() - t0
        ours_cpu = time.process_time() - c0
        ours_wait = await probe.stop()
        ours_jobs = jobs.of([ours_id])
        log(
            f"ours: {ours_seconds:.1f} s, CPU {ours_cpu:.1f} s, {importer.rows_written} rows in "
            f"{len(ours_jobs)} jobs (recorder CPU {sum(j.cpu for j in ours_jobs):.1f} s, "
            f"bare job {sum(j.cpu for j in bare_jobs):.1f} s); loop steps {monitor.steps}"
        )
        for step in monitor.top():
            log(f"  slow step {step.wall * 1000:.1f} ms (cpu {step.cpu * 1000:.1f}): {step.what}")
        if jobs.profiles:
            import pstats  # noqa: PLC0415
            import sys  # noqa: PLC0415

            for stat, prof in jobs.profiles.items():
                print(f"--- recorder profile {stat}", file=sys.stderr)  # noqa: T201
                pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        loop_cpu = monitor.max_cpu
        loop_wall = monitor.max_wall

        emit(
            "statistics_import",
            ours_cpu,
            "s",
            baseline=bare_cpu,
            target=Target("ratio", 1.2),
            note=f"process CPU time: {days} days of 15-min LVR ({len(rows)} hours) "
            "through StatisticsImporter.async_import_meter fed by the Kenter client "
            "over HTTP (31-day windows, parse included) until committed; baseline: "
            "one async_add_external_statistics of the same rows, precomputed",
        )
        emit(
            "statistics_import.wall",
            ours_seconds,
            "s",
            baseline=bare_seconds,
            target=Target("ratio", 1.2),
            note="the same, elapsed time (includes waiting for the simulator's "
            "answers and for a CPU on a loaded machine)",
        )
        emit(
            "statistics_import.recorder_job_max",
            max((job.seconds for job in ours_jobs), default=0.0),
            "s",
            baseline=bare_job_max,
            target=Target("value", 1, "s"),
            note=f"longest ImportStatisticsTask of ours ({len(ours_jobs)} jobs, "
            f"{max((j.rows for j in ours_jobs), default=0)} rows max, longest "
            f"recorder-thread CPU {max((j.cpu for j in ours_jobs), default=0.0):.2f} s); "
            "baseline: the bare single job",
        )
        emit(
            "statistics_import.recorder_wait_max",
            ours_wait,
            "s",
            baseline=bare_wait,
            target=Target("value", 1, "s"),
            note="longest wait of a task queued on the recorder during the import "
            "(what a state write would wait); target ours, from the 1 s job limit",
        )

        # Memory: the same import of the second meter under tracemalloc.
        meter_b = meters[conn_b.meters[0].code]
        importer = StatisticsImporter(hass, client)
        gc.collect()
        tracemalloc.start()
        tracemalloc.reset_peak()
        base_mem = tracemalloc.get_traced_memory()[0]
        await importer.async_import_meter(
            meter_b,
            since=start,
            now=now,
            overlap=timedelta(days=2),
            window=timedelta(days=31),
        )
        await async_recorder_idle(hass)
        peak = tracemalloc.get_traced_memory()[1] - base_mem
        tracemalloc.stop()
    # Baseline: what holding the precomputed rows of the bare import costs.
    tracemalloc.start()
    rows_b = _source_rows(now, start, conn_b.meters[0].code)
    rows_mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del rows_b
    emit(
        "backfill_peak_memory",
        peak / 2**20,
        "MB",
        baseline=rows_mem / 2**20,
        target=Target("value", 64, "MB"),
        note="tracemalloc peak (all threads, recorder included) during the same "
        "import of a second meter; baseline: memory of the precomputed hourly "
        "rows (and their source intervals) alone",
    )
    return {"statistics_import": loop_cpu, "statistics_import_wall": loop_wall}


async def first_refreshes(
    hass: HomeAssistant, sims: SimProcess, now: datetime, size: Size, monitor: LoopMonitor
) -> dict[str, float]:
    """A first refresh of each provider's demo account: meters, latest, one history window."""
    from custom_components.meetdata.api.models import MeterKind  # noqa: PLC0415
    from custom_components.meetdata.statistics import StatisticsImporter  # noqa: PLC0415

    results: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for provider in PROVIDERS:
            name = f"loop_block_max.{provider}"
            account = f"{provider}_refresh"
            try:
                client = build_client(provider, account, session, sims.urls[account], now, 1)
            except ImportError as err:
                skipped(name, "ms", f"{provider} client not importable ({err})", LOOP_TARGET)
                continue
            defaults = history_defaults(provider)
            depth = min(timedelta(days=defaults.days), defaults.window)
            if size.quick:
                depth = min(depth, timedelta(days=2))
            importer = StatisticsImporter(hass, client)
            gc.collect()
            monitor.start()
            t0 = time.perf_counter()
            meters = await client.async_get_meters()
            await client.async_get_latest(
                [m for m in meters if m.kind is not MeterKind.GATEWAY]
            )
            for meter in meters:
                if meter.kind is MeterKind.GATEWAY:
                    continue
                await importer.async_import_meter(
                    meter,
                    since=now - depth,
                    now=now,
                    overlap=defaults.overlap,
                    window=defaults.window,
                )
            monitor.stop()
            seconds = time.perf_counter() - t0
            await async_recorder_idle(hass)
            log(
                f"{name}: {seconds:.1f} s, {len(meters)} meters, "
                f"{importer.rows_written} rows, {monitor.steps} steps"
            )
            for step in monitor.top():
                log(f"  slow step {step.wall * 1000:.1f} ms (cpu {step.cpu * 1000:.1f}): {step.what}")
            results[provider] = monitor.max_cpu
            results[f"{provider}_wall"] = monitor.max_wall
            emit(
                name,
                monitor.max_cpu * 1000,
                "ms",
                target=LOOP_TARGET,
                note=f"first refresh of the demo account: meters, latest, "
                f"{depth.days} days of history in {defaults.window.days}-day "
                f"windows ({len(meters)} meters, {importer.rows_written} rows); "
                f"thread CPU of the longest step; its wall max {monitor.max_wall * 1000:.1f} ms",
            )
    return results
