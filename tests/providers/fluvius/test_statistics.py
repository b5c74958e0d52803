"""Fluvius statistics: a 400-day backfill, insertTime corrections, period ends.

Only the digital EAN is included so that the module stays fast; the other
meters' hourly statistics are compared in test_fluvius.py.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.providers.fluvius.runtime import get_runtime
from custom_components.meetdata.statistics_rows import statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...simulators.fluvius import DIGITAL_EAN, local_midnight
from .fixtures import fine_from, hourly, make_entry, make_sim, rows

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

DIGITAL = Meter("fluvius", DIGITAL_EAN, MeterKind.ELECTRICITY)
#: The totals and their day/night tariffs: every check holds for all six.
QUANTITIES = (
    "energy_import",
    "energy_export",
    "energy_import_day",
    "energy_import_night",
    "energy_export_day",
    "energy_export_night",
)


def _stat(quantity: str) -> str:
    return statistic_id(DIGITAL, Quantity(quantity))


async def test_backfill_of_400_days(hass: HomeAssistant, serve: Serve) -> None:
    """Daily values at local midnight, then quarter-hours summed per hour.

    400 days cross the API's 185-day window three times; the quarter-hour
    mandate covers only the last 30 days, daily access the rest.
    """
    sim = make_sim(fine_days=30)
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=400, meters=[DIGITAL_EAN])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    now = dt_util.utcnow()
    # The import starts at the hour that holds "400 days ago" (a day whose
    # local midnight falls in that hour is in, as between 23:00 and 24:00 UTC).
    start = (now - timedelta(days=400)).replace(minute=0, second=0, microsecond=0)
    switch = fine_from(sim, 30)
    for quantity in QUANTITIES:
        stored = await rows(hass, _stat(quantity), start - timedelta(days=2))
        daily = sim.expected_intervals(DIGITAL_EAN, quantity, start, switch, daily=True)
        fine = sim.expected_intervals(DIGITAL_EAN, quantity, switch, now)
        assert len(daily) >= 368
        expected = hourly(daily) | hourly(fine)
        assert {row["start"] for row in stored} == set(expected)
        for row in stored:
            assert row["state"] == pytest.approx(expected[row["start"]], abs=2e-3)
        total = 0.0
        for row in stored:
            total += row["state"]
            assert row["sum"] == pytest.approx(total)
        # Daily rows start at Brussels midnight (22:00 or 23:00 UTC).
        assert dt_util.utc_from_timestamp(stored[0]["start"]).hour in (22, 23)
    windows = [
        (r.query["from"][0], r.query["to"][0])
        for r in sim.requests
        if r.kind == "energy" and r.query.get("granularity") == ["daily"]
    ]
    assert len(windows) >= 3


async def test_insert_time_brings_old_corrections(
    hass: HomeAssistant, serve: Serve
) -> None:
    """Corrections older than the overlap are found by insertTime and stored."""
    sim = make_sim()
    sim.correction_delay = timedelta(days=8)
    real_now = sim.now
    sim.now = real_now - timedelta(days=9)
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=20, meters=[DIGITAL_EAN])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    since = real_now - timedelta(days=20)
    estimated = [
        i
        for i in sim.expected_intervals(DIGITAL_EAN, "energy_import", since, sim.now)
        if i.quality == "estimated"
    ]
    # Some estimates lie before what the 3-day overlap re-reads.
    stored = await rows(hass, _stat("energy_import"), since - timedelta(days=1))
    last = dt_util.utc_from_timestamp(stored[-1]["start"])
    assert min(i.start for i in estimated) < last - timedelta(days=3, hours=1)

    sim.now = real_now
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    insert_requests = [
        r for r in sim.requests if r.query.get("periodType") == ["insertTime"]
    ]
    assert insert_requests
    for quantity in QUANTITIES:
        stored = await rows(hass, _stat(quantity), since - timedelta(days=1))
        first = dt_util.utc_from_timestamp(stored[0]["start"])
        expected = hourly(sim.expected_intervals(DIGITAL_EAN, quantity, first, sim.now))
        assert {row["start"]: row["state"] for row in stored} == pytest.approx(
            expected, abs=1e-6
        )
        assert stored[-1]["sum"] == pytest.approx(sum(expected.values()))


async def test_data_period_cut_off_removes_later_data(
    hass: HomeAssistant, serve: Serve
) -> None:
    """When Fluvius cuts the data period off, hours after its end become zero."""
    sim = make_sim()
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=10, meters=[DIGITAL_EAN])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    since = sim.now - timedelta(days=11)
    before = {q: await rows(hass, _stat(q), since) for q in QUANTITIES}

    end = local_midnight(sim.now - timedelta(days=4))
    for mandate in sim.mandates:
        if mandate.ean == DIGITAL_EAN:
            mandate.data_period_to = end
    runtime = get_runtime(entry)
    assert runtime is not None
    await runtime.mandates.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.all_meters[0].attributes["dataPeriodTo"]

    for quantity in QUANTITIES:
        after = await rows(hass, _stat(quantity), since)
        assert [r["start"] for r in after] == [r["start"] for r in before[quantity]]
        kept = [r for r in after if r["start"] < end.timestamp()]
        assert kept == [r for r in before[quantity] if r["start"] < end.timestamp()]
        cleared = [r for r in after if r["start"] >= end.timestamp()]
        assert cleared
        assert {r["state"] for r in cleared} == {0.0}
        assert [r["sum"] for r in cleared] == pytest.approx(
            [kept[-1]["sum"]] * len(cleared)
        )

    # A later import adds nothing after the end.
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    again = await rows(hass, _stat("energy_import"), end)
    assert {r["state"] for r in again} == {0.0}
