"""The statistics importer against a real recorder, fed by the CEMM simulator."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import get_metadata
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.api.models import Interval, Meter, Quantity
from custom_components.meetdata.statistics_rows import (
    HOUR,
    hourly_amounts,
    hourly_means,
    statistic_id,
    statistic_metadata,
)

from ..helpers import assert_rechained, meter_by_key, stat_rows
from ..simulators.cemm import DEFAULT_UID, CemmSimulator

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
UID_KEY = "ffffffffffff"


async def _rows(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime | None = None
) -> list[dict[str, Any]]:
    return await stat_rows(hass, stat_id, start, end)


def _hourly(pairs: list[tuple[datetime, float]]) -> dict[float, float]:
    hours: dict[float, float] = defaultdict(float)
    for moment, amount in pairs:
        ts = moment.timestamp()
        hours[ts - ts % HOUR] += amount
    return dict(hours)


async def test_backfill_equals_source(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """Every stored hour equals the simulator's minutes; sums chain without gaps."""
    p1 = meter_by_key(loaded_cemm, f"{UID_KEY}_p1")
    start = datetime.now(UTC) - timedelta(days=3)
    rows = await _rows(hass, statistic_id(p1, Quantity.ENERGY_IMPORT), start)
    assert len(rows) >= 47
    first_hour = datetime.fromtimestamp(rows[0]["start"], UTC)
    minutes = cemm_sim.minute_energy(DEFAULT_UID, "p1", first_hour, cemm_sim.now)
    expected_import = _hourly([(m, imp) for m, imp, _ in minutes])
    expected_export = _hourly([(m, exp) for m, _, exp in minutes])
    assert {row["start"]: pytest.approx(row["state"]) for row in rows} == {
        hour: pytest.approx(value) for hour, value in expected_import.items()
    } | {}
    total = 0.0
    for row in rows:
        total += row["state"]
        assert row["sum"] == pytest.approx(total)
    export_rows = await _rows(hass, statistic_id(p1, Quantity.ENERGY_EXPORT), start)
    assert [r["state"] for r in export_rows] == pytest.approx(
        [expected_export[r["start"]] for r in export_rows]
    )

    gas = meter_by_key(loaded_cemm, f"{UID_KEY}_p1_gas")
    gas_rows = await _rows(hass, statistic_id(gas, Quantity.GAS_VOLUME), start)
    expected_gas = {
        moment.timestamp(): amount
        for moment, amount in cemm_sim.hourly_gas(DEFAULT_UID, first_hour, cemm_sim.now)
    }
    assert gas_rows
    for row in gas_rows:
        if row["start"] in expected_gas:
            assert row["state"] == pytest.approx(expected_gas[row["start"]])

    metadata = await _metadata(hass, statistic_id(gas, Quantity.GAS_VOLUME))
    assert metadata["unit_of_measurement"] == "m³"
    assert metadata["has_sum"] is True
    assert metadata["mean_type"] is StatisticMeanType.NONE
    assert metadata["source"] == "meetdata"


async def _metadata(hass: HomeAssistant, stat_id: str) -> dict[str, Any]:
    result = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={stat_id})
    )
    return dict(result[stat_id][1])


