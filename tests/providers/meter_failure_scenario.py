"""One meter of an account fails while the others answer: what a user sees.

Shared by tests/providers/<provider>/test_meter_failures.py. A provider's
entry runs against its simulator behind the fault proxy; a fault hits only
the requests of one meter (403, 5xx, a timeout or an unreadable answer).
:func:`run_scenario` then checks, in order:

* during the fault: the healthy meter's sensors stay available and follow
  the new data, its statistics go on for the hours after the fault began;
  the failing meter's sensors are unavailable, its statistics stop, one
  WARNING names it (none on the next poll), its repair issue (where one
  applies) names it; the import_history action imports the others and ends
  in the translated error naming it, without a traceback in the log;
* after recovery: the issue is gone, one INFO line says it works again,
  its gap is filled: every statistic of both meters is hour after hour
  without a hole or a doubled hour, sums chain, the rows equal the
  simulator's data (``expected``) and a fresh re-import of the whole period
  (import_history) changes no row; a quiet poll costs what it cost before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import itertools
import logging
from typing import Any

from aiohttp import web
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.providers import PROVIDERS

from ..faults.conftest import MakeProxy
from ..faults.ha import chain_problems, our_records, stat_rows
from ..faults.proxy import Fault, FaultProxy
from ..faults.rows import Row
from ..helpers import call_import_history, visible_tracebacks

#: The client's timeout in the timeout case; the proxy answers much later.
#: Long enough for a healthy meter's day of data on a busy test machine.
CLIENT_TIMEOUT = 3.0
HOUR_S = 3600.0

type Match = Callable[[web.Request], bool]
type Rows = dict[str, list[tuple[Any, ...]]]
#: Stat id → {hour start (epoch s): the value a row must hold}.
type Expected = dict[str, dict[float, float]]


@pytest.fixture
def short_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-read 6 hours per import instead of days: same logic, less work."""
    for spec in PROVIDERS.values():
        monkeypatch.setattr(spec, "history_overlap", timedelta(hours=6))


def meter_faults(match: Match, forbidden_body: bytes = b"") -> dict[str, Fault]:
    """Return the faults of one meter's requests, by name."""
    return {
        "forbidden_403": Fault("status", status=403, body=forbidden_body, match=match),
        "server_error_500": Fault("status", status=500, body=b"oops", match=match),
        "timeout": Fault("delay", seconds=30.0, match=match),
        "unreadable": Fault(
            "status",
            status=200,
            body=b"\x00<not {an answer",
            content_type="application/json",
            match=match,
        ),
    }


FAULT_NAMES = ("forbidden_403", "server_error_500", "timeout", "unreadable")


@dataclass
class Scenario:
    """One provider account with a healthy and a failing meter."""

    row: Row
    sim: Any
    #: Config entry data (the proxy's origin is known only later).
    entry_data: Callable[[str], dict[str, Any]]
    failing: str
    healthy: str
    #: The proxy's fault (None: ``begin`` and ``end`` break and mend the meter).
    fault: Fault | None
    #: Moves the simulator's clock on, so that new data exists.
    advance: Callable[[], None]
    #: The repair issue (translation key) the fault raises for the failing
    #: meter, if any.
    issue: str | None = None
    #: The simulator's hourly values of some statistics of both meters.
    expected: Callable[[], Expected] | None = None
    #: Which field of a row ``expected`` holds (1 state, 3 mean).
    expected_field: int = 1
    #: Requests of the first poll with the fault and of a later one (the
    #: failing meter is asked again on every poll).
    fault_costs: tuple[int, int] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: Break the failing meter in the simulator instead (e.g. consent withdrawn).
    begin: Callable[[], None] | None = None
    end: Callable[[], None] | None = None


