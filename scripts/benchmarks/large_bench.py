"""large_account.*: one account of 50 meters, 90 days of quarter-hours each.

Per database (SQLite, and PostgreSQL when a server is given):

* first import of every meter (sequentially, as the coordinator does) through
  StatisticsImporter.async_import_meter, fed over HTTP by the Kenter client (25
  connections, 4 counters) and the Wattworx client (25 EANs); beside it the
  bare recorder: the same rows (read back from the database, untimed) written
  with one async_add_external_statistics per statistic. Order: ours on the
  first half of the meters, bare of those rows, ours on the second half, bare
  of those rows (each bare import runs on a database a half-import fuller);
* a steady hour: the same account imported again (the simulators' clock
  stands still, so this is the overlap re-read and compared, nothing new);
* the longest recorder job of ours, the longest wait of a probe task queued on
  the recorder during each phase, the longest event-loop step;
* memory: the process's resident set (sampled every 20 ms, tracemalloc would
  slow a 50-meter import fivefold) above what it was when each half of ours
  began, at its highest during the first 10 meters and over both halves; for
  the first half also less the memory SQLite holds. Each half starts from its
  own size: the bare import before the second half leaves the process larger
  (on PostgreSQL ~40 MB: Python's small-object arenas fragmented by its queued
  rows, freed but not returned), which is the baseline's, not ours.

Once: the setup of a Fluvius account of 50 mandates whose simulator answers
after 50 ms (as the config entry's setup does: mandates, a probe per EAN, the
latest reading per EAN).
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import ctypes
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import gc
import os
import threading
import time
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant

from .clients import build_client, history_defaults
from .figures import Target, emit, log
from .hass import Job, QueueProbe, RecorderJobs, async_recorder_idle
from .monitor import LoopMonitor
from .sims import (
    FLUVIUS_LATENCY,
    LARGE_DAYS,
    LargeAccount,
    SimProcess,
    Size,
    large_accounts,
    large_kenter_connections,
)

LOOP_TARGET = Target("value", 20, "ms")
#: The memory figure compares the first MEMORY_SMALL meters with all of them.
MEMORY_SMALL = 10


class GcPauses:
    """The longest full (generation 2) garbage collection on the event loop's thread.

    Such a collection stops every thread and lands in whatever step allocated
    last; it tells a collector's pause from our own computation.
    """

    def __init__(self) -> None:
        """Register a gc callback for the calling (event loop) thread."""
        self.thread = threading.get_ident()
        self.longest = 0.0
        self.count = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2 or threading.get_ident() != self.thread:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.longest = max(self.longest, time.perf_counter() - self._started)

    def reset(self) -> None:
        """Forget the pauses so far."""
        self.longest = 0.0
        self.count = 0


def _sqlite_memory() -> Callable[[], int]:
    """Return a reader of the memory SQLite itself holds (page caches), in bytes.

    The recorder gives each SQLite connection a page cache of up to 16 MiB
    (``PRAGMA cache_size``); it fills as the database grows, whoever writes.
    Reads 0 where the library cannot be loaded.
    """
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
        used = lib.sqlite3_memory_used
    except (OSError, AttributeError):
        return lambda: 0
    used.restype = ctypes.c_int64
    used.argtypes = []
    return lambda: int(used())


class RssSampler:
    """Samples the resident set size every 20 ms while ``active``.

    ``peak`` is the highest resident set; ``peak_own`` the highest resident
    set less the memory SQLite holds at that moment.
    """

    def __init__(self) -> None:
        """Start the sampling thread (a daemon)."""
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.active = False
        self.peak = 0
        self.peak_own = 0
        self.sqlite = _sqlite_memory()
        threading.Thread(target=self._run, daemon=True).start()

    def rss(self) -> int:
        """Return the current resident set size in bytes."""
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * self.page

    def _sample(self) -> None:
        rss = self.rss()
        self.peak = max(self.peak, rss)
        self.peak_own = max(self.peak_own, rss - self.sqlite())

    def _run(self) -> None:
        while True:
            if self.active:
                self._sample()
            time.sleep(0.02)

    def restart(self) -> tuple[int, int]:
        """Forget the peaks; return the resident set and it less SQLite's now."""
        rss = self.rss()
        self.peak, self.peak_own = rss, rss - self.sqlite()
        return self.peak, self.peak_own

    def begin(self) -> None:
        """Start sampling (the peaks are kept across begin/end)."""
        self._sample()
        self.active = True

    def end(self) -> int:
        """Stop sampling; return the peak so far."""
        self.active = False
        self._sample()
        return self.peak


