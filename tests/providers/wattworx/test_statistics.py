"""Wattworx statistics: day detail values imported into hourly statistics."""

# Fixtures imported from wattworx_fixtures are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import get_metadata
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.providers.wattworx.client.times import local_day_start
from custom_components.meetdata.statistics_rows import HOUR

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import assert_rechained, meter_by_key, stat_rows
from ...simulators.wattworx import (
    EAN_GAS,
    EAN_GAS_2,
    EAN_POWER,
    EAN_POWER_2,
    QUARTER,
    WattworxSimulator,
)
from .fixtures import (  # noqa: F401
    loaded_wattworx,
    wattworx_entry,
    wattworx_sim,
    wattworx_url,
)

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOUR_DELTA = timedelta(hours=1)


def _stat(ean: str, quantity: str) -> str:
    return f"meetdata:wattworx_{ean}_{quantity}"


async def _rows(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime | None = None
) -> list[dict[str, Any]]:
    return await stat_rows(hass, stat_id, start, end, {"state", "sum"})


def _hourly(intervals: list[tuple[datetime, datetime, float]]) -> dict[float, float]:
    hours: dict[float, float] = defaultdict(float)
    for start, _, amount in intervals:
        ts = start.timestamp()
        hours[ts - ts % HOUR] += amount
    return dict(hours)


def _available_end(sim: WattworxSimulator) -> datetime:
    """Return the end of the last data date (yesterday): no data after it."""
    return local_day_start(sim.today)


@pytest.mark.parametrize(
    ("ean", "quantities"),
    [
        (EAN_POWER, ("energy_import", "energy_export")),
        (EAN_POWER_2, ("energy_import", "energy_export")),
        (EAN_GAS, ("gas_volume",)),
        (EAN_GAS_2, ("gas_volume",)),
    ],
)
async def test_backfill_equals_source(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    ean: str,
    quantities: tuple[str, ...],
) -> None:
    """Stored hours equal the simulator's amounts per UTC hour; sums chain."""
    since = datetime.now(UTC) - timedelta(days=3)
    first_hour = datetime.fromtimestamp(since.timestamp() // HOUR * HOUR, UTC)
    end = _available_end(wattworx_sim)
    source = wattworx_sim.intervals(ean, first_hour, end)
    for quantity in quantities:
        rows = await _rows(hass, _stat(ean, quantity), first_hour - timedelta(days=1))
        expected = _hourly(source[quantity])
        if quantity == "gas_volume":
            # The last hour of the data needs the first reading after it.
            expected.pop(max(expected))
        assert {row["start"]: row["state"] for row in rows} == pytest.approx(expected)
        assert rows[0]["start"] == first_hour.timestamp()
        total = 0.0
        for row in rows:
            total += row["state"]
            assert row["sum"] == pytest.approx(total)
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={_stat(ean, quantities[0])})
    )
    (_, meta) = metadata[_stat(ean, quantities[0])]
    assert meta["unit_of_measurement"] == ("m³" if "gas" in quantities[0] else "kWh")
    assert meta["has_sum"] is True


