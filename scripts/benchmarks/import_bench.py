"""statistics_import, backfill_peak_memory and loop_block_max (importer and refreshes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import gc
import time
import tracemalloc
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant

from .clients import PROVIDERS, build_client, history_defaults
from .figures import Target, emit, log, median, skipped
from .hass import Job, QueueProbe, RecorderJobs, async_recorder_idle, hourly_rows
from .monitor import LoopMonitor
from .sims import SimProcess, Size, kenter_import_connections

LOOP_TARGET = Target("value", 20, "ms")
#: Rounds of (bare, ours, ours, bare) in a full run.
IMPORT_ROUNDS = 3


@dataclass(slots=True)
class Run:
    """One import: elapsed and process CPU seconds, rows, recorder jobs."""

    seconds: float
    cpu: float
    rows: int
    wait: float = 0.0
    jobs: list[Job] = field(default_factory=list)
    loop_cpu: float = 0.0
    loop_wall: float = 0.0

    def text(self) -> str:
        """Describe the run for the log."""
        return (
            f"{self.seconds:.1f} s, CPU {self.cpu:.1f} s, {self.rows} rows in "
            f"{len(self.jobs)} jobs (recorder CPU {sum(j.cpu for j in self.jobs):.1f} s)"
        )


def _runs(runs: list[Run]) -> str:
    """Return the CPU seconds of each run, for the note."""
    return "/".join(f"{run.cpu:.1f}" for run in runs)


def _profiles(jobs: RecorderJobs) -> None:
    """Print the recorder profiles (BENCH_PROFILE_RECORDER=1) to stderr."""
    import pstats
    import sys

    for stat, prof in jobs.profiles.items():
        print(f"--- recorder profile {stat}", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)


#: The fixed import price of the runs with costs (EUR/kWh).
BENCH_PRICE = 0.25


def _source_rows(now: datetime, start: datetime, meter_code: str) -> list[Any]:
    """Return the hourly rows of a meter's LVR source, precomputed (not timed)."""
    from custom_components.meetdata.statistics_rows import hourly_amounts
    from tests.simulators.kenter import KenterSimulator

    sim = KenterSimulator(kenter_import_connections(), now=now)
    intervals = sim.source_intervals(meter_code, "LVR", start, now)
    return hourly_rows(hourly_amounts(intervals))