async def test_second_run_writes_nothing(
    hass: HomeAssistant, loaded_cemm: MockConfigEntry
) -> None:
    """Re-reading the overlap with unchanged data stores no row again."""
    importer = loaded_cemm.runtime_data.history.importer
    await async_wait_recording_done(hass)
    p1 = meter_by_key(loaded_cemm, f"{UID_KEY}_p1")
    stat = statistic_id(p1, Quantity.ENERGY_IMPORT)
    before = await _rows(hass, stat, datetime.now(UTC) - timedelta(days=4))
    written = importer.rows_written
    await loaded_cemm.runtime_data.history.async_refresh()
    await hass.async_block_till_done()
    after = await _rows(hass, stat, datetime.now(UTC) - timedelta(days=4))
    assert importer.rows_written == written
    assert after == before


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_days(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
    day: date,
    hours: int,
) -> None:
    """The spring day has 23 hourly rows, the autumn day 25, summing to the source."""
    importer = loaded_cemm.runtime_data.history.importer
    p1 = meter_by_key(loaded_cemm, f"{UID_KEY}_p1")
    start = datetime.combine(day, datetime.min.time(), AMSTERDAM)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM)
    await importer.async_import_period(p1, start, end, timedelta(days=7))
    rows = await _rows(hass, statistic_id(p1, Quantity.ENERGY_IMPORT), start, end)
    assert len(rows) == hours
    expected = sum(
        imp for _, imp, _ in cemm_sim.minute_energy(DEFAULT_UID, "p1", start, end)
    )
    assert sum(row["state"] for row in rows) == pytest.approx(expected)
    assert rows[-1]["sum"] == pytest.approx(expected)

    ((_, net_low, net_normal),) = cemm_sim.daily_net(DEFAULT_UID, day, day)
    for quantity, net in (
        (Quantity.ENERGY_NET_LOW, net_low),
        (Quantity.ENERGY_NET_NORMAL, net_normal),
    ):
        net_rows = await _rows(hass, statistic_id(p1, quantity), start, end)
        assert [row["state"] for row in net_rows] == pytest.approx([net])
        assert net_rows[0]["start"] == start.timestamp()


def test_hourly_aggregation_dedupes_and_weights() -> None:
    """Repeated starts count once; means are time-weighted; NaN is dropped."""
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    five = timedelta(minutes=5)
    intervals = [
        Interval(t0, t0 + five, 1.0),
        Interval(t0, t0 + five, 2.0),
        Interval(t0 + five, t0 + 2 * five, 4.0),
        Interval(t0 + 2 * five, t0 + 3 * five, float("nan")),
        Interval(t0 + timedelta(hours=1), t0 + timedelta(hours=1, minutes=15), 3.0),
    ]
    assert hourly_amounts(intervals) == {
        t0.timestamp(): 6.0,
        t0.timestamp() + HOUR: 3.0,
    }
    means = hourly_means(intervals)
    assert means[int(t0.timestamp())] == (3.0, 2.0, 4.0)


def test_metadata_is_version_tolerant() -> None:
    """mean_type is always set, has_mean never; power is a mean statistic."""
    meter = Meter(provider="cemm", key="AB-12", kind="electricity")  # type: ignore[arg-type]
    metadata = statistic_metadata(meter, Quantity.POWER)
    assert "has_mean" not in metadata
    assert metadata["mean_type"] is StatisticMeanType.ARITHMETIC
    assert metadata["has_sum"] is False
    assert metadata["statistic_id"] == "meetdata:cemm_ab_12_power"


async def test_correction_rewrites_its_hour_and_every_later_sum(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """A corrected minute inside the overlap changes its hour and all later sums."""
    p1 = meter_by_key(loaded_cemm, f"{UID_KEY}_p1")
    stat = statistic_id(p1, Quantity.ENERGY_IMPORT)
    since = datetime.now(UTC) - timedelta(days=4)
    before = await _rows(hass, stat, since)
    target = before[-6]
    moment = datetime.fromtimestamp(target["start"], UTC) + timedelta(minutes=7)
    old_watts = dict(
        cemm_sim.minute_power(DEFAULT_UID, "p1", moment, moment + timedelta(minutes=1))
    )
    cemm_sim.correct_minute(DEFAULT_UID, moment, 60_000 + max(old_watts[moment], 0))
    added = 1.0  # 60 kW more for one minute is 1 kWh more

    await loaded_cemm.runtime_data.history.async_refresh()
    await hass.async_block_till_done()
    after = await _rows(hass, stat, since)

    assert_rechained(before, after, target["start"], added)


async def test_history_import_runs_again_every_hour(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """After the first import, the history coordinator keeps its hourly schedule."""
    history = loaded_cemm.runtime_data.history
    day_requests = cemm_sim.count("/data/day/")
    async_fire_time_changed(hass, dt_util.utcnow() + history.update_interval)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert cemm_sim.count("/data/day/") > day_requests
    assert history.last_update_success