@dataclass
class Loaded:
    """A scenario's entry, running against the proxy."""

    scenario: Scenario
    proxy: FaultProxy
    entry: MockConfigEntry

    @property
    def runtime(self) -> Any:
        """Return the entry's runtime data."""
        return self.entry.runtime_data

    def sensors(self, hass: HomeAssistant, key: str) -> list[str]:
        """Return the entity ids of a meter's reading sensors."""
        registry = er.async_get(hass)
        prefix = f"{self.entry.entry_id}_{self.scenario.row.provider}_{key}_"
        return [
            entry.entity_id
            for entry in er.async_entries_for_config_entry(
                registry, self.entry.entry_id
            )
            if entry.domain == "sensor"
            and entry.unique_id.startswith(prefix)
            and entry.unique_id.removeprefix(prefix) in {str(q) for q in Quantity}
        ]

    def states(self, hass: HomeAssistant, ids: list[str]) -> dict[str, str]:
        """Return the state of each entity."""
        result = {}
        for entity_id in ids:
            state = hass.states.get(entity_id)
            result[entity_id] = "missing" if state is None else state.state
        return result

    async def poll(self, hass: HomeAssistant, times: int = 1) -> None:
        """Refresh the latest readings ``times`` times."""
        for _ in range(times):
            await self.runtime.latest.async_refresh()
            await hass.async_block_till_done()

    async def history(self, hass: HomeAssistant) -> None:
        """Run one history import."""
        await self.runtime.history.async_refresh()
        await hass.async_block_till_done()

    def issue(self, hass: HomeAssistant, key: str) -> ir.IssueEntry | None:
        """Return the scenario's repair issue about meter ``key``."""
        assert self.scenario.issue is not None
        return ir.async_get(hass).async_get_issue(
            DOMAIN, f"{self.entry.entry_id}_{self.scenario.issue}_{key}"
        )

    async def import_history(self, hass: HomeAssistant, start: datetime) -> Any:
        """Call the import_history action from the local date of ``start``."""
        return await call_import_history(
            hass, self.entry.entry_id, dt_util.as_local(start).date()
        )


def meter_rows(rows: Rows, provider: str, key: str) -> Rows:
    """Return the statistics of one meter (ids ``meetdata:<p>_<key>_<quantity>``)."""
    prefix = f"{DOMAIN}:{provider}_{key}_".lower()
    quantities = {str(q) for q in Quantity}
    return {
        stat_id: items
        for stat_id, items in rows.items()
        if stat_id.startswith(prefix) and stat_id.removeprefix(prefix) in quantities
    }


def newest_start(rows: Rows) -> float:
    """Return the start of the newest row of any of these statistics."""
    return max(items[-1][0] for items in rows.values() if items)


def hour_problems(rows: Rows) -> list[str]:
    """Return where a statistic has a hole or a doubled hour."""
    problems = []
    for stat_id, items in rows.items():
        for earlier, later in itertools.pairwise(items):
            if later[0] - earlier[0] != HOUR_S:
                problems.append(f"{stat_id}: {earlier[0]} then {later[0]}")
    return problems


async def load(
    hass: HomeAssistant, make_proxy: MakeProxy, scenario: Scenario
) -> Loaded:
    """Serve the simulator behind a proxy; set the entry up; import history."""
    proxy = await make_proxy(scenario.row, scenario.sim)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"{scenario.row.provider} meter failures",
        unique_id=f"{scenario.row.provider}_meter_failures",
        data={"provider": scenario.row.provider, **scenario.entry_data(proxy.url)},
        options=scenario.options or scenario.row.options,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return Loaded(scenario, proxy, entry)


def _values(rows: Rows) -> set[tuple[Any, ...]]:
    """Return (statistic, start, state, mean, min, max) of every row: no sums.

    A re-import from a date may add hours before the first stored one, which
    moves every later sum; the values of the hours stay.
    """
    return {
        (stat_id, *item[:2], *item[3:])
        for stat_id, items in rows.items()
        for item in items
    }


def _log_lines(
    caplog: pytest.LogCaptureFixture, since: int, level: int, text: str
) -> list[str]:
    return [
        r.getMessage()
        for r in our_records(caplog.records[since:], level)
        if r.levelno == level and text in r.getMessage()
    ]


