"""Fluvius statistics per tariff: day and night beside the totals, as on the bill.

Digital meters count offtake and injection in a day and a night register; the
simulator's quarter-hours carry the register of their tariff and its days both
(night: weekdays 22:00-07:00 Brussels time and all weekend), and it reads the
meter's registers for the per-day checks. Per hour, day + night equals the
total to 1e-9 kWh (they come from the same values: in fact exactly); per
Brussels day, each tariff's hourly amounts add up to its register's rise to
the register's resolution (1 Wh, so 0.0005 kWh).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
import itertools
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.statistics_rows import statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...simulators.fluvius import (
    AMR_INJECTION_EAN,
    BRUSSELS,
    DIGITAL_EAN,
    FluviusSimulator,
    SimMandate,
    is_day_tariff,
    local_midnight,
    next_local_midnight,
)
from .fixtures import fine_from, hourly, make_entry, make_sim, rows

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

DIGITAL_2 = "541440110000000002"  # digital, offtake + injection, quarter-hour
DAILY = "541440100000000003"  # digital, offtake + injection, daily access only
QUARTER_EANS = (DIGITAL_EAN, DIGITAL_2)

#: Total -> (day, night, register name prefix).
SPLITS = {
    Quantity.ENERGY_IMPORT: (
        Quantity.ENERGY_IMPORT_DAY,
        Quantity.ENERGY_IMPORT_NIGHT,
        "offtake",
    ),
    Quantity.ENERGY_EXPORT: (
        Quantity.ENERGY_EXPORT_DAY,
        Quantity.ENERGY_EXPORT_NIGHT,
        "injection",
    ),
}
TARIFFS = tuple(q for day, night, _ in SPLITS.values() for q in (day, night))
ALL = (*SPLITS, *TARIFFS)


def _stat(ean: str, quantity: Quantity) -> str:
    return statistic_id(Meter("fluvius", ean, MeterKind.ELECTRICITY), quantity)


def _account(fine_days: int) -> FluviusSimulator:
    """The demo account plus a second quarter-hour and a daily-only digital meter."""
    sim = make_sim(fine_days=fine_days)
    far = sim.now + timedelta(days=400)
    sim.mandates += [
        SimMandate(
            DIGITAL_2, data_period_from=fine_from(sim, fine_days), expiration=far
        ),
        SimMandate(
            DAILY,
            data_service_type="VH_dag",
            data_period_from=local_midnight(sim.now - timedelta(days=1090)),
            expiration=far,
        ),
    ]
    return sim


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _stats(
    hass: HomeAssistant, eans: tuple[str, ...], since: datetime
) -> dict[tuple[str, Quantity], list[dict[str, Any]]]:
    return {
        (ean, quantity): await rows(hass, _stat(ean, quantity), since)
        for ean in eans
        for quantity in ALL
    }


def _assert_chained(stored: list[dict[str, Any]]) -> None:
    """Every row's sum is the previous sum plus its amount."""
    assert stored
    for previous, row in itertools.pairwise(stored):
        assert row["start"] > previous["start"]
        assert row["sum"] == pytest.approx(previous["sum"] + row["state"], abs=1e-9)


def _assert_hours_add_up(
    stats: dict[tuple[str, Quantity], list[dict[str, Any]]], ean: str
) -> None:
    """Per hour: day + night == total, in amounts and in running sums."""
    for total, (day, night, _) in SPLITS.items():
        whole = stats[ean, total]
        by_tariff = [stats[ean, day], stats[ean, night]]
        for stored in (whole, *by_tariff):
            _assert_chained(stored)
        # Every hour has a row in all three (the idle tariff's amount is 0).
        assert [r["start"] for r in whole] == [r["start"] for r in by_tariff[0]]
        assert [r["start"] for r in whole] == [r["start"] for r in by_tariff[1]]
        for row, d, n in zip(whole, *by_tariff, strict=True):
            assert d["state"] + n["state"] == pytest.approx(
                row["state"], rel=1e-9, abs=1e-9
            )
            assert d["sum"] + n["sum"] == pytest.approx(row["sum"], rel=1e-9, abs=1e-9)
            if ean in QUARTER_EANS:
                # Quarter-hours: an hour is wholly day or wholly night tariff.
                moment = dt_util.utc_from_timestamp(row["start"])
                assert (d if is_day_tariff(moment) else n)["state"] == row["state"]