def _bare_statistics(
    now: datetime, start: datetime, meter_code: str, *, costs: bool
) -> list[tuple[str, str, bool, list[Any]]]:
    """Return what our importer writes for a meter, precomputed (not timed).

    (quantity, unit, is_mean, rows): the energy, the quarter-hour power derived
    from it and, with ``costs``, the cost at ``BENCH_PRICE``.
    """
    from custom_components.meetdata.api.capacity import quarter_hour_powers
    from custom_components.meetdata.api.models import Interval
    from custom_components.meetdata.statistics_rows import (
        _hour_of,
        _mean_rows,
        hourly_amounts,
    )
    from tests.simulators.kenter import KenterSimulator

    sim = KenterSimulator(kenter_import_connections(), now=now)
    intervals = [
        Interval(item.start, item.end, item.value)
        for item in sim.source_intervals(meter_code, "LVR", start, now)
    ]
    hours = hourly_amounts(intervals)
    result: list[tuple[str, str, bool, list[Any]]] = [
        ("energy_import", "kWh", False, hourly_rows(hours)),
        (
            "quarter_hour_power",
            "kW",
            True,
            _mean_rows(
                quarter_hour_powers(intervals),
                _hour_of(start),
                _hour_of(now) + 3600,
            ),
        ),
    ]
    if costs:
        result.append(
            (
                "energy_import_cost",
                "EUR",
                False,
                hourly_rows({h: v * BENCH_PRICE for h, v in hours.items()}),
            )
        )
    return result


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
    from homeassistant.components.recorder.models import StatisticMeanType
    from homeassistant.components.recorder.statistics import (
        async_add_external_statistics,
    )

    from custom_components.meetdata.api.models import Quantity
    from custom_components.meetdata.costs import CostPricer
    from custom_components.meetdata.prices import PriceKind, PriceSetting, PriceSource
    from custom_components.meetdata.statistics import StatisticsImporter
    from custom_components.meetdata.statistics_rows import statistic_id

    days = 3 if size.quick else 3 * 365 + 1
    start = now - timedelta(days=days)
    *conn_ours, conn_b = kenter_import_connections()
    rounds = 1 if size.quick else IMPORT_ROUNDS
    # Half the meters without costs, half with a fixed import price.
    codes = [conn.meters[0].code for conn in conn_ours[: 4 * rounds]]
    from custom_components.meetdata.statistics_rows import _SUPPORTS_UNIT_CLASS

    probe = QueueProbe(hass)

    async def bare(index: int, meter_code: str, costs: bool) -> Run:
        """Write what ours writes, one async_add_external_statistics per statistic."""
        statistics = _bare_statistics(now, start, meter_code, costs=costs)
        ids: list[str] = []
        gc.collect()
        probe.start()
        t0, c0 = time.perf_counter(), time.process_time()
        for quantity, unit, is_mean, rows in statistics:
            stat_id = f"meetdata:bench_bare_{index}_{int(costs)}_{quantity}"
            metadata: Any = {
                "mean_type": StatisticMeanType.ARITHMETIC
                if is_mean
                else StatisticMeanType.NONE,
                "has_sum": not is_mean,
                "name": f"bench bare {index} {quantity}",
                "source": "meetdata",
                "statistic_id": stat_id,
                "unit_of_measurement": unit,
            }
            if _SUPPORTS_UNIT_CLASS:
                metadata["unit_class"] = {"kWh": "energy", "kW": "power"}.get(unit)
            async_add_external_statistics(hass, metadata, rows)
            ids.append(stat_id)
        await async_recorder_idle(hass)
        run = Run(
            time.perf_counter() - t0,
            time.process_time() - c0,
            sum(len(rows) for *_, rows in statistics),
        )
        run.wait = await probe.stop()
        run.jobs = jobs.of(ids)
        log(f"bare {index}{' with costs' if costs else ''}: {run.text()}")
        return run

    async def ours(meter: Any, costs: bool) -> Run:
        """Our importer, fed over HTTP, until the recorder committed every row."""
        settings = (
            [PriceSetting(PriceKind.IMPORT, PriceSource.FIXED, price=BENCH_PRICE)]
            if costs
            else []
        )
        importer = StatisticsImporter(hass, client, pricer=CostPricer(hass, settings))
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
        run = Run(
            time.perf_counter() - t0, time.process_time() - c0, importer.rows_written
        )
        run.wait = await probe.stop()
        run.jobs = jobs.of(
            [
                statistic_id(meter, quantity)
                for quantity in (
                    Quantity.ENERGY_IMPORT,
                    Quantity.QUARTER_HOUR_POWER,
                    Quantity.ENERGY_IMPORT_COST,
                )
            ]
        )
        run.loop_cpu, run.loop_wall = monitor.max_cpu, monitor.max_wall
        log(
            f"ours {meter.serial}{' with costs' if costs else ''}: {run.text()}; "
            f"{monitor.steps} loop steps, "
            f"loop CPU {monitor.total_cpu:.2f} s"
        )
        for step in monitor.top():
            log(f"  {step.text()}")
        return run

    async with aiohttp.ClientSession() as session:
        client = build_client(
            "kenter", "kenter_import", session, sims.urls["kenter_import"], now, 1
        )
        meters = {m.serial: m for m in await client.async_get_meters()}
        # A dry run of the importer's requests fills the simulator's answer cache.
        from custom_components.meetdata.statistics_rows import _hour_of, _utc

        for code in codes:
            cursor = _utc(_hour_of(start))
            while cursor < now:
                stop = min(cursor + timedelta(days=31), now)
                await client.async_get_history(meters[code], cursor, stop)
                cursor = stop
        log("statistics_import: simulator answers cached")
        # A B B A, B A A B, ...: a machine getting busier or quieter weighs on
        # both alike; the medians drop a run that a neighbour on the host spoiled.
        results: dict[bool, tuple[list[Run], list[Run]]] = {}
        for costs, group in ((False, codes[: 2 * rounds]), (True, codes[2 * rounds :])):
            bare_runs: list[Run] = []
            ours_runs: list[Run] = []
            for index, (first, second) in enumerate(
                zip(group[::2], group[1::2], strict=True)
            ):
                if index % 2 == 0:
                    bare_runs.append(await bare(len(bare_runs) + 1, first, costs))
                    ours_runs.append(await ours(meters[first], costs))
                    ours_runs.append(await ours(meters[second], costs))
                    bare_runs.append(await bare(len(bare_runs) + 1, second, costs))
                else:
                    ours_runs.append(await ours(meters[first], costs))
                    bare_runs.append(await bare(len(bare_runs) + 1, first, costs))
                    bare_runs.append(await bare(len(bare_runs) + 1, second, costs))
                    ours_runs.append(await ours(meters[second], costs))
            results[costs] = (bare_runs, ours_runs)
        bare_runs, ours_runs = results[False]
        cost_bare, cost_ours = results[True]
        runs = len(ours_runs)
        _profiles(jobs)
        rows = bare_runs[0].rows
        ours_jobs = [job for r in ours_runs for job in r.jobs]
        recorder_ours = median([sum(j.cpu for j in r.jobs) for r in ours_runs])
        recorder_bare = median([sum(j.cpu for j in r.jobs) for r in bare_runs])
        emit(
            "statistics_import",
            median([r.cpu for r in ours_runs]),
            "s",
            baseline=median([r.cpu for r in bare_runs]),
            target=Target("ratio", 1.2),
            note=f"process CPU time per import: {days} days of 15-min LVR "
            f"({rows} hours) through StatisticsImporter.async_import_meter fed by "
            "the Kenter client over HTTP (31-day windows, parse included; the "
            "simulator's answers cached by a dry run) until committed; baseline: "
            "one async_add_external_statistics of the same rows, precomputed; "
            f"median of {runs} runs each, interleaved; of which recorder thread "
            f"{recorder_ours:.1f} s ours vs {recorder_bare:.1f} s bare; all runs "
            f"ours {_runs(ours_runs)}, bare {_runs(bare_runs)}; ours writes the "
            f"energy and its quarter-hour power ({ours_runs[0].rows} rows), so does "
            f"the baseline ({bare_runs[0].rows} rows)",
        )
        emit(
            "statistics_import.costs",
            median([r.cpu for r in cost_ours]),
            "s",
            baseline=median([r.cpu for r in cost_bare]),
            target=Target("ratio", 1.2),
            note=f"the same with a fixed import price: the cost statistic adds "
            f"{cost_ours[0].rows - ours_runs[0].rows} rows per import "
            f"({cost_ours[0].rows} ours, {cost_bare[0].rows} baseline); ratio "
            f"without costs {median([r.cpu for r in ours_runs]) / median([r.cpu for r in bare_runs]):.2f}; "
            f"all runs ours {_runs(cost_ours)}, bare {_runs(cost_bare)}",
        )
        emit(
            "statistics_import.wall",
            median([r.seconds for r in ours_runs]),
            "s",
            baseline=median([r.seconds for r in bare_runs]),
            target=Target("ratio", 1.2),
            note="the same, elapsed time (includes waiting for a CPU on a "
            "loaded machine)",
        )
        emit(
            "statistics_import.recorder_job_max",
            max((job.seconds for job in ours_jobs), default=0.0),
            "s",
            baseline=max(job.seconds for r in bare_runs for job in r.jobs),
            target=Target("value", 1, "s"),
            note=f"longest ImportStatisticsTask of ours ({len(ours_jobs) // runs} jobs "
            f"per import, {max((j.rows for j in ours_jobs), default=0)} rows max, "
            f"longest recorder-thread CPU {max((j.cpu for j in ours_jobs), default=0.0):.2f} s); "
            "baseline: the bare single job",
        )
        emit(
            "statistics_import.recorder_wait_max",
            max(r.wait for r in ours_runs),
            "s",
            baseline=max(r.wait for r in bare_runs),
            target=Target("value", 1, "s"),
            note="longest wait of a task queued on the recorder during the import "
            "(what a state write would wait); a target of ours, from the 1 s job limit",
        )
        loop_cpu = max(r.loop_cpu for r in ours_runs + cost_ours)
        loop_wall = max(r.loop_wall for r in ours_runs + cost_ours)

        # Memory: the same import of a third meter under tracemalloc.
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
        "import of a third meter; baseline: what the bare import's precomputed "
        "hourly rows alone hold",
    )
    return {"statistics_import": loop_cpu, "statistics_import_wall": loop_wall}


async def first_refreshes(
    hass: HomeAssistant,
    sims: SimProcess,
    now: datetime,
    size: Size,
    monitor: LoopMonitor,
) -> dict[str, float]:
    """Refresh each provider's demo account once: meters, latest, one history window."""
    from custom_components.meetdata.api.models import MeterKind
    from custom_components.meetdata.statistics import StatisticsImporter

    results: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for provider in PROVIDERS:
            name = f"loop_block_max.{provider}"
            account = f"{provider}_refresh"
            try:
                client = build_client(
                    provider, account, session, sims.urls[account], now, 1
                )
            except ImportError as err:
                skipped(
                    name, "ms", f"{provider} client not importable ({err})", LOOP_TARGET
                )
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
                log(f"  {step.text()}")
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
