"""A minimal, real Home Assistant core with a real recorder (SQLite in a temp dir).

Set up the way Home Assistant's bootstrap and pytest-homeassistant-custom-
component do it, without either: a ``HomeAssistant`` on a temporary config
dir, its registries, config entries, the recorder helper, and
``async_setup_component(hass, "recorder", ...)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
from dataclasses import dataclass, field
import logging
from pathlib import Path
import threading
import time
from typing import Any

from homeassistant import config_entries, loader
from homeassistant.components.recorder import tasks as recorder_tasks
from homeassistant.components.recorder.models import StatisticData
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import (
    area_registry,
    category_registry,
    device_registry,
    entity,
    entity_registry,
    floor_registry,
    issue_registry,
    label_registry,
    recorder as recorder_helper,
)
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component


async def async_start_hass(
    config_dir: Path, db_url: str | None = None
) -> HomeAssistant:
    """Start a Home Assistant core with a recorder on ``db_url``.

    The default is SQLite in ``config_dir/db.sqlite``.
    """
    logging.getLogger("homeassistant").setLevel(logging.ERROR)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    hass = HomeAssistant(str(config_dir))
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.config.country = "NL"
    entity.async_setup(hass)
    loader.async_setup(hass)
    hass.config_entries = config_entries.ConfigEntries(hass, {})
    await hass.config_entries.async_initialize()
    for registry in (
        area_registry,
        category_registry,
        device_registry,
        entity_registry,
        floor_registry,
        issue_registry,
        label_registry,
    ):
        await registry.async_load(hass)
    hass.set_state(CoreState.running)
    recorder_helper.async_initialize_recorder(hass)
    db_url = db_url or f"sqlite:///{config_dir / 'db.sqlite'}"
    ok = await async_setup_component(
        hass, "recorder", {"recorder": {"db_url": db_url, "commit_interval": 1}}
    )
    if not ok:
        raise RuntimeError("The recorder did not set up")
    await hass.async_block_till_done()
    await get_instance(hass).async_db_ready
    return hass


async def async_stop_hass(hass: HomeAssistant) -> None:
    """Stop Home Assistant (the recorder commits and closes the database)."""
    await hass.async_stop(force=True)


async def async_recorder_idle(hass: HomeAssistant) -> None:
    """Wait until the recorder has run (and so committed) everything queued.

    Unlike ``Recorder.async_block_till_done`` this also waits for a job the
    recorder has already taken off the queue and is still running.
    """
    event = asyncio.Event()
    get_instance(hass).queue_task(recorder_tasks.SynchronizeTask(event))
    await event.wait()


@dataclass(slots=True)
class Job:
    """One statistics import job the recorder ran."""

    statistic_id: str
    rows: int
    seconds: float
    cpu: float


@dataclass(slots=True)
class RecorderJobs:
    """Times every ImportStatisticsTask the recorder runs."""

    jobs: list[Job] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        """Wrap ``ImportStatisticsTask.run``."""
        original = recorder_tasks.ImportStatisticsTask.run
        log = self

        import os

        profiles: dict[str, Any] = {}
        self.profiles = profiles
        profile = os.environ.get("BENCH_PROFILE_RECORDER")

        def run(task: Any, instance: Any) -> None:
            start, cpu0 = time.perf_counter(), time.thread_time()
            try:
                if profile:
                    import cProfile

                    prof = profiles.setdefault(
                        task.metadata["statistic_id"], cProfile.Profile()
                    )
                    prof.enable()
                    try:
                        original(task, instance)
                    finally:
                        prof.disable()
                else:
                    original(task, instance)
            finally:
                seconds = time.perf_counter() - start
                cpu = time.thread_time() - cpu0
                rows = task.statistics
                count = len(rows) if hasattr(rows, "__len__") else -1
                with log._lock:  # noqa: SLF001
                    log.jobs.append(
                        Job(
                            task.metadata["statistic_id"],
                            count,
                            seconds,
                            cpu,
                        )
                    )

        recorder_tasks.ImportStatisticsTask.run = run  # type: ignore[method-assign,assignment]

    def of(self, statistic_ids: Iterable[str]) -> list[Job]:
        """Return the jobs that wrote these statistics."""
        wanted = set(statistic_ids)
        with self._lock:
            return [job for job in self.jobs if job.statistic_id in wanted]


@dataclass(slots=True)
class _Probe(recorder_tasks.RecorderTask):
    """A no-op recorder task that notes how long it waited in the queue."""

    queued: float
    waits: list[float]
    commit_before = False

    def run(self, instance: Any) -> None:
        self.waits.append(time.perf_counter() - self.queued)


class QueueProbe:
    """Puts a probe task on the recorder queue every ``period`` seconds.

    A state change written while our import runs waits in the same queue; the
    probe's wait is what such a write would see.
    """

    def __init__(self, hass: HomeAssistant, period: float = 0.25) -> None:
        """Bind to the recorder."""
        self._hass = hass
        self._period = period
        self.waits: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        instance = get_instance(self._hass)
        while True:
            instance.queue_task(_Probe(time.perf_counter(), self.waits))
            await asyncio.sleep(self._period)

    def start(self) -> None:
        """Start probing."""
        self.waits = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        """Stop probing, wait for the last probe; return the longest wait (s)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await async_recorder_idle(self._hass)
        return max(self.waits, default=0.0)


def hourly_rows(hours: dict[int, float]) -> list[StatisticData]:
    """Return hourly state/sum rows (a running sum) from {epoch hour: amount}."""
    from datetime import UTC, datetime

    rows: list[StatisticData] = []
    total = 0.0
    for hour in sorted(hours):
        total += hours[hour]
        rows.append(
            StatisticData(
                start=datetime.fromtimestamp(hour, UTC), state=hours[hour], sum=total
            )
        )
    return rows
