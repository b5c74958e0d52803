"""Kenter: one connection failing never blanks the others (issue 14).

An entry of three connections (an electricity meter, a gas meter, and one
with both) runs against the simulator behind the fault proxy. Only the gas
connection fails: Kenter fault 1007 (no rights) or 1001 (passcode changed),
HTTP 403, HTTP 503, a timeout or an unreadable answer to every request that
names its EAN-code. The other connections keep one getLatestMeasurement per
poll between them, their sensors keep updating and their hourly statistics
keep arriving; the gas meter is unavailable, asked on its own every poll,
and once it answers again its gap is filled with every hour equal to the
simulator's, none doubled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
import re
from typing import Any

from aiohttp import web
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.http import DEFAULT_TIMEOUT
from custom_components.meetdata.api.models import Interval, Quantity
from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.meetdata.providers.kenter.client import meter_key
from custom_components.meetdata.providers.kenter.spec import (
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_PASSCODE,
)
from custom_components.meetdata.statistics_rows import HOUR, statistic_id

from ...conftest import Serve
from ...faults.proxy import Fault, FaultProxy
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import (
    call_import_history,
    entities_by_meter,
    meter_by_key,
    sensor_state,
    stat_rows,
    unavailable_meters,
    visible_tracebacks,
)
from ...simulators.kenter import PATH, KenterSimulator, demo_connections

EAN_E = "876600504607071300"  # an electricity meter
EAN_G = "871687120000096366"  # a gas meter: the connection that fails
EAN_EG = "871694840000012349"  # an electricity and a gas meter
EANS = (EAN_E, EAN_G, EAN_EG)
PASSCODES = {conn.ean: conn.passcode for conn in demo_connections()}
METERS = {
    meter_key(conn.ean, meter.code): (conn.ean, meter.code, meter.counters)
    for conn in demo_connections()
    if conn.ean in EANS
    for meter in conn.meters
}
BAD = {key for key, (ean, _, _) in METERS.items() if ean == EAN_G}
GOOD = set(METERS) - BAD
COUNTERS = {
    "LVR": Quantity.ENERGY_IMPORT,
    "TLV": Quantity.ENERGY_EXPORT,
    "LVB": Quantity.REACTIVE_ENERGY_IMPORT,
    "TLB": Quantity.REACTIVE_ENERGY_EXPORT,
    "VN": Quantity.GAS_VOLUME,
}
#: The client's timeout in these tests; the "timeout" fault answers later.
TIMEOUT = 2.0
#: How long the fault lasts on the simulator's clock (new hours meanwhile).
OUTAGE = timedelta(hours=2)
_EAN_IN_BODY = re.compile(rb"<eanCode>(\d+)</eanCode>")
UNREADABLE = b"<S:Envelope><S:Body><ns2:getLatestMeasurementResponse"


def _eans(body: bytes) -> frozenset[str]:
    """Return the EAN-codes a SOAP request names."""
    return frozenset(match.decode() for match in _EAN_IN_BODY.findall(body))


def _names_bad(request: web.Request) -> bool:
    """Match the requests that name the failing connection."""
    body = request._read_bytes or b""  # read by the proxy before it matches
    return EAN_G in _eans(body)


def _fault(kind: str) -> Fault | None:
    """Return the proxy fault of ``kind`` (None: the simulator fails itself)."""
    if kind == "403":
        return Fault("status", status=403, body=b"Forbidden", match=_names_bad)
    if kind == "503":
        return Fault("status", status=503, body=b"down", match=_names_bad)
    if kind == "timeout":
        return Fault("delay", seconds=TIMEOUT * 20, match=_names_bad)
    if kind == "unreadable":
        return Fault("transform", transform=lambda _: UNREADABLE, match=_names_bad)
    return None


@pytest.fixture
def sim() -> KenterSimulator:
    """The demo account, its clock on a whole hour three hours ago."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return KenterSimulator(now=now - timedelta(hours=3))