@dataclass(slots=True)
class Phase:
    """Wall and process CPU seconds, rows, recorder jobs, probe wait, loop step."""

    seconds: float = 0.0
    cpu: float = 0.0
    rows: int = 0
    wait: float = 0.0
    jobs: list[Job] = field(default_factory=list)
    loop_cpu: float = 0.0
    loop_wall: float = 0.0
    #: The longest step's CPU less the garbage collections within it.
    loop_own: float = 0.0

    def add(self, other: Phase) -> None:
        """Add another part of the same phase."""
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.rows += other.rows
        self.wait = max(self.wait, other.wait)
        self.jobs += other.jobs
        self.loop_cpu = max(self.loop_cpu, other.loop_cpu)
        self.loop_wall = max(self.loop_wall, other.loop_wall)
        self.loop_own = max(self.loop_own, other.loop_own)

    def text(self) -> str:
        """Describe the phase for the log."""
        return (
            f"{self.seconds:.1f} s, CPU {self.cpu:.1f} s, {self.rows} rows in "
            f"{len(self.jobs)} jobs (longest {max((j.seconds for j in self.jobs), default=0):.2f} s), "
            f"probe wait max {self.wait:.2f} s, loop step max {self.loop_cpu * 1000:.1f} ms CPU"
        )


@dataclass(slots=True)
class Account:
    """The clients and meters of one large account."""

    spec: LargeAccount
    clients: dict[str, Any]
    meters: list[tuple[str, Any]]  # (provider, meter)


async def _account(
    session: aiohttp.ClientSession, sims: SimProcess, now: datetime, spec: LargeAccount
) -> Account:
    """Build the Kenter and Wattworx clients of an account; list their meters."""
    from custom_components.meetdata.api.models import MeterKind
    from custom_components.meetdata.providers.kenter.client import (
        KenterClient,
        KenterConnection,
    )

    kenter = KenterClient(
        session,
        [
            KenterConnection(conn.ean, conn.passcode)
            for conn in large_kenter_connections(spec)
        ],
        base_url=sims.urls[f"kenter_{spec.name}"],
    )
    wattworx = build_client(
        "wattworx", "wattworx_poll", session, sims.urls[f"wattworx_{spec.name}"], now, 0
    )
    clients = {"kenter": kenter, "wattworx": wattworx}
    meters: list[tuple[str, Any]] = []
    for provider, client in clients.items():
        meters += [
            (provider, meter)
            for meter in await client.async_get_meters()
            if meter.kind is not MeterKind.GATEWAY
        ]
    return Account(spec, clients, meters)


def _stat_ids(account: Account, meters: list[tuple[str, Any]]) -> list[str]:
    """Return every statistic id the importer may write for these meters.

    Besides the quantities a provider sends, the importer derives the
    quarter-hour power from quarter-hour import amounts.
    """
    from custom_components.meetdata.api.models import Quantity
    from custom_components.meetdata.statistics_rows import statistic_id

    return [
        statistic_id(meter, quantity)
        for provider, meter in meters
        for quantity in (
            *account.clients[provider].history_quantities,
            Quantity.QUARTER_HOUR_POWER,
        )
    ]


