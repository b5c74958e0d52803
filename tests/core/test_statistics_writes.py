"""How the importer hands rows to the recorder (issue 7: small, awaited jobs).

Jobs are sized to the recorder's measured speed and awaited one at a time, and
a recorder that never runs our job does not hang the import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata import recorder_io
from custom_components.meetdata.api.base import MeterDataClient
from custom_components.meetdata.api.models import (
    Interval,
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Quantity,
)
from custom_components.meetdata.statistics import StatisticsImporter
from custom_components.meetdata.statistics_rows import statistic_id

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

START = datetime(2025, 1, 1, tzinfo=UTC)
METER = Meter("kenter", "bench_meter", MeterKind.ELECTRICITY)


class FakeClient(MeterDataClient):
    """Quarter-hours of 0.25 kWh."""

    provider = "kenter"
    history_quantities = (Quantity.ENERGY_IMPORT,)

    def __init__(self) -> None:
        """Record calls."""
        self.calls: list[datetime] = []

    async def async_get_meters(self) -> list[Meter]:
        """Return the one meter."""
        return [METER]

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return nothing."""
        return {}

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return quarter-hours in [start, end)."""
        self.calls.append(start)
        step = timedelta(minutes=15)
        count = int((end - start) / step)
        return [
            IntervalSeries(
                meter.key,
                Quantity.ENERGY_IMPORT,
                [
                    Interval(start + i * step, start + (i + 1) * step, 0.25)
                    for i in range(count)
                ],
            )
        ]


@pytest.fixture(autouse=True)
async def auto_recorder(recorder_mock: Recorder) -> None:
    """A real recorder."""


async def _sums(hass: HomeAssistant) -> list[float]:
    await async_wait_recording_done(hass)
    stat_id = statistic_id(METER, Quantity.ENERGY_IMPORT)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        START,
        None,
        {stat_id},
        "hour",
        None,
        {"sum"},
    )
    return [row["sum"] for row in rows.get(stat_id, [])]


async def test_jobs_sized_and_awaited(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row arrives; job sizes follow the measured speed, within bounds."""
    monkeypatch.setattr(recorder_io, "FIRST_WRITE_BATCH", 7)
    client = FakeClient()
    importer = StatisticsImporter(hass, client)
    assert importer.write_batch == 7
    sizes: list[int] = []
    original = recorder_io.async_add_external_statistics

    def spy(hass: HomeAssistant, metadata: Any, rows: list[Any]) -> None:
        sizes.append(len(rows))
        original(hass, metadata, rows)

    monkeypatch.setattr(recorder_io, "async_add_external_statistics", spy)
    await importer.async_import_period(
        METER, START, START + timedelta(days=6), timedelta(days=2)
    )
    assert len(client.calls) == 3
    # 144 hours of energy and of the quarter-hour power derived from it.
    assert sum(sizes) == importer.rows_written == 2 * 144
    assert sizes[0] == 7
    assert sizes[1] != 7  # the second job is sized by the first one's speed
    assert max(sizes) <= recorder_io.WRITE_BATCH
    assert (
        recorder_io.MIN_WRITE_BATCH <= importer.write_batch <= recorder_io.WRITE_BATCH
    )
    sums = await _sums(hass)
    assert len(sums) == 144
    assert sums[-1] == pytest.approx(144.0)


async def test_recorder_that_never_answers(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the recorder's answer the import goes on after the timeout."""
    monkeypatch.setattr(recorder_io, "RECORDER_WAIT_TIMEOUT", 0.01)
    monkeypatch.setattr(recorder_io._RecorderDone, "run", lambda self, instance: None)
    importer = StatisticsImporter(hass, FakeClient())
    batch = importer.write_batch
    await importer.async_import_period(
        METER, START, START + timedelta(days=1), timedelta(days=1)
    )
    assert importer.write_batch == batch  # nothing measured
    assert len(await _sums(hass)) == 24


async def test_first_backfill_reads_nothing_back(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows after the newest stored hour are written without reading rows back."""
    reads: list[datetime] = []
    original = recorder_io.statistics_during_period

    def spy(hass: HomeAssistant, start: datetime, *args: Any) -> Any:
        reads.append(start)
        return original(hass, start, *args)

    monkeypatch.setattr(recorder_io, "statistics_during_period", spy)
    importer = StatisticsImporter(hass, FakeClient())
    await importer.async_import_period(
        METER, START, START + timedelta(days=4), timedelta(days=1)
    )
    assert reads == []
    # Re-reading the last day merges with (and so reads) what is stored.
    await importer.async_import_period(
        METER, START + timedelta(days=3), START + timedelta(days=4), timedelta(days=1)
    )
    assert START + timedelta(days=3) in reads
    sums = await _sums(hass)
    assert len(sums) == 96
    assert sums[-1] == pytest.approx(96.0)


async def test_overlapping_imports_take_turns(hass: HomeAssistant) -> None:
    """The schedule and the import_history action at once: no hour counted twice.

    Interleaved, the later import would chain day 1 onto nothing and days 2-3
    onto that.
    """
    importer = StatisticsImporter(hass, FakeClient())
    day = timedelta(days=1)
    await asyncio.gather(
        importer.async_import_period(METER, START, START + 2 * day, day),
        importer.async_import_period(METER, START + day, START + 4 * day, day),
    )
    sums = await _sums(hass)
    assert sums == pytest.approx([0.25 * 4 * (i + 1) for i in range(96)])
