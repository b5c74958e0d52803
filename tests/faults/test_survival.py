"""Data survival: restarts mid-backfill, a 10-day outage, clock moves, DST.

Every check compares each stored hour with the simulator's own source data
(CEMM: its minutes, aggregated per UTC hour) and checks that the running
sums chain: no hour may be missing, doubled or made up.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import MEAN_QUANTITIES, Quantity
from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.statistics import StatisticsImporter
from custom_components.meetdata.statistics_rows import (
    HOUR,
    hourly_amounts,
    statistic_id,
)

from ..conftest import Serve
from ..simulators.dtl import TRANSFER_METER_EAN
from ..simulators.fluvius import DIGITAL_EAN
from .conftest import MakeProxy
from .ha import IMPORT_ID, assert_p1_equals_source, chain_problems, load_row, stat_rows
from .proxy import Fault
from .rows import ROW_BY_NAME, ROWS, Row

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

CEMM = ROW_BY_NAME["cemm"]
#: The electricity meter each provider's DST check imports.
DST_METER = {
    "cemm": "ffffffffffff_p1",
    "kenter": "876600504607071300_v066005019551812",
    "wattworx": "871234567890123456",
    "dtl": TRANSFER_METER_EAN,
    "fluvius": DIGITAL_EAN,
}


@pytest.fixture(autouse=True)
async def auto_recorder(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """Run with a real recorder and the custom integration."""


async def _wait_for(predicate: Any) -> None:
    async with asyncio.timeout(20):
        while not predicate():  # noqa: ASYNC110 - polls the proxy's request log
            await asyncio.sleep(0.02)


async def test_restart_in_the_middle_of_a_backfill(
    hass: HomeAssistant, make_proxy: MakeProxy
) -> None:
    """Unloaded while importing its second window, set up again: it resumes."""
    sim = CEMM.make_sim(keep_days=20)
    proxy = await make_proxy(CEMM, sim)
    # Ten days of history: two 7-day windows. Day requests of the last two
    # days hang until Home Assistant stops (the entry is unloaded).
    boundary = int((sim.now - timedelta(days=2)).timestamp())

    def _late_day(path_qs: str) -> bool:
        if "/data/day/" not in path_qs or "time=" not in path_qs:
            return False
        return int(path_qs.split("time=")[1].split("&")[0]) > boundary

    proxy.fault = Fault("delay", seconds=30, match=lambda r: _late_day(r.path_qs))
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="CEMM restart",
        unique_id="cemm_restart",
        data={"provider": "cemm", **CEMM.entry_data(proxy.url, sim)},
        options={"history_days": 10},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _wait_for(lambda: any(_late_day(s.path_qs) for s in proxy.seen))
    partial = await stat_rows(hass, "cemm")
    assert partial[IMPORT_ID], "the first window was stored"
    assert len(partial[IMPORT_ID]) < 9 * 24, "but not the second one"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    proxy.fault = None
    seen_before = len(proxy.seen)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    stats = await stat_rows(hass, "cemm")
    assert_p1_equals_source(stats, sim)
    # Rows stored before the restart are kept as they were (sums included).
    assert set(partial[IMPORT_ID]) <= set(stats[IMPORT_ID])
    assert stats[IMPORT_ID][0] == partial[IMPORT_ID][0]
    # It resumed: the days stored before were not fetched again (overlap aside).
    refetched = {
        s.path_qs.split("time=")[1].split("&")[0]
        for s in proxy.seen[seen_before:]
        if "/p1/data/day/" in s.path_qs
    }
    assert len(refetched) <= 6, sorted(refetched)


async def test_outage_of_ten_days_is_filled(
    hass: HomeAssistant, make_proxy: MakeProxy
) -> None:
    """Stored up to 10 days ago, the provider back: the whole gap is imported."""
    sim = CEMM.make_sim(keep_days=20)
    proxy = await make_proxy(CEMM, sim)
    # During setup the provider's history is down; the sensors work.
    proxy.fault = Fault(
        "status", status=503, body=b"down", match=lambda r: "/data/" in r.path
    )
    loaded = await load_row(hass, CEMM, proxy, sim)
    assert not any((await stat_rows(hass, "cemm")).values())
    # What Home Assistant had imported before the outage began.
    proxy.fault = None
    importer: StatisticsImporter = loaded.runtime.history.importer
    outage_start = (sim.now - timedelta(days=10)).replace(minute=0)
    for meter in loaded.runtime.history.meters:
        await importer.async_import_period(
            meter, outage_start - timedelta(days=2), outage_start, timedelta(days=7)
        )
    before = await stat_rows(hass, "cemm")
    assert before[IMPORT_ID][-1][0] < outage_start.timestamp()
    # Back: the next hourly run fills 10 days although the depth is 1 day.
    await loaded.run_history(hass)
    stats = await stat_rows(hass, "cemm")
    assert_p1_equals_source(stats, sim)
    assert stats[IMPORT_ID][0] == before[IMPORT_ID][0]
    assert stats[IMPORT_ID][-1][0] >= (sim.now - timedelta(hours=1)).timestamp() - HOUR


async def test_clock_moves_create_or_drop_no_hours(
    hass: HomeAssistant, make_proxy: MakeProxy
) -> None:
    """The provider's clock 3 h behind, then 3 h ahead, then right again."""
    sim = CEMM.make_sim()
    # A provider that is behind simply has less data (no zeros for the
    # minutes it has not reached).
    sim.future_zeros = False
    proxy = await make_proxy(CEMM, sim)
    loaded = await load_row(hass, CEMM, proxy, sim)
    true_now = sim.now
    current_hour = true_now.replace(minute=0).timestamp()
    before = await stat_rows(hass, "cemm")
    hours = {k: [r[0] for r in v] for k, v in before.items()}
    for shift in (timedelta(hours=-3), timedelta(hours=3), timedelta(0)):
        sim.now = true_now + shift
        await loaded.poll_latest(hass)
        await loaded.run_history(hass)
        stats = await stat_rows(hass, "cemm")
        assert {k: [r[0] for r in v] for k, v in stats.items()} == hours, shift
        assert all(r[0] <= current_hour for v in stats.values() for r in v)
        assert not chain_problems(stats)
    # Once the clocks agree, every complete hour is the source's again.
    complete = {k: [r for r in v if r[0] < current_hour] for k, v in stats.items()}
    assert complete == {
        k: [r for r in v if r[0] < current_hour] for k, v in before.items()
    }
    assert_p1_equals_source(stats, sim)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_dst_days_have_every_utc_hour_once(
    hass: HomeAssistant,
    serve: Serve,
    http_session: aiohttp.ClientSession,
    row: Row,
    day: date,
    hours: int,
) -> None:
    """Each provider's DST days: 23 / 25 UTC hours, sums equal the client's data."""
    tz = ZoneInfo(
        "Europe/Brussels" if row.provider == "fluvius" else "Europe/Amsterdam"
    )
    sim = row.make_sim(keep_days=800)
    url = await serve(row.app(sim))
    client = row.client(http_session, url, sim)
    await row.prime(client)
    meter = next(
        m for m in await client.async_get_meters() if m.key == DST_METER[row.provider]
    )
    start = datetime.combine(day, datetime.min.time(), tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    importer = StatisticsImporter(hass, client)
    await importer.async_import_period(meter, start, end, timedelta(days=7))
    series = {
        s.quantity: s.intervals
        for s in await client.async_get_history(meter, start, end)
    }
    quantity = next(
        q
        for q in (Quantity.ENERGY_IMPORT, Quantity.PRODUCTION, Quantity.ENERGY_EXPORT)
        if series.get(q)
    )
    assert quantity not in MEAN_QUANTITIES
    stats = await stat_rows(hass, row.provider)
    rows = stats[statistic_id(meter, quantity)]
    inside = [r for r in rows if start.timestamp() <= r[0] < end.timestamp()]
    assert len(inside) == hours
    expected = hourly_amounts(series[quantity])
    assert {r[0]: r[1] for r in inside} == pytest.approx(
        {float(h): v for h, v in expected.items()}, abs=1e-6
    )
    assert not chain_problems(stats)