@pytest.fixture
async def proxy(serve: Serve, sim: KenterSimulator) -> AsyncIterator[FaultProxy]:
    """The fault proxy in front of the simulator."""
    proxy = FaultProxy(await serve(sim.build_app()))
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def entry(hass: HomeAssistant, proxy: FaultProxy) -> MockConfigEntry:
    """An entry of three connections, loaded, its first history imported."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Kenter three",
        unique_id="kenter_three",
        data={
            CONF_PROVIDER: "kenter",
            CONF_CONNECTIONS: [
                {CONF_EAN: ean, CONF_PASSCODE: PASSCODES[ean]} for ean in EANS
            ],
            CONF_BASE_URL: proxy.url + PATH,
        },
        options={CONF_HISTORY_DAYS: 1},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    return entry


def _set_timeout(entry: MockConfigEntry, seconds: float) -> None:
    entry.runtime_data.client._timeout = seconds  # type: ignore[attr-defined]


def _break(
    kind: str, sim: KenterSimulator, proxy: FaultProxy, entry: MockConfigEntry
) -> None:
    """Make every request that names the gas connection fail with ``kind``."""
    if kind == "timeout":
        _set_timeout(entry, TIMEOUT)
    if kind == "1007":
        sim.connections[EAN_G].insufficient_rights = True
    elif kind == "1001":
        sim.connections[EAN_G].passcode = "changed"
    else:
        proxy.fault = _fault(kind)


def _mend(sim: KenterSimulator, proxy: FaultProxy, entry: MockConfigEntry) -> None:
    """End the fault (a changed passcode stays: the user enters it)."""
    _set_timeout(entry, DEFAULT_TIMEOUT)
    sim.connections[EAN_G].insufficient_rights = False
    proxy.fault = None


def _latest_requests(proxy: FaultProxy, since: int) -> list[frozenset[str]]:
    """Return the EAN-codes of each getLatestMeasurement since request ``since``."""
    return [
        _eans(seen.body)
        for seen in proxy.seen[since:]
        if b"getLatestMeasurement" in seen.body
    ]


def _entities(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, set[str]]:
    return entities_by_meter(hass, entry.entry_id, "kenter", METERS)


def _unavailable(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    return unavailable_meters(hass, entry.entry_id, "kenter", METERS)


def _assert_latest_quarter(
    hass: HomeAssistant, sim: KenterSimulator, keys: Iterable[str]
) -> None:
    """The meters' sensors show the simulator's latest interval."""
    for key in keys:
        _, code, counters = METERS[key]
        quarter, _ = sim.latest(code, counters[0])
        state = sensor_state(hass, f"kenter_{key}_{Quantity.LAST_MEASUREMENT}", key)
        assert datetime.fromisoformat(state.state) == quarter, key


def _hourly(intervals: Iterable[Interval]) -> dict[float, float]:
    hours: dict[float, float] = defaultdict(float)
    for interval in intervals:
        ts = interval.start.timestamp()
        hours[ts - ts % HOUR] += interval.value
    return dict(hours)


async def _rows(
    hass: HomeAssistant, entry: MockConfigEntry, key: str, counter: str
) -> list[dict[str, Any]]:
    stat_id = statistic_id(meter_by_key(entry, key), COUNTERS[counter])
    start = datetime.now(UTC) - timedelta(days=3)
    return await stat_rows(hass, stat_id, start, None, ("state", "sum"))


async def _assert_equals_source(
    hass: HomeAssistant,
    sim: KenterSimulator,
    entry: MockConfigEntry,
    keys: Iterable[str],
) -> None:
    """Every hourly row of the meters equals the simulator's; sums chain."""
    for key in keys:
        _, code, counters = METERS[key]
        for counter in counters:
            rows = await _rows(hass, entry, key, counter)
            assert rows, (key, counter)
            first = datetime.fromtimestamp(rows[0]["start"], UTC)
            expected = _hourly(
                sim.source_intervals(code, counter, first, sim.now_utc())
            )
            starts = [row["start"] for row in rows]
            assert starts == sorted(expected), (key, counter)
            assert [row["state"] for row in rows] == pytest.approx(
                [expected[start] for start in starts]
            ), (key, counter)
            total = rows[0]["sum"] - rows[0]["state"]
            for row in rows:
                total += row["state"]
                assert row["sum"] == pytest.approx(total), (key, counter)


async def _newest_row(
    hass: HomeAssistant, entry: MockConfigEntry, key: str
) -> datetime | None:
    _, _, counters = METERS[key]
    rows = await _rows(hass, entry, key, counters[0])
    return datetime.fromtimestamp(rows[-1]["start"], UTC) if rows else None


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()


