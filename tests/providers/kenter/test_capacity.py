"""The capacity tariff from Kenter's quarter hours: the peak statistic and sensor.

Every quarter's import (LVR, kWh) times four is its average power; the hourly
``quarter_hour_power`` statistic keeps the highest of each hour as ``max``,
so its monthly max is the month's peak, which the capacity sensor shows with
the quarter it happened in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.const import CONF_HISTORY_DAYS
from custom_components.meetdata.diagnostics import async_get_config_entry_diagnostics
from custom_components.meetdata.statistics_rows import HOUR, statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import sensor_state, stat_rows
from ...simulators.kenter import KenterSimulator
from .fixtures import AMSTERDAM, KEY, METER_CODE, meter_of, setup_entry

QUARTER = timedelta(minutes=15)
SENSOR = f"kenter_{KEY}_{Quantity.CAPACITY_PEAK}"
#: The October 2025 peak: 02:15 local in the repeated hour (CET, the second pass).
DST_PEAK = datetime(2025, 10, 26, 1, 15, tzinfo=UTC)


def _quarter_floor(moment: datetime) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % 900, UTC)


def _month_start(moment: datetime) -> datetime:
    local = moment.astimezone(AMSTERDAM)
    return datetime(local.year, local.month, 1, tzinfo=AMSTERDAM).astimezone(UTC)


def _powers(sim: KenterSimulator, start: datetime, end: datetime) -> dict[int, float]:
    """Return the simulator's quarter powers (kW) by quarter start (epoch s)."""
    return {
        int(iv.start.timestamp()): iv.value * 4
        for iv in sim.source_intervals(METER_CODE, "LVR", start, end)
    }


def _hourly_max(powers: dict[int, float]) -> dict[int, float]:
    hours: dict[int, float] = defaultdict(lambda: float("-inf"))
    for quarter, power in powers.items():
        hour = quarter - quarter % HOUR
        hours[hour] = max(hours[hour], power)
    return dict(hours)


async def _month_maxima(
    hass: HomeAssistant, stat_id: str, start: datetime
) -> list[dict[str, Any]]:
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        None,
        {stat_id},
        "month",
        None,
        {"max"},
    )
    return list(rows.get(stat_id, []))


@pytest.fixture
def sim() -> KenterSimulator:
    """Return the demo account with its clock stopped at this second."""
    return KenterSimulator(now=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def peak(sim: KenterSimulator) -> datetime:
    """Set a quarter of this month, an hour ago, to 250 kWh (1000 kW)."""
    now = sim.now_utc()
    quarter = max(_month_start(now), _quarter_floor(now - timedelta(hours=1)))
    if quarter + 2 * QUARTER > now:
        pytest.skip("no complete quarter of this month yet (its first half hour)")
    sim.set_amounts[(METER_CODE, "LVR", quarter)] = 250.0
    sim.set_amounts[(METER_CODE, "LVR", DST_PEAK)] = 300.0
    return quarter


@pytest.fixture
async def entry(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator, peak: datetime
) -> MockConfigEntry:
    """Set up an entry of the electricity connection with two days of history.

    Home Assistant's time zone is Dutch: months (the sensor's and the
    statistics') are local months.
    """
    return await setup_entry(
        hass, serve, sim, "Kenter capacity", {CONF_HISTORY_DAYS: 2}
    )


@pytest.mark.recorder_db
async def test_this_months_peak_in_statistic_and_sensor(
    hass: HomeAssistant, sim: KenterSimulator, entry: MockConfigEntry, peak: datetime
) -> None:
    """The hour of the peak quarter has max 1000 kW; the sensor names that quarter."""
    meter = meter_of(entry)
    stat_id = statistic_id(meter, Quantity.QUARTER_HOUR_POWER)
    start = _quarter_floor(sim.now_utc() - timedelta(days=2))
    rows = await stat_rows(hass, stat_id, start, None, ("mean", "min", "max"))
    expected = _powers(sim, start, sim.now_utc())
    maxima = _hourly_max(expected)
    assert rows
    for row in rows:
        assert row["max"] == pytest.approx(maxima[int(row["start"])])
    hour = int(peak.timestamp()) // HOUR * HOUR
    peak_row = next(row for row in rows if int(row["start"]) == hour)
    quarters = [expected[hour + 900 * i] for i in range(4)]
    assert peak_row["max"] == pytest.approx(1000.0)
    assert peak_row["mean"] == pytest.approx(sum(quarters) / 4)
    assert peak_row["min"] == pytest.approx(min(quarters))

    state = sensor_state(hass, SENSOR)
    assert float(state.state) == pytest.approx(1000.0)
    assert state.attributes["unit_of_measurement"] == "kW"
    assert state.attributes["device_class"] == "power"
    assert state.attributes["peak_start"] == peak
    assert state.attributes["estimates_left_out"] is False

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    month = peak.astimezone(AMSTERDAM).strftime("%Y-%m")
    assert diagnostics["capacity_peaks"][KEY][month] == {
        "read": [pytest.approx(1000.0), peak.isoformat()],
        "estimated": None,
    }


@pytest.mark.recorder_db
async def test_corrected_peak_falls_back_to_the_next_quarter(
    hass: HomeAssistant, sim: KenterSimulator, entry: MockConfigEntry, peak: datetime
) -> None:
    """Kenter corrects the peak quarter down: the next highest quarter is the peak."""
    sim.set_amounts[(METER_CODE, "LVR", peak)] = 0.25
    history = entry.runtime_data.history
    await history.async_refresh()
    await hass.async_block_till_done()
    now = sim.now_utc()
    first = max(_month_start(now), _quarter_floor(now - timedelta(days=2)))
    powers = _powers(sim, first, now)
    best = max(powers, key=lambda quarter: powers[quarter])
    state = sensor_state(hass, SENSOR)
    assert float(state.state) == pytest.approx(powers[best])
    assert state.attributes["peak_start"] == datetime.fromtimestamp(best, UTC)


@pytest.mark.recorder_db
async def test_a_dst_month_of_peaks(
    hass: HomeAssistant, sim: KenterSimulator, entry: MockConfigEntry
) -> None:
    """October 2025 (25 hours on the 26th): every hour's max, the month's peak."""
    meter = meter_of(entry)
    importer = entry.runtime_data.history.importer
    start = datetime(2025, 10, 1, tzinfo=AMSTERDAM).astimezone(UTC)
    end = datetime(2025, 11, 1, tzinfo=AMSTERDAM).astimezone(UTC)
    await importer.async_import_period(meter, start, end, timedelta(days=31))
    stat_id = statistic_id(meter, Quantity.QUARTER_HOUR_POWER)
    rows = await stat_rows(hass, stat_id, start, end, ("max",))
    maxima = _hourly_max(_powers(sim, start, end))
    assert len(rows) == 31 * 24 + 1
    assert [row["max"] for row in rows] == pytest.approx(
        [maxima[int(row["start"])] for row in rows]
    )
    months = await _month_maxima(hass, stat_id, start)
    assert months[0]["start"] == start.timestamp()
    assert months[0]["max"] == pytest.approx(1200.0)
    # The sensor shows this month's peak, not October's.
    assert float(sensor_state(hass, SENSOR).state) == pytest.approx(1000.0)