async def test_second_run_resumes_with_overlap(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A second run re-reads the three-day overlap only and writes nothing."""
    history = loaded_wattworx.runtime_data.history
    importer = history.importer
    stat = _stat(EAN_POWER, "energy_import")
    since = datetime.now(UTC) - timedelta(days=5)
    before = await _rows(hass, stat, since)
    written = importer.rows_written
    wattworx_sim.requests.clear()
    await history.async_refresh()
    await hass.async_block_till_done()
    assert await _rows(hass, stat, since) == before
    assert importer.rows_written == written
    detail = [r for r in wattworx_sim.requests if r.endpoint == "ean/innerdayvalues"]
    assert {r.params["code"] for r in detail} == {
        EAN_POWER,
        EAN_GAS,
        EAN_POWER_2,
        EAN_GAS_2,
    }
    newest = datetime.fromtimestamp(before[-1]["start"], UTC)
    earliest_from = (newest - timedelta(days=3)).astimezone(AMSTERDAM).date()
    for request in detail:
        assert request.params["from"] >= earliest_from.strftime("%Y%m%d")
        assert request.params["values"] == "KWH"
        assert request.params["tf"] == "4"


async def test_new_day_is_appended(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_entry: MockConfigEntry,
) -> None:
    """When the next day is published, its hours chain on to the stored sum."""
    assert wattworx_sim.now is not None
    wattworx_sim.now -= timedelta(days=1)
    assert await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    stat = _stat(EAN_POWER, "energy_import")
    since = datetime.now(UTC) - timedelta(days=5)
    before = await _rows(hass, stat, since)
    assert (
        before[-1]["start"] == (_available_end(wattworx_sim) - HOUR_DELTA).timestamp()
    )

    wattworx_sim.now += timedelta(days=1)
    await wattworx_entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done()
    after = await _rows(hass, stat, since)
    assert after[: len(before)] == before
    added = after[len(before) :]
    start = datetime.fromtimestamp(before[-1]["start"], UTC) + HOUR_DELTA
    end = _available_end(wattworx_sim)
    expected = _hourly(wattworx_sim.intervals(EAN_POWER, start, end)["energy_import"])
    assert len(added) == len(expected) >= 23
    assert {row["start"]: row["state"] for row in added} == pytest.approx(expected)
    assert added[-1]["sum"] == pytest.approx(before[-1]["sum"] + sum(expected.values()))


async def test_correction_rewrites_its_hour_and_every_later_sum(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A corrected quarter inside the overlap changes its hour and later sums."""
    stat = _stat(EAN_POWER, "energy_import")
    since = datetime.now(UTC) - timedelta(days=5)
    before = await _rows(hass, stat, since)
    target = before[-10]
    moment = datetime.fromtimestamp(target["start"], UTC) + QUARTER
    wattworx_sim.correct(EAN_POWER, moment, 1500)
    added = 1.5

    await loaded_wattworx.runtime_data.history.async_refresh()
    await hass.async_block_till_done()
    after = await _rows(hass, stat, since)

    assert_rechained(before, after, target["start"], added)


async def test_history_starts_at_first_data_date(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_entry: MockConfigEntry,
) -> None:
    """A deeper configured history stops at the EAN's firstDataDate."""
    first = wattworx_sim.today - timedelta(days=2)
    wattworx_sim.devices[EAN_POWER_2].first_data_date = first
    hass.config_entries.async_update_entry(wattworx_entry, options={"history_days": 20})
    assert await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    rows = await _rows(
        hass, _stat(EAN_POWER_2, "energy_import"), datetime.now(UTC) - timedelta(30)
    )
    assert rows[0]["start"] == local_day_start(first).timestamp()
    span = _available_end(wattworx_sim) - local_day_start(first)
    assert len(rows) == span // HOUR_DELTA
    requests = [
        r
        for r in wattworx_sim.requests
        if r.endpoint == "ean/innerdayvalues" and r.params["code"] == EAN_POWER_2
    ]
    assert [r.params["from"] for r in requests] == [first.strftime("%Y%m%d")]
    # The other EANs go back the configured 20 days.
    deep = await _rows(
        hass, _stat(EAN_POWER, "energy_import"), datetime.now(UTC) - timedelta(30)
    )
    assert deep[0]["start"] <= (datetime.now(UTC) - timedelta(days=20)).timestamp()


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_days(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    day: date,
    hours: int,
) -> None:
    """The spring day has 23 hourly rows, the autumn day 25, equal to the source."""
    importer = loaded_wattworx.runtime_data.history.importer
    start = local_day_start(day)
    end = local_day_start(day + timedelta(days=1))
    for ean, quantity in ((EAN_POWER, "energy_import"), (EAN_GAS, "gas_volume")):
        meter = meter_by_key(loaded_wattworx, ean)
        await importer.async_import_period(meter, start, end, timedelta(days=30))
        rows = await _rows(hass, _stat(ean, quantity), start, end)
        assert len(rows) == hours
        expected = _hourly(wattworx_sim.intervals(ean, start, end)[quantity])
        assert {row["start"]: row["state"] for row in rows} == pytest.approx(expected)