async def _import(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done()


async def _reauthenticate(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Enter the changed passcode in the reauth flow that names the gas EAN."""
    flows = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]
    assert len(flows) == 1
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["step_id"] == "reauth_kenter"
    assert result["description_placeholders"]["ean"] == EAN_G
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_EAN: EAN_G, CONF_PASSCODE: "changed"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN, f"{entry.entry_id}_no_permission_{EAN_G}"
    )


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.meetdata")
        and text in record.getMessage()
    ]


@pytest.mark.parametrize(
    "kind", ["1007", "1001", "403", "503", "timeout", "unreadable"]
)
async def test_one_connection_fails(
    hass: HomeAssistant,
    sim: KenterSimulator,
    proxy: FaultProxy,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The healthy connections stay batched and current; the gap fills after."""
    assert _unavailable(hass, entry) == set()
    assert set(_entities(hass, entry)) == set(METERS)
    await _assert_equals_source(hass, sim, entry, METERS)
    caplog.clear()

    _break(kind, sim, proxy, entry)
    sim.now += OUTAGE
    await _poll(hass, entry)
    assert entry.runtime_data.latest.last_update_success
    assert _unavailable(hass, entry) == BAD
    _assert_latest_quarter(hass, sim, GOOD)

    # Later polls: one request for the healthy connections, one for the bad.
    seen = len(proxy.seen)
    await _poll(hass, entry)
    assert sorted(_latest_requests(proxy, seen), key=len) == [
        frozenset({EAN_G}),
        frozenset({EAN_E, EAN_EG}),
    ]
    assert _unavailable(hass, entry) == BAD

    if kind in ("1007", "403"):
        issue = _issue(hass, entry)
        assert issue is not None
        assert issue.translation_key == "no_permission"
        assert issue.translation_placeholders == {
            "meter": EAN_G,
            "entry": "Kenter three",
        }
    else:
        assert _issue(hass, entry) is None
    reauth = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]
    assert len(reauth) == (1 if kind == "1001" else 0)

    # History: the healthy meters import the hours after the fault began.
    before = {key: await _newest_row(hass, entry, key) for key in BAD}
    await _import(hass, entry)
    await _assert_equals_source(hass, sim, entry, GOOD)
    newest = sim.now_utc() - timedelta(hours=1)
    for key in GOOD:
        assert await _newest_row(hass, entry, key) == newest
    for key in BAD:
        assert await _newest_row(hass, entry, key) == before[key] < newest
    assert len(_lines(caplog, "latest readings of meter")) == len(BAD)
    assert len(_lines(caplog, "history import of meter")) == len(BAD)
    assert visible_tracebacks(caplog.records) == []

    # Recovery: the gas meter is back, its gap filled, nothing doubled.
    sim.now += timedelta(hours=1)
    _mend(sim, proxy, entry)
    if kind == "1001":
        await _reauthenticate(hass, entry)
    else:
        await _poll(hass, entry)
        await _import(hass, entry)
        assert entry.runtime_data.history.outages.current == {}
        assert len(_lines(caplog, "works again")) == 2 * len(BAD)
    assert _unavailable(hass, entry) == set()
    _assert_latest_quarter(hass, sim, METERS)
    assert _issue(hass, entry) is None
    await _assert_equals_source(hass, sim, entry, METERS)
    newest = sim.now_utc() - timedelta(hours=1)
    for key in METERS:
        assert await _newest_row(hass, entry, key) == newest
    seen = len(proxy.seen)
    await _poll(hass, entry)
    assert _latest_requests(proxy, seen) == [frozenset(EANS)]
    assert visible_tracebacks(caplog.records) == []


@pytest.mark.parametrize("kind", ["1007", "503"])
async def test_import_history_names_the_failing_connection(
    hass: HomeAssistant,
    sim: KenterSimulator,
    proxy: FaultProxy,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The action imports the healthy meters, then names the failing one."""
    _break(kind, sim, proxy, entry)
    sim.now += OUTAGE
    start = (sim.now_utc() - timedelta(days=1)).date()
    with pytest.raises(HomeAssistantError) as raised:
        await call_import_history(hass, entry.entry_id, start)
    assert raised.value.translation_key == "import_failed"
    (bad,) = BAD
    assert bad in str(raised.value)
    assert f"Imported {len(GOOD)} of {len(METERS)} meters" in str(raised.value)
    await _assert_equals_source(hass, sim, entry, GOOD)
    newest = sim.now_utc() - timedelta(hours=1)
    for key in GOOD:
        assert await _newest_row(hass, entry, key) == newest
    assert visible_tracebacks(caplog.records) == []


async def test_left_out_meter_loses_its_issue(
    hass: HomeAssistant, sim: KenterSimulator, proxy: FaultProxy, entry: MockConfigEntry
) -> None:
    """A meter without rights left out in the options takes its repair issue along."""
    _break("1007", sim, proxy, entry)
    await _poll(hass, entry)
    assert _issue(hass, entry) is not None

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_METERS: sorted(GOOD)}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert _issue(hass, entry) is None
    assert _unavailable(hass, entry) == set()