def _local_days(first: float, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Yield the Brussels days that start at or after ``first`` and end by ``until``."""
    day = local_midnight(dt_util.utc_from_timestamp(first))
    if day.timestamp() < first:
        day = next_local_midnight(day)
    while (end := next_local_midnight(day)) <= until:
        yield day, end
        day = end


def _assert_days_match_registers(
    sim: FluviusSimulator,
    stats: dict[tuple[str, Quantity], list[dict[str, Any]]],
    ean: str,
    days: list[tuple[datetime, datetime]],
) -> None:
    """Per Brussels day, each tariff's hourly amounts are its register's rise."""
    assert days
    for lo, hi in days:
        before, after = sim.registers(ean, lo), sim.registers(ean, hi)
        for day, night, prefix in SPLITS.values():
            for quantity, name in ((day, f"{prefix}_day"), (night, f"{prefix}_night")):
                amount = sum(
                    r["state"]
                    for r in stats[ean, quantity]
                    if lo.timestamp() <= r["start"] < hi.timestamp()
                )
                rise = after[name] - before[name]
                assert amount == pytest.approx(rise, abs=5e-4), (ean, lo, name)


async def test_tariffs_add_up_per_hour_and_per_day(
    hass: HomeAssistant, serve: Serve
) -> None:
    """Two quarter-hour meters and a daily one: hours add up, days match registers.

    The AMR meter sends totals only (day and night combined): no tariffs.
    """
    sim = _account(fine_days=20)
    url = await serve(sim.build_app())
    entry = make_entry(
        hass,
        sim,
        url,
        history_days=12,
        meters=[*QUARTER_EANS, DAILY, AMR_INJECTION_EAN],
    )
    await _setup(hass, entry)

    since = sim.now - timedelta(days=13)
    stats = await _stats(hass, (*QUARTER_EANS, DAILY), since)
    # Values are final three days after their quarter (estimates corrected).
    final = sim.now - sim.correction_delay
    for ean in (*QUARTER_EANS, DAILY):
        _assert_hours_add_up(stats, ean)
        first = stats[ean, Quantity.ENERGY_IMPORT][0]["start"]
        days = list(_local_days(first, final))
        assert len(days) >= 7
        _assert_days_match_registers(sim, stats, ean, days)
        # Weekdays have day tariff, weekends none: both registers moved.
        for day, night, _ in SPLITS.values():
            assert stats[ean, day][-1]["sum"] > 0
            assert stats[ean, night][-1]["sum"] > 0
    # Quarter-hour meters: hourly rows; the daily one: one row per local day.
    daily_starts = [r["start"] for r in stats[DAILY, Quantity.ENERGY_IMPORT_NIGHT]]
    assert {
        dt_util.utc_from_timestamp(s).astimezone(BRUSSELS).hour for s in daily_starts
    } == {0}
    assert len(stats[DIGITAL_EAN, Quantity.ENERGY_IMPORT_DAY]) > 24 * 11
    # Both quarter-hour meters' statistics equal the simulator's quarters.
    for ean, quantity in itertools.product(QUARTER_EANS, ALL):
        stored = stats[ean, quantity]
        start = dt_util.utc_from_timestamp(stored[0]["start"])
        want = hourly(sim.expected_intervals(ean, quantity, start, sim.now))
        assert {r["start"]: r["state"] for r in stored} == pytest.approx(want, abs=1e-9)
    # The AMR meter: its total, no tariffs.
    assert await rows(hass, _stat(AMR_INJECTION_EAN, Quantity.ENERGY_EXPORT), since)
    for quantity in TARIFFS:
        assert not await rows(hass, _stat(AMR_INJECTION_EAN, quantity), since)


def _last_dst_sunday(now: datetime, month: int) -> date:
    """Return the latest last Sunday of ``month`` at least 4 days before ``now``."""
    year = now.year
    while True:
        last = date(year, month + 1, 1) - timedelta(days=1)
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        if datetime(
            sunday.year, sunday.month, sunday.day, tzinfo=UTC
        ) < now - timedelta(days=4):
            return sunday
        year -= 1


@pytest.mark.parametrize(("month", "hours"), [(3, 23), (10, 25)])
async def test_dst_day_tariffs(
    hass: HomeAssistant, serve: Serve, month: int, hours: int
) -> None:
    """The DST Sunday: 23 / 25 hourly rows per tariff, all night, registers match.

    The simulator's clock stands five days after that Sunday (Home Assistant's
    is the real one), so only those days hold data.
    """
    real_now = datetime.now(UTC)
    sunday = _last_dst_sunday(real_now, month)
    lo = datetime(sunday.year, sunday.month, sunday.day, tzinfo=BRUSSELS).astimezone(
        UTC
    )
    hi = next_local_midnight(lo)
    assert hi - lo == timedelta(hours=hours)
    back = (real_now - lo).days + 3
    sim = _account(fine_days=back + 2)
    sim.now = hi + timedelta(days=5)
    sim.register_start = lo - timedelta(days=3)
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=back, meters=[*QUARTER_EANS, DAILY])
    await _setup(hass, entry)

    stats = await _stats(hass, (*QUARTER_EANS, DAILY), lo - timedelta(days=3))
    for ean in (*QUARTER_EANS, DAILY):
        _assert_hours_add_up(stats, ean)
        _assert_days_match_registers(sim, stats, ean, [(lo, hi)])
        for quantity in ALL:
            inside = [
                r
                for r in stats[ean, quantity]
                if lo.timestamp() <= r["start"] < hi.timestamp()
            ]
            # Every UTC hour once (the daily meter: one row at local midnight).
            assert [r["start"] for r in inside] == (
                [lo.timestamp()]
                if ean == DAILY
                else [lo.timestamp() + 3600 * i for i in range(hours)]
            )
            if quantity in (Quantity.ENERGY_IMPORT_DAY, Quantity.ENERGY_EXPORT_DAY):
                assert {r["state"] for r in inside} == {0.0}  # Sunday: night tariff


async def test_correction_in_overlap_rechains_tariffs(
    hass: HomeAssistant, serve: Serve
) -> None:
    """Estimates corrected inside the overlap: day, night and total re-chained.

    The tariff of each corrected hour rises by the total's correction, the
    other tariff stays 0, and every later sum rises by the corrections before
    it: nothing is counted twice.
    """
    sim = _account(fine_days=20)
    real_now = sim.now
    sim.now = real_now - timedelta(days=2)
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=6, meters=list(QUARTER_EANS))
    await _setup(hass, entry)
    since = real_now - timedelta(days=7)
    before = await _stats(hass, QUARTER_EANS, since)

    sim.now = real_now
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    after = await _stats(hass, QUARTER_EANS, since)

    for ean in QUARTER_EANS:
        _assert_hours_add_up(after, ean)
        for total, (day, night, _) in SPLITS.items():
            old = {
                q: {r["start"]: r for r in before[ean, q]} for q in (total, day, night)
            }
            rises: dict[float, float] = {}
            for row in after[ean, total]:
                was = old[total].get(row["start"])
                if was is not None and row["state"] != pytest.approx(
                    was["state"], abs=1e-9
                ):
                    rises[row["start"]] = row["state"] - was["state"]
            if total is Quantity.ENERGY_IMPORT:
                assert rises, "no estimate was corrected in the overlap"
            # The 3-day overlap before the newest hour of the first run.
            overlap = before[ean, total][-1]["start"] - 3 * 86400
            assert all(hour >= overlap for hour in rises)
            for hour, rise in rises.items():
                moment = dt_util.utc_from_timestamp(hour)
                own, idle = (day, night) if is_day_tariff(moment) else (night, day)
                new = {q: {r["start"]: r for r in after[ean, q]} for q in (own, idle)}
                assert new[own][hour]["state"] - old[own][hour]["state"] == (
                    pytest.approx(rise, abs=1e-9)
                )
                assert new[idle][hour]["state"] == old[idle][hour]["state"] == 0.0
            # Later sums rise by the corrections before them, in all three.
            for quantity in (total, day, night):
                for row in after[ean, quantity]:
                    was = old[quantity].get(row["start"])
                    if was is None:
                        continue
                    rises_before = sum(
                        rise
                        for hour, rise in rises.items()
                        if hour <= row["start"]
                        and (
                            quantity is total
                            or (quantity is day)
                            is is_day_tariff(dt_util.utc_from_timestamp(hour))
                        )
                    )
                    assert row["sum"] - was["sum"] == pytest.approx(
                        rises_before, abs=1e-6
                    )
            # Nothing counted twice: the final sums are the simulator's amounts.
            for quantity in (total, day, night):
                stored = after[ean, quantity]
                start = dt_util.utc_from_timestamp(stored[0]["start"])
                want = hourly(sim.expected_intervals(ean, quantity, start, sim.now))
                assert {r["start"]: r["state"] for r in stored} == pytest.approx(
                    want, abs=1e-9
                )
                assert stored[-1]["sum"] == pytest.approx(sum(want.values()), abs=1e-6)
    # The days corrected since the first run match the registers now.
    first = after[DIGITAL_EAN, Quantity.ENERGY_IMPORT][0]["start"]
    days = list(_local_days(first, sim.now - sim.correction_delay))
    for ean in QUARTER_EANS:
        _assert_days_match_registers(sim, after, ean, days)