def _release_freed_memory() -> None:
    """Return the memory the bare import freed to the OS (glibc's malloc_trim).

    Otherwise the resident set during our next half would still hold the
    freed heap of the baseline's rows, which is not ours.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


async def _ours(
    hass: HomeAssistant,
    account: Account,
    meters: list[tuple[str, Any]],
    now: datetime,
    monitor: LoopMonitor,
    jobs: RecorderJobs,
    probe: QueueProbe,
    rss: RssSampler | None = None,
    marks: dict[int, tuple[int, int]] | None = None,
) -> Phase:
    """Import ``meters`` one after the other, until the recorder committed all.

    With ``rss``, note its peak after each meter in ``marks`` (by meter count).
    """
    from custom_components.meetdata.statistics import StatisticsImporter

    importers = {
        provider: StatisticsImporter(hass, client)
        for provider, client in account.clients.items()
    }
    gc.collect()
    first_job = len(jobs.jobs)
    probe.start()
    monitor.start()
    if rss is not None:
        rss.begin()
    t0, c0 = time.perf_counter(), time.process_time()
    for provider, meter in meters:
        defaults = history_defaults(provider)
        await importers[provider].async_import_meter(
            meter,
            since=now - timedelta(days=LARGE_DAYS),
            now=now,
            overlap=defaults.overlap,
            window=defaults.window,
        )
        if rss is not None and marks is not None:
            marks[len(marks) + 1] = (rss.peak, rss.peak_own)
    monitor.stop()
    await async_recorder_idle(hass)
    if rss is not None:
        rss.end()
    phase = Phase(
        time.perf_counter() - t0,
        time.process_time() - c0,
        sum(imp.rows_written for imp in importers.values()),
    )
    phase.wait = await probe.stop()
    wanted = set(_stat_ids(account, meters))
    phase.jobs = [j for j in jobs.jobs[first_job:] if j.statistic_id in wanted]
    phase.loop_cpu, phase.loop_wall = monitor.max_cpu, monitor.max_wall
    phase.loop_own = monitor.max_own
    for step in monitor.top():
        log(f"  {step.text()}")
    return phase


async def _stored(
    hass: HomeAssistant, stat_ids: list[str], now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Return the stored hourly rows of these statistics (untimed)."""
    from homeassistant.components.recorder.statistics import statistics_during_period
    from homeassistant.helpers.recorder import get_instance

    result: dict[str, list[dict[str, Any]]] = await get_instance(
        hass
    ).async_add_executor_job(
        statistics_during_period,
        hass,
        now - timedelta(days=LARGE_DAYS + 2),
        None,
        set(stat_ids),
        "hour",
        None,
        {"state", "sum", "mean", "min", "max"},
    )
    return result


async def _bare(
    hass: HomeAssistant,
    stored: dict[str, list[dict[str, Any]]],
    tag: str,
    jobs: RecorderJobs,
    probe: QueueProbe,
) -> Phase:
    """Write the same rows under new ids, one add_external_statistics each."""
    from homeassistant.components.recorder.models import (
        StatisticData,
        StatisticMeanType,
    )
    from homeassistant.components.recorder.statistics import (
        async_add_external_statistics,
        get_metadata,
    )
    from homeassistant.helpers.recorder import get_instance

    from custom_components.meetdata.statistics_rows import _SUPPORTS_UNIT_CLASS

    metas = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids=set(stored))
    )
    batches: list[tuple[Any, list[StatisticData]]] = []
    for index, (stat_id, rows) in enumerate(sorted(stored.items())):
        meta = metas[stat_id][1]
        bare_id = f"meetdata:bare_{tag}_{index}"
        metadata: Any = {
            "has_sum": meta["has_sum"],
            "name": None,
            "source": "meetdata",
            "statistic_id": bare_id,
            "unit_of_measurement": meta["unit_of_measurement"],
        }
        if "mean_type" in meta:
            metadata["mean_type"] = meta["mean_type"]
        else:
            metadata["has_mean"] = meta.get("has_mean", False)
            metadata["mean_type"] = StatisticMeanType.NONE
        if _SUPPORTS_UNIT_CLASS:
            metadata["unit_class"] = meta.get("unit_class")
        data: list[StatisticData] = []
        for row in rows:
            item = StatisticData(start=datetime.fromtimestamp(row["start"], UTC))
            for key in ("state", "sum", "mean", "min", "max"):
                if row.get(key) is not None:
                    item[key] = row[key]  # type: ignore[literal-required]
            data.append(item)
        batches.append((metadata, data))
    gc.collect()
    first_job = len(jobs.jobs)
    probe.start()
    t0, c0 = time.perf_counter(), time.process_time()
    for metadata, data in batches:
        async_add_external_statistics(hass, metadata, data)
    await async_recorder_idle(hass)
    phase = Phase(
        time.perf_counter() - t0,
        time.process_time() - c0,
        sum(len(data) for _, data in batches),
    )
    phase.wait = await probe.stop()
    wanted = {metadata["statistic_id"] for metadata, _ in batches}
    phase.jobs = [j for j in jobs.jobs[first_job:] if j.statistic_id in wanted]
    return phase


