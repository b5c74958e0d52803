"""A window that fails does not stall the import: holes, refused windows, issues.

The CEMM simulator sits behind the fault proxy; its day requests of one
7-day import window fail (HTTP 503) while every other request passes. The
hours after that window are imported anyway, the window is kept as a hole
(in diagnostics, across a restart, as a repair issue after a day) and is
imported once the provider answers, re-chaining the later sums. A metering
company that refuses long windows (400, 413, an answer over the size cap)
still gets every hour, asked in shorter windows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from yarl import URL

from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.diagnostics import async_get_config_entry_diagnostics
from custom_components.meetdata.holes import storage_key
from custom_components.meetdata.statistics_rows import HOUR

from ..simulators.dtl import TRANSFER_METER_EAN, DtlSimulator
from .conftest import MakeProxy
from .ha import (
    IMPORT_ID,
    P1,
    LoadedRow,
    assert_p1_equals_source,
    chain_problems,
    load_row,
    stat_rows,
)
from .proxy import Fault
from .rows import ROW_BY_NAME

#: Recorder statistics: scripts/test_db runs these on PostgreSQL and MariaDB.
pytestmark = pytest.mark.recorder_db

#: Fifteen days of history: CEMM windows of 7 days, 7 days and one day.
CEMM = replace(ROW_BY_NAME["cemm"], options={"history_days": 15})
DTL = replace(ROW_BY_NAME["dtl"], options={"history_days": 10})
CEMM_METERS = (P1, f"{P1}_gas", "ffffffffffff_s01")


@pytest.fixture(autouse=True)
async def auto_recorder(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """Run with a real recorder and the custom integration."""


def _first_hour(now: datetime, days: int) -> datetime:
    """Return the first hour an import of ``days`` days of history starts at."""
    since = now - timedelta(days=days)
    return since.replace(minute=0, second=0, microsecond=0)


def _failing_days(first: datetime) -> tuple[float, float]:
    """Return a span of day requests inside the second 7-day window only."""
    return (
        (first + timedelta(days=8)).timestamp(),
        (first + timedelta(days=12)).timestamp(),
    )


def _day_in(span: tuple[float, float]) -> Any:
    """Match CEMM day requests whose ``time`` lies in ``span``."""

    def _match(request: web.Request) -> bool:
        if "/data/day/" not in request.path or "time" not in request.query:
            return False
        return span[0] <= float(request.query["time"]) < span[1]

    return _match


async def _holes(hass: HomeAssistant, loaded: LoadedRow) -> dict[str, Any]:
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded.entry)
    holes: dict[str, Any] = diagnostics["history_holes"]
    return holes


async def _cemm_with_a_failing_window(
    hass: HomeAssistant, make_proxy: MakeProxy
) -> tuple[LoadedRow, tuple[float, float]]:
    """Set CEMM up while the second 7-day window's day requests answer 503."""
    sim = CEMM.make_sim(keep_days=20)
    proxy = await make_proxy(CEMM, sim)
    failing = _failing_days(_first_hour(datetime.now(UTC), 15))
    proxy.fault = Fault("status", status=503, body=b"down", match=_day_in(failing))
    return await load_row(hass, CEMM, proxy, sim), failing


def _assert_hole_then_hours(
    stats: dict[str, list[tuple[Any, ...]]],
    hole: dict[str, Any],
    failing: tuple[float, float],
) -> None:
    """The hole is the second window: no rows in it, the hours after it stored."""
    start = datetime.fromisoformat(hole["start"]).timestamp()
    end = datetime.fromisoformat(hole["end"]).timestamp()
    assert end - start == 7 * 24 * HOUR
    assert start <= failing[0] and failing[1] <= end
    starts = [row[0] for row in stats[IMPORT_ID]]
    assert not [s for s in starts if start <= s < end]
    assert [s for s in starts if s < start], "the window before it was stored"
    after = [s for s in starts if s >= end]
    assert len(after) >= 24, "the hours after it were imported"
    assert not chain_problems(stats)


