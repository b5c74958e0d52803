"""Wattworx statistics per tariff (low/normal) from day detail registers.

Invariants, for both electricity EANs of the two-client demo account:

* every hour: low + normal == total, import and export (relative 1e-9: the
  hourly rows are float sums of the same quarters);
* every Amsterdam day: a tariff's hourly states add up to the difference of
  the simulator's register over that day (0.0005 kWh: half the registers'
  resolution of 1 Wh);
* corrections, missing readings, a meter exchange and amounts that disagree
  with the registers inside the overlap window re-chain every later sum.
"""

# Fixtures imported from wattworx_fixtures are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.providers.wattworx.client.times import (
    local_date,
    local_day_start,
    parse_date,
)
from custom_components.meetdata.statistics_rows import HOUR

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import assert_rechained, stat_rows
from ...simulators.wattworx import (
    EAN_GAS,
    EAN_POWER,
    EAN_POWER_2,
    QUARTER,
    TZ,
    WattworxSimulator,
    _low_tariff,
)
from .fixtures import (  # noqa: F401
    loaded_wattworx,
    wattworx_entry,
    wattworx_sim,
    wattworx_url,
)

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

POWER_EANS = (EAN_POWER, EAN_POWER_2)
#: Per direction: the total, then (tariff statistic, simulator register).
DIRECTIONS = {
    "import": (
        "energy_import",
        (("energy_import_low", "cons_low"), ("energy_import_normal", "cons")),
    ),
    "export": (
        "energy_export",
        (("energy_export_low", "prod_low"), ("energy_export_normal", "prod")),
    ),
}
HOUR_DELTA = timedelta(hours=1)
#: Half the registers' resolution (readings in whole Wh).
REGISTER_TOLERANCE = 0.0005


def _stat(ean: str, quantity: str) -> str:
    return f"meetdata:wattworx_{ean}_{quantity}"


async def _states(
    hass: HomeAssistant, ean: str, quantity: str, start: datetime, end: datetime
) -> dict[float, float]:
    rows = await stat_rows(hass, _stat(ean, quantity), start, end, {"state"})
    return {row["start"]: row["state"] for row in rows}


async def _rows(
    hass: HomeAssistant, ean: str, quantity: str, start: datetime
) -> list[dict[str, Any]]:
    return await stat_rows(hass, _stat(ean, quantity), start, None, {"state", "sum"})


async def _assert_hours_add_up(
    hass: HomeAssistant, ean: str, start: datetime, end: datetime
) -> None:
    """Low + normal == total in every hour of [start, end), both directions."""
    for total_q, tariffs in DIRECTIONS.values():
        total = await _states(hass, ean, total_q, start, end)
        low = await _states(hass, ean, tariffs[0][0], start, end)
        normal = await _states(hass, ean, tariffs[1][0], start, end)
        assert total, total_q
        assert set(low) == set(normal) == set(total), total_q
        for hour, state in total.items():
            assert low[hour] + normal[hour] == pytest.approx(
                state, rel=1e-9, abs=1e-9
            ), (ean, total_q, datetime.fromtimestamp(hour, UTC))


async def _assert_days_match_registers(
    hass: HomeAssistant, sim: WattworxSimulator, ean: str, days: list[date]
) -> None:
    """Per Amsterdam day, each tariff's hourly states add up to its register delta."""
    for day in days:
        start, end = local_day_start(day), local_day_start(day + timedelta(days=1))
        opening, closing = sim.registers(ean, start), sim.registers(ean, end)
        for _, tariffs in DIRECTIONS.values():
            for quantity, register in tariffs:
                states = await _states(hass, ean, quantity, start, end)
                assert len(states) == (end - start) // HOUR_DELTA
                assert sum(states.values()) == pytest.approx(
                    closing[register] - opening[register], abs=REGISTER_TOLERANCE
                ), (ean, day, quantity)


def _full_days(start: datetime, end: datetime) -> list[date]:
    """Return the Amsterdam days that lie wholly in [start, end)."""
    day = local_date(start)
    if local_day_start(day) < start:
        day += timedelta(days=1)
    days = []
    while local_day_start(day + timedelta(days=1)) <= end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _quarter_in_tariff(start: datetime, low: bool) -> datetime:
    """Return the first quarter at hh:15 from ``start`` in the given tariff."""
    moment = start.replace(minute=15, second=0, microsecond=0)
    while _low_tariff(moment.astimezone(TZ)) != low:
        moment += HOUR_DELTA
    return moment