async def large_account(
    hass: HomeAssistant,
    db: str,
    sims: SimProcess,
    now: datetime,
    size: Size,
    monitor: LoopMonitor,
    jobs: RecorderJobs,
) -> None:
    """Time the first import, its bare baseline and the steady hour on ``db``."""
    spec = large_accounts(size)[0]
    probe = QueueProbe(hass)
    pauses = GcPauses()
    async with aiohttp.ClientSession() as session:
        account = await _account(session, sims, now, spec)
        half = len(account.meters) // 2
        # Alternate providers so that each half holds both.
        ordered = sorted(
            account.meters, key=lambda pm: (pm[0] == "wattworx", pm[1].key)
        )
        first = ordered[0::2]
        second = ordered[1::2]
        assert len(first) + len(second) == len(account.meters)
        log(
            f"large_account on {db}: {len(account.meters)} meters "
            f"({half} per half), {LARGE_DAYS} days"
        )
        ours = Phase()
        bare = Phase()
        rss = RssSampler()
        #: Per half: the resident set (and it less SQLite's) when it began, and
        #: its peaks after each of its meters.
        halves: list[tuple[tuple[int, int], dict[int, tuple[int, int]]]] = []
        process_start = rss.rss()
        for index, meters in enumerate((first, second), start=1):
            gc.collect()
            marks: dict[int, tuple[int, int]] = {}
            halves.append((rss.restart(), marks))
            part = await _ours(
                hass, account, meters, now, monitor, jobs, probe, rss, marks
            )
            log(f"ours half {index}: {part.text()}")
            ours.add(part)
            before_bare = rss.rss()
            stored = await _stored(hass, _stat_ids(account, meters), now)
            part = await _bare(hass, stored, f"{db}_{index}", jobs, probe)
            # The read-back rows must not stay alive into our next import (a
            # full collection would walk them; the resident set would hold them).
            del stored
            gc.collect()
            _release_freed_memory()
            log(
                f"bare half {index}: {part.text()}; resident set "
                f"{(rss.rss() - before_bare) / 2**20:+.1f} MB over it"
            )
            bare.add(part)
        steady = await _ours(hass, account, ordered, now, monitor, jobs, probe)
        log(f"steady hour: {steady.text()}")
        gc.callbacks.remove(pauses._callback)  # noqa: SLF001
    count = len(account.meters)
    name = f"large_account.{db}"
    emit(
        f"{name}.import",
        ours.seconds,
        "s",
        baseline=bare.seconds,
        target=Target("ratio", 1.2),
        note=f"wall time of the first import of {count} meters x {LARGE_DAYS} days "
        f"of quarter-hours ({ours.rows} hourly rows; process CPU {ours.cpu:.0f} s "
        f"ours vs {bare.cpu:.0f} s bare); baseline: the same rows, one "
        "async_add_external_statistics per statistic, all queued at once",
    )
    emit(
        f"{name}.import_per_meter_year",
        ours.seconds / count * 365 / LARGE_DAYS,
        "s",
        note="the import above per meter and year of quarter-hours",
    )
    emit(
        f"{name}.recorder_job_max",
        max((j.seconds for j in ours.jobs + steady.jobs), default=0.0),
        "s",
        baseline=max((j.seconds for j in bare.jobs), default=0.0),
        target=Target("value", 1, "s"),
        note=f"longest ImportStatisticsTask of ours ({len(ours.jobs)} jobs in the "
        f"first import, {len(steady.jobs)} in the steady hour); baseline: the "
        "longest bare job (one per statistic)",
    )
    emit(
        f"{name}.recorder_wait_max",
        max(ours.wait, steady.wait),
        "s",
        baseline=bare.wait,
        target=Target("value", 1, "s"),
        note="longest wait of a probe task queued on the recorder every 0.25 s "
        "during our import (what a state write would wait); baseline: during the bare import",
    )
    emit(
        f"{name}.steady_hour",
        steady.seconds,
        "s",
        note=f"the whole account imported again ({steady.rows} rows written, "
        f"process CPU {steady.cpu:.1f} s): overlap re-read and compared",
    )
    emit(
        f"{name}.loop_block_max",
        max(ours.loop_cpu, steady.loop_cpu) * 1000,
        "ms",
        target=LOOP_TARGET,
        note="thread CPU of the longest event-loop step during our imports; wall "
        f"max {max(ours.loop_wall, steady.loop_wall) * 1000:.1f} ms; the longest of "
        f"{pauses.count} full garbage collections on the loop's thread during the "
        f"whole run (bare imports included) took {pauses.longest * 1000:.1f} ms",
    )
    emit(
        f"{name}.loop_compute_max",
        max(ours.loop_own, steady.loop_own) * 1000,
        "ms",
        target=LOOP_TARGET,
        note="the same steps less the garbage collections that ran inside them "
        "(a collection stops every thread and lands in whichever step allocated "
        "last): what our code computed in one step",
    )
    (first_start, first_marks), (second_start, second_marks) = halves
    small = min(MEMORY_SMALL, len(first_marks))

    def above(start: tuple[int, int], peaks: tuple[int, int]) -> tuple[float, float]:
        """Return (resident set, less SQLite's memory) above ``start``, in MB."""
        return (peaks[0] - start[0]) / 2**20, (peaks[1] - start[1]) / 2**20

    early = above(first_start, first_marks[small])
    one = above(first_start, first_marks[len(first_marks)])
    two = above(second_start, second_marks[len(second_marks)])
    log(
        "resident set above the start of our half (less SQLite's page caches): "
        f"first {small} meters {early[0]:.1f} MB ({early[1]:.1f} MB), first half "
        f"({len(first_marks)} meters) {one[0]:.1f} MB ({one[1]:.1f} MB), second "
        f"half ({len(second_marks)} meters) {two[0]:.1f} MB ({two[1]:.1f} MB); "
        "whole process at its highest "
        f"{(max(first_marks[len(first_marks)][0], second_marks[len(second_marks)][0]) - process_start) / 2**20:.1f} MB "
        "above the start of the first half (the bare import between included)"
    )
    emit(
        f"{name}.peak_memory",
        max(one[0], two[0]),
        "MB",
        baseline=early[0],
        target=Target("value", 64, "MB"),
        note=f"highest resident set of the process above its size when a half of "
        f"our import began: first half ({len(first_marks)} meters) {one[0]:.1f} MB, "
        f"second half ({len(second_marks)} meters) {two[0]:.1f} MB; of the first "
        f"half less the memory SQLite holds (the recorder's page cache, up to "
        f"16 MiB per connection, fills as the database grows, whoever writes): "
        f"{early[1]:.1f} MB after {small} meters, {one[1]:.1f} MB after "
        f"{len(first_marks)}; baseline: the resident set over the first {small} "
        "meters (flat in meters: ratio ≈ 1)",
    )


