"""Home Assistant side of the fault matrix: a loaded entry per row and snapshots.

``LoadedRow`` sets a row's config entry up against the fault proxy, with a
real recorder, and takes snapshots of what a user sees: the states of the
entry's reading sensors and every stored statistic row of the entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import itertools
import logging
from typing import Any

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import (
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.statistics_rows import HOUR

from ..helpers import entity_id_of
from ..simulators.cemm import DEFAULT_UID, CemmSimulator
from .proxy import FaultProxy
from .rows import Row

type StatRows = dict[str, list[tuple[Any, ...]]]

#: The CEMM P1 meter and the statistics the survival checks compare.
P1 = "ffffffffffff_p1"
IMPORT_ID = f"meetdata:cemm_{P1}_energy_import"
EXPORT_ID = f"meetdata:cemm_{P1}_energy_export"

#: Loggers whose records are the integration's voice (the coordinators log
#: through the integration's logger; setup retries through Home Assistant's).
OUR_LOGGERS = ("custom_components.meetdata", "homeassistant.config_entries")


def our_records(
    records: list[logging.LogRecord], level: int
) -> list[logging.LogRecord]:
    """Return the records at ``level`` or above from our loggers."""
    return [r for r in records if r.levelno >= level and r.name.startswith(OUR_LOGGERS)]


async def stat_rows(hass: HomeAssistant, provider: str) -> StatRows:
    """Return every stored hourly row of the provider's statistics."""
    await async_wait_recording_done(hass)
    instance = get_instance(hass)
    ids = [
        item["statistic_id"]
        for item in await instance.async_add_executor_job(
            list_statistic_ids, hass, None, None
        )
        if item["statistic_id"].startswith(f"{DOMAIN}:{provider}_")
    ]
    rows = await instance.async_add_executor_job(
        statistics_during_period,
        hass,
        datetime.now(UTC) - timedelta(days=3 * 366),
        None,
        set(ids),
        "hour",
        None,
        {"state", "sum", "mean", "min", "max"},
    )
    return {
        stat_id: [
            (
                row["start"],
                *(
                    None if row.get(k) is None else round(float(row[k]), 6)
                    for k in ("state", "sum", "mean", "min", "max")
                ),
            )
            for row in rows.get(stat_id, [])
        ]
        for stat_id in ids
    }


def chain_problems(rows: StatRows) -> list[str]:
    """Return where a running sum does not chain (sum_i = sum_i-1 + state_i)."""
    problems = []
    for stat_id, items in rows.items():
        for earlier, later in itertools.pairwise(items):
            _, _, sum0, *_ = earlier
            _, state1, sum1, *_ = later
            if sum0 is None or sum1 is None or state1 is None:
                continue
            if abs(sum0 + state1 - sum1) > 1e-3:
                problems.append(f"{stat_id} at {later[0]}")
    return problems


def _source_hours(
    sim: CemmSimulator, start: datetime, end: datetime
) -> dict[str, dict[float, float]]:
    """Return the simulator's P1 import/export per UTC hour in [start, end)."""
    hours: dict[str, dict[float, float]] = {
        IMPORT_ID: defaultdict(float),
        EXPORT_ID: defaultdict(float),
    }
    for moment, imp, exp in sim.minute_energy(DEFAULT_UID, "p1", start, end):
        ts = moment.timestamp()
        hours[IMPORT_ID][ts - ts % HOUR] += imp
        hours[EXPORT_ID][ts - ts % HOUR] += exp
    return hours


def assert_p1_equals_source(stats: StatRows, sim: CemmSimulator) -> None:
    """Every stored P1 hour equals the source; hours are contiguous; sums chain."""
    for stat_id in (IMPORT_ID, EXPORT_ID):
        rows = stats[stat_id]
        assert rows, stat_id
        first = datetime.fromtimestamp(rows[0][0], UTC)
        source = _source_hours(sim, first, sim.now)[stat_id]
        starts = [row[0] for row in rows]
        assert starts == sorted(set(starts)), "an hour is stored twice"
        assert starts == [starts[0] + HOUR * i for i in range(len(starts))], "a gap"
        assert set(starts) == set(source), "stored hours differ from the source's"
        for start, state, *_ in rows:
            assert state == pytest.approx(source[start], abs=1e-5), start
    assert not chain_problems(stats)


@dataclass
class LoadedRow:
    """A row's simulator, proxy and loaded config entry."""

    row: Row
    sim: Any
    proxy: FaultProxy
    entry: MockConfigEntry

    @property
    def runtime(self) -> Any:
        """Return the entry's runtime data."""
        return self.entry.runtime_data

    def sensor_ids(self, hass: HomeAssistant) -> list[str]:
        """Return the entity ids of the latest-readings sensors."""
        latest = self.runtime.latest
        ids = []
        for meter in latest.meters:
            for quantity in (latest.data or {}).get(meter.key, {}):
                key = f"{meter.provider}_{meter.key}_{quantity}"
                if entity_id := entity_id_of(hass, key, self.entry.entry_id):
                    ids.append(entity_id)
        return ids

    def states(self, hass: HomeAssistant, ids: list[str]) -> dict[str, str]:
        """Return the current state of each entity."""
        result = {}
        for entity_id in ids:
            state = hass.states.get(entity_id)
            result[entity_id] = "missing" if state is None else state.state
        return result

    def reauth_flows(self, hass: HomeAssistant) -> list[dict[str, Any]]:
        """Return the reauthentication flows of this entry."""
        return [
            flow
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if flow["context"].get("source") == SOURCE_REAUTH
            and flow["context"].get("entry_id") == self.entry.entry_id
        ]

    async def poll_latest(self, hass: HomeAssistant, times: int = 1) -> None:
        """Refresh the latest readings ``times`` times."""
        for _ in range(times):
            await self.runtime.latest.async_refresh()
            await hass.async_block_till_done()

    async def run_history(self, hass: HomeAssistant) -> None:
        """Run one history import and wait for the recorder."""
        await self.runtime.history.async_refresh()
        await hass.async_block_till_done()
        await async_wait_recording_done(hass)


async def load_row(
    hass: HomeAssistant, row: Row, proxy: FaultProxy, sim: Any
) -> LoadedRow:
    """Create, set up and settle the row's config entry."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"{row.provider} fault matrix",
        unique_id=f"{row.provider}_fault_matrix",
        data={"provider": row.provider, **row.entry_data(proxy.url, sim)},
        options=row.options,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    loaded = LoadedRow(row, sim, proxy, entry)
    row.tune(loaded.runtime.client)
    row.set_promise_timeout(loaded.runtime.client, 0.3)
    return loaded