async def test_backfill_adds_up_per_hour_and_per_day(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Both electricity EANs: hours add up, days equal the registers, sums chain."""
    since = datetime.now(UTC) - timedelta(days=3)
    first_hour = datetime.fromtimestamp(since.timestamp() // HOUR * HOUR, UTC)
    end = local_day_start(wattworx_sim.today)
    days = _full_days(first_hour, end)
    assert len(days) >= 2
    for ean in POWER_EANS:
        await _assert_hours_add_up(hass, ean, first_hour, end)
        await _assert_days_match_registers(hass, wattworx_sim, ean, days)
        for total_q, tariffs in DIRECTIONS.values():
            total = await _rows(hass, ean, total_q, first_hour)
            low, normal = [await _rows(hass, ean, q, first_hour) for q, _ in tariffs]
            assert low[0]["start"] == first_hour.timestamp()
            # The running sums start together, so they add up too.
            for t_row, l_row, n_row in zip(total, low, normal, strict=True):
                assert l_row["sum"] + n_row["sum"] == pytest.approx(t_row["sum"])
    # Low and normal are a real split: the solar EAN exports at normal
    # tariff on weekdays and import has hours of each tariff alone.
    import_low = await _states(hass, EAN_POWER, "energy_import_low", first_hour, end)
    import_normal = await _states(
        hass, EAN_POWER, "energy_import_normal", first_hour, end
    )
    assert any(v > 0 and import_normal[h] == 0 for h, v in import_low.items())
    assert any(v == 0 and import_normal[h] > 0 for h, v in import_low.items())
    # Gas has no tariffs.
    assert not await _states(hass, EAN_GAS, "energy_import_low", first_hour, end)


@pytest.mark.parametrize(
    ("sunday", "hours", "switch_utc"),
    [(date(2025, 3, 30), 23, 5), (date(2025, 10, 26), 25, 6)],
    ids=["spring", "autumn"],
)
async def test_dst_weekend_and_monday(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    sunday: date,
    hours: int,
    switch_utc: int,
) -> None:
    """A DST Sunday is all low tariff; Monday turns normal at 07:00 local time."""
    importer = loaded_wattworx.runtime_data.history.importer
    start = local_day_start(sunday)
    end = local_day_start(sunday + timedelta(days=2))
    for ean in POWER_EANS:
        meter = next(m for m in loaded_wattworx.runtime_data.meters if m.key == ean)
        await importer.async_import_period(meter, start, end, timedelta(days=30))
        await _assert_hours_add_up(hass, ean, start, end)
        await _assert_days_match_registers(
            hass, wattworx_sim, ean, [sunday, sunday + timedelta(days=1)]
        )
        monday = local_day_start(sunday + timedelta(days=1))
        normal = await _states(hass, ean, "energy_import_normal", start, end)
        low = await _states(hass, ean, "energy_import_low", start, end)
        sunday_hours = [h for h in normal if h < monday.timestamp()]
        assert len(sunday_hours) == hours
        assert all(normal[h] == 0 and low[h] > 0 for h in sunday_hours)
        first_normal = min(h for h, v in normal.items() if v > 0)
        assert datetime.fromtimestamp(first_normal, UTC) == datetime.combine(
            sunday + timedelta(days=1), datetime.min.time(), UTC
        ).replace(hour=switch_utc)
        assert low[first_normal] == 0


async def test_correction_rechains_low_normal_and_total(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A corrected quarter in the overlap moves its tariff and the total only."""
    since = datetime.now(UTC) - timedelta(days=3)
    end = local_day_start(wattworx_sim.today)
    targets = {
        # EAN_POWER: a low-tariff quarter, import and export corrected.
        EAN_POWER: (_quarter_in_tariff(end - timedelta(hours=30), low=True), 1500, 700),
        # EAN_POWER_2: a normal-tariff quarter, import only.
        EAN_POWER_2: (
            _quarter_in_tariff(end - timedelta(hours=40), low=False),
            -20,
            0,
        ),
    }
    before = {
        (ean, q): await _rows(hass, ean, q, since)
        for ean in POWER_EANS
        for q in (
            "energy_import",
            "energy_export",
            "energy_import_low",
            "energy_import_normal",
            "energy_export_low",
            "energy_export_normal",
        )
    }
    for ean, (moment, cons_wh, prod_wh) in targets.items():
        wattworx_sim.correct(ean, moment, cons_wh, prod_wh)

    await loaded_wattworx.runtime_data.history.async_refresh()
    await hass.async_block_till_done()

    for ean, (moment, cons_wh, prod_wh) in targets.items():
        tariff = "low" if _low_tariff(moment.astimezone(TZ)) else "normal"
        other = "normal" if tariff == "low" else "low"
        hour = moment.replace(minute=0).timestamp()
        for direction, added in (
            ("import", cons_wh / 1000),
            ("export", prod_wh / 1000),
        ):
            for quantity, change in (
                (f"energy_{direction}", added),
                (f"energy_{direction}_{tariff}", added),
                (f"energy_{direction}_{other}", 0.0),
            ):
                after = await _rows(hass, ean, quantity, since)
                assert_rechained(before[ean, quantity], after, hour, change)
        days = _full_days(since, end)
        await _assert_hours_add_up(hass, ean, since, end)
        await _assert_days_match_registers(hass, wattworx_sim, ean, days)


async def test_missing_decreasing_and_disagreeing_readings(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Quarters without an exact split get no tariff amounts; the total stays.

    A row without readings leaves its quarter and the next one (whose opening
    reading it is) without a split; a meter exchange leaves the quarter whose
    closing reading is the new meter's without one; an amount that differs
    from the registers does not change the total, which follows the registers.
    """
    since = datetime.now(UTC) - timedelta(days=3)
    end = local_day_start(wattworx_sim.today)
    gap = _quarter_in_tariff(end - timedelta(hours=30), low=False)
    estimate = gap + timedelta(hours=3)
    exchange = _quarter_in_tariff(end - timedelta(hours=20), low=True) + QUARTER
    quantities = ("energy_import", "energy_import_low", "energy_import_normal")
    before = {
        (ean, q): await _rows(hass, ean, q, since)
        for ean in POWER_EANS
        for q in quantities
    }
    wattworx_sim.missing_readings.add((EAN_POWER, gap))
    wattworx_sim.amount_errors[EAN_POWER, estimate] = 200
    wattworx_sim.exchanges[EAN_POWER_2] = exchange

    await loaded_wattworx.runtime_data.history.async_refresh()
    await hass.async_block_till_done()

    source = {
        ean: {
            s: v for s, _, v in wattworx_sim.intervals(ean, since, end)["energy_import"]
        }
        for ean in POWER_EANS
    }
    unsplit = {
        # The gap's quarter and the next, both at normal tariff.
        EAN_POWER: (gap, -(source[EAN_POWER][gap] + source[EAN_POWER][gap + QUARTER])),
        # The quarter that closes on the new meter's first reading.
        EAN_POWER_2: (exchange - QUARTER, -source[EAN_POWER_2][exchange - QUARTER]),
    }
    for ean, (moment, lost) in unsplit.items():
        tariff = "low" if _low_tariff(moment.astimezone(TZ)) else "normal"
        other = "normal" if tariff == "low" else "low"
        hour = moment.replace(minute=0).timestamp()
        # The total is the kWh amount where there is no split: unchanged,
        # and the estimated amount does not count against the registers.
        assert (
            await _rows(hass, ean, "energy_import", since)
            == before[ean, "energy_import"]
        )
        after = await _rows(hass, ean, f"energy_import_{tariff}", since)
        assert_rechained(before[ean, f"energy_import_{tariff}"], after, hour, lost)
        assert all(row["state"] >= 0 for row in after)
        assert (
            await _rows(hass, ean, f"energy_import_{other}", since)
            == before[ean, f"energy_import_{other}"]
        )
    assert "quarters of energy_import without a tariff split" in caplog.text


async def test_tariffs_that_stopped_do_not_hold_the_import_back(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_entry: MockConfigEntry,
) -> None:
    """Readings gone for 40 days: the next run re-reads the overlap, not 43 days.

    The tariff statistics end where the readings stopped; a statistic more
    than a window behind the meter's newest one no longer sets where imports
    start (each hourly run would re-read the whole gap again).
    """
    hass.config_entries.async_update_entry(
        wattworx_entry, options={**wattworx_entry.options, "history_days": 60}
    )
    stopped = local_day_start(wattworx_sim.today - timedelta(days=40))
    moment = stopped
    while moment < wattworx_sim.now:
        wattworx_sim.missing_readings.add((EAN_POWER, moment))
        moment += QUARTER
    assert await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    low = await _rows(
        hass, EAN_POWER, "energy_import_low", stopped - timedelta(days=30)
    )
    assert low
    assert low[-1]["start"] < stopped.timestamp()
    total = await _rows(hass, EAN_POWER, "energy_import", stopped)
    assert total[-1]["start"] > (wattworx_sim.now - timedelta(days=1)).timestamp()

    wattworx_sim.requests.clear()
    await wattworx_entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done()
    firsts = [
        parse_date(request.params["from"])
        for request in wattworx_sim.requests
        if request.endpoint == "ean/innerdayvalues" and EAN_POWER in request.path
    ]
    assert firsts
    assert min(firsts) >= wattworx_sim.today - timedelta(days=5)
