"""The capacity tariff from Wattworx quarter hours: the peak statistic and sensor.

Wattworx day detail values are quarter hours (``kwhCons`` and the registers
at the quarter's end); a quarter's import times four is its average power.
For both electricity connections of the multi-client key, every hour of
yesterday (a whole local day) holds the max, min and mean of its four
quarters as the simulator computes them, and the peak sensor shows a
quarter the simulator corrected far above the rest, with its start.
"""

# Fixtures imported from .fixtures are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.statistics_rows import HOUR, statistic_id

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import assert_quarter_hour_power, sensor_state, stat_rows
from ...simulators.wattworx import EAN_POWER, EAN_POWER_2, WattworxSimulator
from .fixtures import wattworx_entry, wattworx_sim, wattworx_url  # noqa: F401

pytestmark = pytest.mark.recorder_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: Per electricity EAN: the local time of yesterday's peak quarter and the
#: Wh the simulator adds to it (its import and its register).
PEAKS = {EAN_POWER: ((18, 15), 2500), EAN_POWER_2: ((7, 45), 1700)}


def _yesterday(sim: WattworxSimulator) -> tuple[datetime, datetime]:
    """Return yesterday (the last data date) as [local midnight, next midnight)."""
    day = sim.today - timedelta(days=1)
    start = datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)
    end = datetime(sim.today.year, sim.today.month, sim.today.day, tzinfo=AMSTERDAM)
    return start.astimezone(UTC), end.astimezone(UTC)


def _quarter_powers(
    sim: WattworxSimulator, ean: str, start: datetime, end: datetime
) -> dict[int, float]:
    """Return the simulator's quarter powers (kW) by quarter start (epoch s)."""
    return {
        int(begin.timestamp()): kwh * 4
        for begin, _, kwh in sim.intervals(ean, start, end)["energy_import"]
    }


async def test_quarter_hour_power_and_peak_of_each_connection(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_entry: MockConfigEntry,
) -> None:
    """Yesterday's hours: max/min/mean of the quarters by hand; the month's peak."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    start, end = _yesterday(wattworx_sim)
    peaks: dict[str, datetime] = {}
    for ean, ((hour, minute), wh) in PEAKS.items():
        local = start.astimezone(AMSTERDAM).replace(hour=hour, minute=minute)
        peaks[ean] = local.astimezone(UTC)
        wattworx_sim.correct(ean, peaks[ean], wh)
    assert await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert wattworx_entry.runtime_data.history.last_update_success
    today = wattworx_sim.today
    month_start = datetime(today.year, today.month, 1, tzinfo=AMSTERDAM)
    this_month = start >= month_start

    for ean, peak in peaks.items():
        meter = Meter("wattworx", ean, MeterKind.ELECTRICITY)
        stat_id = statistic_id(meter, Quantity.QUARTER_HOUR_POWER)
        assert stat_id == f"meetdata:wattworx_{ean}_quarter_hour_power"
        powers = _quarter_powers(wattworx_sim, ean, start, end)
        await assert_quarter_hour_power(hass, stat_id, powers, start, end)

        # This month's highest quarter (of the days imported, and more): the
        # corrected one, far above every other.
        expected = powers[int(peak.timestamp())]
        assert expected > 4 * PEAKS[ean][1] / 1000
        month = _quarter_powers(
            wattworx_sim, ean, max(month_start, start - timedelta(days=3)), end
        )
        assert expected > 2 * max(
            (power for quarter, power in month.items() if quarter != peak.timestamp()),
            default=0.0,
        )
        peak_hour = datetime.fromtimestamp(int(peak.timestamp()) // HOUR * HOUR, UTC)
        (row,) = await stat_rows(
            hass, stat_id, peak_hour, peak_hour + timedelta(hours=1), ("max",)
        )
        assert row["max"] == pytest.approx(expected)

        # The sensor shows this month's peak quarter and its start.
        if not this_month:
            continue
        state = sensor_state(hass, f"wattworx_{ean}_{Quantity.CAPACITY_PEAK}")
        assert float(state.state) == pytest.approx(expected)
        assert state.attributes["unit_of_measurement"] == "kW"
        assert state.attributes["peak_start"] == peak
        assert state.attributes["estimates_left_out"] is False
    if not this_month:
        pytest.skip("yesterday, the last data date, lies in last month: no peak yet")
