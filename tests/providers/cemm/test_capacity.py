"""The capacity tariff from CEMM minute power: the peak statistic and sensor.

A CEMM gives the P1 net power per minute; the import of each minute, made
to add up to the registers (t1 + t2) between two readings, adds up per
quarter hour, and a quarter's import times four is its average power. Two
CEMMs: the default one, whose registers integrate the minute power exactly,
and a second whose registers also count import that nets out inside a
minute (``drift``), so its minutes get a share of the register increase.

By hand: a quarter's power is four times the sum of its minutes' import
(``max(W, 0) / 60000`` kWh), times the increase of t1 + t2 over the register
span it lies in (a local day; today up to the last 5-minute reading) divided
by the span's summed minute import. Every hour of yesterday holds the max,
min and mean of its quarters; the peak sensor shows a quarter whose minutes
the simulator set far above the rest, with its start.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.statistics_rows import HOUR, statistic_id

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import (
    assert_quarter_hour_power,
    entity_id_of,
    meter_by_key,
    sensor_state,
    stat_rows,
)
from ...simulators.cemm import DEFAULT_UID, CemmSimulator, local_date, local_midnight

pytestmark = pytest.mark.recorder_db

SECOND_UID = "00-11-22-33-44-55"
#: P1 meter key → (CEMM uid, the W of each minute of its peak quarter).
P1_METERS = {
    "ffffffffffff_p1": (DEFAULT_UID, 24_000),
    "001122334455_p1": (SECOND_UID, 18_000),
}
QUARTER = timedelta(minutes=15)


@pytest.fixture
def cemm_sim() -> CemmSimulator:
    """Two CEMMs, the second with drifting registers; the clock at this minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sim = CemmSimulator(now=now, history_start=date(2025, 1, 1))
    sim.add_device(SECOND_UID, {"p1": "p1"}, drift=40)
    return sim


def _quarter_floor(moment: datetime) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % 900, UTC)


def _month_start(moment: datetime) -> datetime:
    day = local_date(moment)
    return local_midnight(day.replace(day=1))


def _quarter_powers(
    sim: CemmSimulator, uid: str, start: datetime, end: datetime
) -> dict[int, float]:
    """Return the quarter powers (kW) of the register span [start, end) by hand.

    ``end`` is a register reading; every quarter of the span is complete.
    """
    if end <= start:
        return {}
    registers = [sim.registers(uid, moment) for moment in (start, end)]
    increase = sum(registers[1][name] - registers[0][name] for name in ("t1", "t2"))
    minutes = sim.minute_energy(uid, "p1", start, end)
    assert len(minutes) == (end - start) // timedelta(minutes=1)
    factor = increase / sum(kwh for _, kwh, _ in minutes)
    quarters: dict[int, float] = defaultdict(float)
    for moment, kwh, _ in minutes:
        quarters[int(_quarter_floor(moment).timestamp())] += kwh * factor * 4
    return dict(quarters)


async def test_quarter_hour_power_and_peak_of_each_p1_meter(
    hass: HomeAssistant, cemm_sim: CemmSimulator, cemm_entry: MockConfigEntry
) -> None:
    """Yesterday's hours and this month's peak of both P1 meters, by hand."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    now = cemm_sim.now
    peak = max(_month_start(now), _quarter_floor(now - timedelta(hours=1)))
    if peak + 2 * QUARTER > now:
        pytest.skip("no complete quarter of this month yet (its first half hour)")
    for uid, watts in P1_METERS.values():
        for minute in range(15):
            cemm_sim.correct_minute(uid, peak + timedelta(minutes=minute), watts)
    assert await hass.config_entries.async_setup(cemm_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert cemm_entry.runtime_data.history.last_update_success

    day = local_date(now)
    today = local_midnight(day)
    yesterday = local_midnight(day - timedelta(days=1))
    reading = datetime.fromtimestamp(int(now.timestamp()) // 300 * 300, UTC)
    #: The register spans of the imported days: whole local days, then today
    #: up to its last reading (history 2 days: from the day before yesterday).
    spans = [
        (local_midnight(day - timedelta(days=2)), yesterday),
        (yesterday, today),
        (today, reading),
    ]
    month_start = _month_start(now)
    for key, (uid, watts) in P1_METERS.items():
        stat_id = statistic_id(
            meter_by_key(cemm_entry, key), Quantity.QUARTER_HOUR_POWER
        )
        assert stat_id == f"meetdata:cemm_{key}_quarter_hour_power"
        powers = {span: _quarter_powers(cemm_sim, uid, *span) for span in spans}

        # Every hour of yesterday: its four quarters' max, min and mean.
        await assert_quarter_hour_power(
            hass, stat_id, powers[spans[1]], yesterday, today
        )

        # This month's quarters (of the imported days, and more): the set
        # one is the peak, far above every other.
        month = {
            quarter: power
            for found in powers.values()
            for quarter, power in found.items()
            if quarter >= month_start.timestamp()
        }
        expected = month.pop(int(peak.timestamp()))
        assert expected > watts / 1000 - 1e-9
        assert expected > 2 * max(month.values(), default=0.0)
        peak_hour = int(peak.timestamp()) // HOUR * HOUR
        peak_rows = await stat_rows(
            hass, stat_id, datetime.fromtimestamp(peak_hour, UTC), None, ("max",)
        )
        assert peak_rows[0]["start"] == peak_hour
        assert peak_rows[0]["max"] == pytest.approx(expected)

        state = sensor_state(hass, f"cemm_{key}_{Quantity.CAPACITY_PEAK}")
        assert float(state.state) == pytest.approx(expected)
        assert state.attributes["unit_of_measurement"] == "kW"
        assert state.attributes["peak_start"] == peak
        assert state.attributes["estimates_left_out"] is False

    # The drifting registers count more than the minute power: the second
    # CEMM's quarters are the fitted ones.
    minutes = cemm_sim.minute_energy(SECOND_UID, "p1", yesterday, today)
    fitted = _quarter_powers(cemm_sim, SECOND_UID, yesterday, today)
    assert sum(fitted.values()) / 4 - sum(kwh for _, kwh, _ in minutes) > 0.01

    # Import only: the solar S0 input and gas have no quarter-hour power.
    for key in ("ffffffffffff_s01", "ffffffffffff_p1_gas"):
        assert entity_id_of(hass, f"cemm_{key}_{Quantity.CAPACITY_PEAK}") is None