async def run_scenario(
    hass: HomeAssistant,
    make_proxy: MakeProxy,
    caplog: pytest.LogCaptureFixture,
    scenario: Scenario,
    *,
    during_fault: Callable[[Loaded], Awaitable[None]] | None = None,
) -> Loaded:
    """Run the whole story of one failing meter; see the module docstring."""
    provider, failing, healthy = (
        scenario.row.provider,
        scenario.failing,
        scenario.healthy,
    )
    loaded = await load(hass, make_proxy, scenario)
    await loaded.poll(hass)
    bad_ids, good_ids = loaded.sensors(hass, failing), loaded.sensors(hass, healthy)
    assert bad_ids and good_ids
    before = loaded.states(hass, good_ids + bad_ids)
    assert STATE_UNAVAILABLE not in before.values(), before
    rows0 = await stat_rows(hass, provider)
    bad0, good0 = (
        meter_rows(rows0, provider, failing),
        meter_rows(rows0, provider, healthy),
    )
    assert any(bad0.values()) and any(good0.values()), "history was imported"
    seen = len(loaded.proxy.seen)
    await loaded.poll(hass)
    quiet_cost = len(loaded.proxy.seen) - seen

    # --- the fault begins; new data arrives -------------------------------
    if scenario.fault is not None and scenario.fault.kind == "delay":
        scenario.row.tune(loaded.runtime.client, timeout=CLIENT_TIMEOUT)
    loaded.proxy.fault = scenario.fault
    if scenario.begin is not None:
        scenario.begin()
    scenario.advance()
    since = len(caplog.records)
    costs = []
    for _ in range(2):
        seen = len(loaded.proxy.seen)
        await loaded.poll(hass)
        costs.append(len(loaded.proxy.seen) - seen)
    if scenario.fault_costs is not None:
        assert tuple(costs) == scenario.fault_costs, costs
    states = loaded.states(hass, good_ids + bad_ids)
    assert {states[i] for i in bad_ids} == {STATE_UNAVAILABLE}, states
    assert STATE_UNAVAILABLE not in {states[i] for i in good_ids}, states
    assert any(states[i] != before[i] for i in good_ids), "healthy sensors updated"
    warned = _log_lines(caplog, since, logging.WARNING, f"of meter {failing} failed")
    assert len(warned) == 1, warned
    assert not _log_lines(caplog, since, logging.WARNING, f"meter {healthy} ")
    if scenario.issue is not None:
        issue = loaded.issue(hass, failing)
        assert issue is not None
        assert issue.translation_placeholders is not None
        assert issue.translation_placeholders["meter"] == failing
        assert loaded.issue(hass, healthy) is None
    if during_fault is not None:
        await during_fault(loaded)

    await loaded.history(hass)
    rows1 = await stat_rows(hass, provider)
    assert meter_rows(rows1, provider, failing) == bad0, "no rows while failing"
    good1 = meter_rows(rows1, provider, healthy)
    assert newest_start(good1) > newest_start(good0), "healthy statistics go on"
    assert not hour_problems(good1)

    fault_start = datetime.fromtimestamp(newest_start(bad0), dt_util.UTC)
    with pytest.raises(HomeAssistantError) as caught:
        await loaded.import_history(hass, fault_start - timedelta(hours=1))
    assert caught.value.translation_key == "import_failed"
    assert failing in str(caught.value)
    assert f"{healthy} (" not in str(caught.value)
    rows = await stat_rows(hass, provider)
    assert meter_rows(rows, provider, failing) == bad0
    assert _values(good1) <= _values(meter_rows(rows, provider, healthy))

    # --- the fault ends ---------------------------------------------------
    loaded.proxy.fault = None
    if scenario.end is not None:
        scenario.end()
    since = len(caplog.records)
    await loaded.poll(hass)
    states = loaded.states(hass, good_ids + bad_ids)
    assert STATE_UNAVAILABLE not in states.values(), states
    if scenario.issue is not None:
        assert loaded.issue(hass, failing) is None
    again = _log_lines(caplog, since, logging.INFO, f"of meter {failing} works again")
    assert len(again) == 1, again
    seen = len(loaded.proxy.seen)
    await loaded.poll(hass)
    assert len(loaded.proxy.seen) - seen == quiet_cost, "a quiet poll is cheap again"

    await loaded.history(hass)
    rows2 = await stat_rows(hass, provider)
    bad2, good2 = (
        meter_rows(rows2, provider, failing),
        meter_rows(rows2, provider, healthy),
    )
    assert newest_start(bad2) > newest_start(bad0), "the failing meter goes on"
    assert not hour_problems(bad2 | good2)
    assert not chain_problems(bad2 | good2)
    for stat_id, items in bad0.items():
        # The newest hour may have been incomplete: it may be completed now.
        kept = items[:-1]
        assert bad2[stat_id][: len(kept)] == kept, "rows before the fault stay"
    if scenario.expected is not None:
        expected = scenario.expected()
        assert expected.keys() & bad2.keys() and expected.keys() & good2.keys()
        for stat_id, hours in expected.items():
            stored = {item[0]: item[scenario.expected_field] for item in rows2[stat_id]}
            # Hour after hour from the first stored one to the newest the
            # simulator has: the gap is filled.
            first = min(stored)
            assert max(stored) == max(hours), (stat_id, max(stored), max(hours))
            assert stored.keys() == {h for h in hours if h >= first}, (
                stat_id,
                sorted(stored.keys() ^ {h for h in hours if h >= first}),
            )
            # The rows are rounded to 6 decimals (faults.ha.stat_rows).
            want = {h: hours[h] for h in stored}
            assert stored == pytest.approx(want, abs=1e-6), stat_id
    await loaded.import_history(hass, fault_start - timedelta(hours=1))
    fresh = meter_rows(await stat_rows(hass, provider), provider, failing)
    fresh |= meter_rows(await stat_rows(hass, provider), provider, healthy)
    assert _values(bad2 | good2) <= _values(fresh), "a re-import changes nothing"
    assert not visible_tracebacks(caplog.records)
    assert not [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"].get("source") == SOURCE_REAUTH
    ], "one meter's failure asks for no new credentials"
    return loaded
