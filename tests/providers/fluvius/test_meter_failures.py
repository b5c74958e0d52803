"""Fluvius: one headpoint failing never blanks the other EANs (issue 14).

The demo account (a digital electricity EAN, an AMR injection EAN with a
production and an auxiliary submeter, a gas EAN) runs against the simulator
behind the fault proxy. Only the AMR EAN's GET Energy requests fail: HTTP 403
(no access: the "no mandate" issue names it), HTTP 503, a timeout or an
unreadable answer. The other EANs' latest readings, daily amounts, capacity
peaks and hourly statistics keep coming; the AMR EAN and its submeters are
unavailable, asked once per poll between them, and once Fluvius answers again
their gap is filled with every hour equal to the simulator's, none doubled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from yarl import URL

from custom_components.meetdata.api.http import DEFAULT_TIMEOUT
from custom_components.meetdata.api.models import Meter, Quantity
from custom_components.meetdata.providers.fluvius.client import FluviusClient
from custom_components.meetdata.providers.fluvius.runtime import (
    FluviusRuntime,
    get_runtime,
)
from custom_components.meetdata.statistics_rows import statistic_id

from ...conftest import Serve
from ...faults.proxy import Fault, FaultProxy
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import (
    call_import_history,
    entities_by_meter,
    sensor_state,
    unavailable_meters,
    visible_tracebacks,
)
from ...simulators.fluvius import (
    AMR_INJECTION_EAN,
    DIGITAL_EAN,
    GAS_EAN,
    FluviusSimulator,
)
from .fixtures import (
    AUX_EAN,
    PROD_EAN,
    STATISTICS,
    TITLE,
    fluvius_issues,
    hourly,
    issue_of,
    make_entry,
    make_sim,
    rows,
)

BAD_EAN = AMR_INJECTION_EAN
BAD = {AMR_INJECTION_EAN, PROD_EAN, AUX_EAN}
GOOD = {DIGITAL_EAN, GAS_EAN}
METERS = BAD | GOOD
#: The client's timeout in these tests; the "timeout" fault answers later.
TIMEOUT = 3.0
#: How long the fault lasts on the simulator's clock (new hours meanwhile).
OUTAGE = timedelta(hours=2)


def _asks_bad(request: web.Request) -> bool:
    """Match the GET Energy requests of the failing EAN."""
    return request.query.get("ean") == BAD_EAN


def _client(entry: MockConfigEntry) -> FluviusClient:
    client = entry.runtime_data.client
    assert isinstance(client, FluviusClient)
    return client


def _break(
    kind: str, sim: FluviusSimulator, proxy: FaultProxy, entry: MockConfigEntry
) -> None:
    """Make every GET Energy of the AMR EAN fail with ``kind``."""
    if kind == "403":
        sim.forbidden_eans.add(BAD_EAN)
    elif kind == "503":
        proxy.fault = Fault("status", status=503, body=b"down", match=_asks_bad)
    elif kind == "timeout":
        _client(entry).timeout = TIMEOUT
        proxy.fault = Fault("delay", seconds=TIMEOUT * 20, match=_asks_bad)
    else:
        proxy.fault = Fault("transform", transform=lambda _: b"{nope", match=_asks_bad)


def _mend(sim: FluviusSimulator, proxy: FaultProxy, entry: MockConfigEntry) -> None:
    _client(entry).timeout = DEFAULT_TIMEOUT
    sim.forbidden_eans.clear()
    proxy.fault = None


@pytest.fixture
def sim() -> FluviusSimulator:
    """The demo account, its clock three hours back (it moves on in the tests)."""
    sim = make_sim()
    sim.now -= timedelta(hours=3)
    return sim


@pytest.fixture
async def proxy(serve: Serve, sim: FluviusSimulator) -> AsyncIterator[FaultProxy]:
    """The fault proxy in front of the simulator."""
    proxy = FaultProxy(await serve(sim.build_app()))
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def entry(
    hass: HomeAssistant, sim: FluviusSimulator, proxy: FaultProxy
) -> MockConfigEntry:
    """The demo account's entry through the proxy, loaded, history imported."""
    entry = make_entry(hass, sim, proxy.url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    client = entry.runtime_data.client
    assert isinstance(client, FluviusClient)
    client.cache_ttl = 0.0
    client.retry_backoff = 0.01
    return entry


def _runtime(entry: MockConfigEntry) -> FluviusRuntime:
    runtime = get_runtime(entry)
    assert runtime is not None
    return runtime


def _entities(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, set[str]]:
    return entities_by_meter(hass, entry.entry_id, "fluvius", METERS)


def _unavailable(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    return unavailable_meters(hass, entry.entry_id, "fluvius", METERS)


def _shown(hass: HomeAssistant, ean: str, quantity: str) -> str:
    return sensor_state(hass, f"fluvius_{ean}_{quantity}", ean, quantity).state


def _assert_latest(
    hass: HomeAssistant, sim: FluviusSimulator, eans: Iterable[str]
) -> None:
    """The EANs' data freshness is the end of the simulator's newest interval."""
    now = datetime.now(UTC)
    for ean, quantity in ((DIGITAL_EAN, "energy_import"), (GAS_EAN, "gas_volume")):
        if ean in eans:
            newest = sim.expected_intervals(ean, quantity, now - timedelta(days=2), now)
            assert _shown(hass, ean, "last_measurement") == newest[-1].end.isoformat()


def _insight_values(hass: HomeAssistant) -> dict[str, str]:
    """Return the daily amount and peak sensors' states."""
    return {
        f"{ean} {quantity}": _shown(hass, ean, quantity)
        for ean, quantity in (
            (DIGITAL_EAN, "energy_import_yesterday"),
            (DIGITAL_EAN, "capacity_peak"),
            (DIGITAL_EAN, "capacity_peak_last_month"),
            (AMR_INJECTION_EAN, "energy_export_yesterday"),
        )
    }


def _stat_id(ean: str, quantity: str) -> str:
    meter = Meter("fluvius", ean, "electricity")  # type: ignore[arg-type]
    return statistic_id(meter, Quantity(quantity))


async def _stored(hass: HomeAssistant, eans: Iterable[str]) -> dict[str, list[Any]]:
    """Return the stored hourly rows of the EANs' statistics."""
    since = datetime.now(UTC) - timedelta(days=5)
    return {
        stat_id: await rows(hass, stat_id, since)
        for ean, quantity, _ in STATISTICS
        if ean in eans
        for stat_id in (_stat_id(ean, quantity),)
    }


async def _assert_equals_source(
    hass: HomeAssistant, sim: FluviusSimulator, eans: Iterable[str]
) -> None:
    """Every hourly row of the EANs equals the simulator's; sums chain."""
    now = datetime.now(UTC)
    for ean, quantity, headpoint in STATISTICS:
        if ean not in eans:
            continue
        stored = await rows(hass, _stat_id(ean, quantity), now - timedelta(days=5))
        assert stored, (ean, quantity)
        first = datetime.fromtimestamp(stored[0]["start"], UTC)
        expected = hourly(
            sim.expected_intervals(ean, quantity, first, now, headpoint=headpoint)
        )
        assert {row["start"]: row["state"] for row in stored} == pytest.approx(
            expected, abs=1e-6
        ), (ean, quantity)
        total = stored[0]["sum"] - stored[0]["state"]
        for row in stored:
            total += row["state"]
            assert row["sum"] == pytest.approx(total, abs=1e-6), (ean, quantity)


def _energy_asked(proxy: FaultProxy, since: int) -> Counter[str]:
    """Return how often each EAN was asked GET Energy since request ``since``."""
    return Counter(
        URL(seen.path_qs).query.get("ean", "")
        for seen in proxy.seen[since:]
        if "/energy" in seen.path_qs.lower()
    )


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.latest.async_refresh()
    await _runtime(entry).insights.async_refresh()
    await hass.async_block_till_done()


async def _import(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done()


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.meetdata")
        and text in record.getMessage()
    ]


@pytest.mark.parametrize("kind", ["403", "503", "timeout", "unreadable"])
async def test_one_ean_fails(
    hass: HomeAssistant,
    sim: FluviusSimulator,
    proxy: FaultProxy,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The other EANs stay current and importing; the gap fills after."""
    assert set(_entities(hass, entry)) == METERS
    assert _unavailable(hass, entry) == set()
    insights = _insight_values(hass)
    assert STATE_UNKNOWN not in insights.values()
    await _assert_equals_source(hass, sim, METERS)
    caplog.clear()

    _break(kind, sim, proxy, entry)
    sim.now += OUTAGE
    await _poll(hass, entry)
    assert entry.runtime_data.latest.last_update_success
    assert _runtime(entry).insights.last_update_success
    assert _unavailable(hass, entry) == BAD
    _assert_latest(hass, sim, GOOD)
    # The digital EAN's daily amount and peaks stay.
    shown = _insight_values(hass)
    assert shown[f"{AMR_INJECTION_EAN} energy_export_yesterday"] == STATE_UNAVAILABLE
    assert {k: v for k, v in shown.items() if DIGITAL_EAN in k} == {
        k: v for k, v in insights.items() if DIGITAL_EAN in k
    }

    # A later poll asks the failing EAN once, not once per submeter.
    seen = len(proxy.seen)
    await entry.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    assert _energy_asked(proxy, seen) == Counter(
        {DIGITAL_EAN: 1, GAS_EAN: 1, BAD_EAN: 1}
    )

    # History: the other EANs import the hours after the fault began.
    good_before = await _stored(hass, GOOD)
    bad_before = await _stored(hass, BAD)
    await _import(hass, entry)
    await _assert_equals_source(hass, sim, GOOD)
    good_after = await _stored(hass, GOOD)
    assert any(
        good_after[stat_id][-1]["start"] > rows_[-1]["start"]
        for stat_id, rows_ in good_before.items()
    )
    assert await _stored(hass, BAD) == bad_before
    issue = issue_of(hass, "fluvius_no_mandate", BAD_EAN)
    if kind == "403":
        assert issue is not None
        assert issue.translation_placeholders is not None
        assert issue.translation_placeholders["entry"] == TITLE
    else:
        assert issue is None
    assert not [i for i in fluvius_issues(hass) if "no_permission" in i]
    assert len(_lines(caplog, "latest readings of meter")) == len(BAD)
    assert len(_lines(caplog, "history import of meter")) == len(BAD)
    assert len(_lines(caplog, "capacity peaks of meter")) == 1
    assert visible_tracebacks(caplog.records) == []

    # Recovery: the AMR EAN is back, its gap filled, nothing doubled.
    sim.now += timedelta(hours=1)
    _mend(sim, proxy, entry)
    await _poll(hass, entry)
    await _import(hass, entry)
    assert entry.runtime_data.history.outages.current == {}
    assert _unavailable(hass, entry) == set()
    _assert_latest(hass, sim, METERS)
    assert _insight_values(hass)[f"{AMR_INJECTION_EAN} energy_export_yesterday"] != (
        STATE_UNAVAILABLE
    )
    assert issue_of(hass, "fluvius_no_mandate", BAD_EAN) is None
    await _assert_equals_source(hass, sim, METERS)
    assert len(_lines(caplog, "works again")) == 2 * len(BAD) + 1
    assert visible_tracebacks(caplog.records) == []


@pytest.mark.parametrize("kind", ["403", "503"])
async def test_import_history_names_the_failing_ean(
    hass: HomeAssistant,
    sim: FluviusSimulator,
    proxy: FaultProxy,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The action imports the other EANs, then names the failing ones."""
    _break(kind, sim, proxy, entry)
    sim.now += OUTAGE
    start = (datetime.now(UTC) - timedelta(days=2)).date()
    with pytest.raises(HomeAssistantError) as raised:
        await call_import_history(hass, entry.entry_id, start)
    assert raised.value.translation_key == "import_failed"
    message = str(raised.value)
    assert all(ean in message for ean in BAD)
    assert f"Imported {len(GOOD)} of {len(METERS)} meters" in message
    await _assert_equals_source(hass, sim, GOOD)
    assert visible_tracebacks(caplog.records) == []