async def test_a_failing_window_does_not_stall_the_hours_after_it(
    hass: HomeAssistant, make_proxy: MakeProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """Three runs fail on one window; the rest imports; the fourth fills it."""
    loaded, failing = await _cemm_with_a_failing_window(hass, make_proxy)
    history = loaded.runtime.history
    for run in range(3):
        if run:
            await loaded.run_history(hass)
        assert history.last_update_success, run
        holes = await _holes(hass, loaded)
        assert sorted(holes) == sorted(CEMM_METERS)
        [hole] = holes[P1]
        assert hole["attempts"] == run + 1
        assert "503" in hole["error"]
        _assert_hole_then_hours(await stat_rows(hass, "cemm"), hole, failing)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "tried again" in r.getMessage()
    ]
    assert len(warnings) == len(CEMM_METERS), "one warning per hole, not per run"

    loaded.proxy.fault = None
    await loaded.run_history(hass)
    assert history.last_update_success
    assert await _holes(hass, loaded) == {}
    assert_p1_equals_source(await stat_rows(hass, "cemm"), loaded.sim)


async def test_a_hole_survives_a_restart(
    hass: HomeAssistant, make_proxy: MakeProxy, hass_storage: dict[str, Any]
) -> None:
    """Reloaded while the window still fails: the hole is kept and filled later."""
    loaded, _ = await _cemm_with_a_failing_window(hass, make_proxy)
    stored = storage_key(loaded.entry.entry_id)
    [before] = (await _holes(hass, loaded))[P1]
    assert hass_storage[stored]["data"]["meters"][P1] == [before]
    assert await hass.config_entries.async_reload(loaded.entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    [after] = (await _holes(hass, loaded))[P1]
    # The run after the restart tried it again (and failed): same hole, same age.
    assert after == before | {"attempts": 2}

    loaded.proxy.fault = None
    assert await hass.config_entries.async_reload(loaded.entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await _holes(hass, loaded) == {}
    assert_p1_equals_source(await stat_rows(hass, "cemm"), loaded.sim)
    # A deleted entry leaves no file of holes behind.
    assert await hass.config_entries.async_remove(loaded.entry.entry_id)
    await hass.async_block_till_done()
    assert stored not in hass_storage


async def test_a_hole_open_for_a_day_raises_a_repair_issue(
    hass: HomeAssistant, make_proxy: MakeProxy, freezer: FrozenDateTimeFactory
) -> None:
    """After a day the issue names the meter and period; filling it removes it."""
    loaded, _ = await _cemm_with_a_failing_window(hass, make_proxy)
    issue_id = f"{loaded.entry.entry_id}_history_hole_{P1}"
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, issue_id) is None

    freezer.tick(timedelta(hours=25))
    loaded.sim.now += timedelta(hours=25)
    await loaded.run_history(hass)
    [hole] = (await _holes(hass, loaded))[P1]
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "history_hole"
    placeholders = issue.translation_placeholders or {}
    assert placeholders["meter"] == P1
    start = dt_util.as_local(datetime.fromisoformat(hole["start"]))
    end = dt_util.as_local(datetime.fromisoformat(hole["end"]))
    assert placeholders["start"] == f"{start:%Y-%m-%d %H:%M}"
    assert placeholders["end"] == f"{end:%Y-%m-%d %H:%M}"
    assert "503" in placeholders["error"]

    loaded.proxy.fault = None
    await loaded.run_history(hass)
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    assert await _holes(hass, loaded) == {}
    assert_p1_equals_source(await stat_rows(hass, "cemm"), loaded.sim)


async def test_a_meter_whose_every_window_fails_stops_after_two(
    hass: HomeAssistant, make_proxy: MakeProxy
) -> None:
    """No hammering: two failed windows in a row end the run; no hole is kept."""
    row = replace(CEMM, options={"history_days": 20})
    sim = row.make_sim(keep_days=25)
    proxy = await make_proxy(row, sim)
    proxy.fault = Fault("status", status=503, body=b"down", match=_day_in((0, 1e12)))
    loaded = await load_row(hass, row, proxy, sim)
    assert not loaded.runtime.history.last_update_success
    assert await _holes(hass, loaded) == {}
    assert not any((await stat_rows(hass, "cemm")).values())
    # Windows of 7 days from 20 days back: the third one's days start at 14
    # days (the day it shares with the second) and end today.
    third_window = _first_hour(datetime.now(UTC), 20) + timedelta(days=15)
    asked = [
        float(URL(s.path_qs).query["time"])
        for s in proxy.seen
        if "/data/day/" in s.path_qs
    ]
    assert asked, "the first two windows were asked"
    assert max(asked) < third_window.timestamp(), "the third window was not"


def _span(path_qs: str) -> timedelta | None:
    """Return the period a /meetdata request asks for (None: another request)."""
    url = URL(path_qs)
    if url.path != "/meetdata":
        return None
    start = datetime.fromisoformat(url.query["start_tijd"])
    return datetime.fromisoformat(url.query["eind_tijd"]) - start


def _span_over(days: float) -> Any:
    """Match metering-company /meetdata requests longer than ``days``."""

    def _match(request: web.Request) -> bool:
        span = _span(request.path_qs)
        return span is not None and span > timedelta(days=days)

    return _match


@pytest.mark.parametrize("refusal", ["range_400", "status_413", "over_size_cap"])
async def test_windows_refused_as_too_long_are_halved(
    hass: HomeAssistant, make_proxy: MakeProxy, refusal: str
) -> None:
    """A server that takes at most two days per request still gives every hour."""
    sim: DtlSimulator = DTL.make_sim(keep_days=30)
    proxy = await make_proxy(DTL, sim)
    if refusal == "range_400":
        sim.max_window = timedelta(days=2)
    elif refusal == "status_413":
        proxy.fault = Fault("status", status=413, match=_span_over(2))
    else:
        proxy.fault = Fault("huge", content_length=True, match=_span_over(2))
    loaded = await load_row(hass, DTL, proxy, sim)
    assert loaded.runtime.history.last_update_success
    assert await _holes(hass, loaded) == {}
    spans = [span for s in proxy.seen if (span := _span(s.path_qs)) is not None]
    assert [span for span in spans if span > timedelta(days=2)], "refused"
    assert len([span for span in spans if span <= timedelta(days=2)]) >= 5

    stats = await stat_rows(hass, "dtl")
    assert not chain_problems(stats)
    meter = f"meetdata:dtl_{TRANSFER_METER_EAN}"
    rows = stats[f"{meter}_energy_import"]
    first = datetime.fromtimestamp(rows[0][0], UTC)
    assert first <= _first_hour(sim.now, 10) + timedelta(hours=1)
    power: dict[float, list[float]] = {}
    for moment, kw in sim.expected(
        TRANSFER_METER_EAN, "actief_vermogen", first, sim.now
    ):
        ts = moment.timestamp()
        power.setdefault(ts - ts % HOUR, []).append(kw)
    assert [row[0] for row in rows] == sorted(power)
    for start, state, *_ in rows:
        assert state == pytest.approx(sum(max(kw, 0) for kw in power[start]) / 12)
    means = {row[0]: row[3] for row in stats[f"{meter}_power"]}
    assert means == pytest.approx(
        {hour: sum(values) / len(values) for hour, values in power.items()}
    )


async def test_a_window_refused_at_every_length_counts_as_failed(
    hass: HomeAssistant, make_proxy: MakeProxy
) -> None:
    """Halved down to a day, then an hour; refused still, the window failed.

    Every history request of the metering company is refused (413), even an
    hour; the latest readings still answer. Each meter's run gives up after
    two failed windows, having asked each one at most six times.
    """
    sim: DtlSimulator = DTL.make_sim(keep_days=30)
    proxy = await make_proxy(DTL, sim)
    old = sim.now - timedelta(hours=6)

    def _history(request: web.Request) -> bool:
        span = _span(request.path_qs)
        start = datetime.fromisoformat(request.query.get("start_tijd", "2000-01-01"))
        return span is not None and start.astimezone(UTC) < old

    proxy.fault = Fault("status", status=413, match=_history)
    loaded = await load_row(hass, DTL, proxy, sim)
    assert loaded.entry.runtime_data.latest.last_update_success
    assert not loaded.runtime.history.last_update_success
    assert await _holes(hass, loaded) == {}
    refused: dict[str, list[timedelta]] = {}
    for seen in proxy.seen:
        query = URL(seen.path_qs).query
        span = _span(seen.path_qs)
        if span is not None and datetime.fromisoformat(query["start_tijd"]) < old:
            refused.setdefault(query["meter_ean"], []).append(span)
    assert refused
    for spans in refused.values():
        # Two windows, each asked at 7 days (or what was left) and in
        # halves down to a day, then once as an hour.
        assert spans.count(timedelta(hours=1)) == 2, spans
        assert min(spans) == timedelta(hours=1)
        assert len(spans) <= 2 * 6