async def fluvius_setup(sims: SimProcess, now: datetime, size: Size) -> None:
    """Time the setup of a 50-mandate account: meters (probes), latest readings."""
    from custom_components.meetdata.api.models import MeterKind

    async with aiohttp.ClientSession() as session:
        client = build_client(
            "fluvius", "fluvius_large", session, sims.urls["fluvius_large"], now, 0
        )
        sims.reset("fluvius_large")
        t0 = time.perf_counter()
        meters = await client.async_get_meters()
        t1 = time.perf_counter()
        await client.async_get_latest(
            [m for m in meters if m.kind is not MeterKind.GATEWAY]
        )
        t2 = time.perf_counter()
        counts = sims.counts("fluvius_large")
    total = counts["total"]
    trips = (t2 - t0) / FLUVIUS_LATENCY
    emit(
        "large_account.fluvius_setup",
        t2 - t0,
        "s",
        baseline=FLUVIUS_LATENCY * total,
        target=Target("ratio", 0.5),
        note=f"{len(meters)} meters of a {len(meters)}-mandate account with "
        f"{FLUVIUS_LATENCY * 1000:.0f} ms per answer: meters {t1 - t0:.2f} s, "
        f"latest readings {t2 - t1:.2f} s; {total} requests ({counts['by']}), "
        f"≈ {trips:.0f} round trips in sequence; baseline: all requests in "
        "sequence (ratio ≈ 1 means linear in sequential round trips)",
    )
