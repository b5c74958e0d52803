"""The Flemish capacity tariff from Fluvius quarter hours.

A year of quarter-hour offtake with a known peak in every month (two of them
on the DST Sundays) and an estimate above this month's peak, which Fluvius
never read: the quarter-hour power statistic holds each month's read peak,
this month's peak sensor agrees with it, and the 12-month average sensor is
the mean of the last twelve monthly peaks, each counted as at least 2.5 kW,
flagged because an estimate was left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.statistics_rows import HOUR, statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import sensor_state, stat_rows
from ...simulators.fluvius import BRUSSELS, DIGITAL_EAN, FluviusSimulator, Quality
from .fixtures import make_entry, make_sim

pytestmark = pytest.mark.recorder_db

QUARTER = timedelta(minutes=15)
DAYS = 400
STAT = statistic_id(
    Meter("fluvius", DIGITAL_EAN, MeterKind.ELECTRICITY), Quantity.QUARTER_HOUR_POWER
)
#: Monthly peaks placed by the test (kWh per quarter): some under 2.5 kW.
PLACED = (0.5, 1.0, 1.25, 0.55, 2.0)
DST_PEAK = 2.25
ESTIMATE = 3.0


def _month(moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(BRUSSELS)
    return local.year, local.month


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=BRUSSELS).astimezone(UTC)


def _months_back(now: datetime, back: int) -> tuple[int, int]:
    year, month = _month(now)
    index = year * 12 + month - 1 - back
    return index // 12, index % 12 + 1


def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month + 1, 1, tzinfo=BRUSSELS) - timedelta(days=1)
    while day.weekday() != 6:
        day -= timedelta(days=1)
    return day


def _quarter_floor(moment: datetime) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % 900, UTC)


def _place_peaks(sim: FluviusSimulator) -> datetime:
    """Place a peak in each of the last 13 months; return the kept estimate."""
    now = sim.now
    for back in range(13):
        year, month = _months_back(now, back)
        quarter = datetime(year, month, 10, 18, 15, tzinfo=BRUSSELS).astimezone(UTC)
        if quarter < now - timedelta(hours=6):
            sim.set_offtake[(DIGITAL_EAN, quarter)] = PLACED[back % len(PLACED)]
    # 03:30 summer time on the March Sunday, 02:15 in the repeated hour in October.
    for year in (now.year - 1, now.year):
        for quarter in (
            _last_sunday(year, 3).replace(hour=3, minute=30).astimezone(UTC),
            _last_sunday(year, 10).replace(hour=2, minute=15, fold=1).astimezone(UTC),
        ):
            if now - timedelta(days=360) < quarter < now:
                sim.set_offtake[(DIGITAL_EAN, quarter)] = DST_PEAK
    estimate = _quarter_floor(now - timedelta(hours=5))
    sim.kept_estimates[(DIGITAL_EAN, estimate)] = ESTIMATE
    return estimate


def _read_peaks(
    sim: FluviusSimulator, start: datetime
) -> tuple[dict[tuple[int, int], float], dict[int, float]]:
    """Return the read peak (kW) per local month and per UTC hour, by hand."""
    months: dict[tuple[int, int], float] = defaultdict(float)
    hours: dict[int, float] = defaultdict(float)
    for item in sim.expected_intervals(DIGITAL_EAN, "energy_import", start, sim.now):
        if item.quality not in (Quality.MEASURED, Quality.VALIDATED):
            continue
        power = item.value * 4
        month = _month(item.start)
        months[month] = max(months[month], power)
        hour = int(item.start.timestamp()) // HOUR * HOUR
        hours[hour] = max(hours[hour], power)
    return dict(months), dict(hours)


async def _monthly_max(hass: HomeAssistant, start: datetime) -> dict[float, float]:
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        None,
        {STAT},
        "month",
        None,
        {"max"},
    )
    return {row["start"]: row["max"] for row in result.get(STAT, [])}


async def test_a_year_of_peaks_and_the_rolling_average(
    hass: HomeAssistant, serve: Serve
) -> None:
    """Each month's read peak, this month's sensor, the 12-month average by hand."""
    await hass.config.async_set_time_zone("Europe/Brussels")
    sim = make_sim(fine_days=DAYS + 5)
    estimate = _place_peaks(sim)
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=DAYS, meters=[DIGITAL_EAN])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.history.last_update_success

    start = _quarter_floor(sim.now - timedelta(days=DAYS))
    months, hours = _read_peaks(sim, start)
    # Every hour's max is its highest read quarter; the estimate is left out.
    rows = await stat_rows(hass, STAT, start, None, ("max",))
    assert len(rows) >= DAYS * 24 - 48
    assert [row["max"] for row in rows] == pytest.approx(
        [hours[int(row["start"])] for row in rows]
    )
    estimate_hour = int(estimate.timestamp()) // HOUR * HOUR
    assert all(row["max"] < ESTIMATE * 4 for row in rows)
    assert any(int(row["start"]) == estimate_hour for row in rows)

    # A statistics graph per month shows each month's read peak (DST months too).
    monthly = await _monthly_max(hass, _month_start(*_months_back(sim.now, 12)))
    for back in range(12):
        year, month = _months_back(sim.now, back)
        assert monthly[_month_start(year, month).timestamp()] == pytest.approx(
            months[(year, month)]
        ), (year, month)
    for year in (sim.now.year - 1, sim.now.year):
        for month in (3, 10):
            if (year, month) in months and _month_start(year, month) > start:
                assert months[(year, month)] == pytest.approx(DST_PEAK * 4)

    # This month's peak: the insights sensor and the statistic agree.
    this_month = _month(sim.now)
    peak = sensor_state(hass, f"fluvius_{DIGITAL_EAN}_{Quantity.CAPACITY_PEAK}")
    assert float(peak.state) == pytest.approx(months[this_month])
    assert peak.attributes["complete"] is False  # the estimate

    # The rolling average: the last twelve months, each at least 2.5 kW.
    last_twelve = [months[_months_back(sim.now, back)] for back in range(12)]
    expected = sum(max(value, 2.5) for value in last_twelve) / 12
    assert any(value < 2.5 for value in last_twelve)
    average = sensor_state(
        hass, f"fluvius_{DIGITAL_EAN}_{Quantity.CAPACITY_PEAK_AVERAGE}"
    )
    assert float(average.state) == pytest.approx(expected, abs=1e-6)
    assert average.attributes["months"] == 12
    assert average.attributes["minimum_peak"] == 2.5
    assert average.attributes["estimates_left_out"] is (
        _month(estimate) in {_months_back(sim.now, back) for back in range(12)}
    )
    assert average.attributes["unit_of_measurement"] == "kW"
