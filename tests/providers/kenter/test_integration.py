"""Kenter Near-RealTime Data end to end.

An account of two connections (an electricity meter with four quarter-hour
counters and a gas meter) is added through the config flow against the
simulator; its sensors show the latest quarter, a year of history lands in
statistics, wrong passcodes and missing rights name their EAN-code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, timedelta
import logging
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.energy.data import async_get_manager
from homeassistant.components.energy.validate import async_validate
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import (
    get_metadata,
    list_statistic_ids,
)
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.api.models import Interval, Meter, MeterKind, Quantity
from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.meetdata.providers.kenter.client import meter_key
from custom_components.meetdata.providers.kenter.spec import (
    CONF_ADD_ANOTHER,
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_METER_CODE,
    CONF_PASSCODE,
    KenterSpec,
)
from custom_components.meetdata.statistics_rows import HOUR, statistic_id
from custom_components.meetdata.units import REACTIVE_ENERGY, REACTIVE_POWER

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import (
    entity_id_of,
    find_device,
    form_fields,
    meter_by_key,
    sensor_state,
    stat_rows,
    visible_tracebacks,
)
from ...simulators.kenter import PATH, KenterSimulator, SimConnection, SimMeter

EAN_E = "876600504607071300"  # electricity, four counters (bad GS1 check digit)
EAN_G = "871687120000096366"  # gas
EAN_EG = "871694840000012349"  # an electricity and a gas meter
EAN_RIGHTS = "871687120000099121"  # always fault 1007
EAN_UNKNOWN = "871687120000096373"  # valid check digit, not in the simulator
E_METER = "V066005019551812"
G_METER = "Z0NR000042279210"
PASSCODE = {
    EAN_E: "jTx7HCB",
    EAN_G: "oTW66As",
    EAN_EG: "Zq8sW2k",
    EAN_RIGHTS: "Rt5mP9x",
}
KEY_E = meter_key(EAN_E, E_METER)
KEY_G = meter_key(EAN_G, G_METER)
UNIQUE_ID = f"kenter_{EAN_G}_{EAN_E}"
TITLE = "Kenter Kwekerij Jan Janssen, Hoogevoort B.V."
#: History the entry imports at setup in most tests: the recorder takes
#: about 2 ms per stored row, so only the statistics test imports more.
HISTORY_DAYS = 2
#: History of the statistics test: more than one 31-day getMeterData window.
LONG_HISTORY_DAYS = 40
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ADVANCED = {"source": SOURCE_USER}
COUNTER_STATS = {
    "LVR": Quantity.ENERGY_IMPORT,
    "TLV": Quantity.ENERGY_EXPORT,
    "LVB": Quantity.REACTIVE_ENERGY_IMPORT,
    "TLB": Quantity.REACTIVE_ENERGY_EXPORT,
}


def _conn(ean: str, passcode: str | None = None) -> dict[str, str]:
    return {CONF_EAN: ean, CONF_PASSCODE: passcode or PASSCODE[ean]}


def _form(ean: str, passcode: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return the kenter form's input for one connection."""
    return {
        CONF_EAN: ean,
        CONF_PASSCODE: PASSCODE.get(ean, "x") if passcode is None else passcode,
        CONF_ADD_ANOTHER: False,
        **extra,
    }


@pytest.fixture(autouse=True)
async def settle(hass: HomeAssistant) -> AsyncIterator[None]:
    """Let history imports that a flow started finish before the recorder stops."""
    yield
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def kenter_sim() -> KenterSimulator:
    """Return the demo account with its clock stopped at this second."""
    return KenterSimulator(now=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def kenter_url(serve: Serve, kenter_sim: KenterSimulator) -> str:
    """Serve the simulator; return its SOAP endpoint."""
    return await serve(kenter_sim.build_app()) + PATH


@pytest.fixture
def kenter_entry(hass: HomeAssistant, kenter_url: str) -> MockConfigEntry:
    """Return an entry of the electricity and the gas connection."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=UNIQUE_ID,
        data={
            CONF_PROVIDER: "kenter",
            CONF_CONNECTIONS: [_conn(EAN_E), _conn(EAN_G)],
            CONF_BASE_URL: kenter_url,
        },
        options={CONF_HISTORY_DAYS: HISTORY_DAYS},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_kenter(
    hass: HomeAssistant, kenter_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the entry up and wait for its first history import."""
    assert await hass.config_entries.async_setup(kenter_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert kenter_entry.state is ConfigEntryState.LOADED
    return kenter_entry


# ----------------------------------------------------------------- helpers


async def _kenter_form(hass: HomeAssistant, *, advanced: bool = True) -> FlowResult:
    context = ADVANCED if advanced else {"source": SOURCE_USER}
    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"][0] == "kenter"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "kenter"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "kenter"
    return result


async def _unload_created(hass: HomeAssistant, result: FlowResult) -> None:
    """Assert an entry was created; unload it before its year of history runs."""
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def _fields(result: FlowResult) -> list[str]:
    schema = result["data_schema"]
    assert schema is not None
    return form_fields(schema)


def _suggested(result: FlowResult) -> dict[str, Any]:
    schema = result["data_schema"]
    assert schema is not None
    return {
        str(key): (key.description or {}).get("suggested_value")
        for key in schema.schema
    }


def _state(hass: HomeAssistant, key: str, quantity: Quantity) -> State:
    return sensor_state(hass, f"kenter_{key}_{quantity}", key, quantity)


def _hourly(intervals: Iterable[Interval]) -> dict[float, float]:
    hours: dict[float, float] = defaultdict(float)
    for interval in intervals:
        ts = interval.start.timestamp()
        hours[ts - ts % HOUR] += interval.value
    return dict(hours)


async def _rows(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime | None = None
) -> list[dict[str, Any]]:
    return await stat_rows(hass, stat_id, start, end, ("state", "sum"))


async def _assert_equals_source(
    hass: HomeAssistant,
    sim: KenterSimulator,
    meter: Meter,
    counter: str,
    quantity: Quantity,
    start: datetime,
) -> list[dict[str, Any]]:
    """Stored hours equal the simulator's intervals per UTC hour; sums chain."""
    rows = await _rows(hass, statistic_id(meter, quantity), start)
    assert rows
    first = datetime.fromtimestamp(rows[0]["start"], UTC)
    code = meter.attributes["meter_code"]
    expected = _hourly(sim.source_intervals(code, counter, first, sim.now_utc()))
    assert [row["start"] for row in rows] == sorted(expected)
    assert [row["state"] for row in rows] == pytest.approx(
        [expected[row["start"]] for row in rows]
    )
    total = rows[0]["sum"] - rows[0]["state"]
    for row in rows:
        total += row["state"]
        assert row["sum"] == pytest.approx(total)
    return rows


# ------------------------------------------------------------- config flow


async def test_user_adds_two_connections(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_url: str
) -> None:
    """Two connections, one form each; the entry is keyed by the sorted EANs."""
    result = await _kenter_form(hass)
    assert _fields(result) == [
        CONF_EAN,
        CONF_PASSCODE,
        CONF_METER_CODE,
        CONF_ADD_ANOTHER,
        "advanced(collapsed)[base_url]",
    ]
    assert result["description_placeholders"] == {
        "ean": "",
        "count": "0",
        "connections": "",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_EAN: " 8766 0050 4607 0713 00 ",
            CONF_PASSCODE: f" {PASSCODE[EAN_E]} ",
            CONF_ADD_ANOTHER: True,
            "advanced": {CONF_BASE_URL: kenter_url},
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "kenter"
    assert result["errors"] == {}
    assert result["description_placeholders"]["count"] == "1"
    assert result["description_placeholders"]["connections"] == f"\n- {EAN_E}"
    # The base URL is asked once, on the first form.
    assert _fields(result) == [
        CONF_EAN,
        CONF_PASSCODE,
        CONF_METER_CODE,
        CONF_ADD_ANOTHER,
    ]
    assert _suggested(result)[CONF_EAN] is None

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(EAN_G)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == {
        CONF_PROVIDER: "kenter",
        CONF_BASE_URL: kenter_url,
        CONF_CONNECTIONS: [_conn(EAN_E), _conn(EAN_G)],
    }
    entry = result["result"]
    assert entry.unique_id == UNIQUE_ID
    assert all(code not in entry.unique_id for code in PASSCODE.values())
    # Verified with getMeterMetaData over every collected connection.
    assert kenter_sim.operation_counts["getMeterMetaData"] >= 2
    await _unload_created(hass, result)


async def test_meter_code_narrows_a_connection(
    hass: HomeAssistant, kenter_url: str
) -> None:
    """A meter code is stored with its connection; the entry has one meter."""
    result = await _kenter_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _form(
            EAN_EG,
            **{
                CONF_METER_CODE: " G0057001234567890",
                "advanced": {CONF_BASE_URL: kenter_url},
            },
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CONNECTIONS] == [
        _conn(EAN_EG) | {CONF_METER_CODE: "G0057001234567890"}
    ]
    assert result["title"] == "Kenter Tuinderij De Kas"
    assert result["result"].unique_id == f"kenter_{EAN_EG}"
    await _unload_created(hass, result)


async def test_form_errors_before_any_request(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_url: str
) -> None:
    """EAN format, empty passcode and a repeated EAN are checked locally."""
    result = await _kenter_form(hass)
    flow_id = result["flow_id"]
    for ean, passcode, errors in (
        ("87660050460707130", "x", {CONF_EAN: "invalid_ean_format"}),
        ("8766005046070713OO", "x", {CONF_EAN: "invalid_ean_format"}),
        (EAN_E, "  ", {CONF_PASSCODE: "empty"}),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, _form(ean, passcode, advanced={CONF_BASE_URL: kenter_url})
        )
        assert result["errors"] == errors
    assert kenter_sim.request_count == 0

    result = await hass.config_entries.flow.async_configure(
        flow_id,
        _form(
            EAN_E, **{CONF_ADD_ANOTHER: True, "advanced": {CONF_BASE_URL: kenter_url}}
        ),
    )
    assert result["errors"] == {}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(EAN_E))
    assert result["errors"] == {CONF_EAN: "duplicate_ean"}
    assert result["description_placeholders"]["ean"] == EAN_E


@pytest.mark.parametrize(
    ("ean", "passcode", "extra", "fault", "errors"),
    [
        # 1001: the EAN-code exists, the passcode is wrong.
        (EAN_G, "wrong", {}, None, {CONF_PASSCODE: "invalid_auth_ean"}),
        # 1001 for an EAN-code whose check digit is wrong too: probably mistyped.
        (EAN_E, "wrong", {}, None, {CONF_EAN: "invalid_auth_typo"}),
        # 1001 for an unknown EAN-code with a valid check digit.
        (EAN_UNKNOWN, "x", {}, None, {CONF_PASSCODE: "invalid_auth_ean"}),
        # 1000 / 1009: the EAN-code is invalid.
        (EAN_G, None, {}, 1000, {CONF_EAN: "unknown_ean"}),
        (EAN_E, None, {}, 1009, {CONF_EAN: "unknown_ean_typo"}),
        # 1006: the meter code does not belong to the EAN-code.
        (
            EAN_G,
            None,
            {CONF_METER_CODE: "NOPE"},
            None,
            {CONF_METER_CODE: "unknown_meter_code"},
        ),
        # 1007: no rights for the EAN-code.
        (EAN_RIGHTS, None, {}, None, {"base": "insufficient_rights"}),
        # Errors that are no Kenter fault keep the shared keys.
        (EAN_G, None, {}, 502, {"base": "cannot_connect"}),
        (EAN_G, None, {}, 1005, {"base": "invalid_request"}),
    ],
)
async def test_fault_errors_name_the_ean(
    hass: HomeAssistant,
    kenter_sim: KenterSimulator,
    kenter_url: str,
    ean: str,
    passcode: str | None,
    extra: dict[str, str],
    fault: int | None,
    errors: dict[str, str],
) -> None:
    """Each fault is an error on the field it is about, naming the EAN-code."""
    if fault == 502:
        kenter_sim.force_response(502, "Bad gateway")
    elif fault is not None:
        kenter_sim.force_fault(fault, f"Simulated fault {fault} at EAN-code {ean}")
    result = await _kenter_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _form(ean, passcode, **extra, advanced={CONF_BASE_URL: kenter_url}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    # Kenter's own errors name the EAN-code; the shared ones need not.
    shared = {"cannot_connect", "invalid_request"}
    assert placeholders["ean"] == ("" if set(errors.values()) & shared else ean)
    # Fixing the input creates the entry.
    if ean in (EAN_UNKNOWN, EAN_RIGHTS):
        ean = EAN_G
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(ean, advanced={CONF_BASE_URL: kenter_url})
    )
    await _unload_created(hass, result)


async def test_wrong_passcode_of_an_earlier_connection(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_url: str
) -> None:
    """A refused connection added before is a form error naming its EAN-code."""
    result = await _kenter_form(hass)
    flow_id = result["flow_id"]
    await hass.config_entries.flow.async_configure(
        flow_id,
        _form(
            EAN_G, **{CONF_ADD_ANOTHER: True, "advanced": {CONF_BASE_URL: kenter_url}}
        ),
    )
    kenter_sim.connections[EAN_G].passcode = "changed"
    result = await hass.config_entries.flow.async_configure(flow_id, _form(EAN_E))
    assert result["errors"] == {"base": "invalid_auth_ean"}
    assert result["description_placeholders"]["ean"] == EAN_G


async def test_ean_of_another_entry(
    hass: HomeAssistant, kenter_entry: MockConfigEntry, kenter_url: str
) -> None:
    """An EAN-code that another entry reads cannot be added again."""
    result = await _kenter_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(EAN_G, advanced={CONF_BASE_URL: kenter_url})
    )
    assert result["errors"] == {CONF_EAN: "ean_configured"}
    assert result["description_placeholders"]["ean"] == EAN_G


def test_unique_id_of_many_connections() -> None:
    """More than three connections: a hash of the sorted EAN-codes."""
    spec = KenterSpec()
    eans = [f"87168712000009{n:04d}" for n in range(5)]
    data = {CONF_CONNECTIONS: [_conn(ean, "x") for ean in eans]}
    unique_id, title = spec.account([], data)
    reversed_id, _ = spec.account([], {CONF_CONNECTIONS: data[CONF_CONNECTIONS][::-1]})
    assert unique_id == reversed_id
    assert unique_id.startswith("kenter_") and len(unique_id) == 7 + 32
    assert title == "Kenter " + ", ".join(eans)
    assert spec.check_input({}) == {"base": "no_connections"}
    assert spec.input_placeholders({}) == {"ean": ""}


# ---------------------------------------------------- reauth, reconfigure


async def test_reauth_names_the_refused_connection(
    hass: HomeAssistant, kenter_sim: KenterSimulator, loaded_kenter: MockConfigEntry
) -> None:
    """A changed passcode starts reauth; the form names the EAN-code Kenter refuses."""
    kenter_sim.connections[EAN_G].passcode = "new-gas"
    await loaded_kenter.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id)
    assert result["step_id"] == "reauth_kenter"
    assert result["description_placeholders"]["ean"] == EAN_G
    assert result["description_placeholders"]["name"] == TITLE
    assert set(result["errors"].values()) == {"invalid_auth_ean"}
    assert _suggested(result)[CONF_EAN] == EAN_G

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_EAN: EAN_G, CONF_PASSCODE: " "}
    )
    assert result["errors"] == {CONF_PASSCODE: "empty"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_EAN: EAN_G, CONF_PASSCODE: "still-wrong"}
    )
    assert result["errors"] == {CONF_PASSCODE: "invalid_auth_ean"}
    assert result["description_placeholders"]["ean"] == EAN_G
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_EAN: EAN_G, CONF_PASSCODE: "new-gas"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    connections = {c[CONF_EAN]: c for c in loaded_kenter.data[CONF_CONNECTIONS]}
    assert connections[EAN_G][CONF_PASSCODE] == "new-gas"
    assert connections[EAN_E][CONF_PASSCODE] == PASSCODE[EAN_E]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_kenter.state is ConfigEntryState.LOADED


async def test_reauth_of_two_connections(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_entry: MockConfigEntry
) -> None:
    """Both passcodes changed: fixing one keeps it and names the other."""
    kenter_sim.connections[EAN_E].passcode = "new-e"
    kenter_sim.connections[EAN_G].passcode = "new-g"
    result = await kenter_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_kenter"
    assert result["errors"] == {"base": "invalid_auth_ean"}
    assert result["description_placeholders"]["ean"] == EAN_E
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EAN: EAN_E, CONF_PASSCODE: "new-e"}
    )
    assert result["description_placeholders"]["ean"] == EAN_G
    assert _suggested(result)[CONF_EAN] == EAN_G
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EAN: EAN_G, CONF_PASSCODE: "new-g"}
    )
    assert result["reason"] == "reauth_successful"
    passcodes = {
        c[CONF_EAN]: c[CONF_PASSCODE] for c in kenter_entry.data[CONF_CONNECTIONS]
    }
    assert passcodes == {EAN_E: "new-e", EAN_G: "new-g"}


async def test_reauth_when_kenter_accepts_again_or_is_down(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_entry: MockConfigEntry
) -> None:
    """If every passcode works the form asks without an error; an outage says so."""
    result = await kenter_entry.start_reauth_flow(hass)
    assert result["errors"] == {}
    assert _suggested(result)[CONF_EAN] == EAN_E
    kenter_sim.force_response(503, "down")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_EAN: EAN_G, CONF_PASSCODE: PASSCODE[EAN_G]}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert _suggested(result)[CONF_EAN] == EAN_G


async def test_reconfigure_changes_the_connections(
    hass: HomeAssistant,
    kenter_sim: KenterSimulator,
    kenter_entry: MockConfigEntry,
    kenter_url: str,
) -> None:
    """Remove the gas connection, add a third: new data and unique id."""
    result = await kenter_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_kenter"
    assert _suggested(result)[CONF_CONNECTIONS] == [EAN_E, EAN_G]
    assert result["description_placeholders"]["count"] == "2"
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_CONNECTIONS: [], CONF_ADD_ANOTHER: False}
    )
    assert result["errors"] == {"base": "no_connections"}
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_CONNECTIONS: [EAN_E],
            CONF_ADD_ANOTHER: True,
            "advanced": {CONF_BASE_URL: kenter_url},
        },
    )
    assert result["step_id"] == "kenter"
    assert result["description_placeholders"]["count"] == "1"
    result = await hass.config_entries.flow.async_configure(flow_id, _form(EAN_E))
    assert result["errors"] == {CONF_EAN: "duplicate_ean"}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(EAN_EG))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert kenter_entry.data == {
        CONF_PROVIDER: "kenter",
        CONF_BASE_URL: kenter_url,
        CONF_CONNECTIONS: [_conn(EAN_E), _conn(EAN_EG)],
    }
    assert kenter_entry.unique_id == f"kenter_{EAN_EG}_{EAN_E}"
    assert kenter_entry.title == TITLE


async def test_reconfigure_verifies_what_is_kept(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_entry: MockConfigEntry
) -> None:
    """Without advanced mode the URL is kept; a refused passcode is named."""
    kenter_sim.connections[EAN_G].passcode = "changed"
    result = await kenter_entry.start_reconfigure_flow(hass)
    assert CONF_BASE_URL not in _fields(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CONNECTIONS: [EAN_E, EAN_G], CONF_ADD_ANOTHER: False}
    )
    assert result["errors"] == {"base": "invalid_auth_ean"}
    assert result["description_placeholders"]["ean"] == EAN_G
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CONNECTIONS: [EAN_G, EAN_E][1:], CONF_ADD_ANOTHER: False},
    )
    assert result["reason"] == "reconfigure_successful"
    assert kenter_entry.data[CONF_CONNECTIONS] == [_conn(EAN_E)]
    assert kenter_entry.data[CONF_BASE_URL].endswith(PATH)
    assert kenter_entry.unique_id == f"kenter_{EAN_E}"


# ------------------------------------------------------- devices, sensors


async def test_devices_and_latest_quarter(
    hass: HomeAssistant,
    kenter_sim: KenterSimulator,
    loaded_kenter: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """One device per meter; sensors show the latest quarter (and gas hour)."""
    electricity = find_device(hass, f"kenter_{KEY_E}")
    gas = find_device(hass, f"kenter_{KEY_G}")
    assert electricity is not None and gas is not None
    assert electricity.name == "Kwekerij Jan Janssen Elektriciteitsmeter"
    assert electricity.model == "Elektriciteitsmeter"
    assert electricity.serial_number == E_METER
    assert electricity.manufacturer == "Kenter"
    assert gas.name == "Hoogevoort B.V. Gasmeter"
    assert gas.model == "Gasmeter"
    assert (
        len(dr.async_entries_for_config_entry(device_registry, loaded_kenter.entry_id))
        == 2
    )

    quarter, _ = kenter_sim.latest(E_METER, "LVR")
    amounts = {c: kenter_sim.latest(E_METER, c)[1] for c in COUNTER_STATS}
    for counter, quantity, unit, device_class in (
        ("LVR", Quantity.ENERGY_IMPORT_INTERVAL, "kWh", "energy"),
        ("TLV", Quantity.ENERGY_EXPORT_INTERVAL, "kWh", "energy"),
        (
            "LVB",
            Quantity.REACTIVE_ENERGY_IMPORT_INTERVAL,
            REACTIVE_ENERGY.unit,
            REACTIVE_ENERGY.device_class,
        ),
        (
            "TLB",
            Quantity.REACTIVE_ENERGY_EXPORT_INTERVAL,
            REACTIVE_ENERGY.unit,
            REACTIVE_ENERGY.device_class,
        ),
    ):
        state = _state(hass, KEY_E, quantity)
        assert float(state.state) == pytest.approx(amounts[counter])
        assert state.attributes["unit_of_measurement"] == unit
        assert state.attributes.get("device_class") == device_class
        # An interval amount, not a register: total since the interval start.
        assert state.attributes["state_class"] == "total"
        assert state.attributes["last_reset"] == quarter.isoformat()

    power = _state(hass, KEY_E, Quantity.POWER)
    assert float(power.state) == pytest.approx((amounts["LVR"] - amounts["TLV"]) * 4)
    assert power.attributes["unit_of_measurement"] == "kW"
    assert power.attributes["state_class"] == "measurement"
    assert "last_reset" not in power.attributes
    reactive = _state(hass, KEY_E, Quantity.REACTIVE_POWER)
    assert float(reactive.state) == pytest.approx((amounts["LVB"] - amounts["TLB"]) * 4)
    assert reactive.attributes["unit_of_measurement"] == REACTIVE_POWER.unit
    last = _state(hass, KEY_E, Quantity.LAST_MEASUREMENT)
    assert datetime.fromisoformat(last.state) == quarter

    hour, volume = kenter_sim.latest(G_METER, "VN")
    gas_state = _state(hass, KEY_G, Quantity.GAS_VOLUME_INTERVAL)
    assert float(gas_state.state) == pytest.approx(volume)
    assert gas_state.attributes["unit_of_measurement"] == "m³"
    assert gas_state.attributes["device_class"] == "gas"
    assert gas_state.attributes["state_class"] == "total"
    assert gas_state.attributes["last_reset"] == hour.isoformat()
    # No register sensors for interval counters.
    assert entity_id_of(hass, f"kenter_{KEY_E}_energy_import") is None


async def test_register_counters_are_total_increasing(
    hass: HomeAssistant, serve: Serve
) -> None:
    """A meter with register counters gets running totals, not interval amounts."""
    meter = SimMeter("E0031004567812345", MeterKind.ELECTRICITY, "register")
    sim = KenterSimulator(
        [SimConnection(EAN_EG, "pw", "Register B.V.", "Straat 1", "Delft", [meter])],
        now=datetime.now(UTC).replace(microsecond=0),
    )
    url = await serve(sim.build_app()) + PATH
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"kenter_{EAN_EG}",
        data={
            CONF_PROVIDER: "kenter",
            CONF_CONNECTIONS: [_conn(EAN_EG, "pw")],
            CONF_BASE_URL: url,
        },
        options={CONF_HISTORY_DAYS: HISTORY_DAYS},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    key = meter_key(EAN_EG, meter.code)
    for counter, quantity in COUNTER_STATS.items():
        state = _state(hass, key, quantity)
        assert float(state.state) == pytest.approx(sim.latest(meter.code, counter)[1])
        assert state.attributes["state_class"] == "total_increasing"
        assert "last_reset" not in state.attributes
    assert entity_id_of(hass, f"kenter_{key}_power") is None


async def test_outage_and_recovery(
    hass: HomeAssistant,
    kenter_sim: KenterSimulator,
    loaded_kenter: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 503 outage: unavailable with one error line; back when it ends."""
    coordinator = loaded_kenter.runtime_data.latest
    caplog.clear()
    kenter_sim.force_response(503, "down", count=100)
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert _state(hass, KEY_E, Quantity.POWER).state == STATE_UNAVAILABLE
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert visible_tracebacks(caplog.records) == []
    kenter_sim._forced.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, KEY_E, Quantity.POWER).state != STATE_UNAVAILABLE


async def test_insufficient_rights_raise_a_repair_issue(
    hass: HomeAssistant, kenter_sim: KenterSimulator, loaded_kenter: MockConfigEntry
) -> None:
    """Fault 1007 at runtime: a repair issue naming the EAN-code; gone when readable."""
    coordinator = loaded_kenter.runtime_data.latest
    issue_id = f"{loaded_kenter.entry_id}_no_permission_{EAN_G}"
    kenter_sim.connections[EAN_G].insufficient_rights = True
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "no_permission"
    assert issue.translation_placeholders == {"meter": EAN_G, "entry": TITLE}
    assert _state(hass, KEY_G, Quantity.GAS_VOLUME_INTERVAL).state == STATE_UNAVAILABLE

    kenter_sim.connections[EAN_G].insufficient_rights = False
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize(
    ("fault", "state"),
    [(None, ConfigEntryState.SETUP_RETRY), (1001, ConfigEntryState.SETUP_ERROR)],
)
async def test_setup_errors(
    hass: HomeAssistant,
    kenter_sim: KenterSimulator,
    kenter_entry: MockConfigEntry,
    fault: int | None,
    state: ConfigEntryState,
) -> None:
    """An outage retries; a refused passcode needs reauthentication."""
    if fault is None:
        kenter_sim.force_response(503, "down", count=20)
    else:
        kenter_sim.connections[EAN_E].passcode = "changed"
    await hass.config_entries.async_setup(kenter_entry.entry_id)
    await hass.async_block_till_done()
    assert kenter_entry.state is state


# -------------------------------------------------------------- statistics


@pytest.mark.recorder_db
async def test_history_equals_the_source(
    hass: HomeAssistant, kenter_sim: KenterSimulator, kenter_entry: MockConfigEntry
) -> None:
    """Forty days (two getMeterData windows) of every counter land in statistics."""
    hass.config_entries.async_update_entry(
        kenter_entry, options={CONF_HISTORY_DAYS: LONG_HISTORY_DAYS}
    )
    assert await hass.config_entries.async_setup(kenter_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    start = kenter_sim.now_utc() - timedelta(days=LONG_HISTORY_DAYS + 1)
    electricity = meter_by_key(kenter_entry, KEY_E)
    for counter, quantity in COUNTER_STATS.items():
        rows = await _assert_equals_source(
            hass, kenter_sim, electricity, counter, quantity, start
        )
        assert len(rows) >= LONG_HISTORY_DAYS * 24
    gas = meter_by_key(kenter_entry, KEY_G)
    await _assert_equals_source(hass, kenter_sim, gas, "VN", Quantity.GAS_VOLUME, start)
    # Two windows of at most 31 days per meter.
    assert kenter_sim.operation_counts["getMeterData"] == 4
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(
            hass, statistic_ids={statistic_id(electricity, Quantity.ENERGY_IMPORT)}
        )
    )
    ((_, meta),) = metadata.values()
    assert meta["has_sum"] is True
    assert meta["unit_of_measurement"] == "kWh"
    assert meta["name"] == "Kwekerij Jan Janssen Elektriciteitsmeter Energy import"


@pytest.mark.recorder_db
async def test_energy_dashboard_accepts_the_statistics(
    hass: HomeAssistant, loaded_kenter: MockConfigEntry
) -> None:
    """Offered as sums, and the Energy dashboard validates them without issues."""
    electricity = meter_by_key(loaded_kenter, KEY_E)
    gas = meter_by_key(loaded_kenter, KEY_G)
    imported = statistic_id(electricity, Quantity.ENERGY_IMPORT)
    exported = statistic_id(electricity, Quantity.ENERGY_EXPORT)
    gas_volume = statistic_id(gas, Quantity.GAS_VOLUME)
    assert imported == f"meetdata:kenter_{KEY_E}_energy_import"
    await async_wait_recording_done(hass)
    listed = await get_instance(hass).async_add_executor_job(
        lambda: list_statistic_ids(hass, statistic_type="sum")
    )
    units = {i["statistic_id"]: i["statistics_unit_of_measurement"] for i in listed}
    assert units[imported] == units[exported] == "kWh"
    assert units[gas_volume] == "m³"

    assert await async_setup_component(hass, "energy", {})
    manager = await async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "grid",
                    "flow_from": [
                        {
                            "stat_energy_from": imported,
                            "stat_cost": None,
                            "entity_energy_price": None,
                            "number_energy_price": None,
                        }
                    ],
                    "flow_to": [
                        {
                            "stat_energy_to": exported,
                            "stat_compensation": None,
                            "entity_energy_price": None,
                            "number_energy_price": None,
                        }
                    ],
                    "cost_adjustment_day": 0,
                },
                {
                    "type": "gas",
                    "stat_energy_from": gas_volume,
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": None,
                },
            ]
        }
    )
    validation = await async_validate(hass)
    assert validation.as_dict()["energy_sources"] == [[], []]


async def test_incremental_run_reads_only_the_overlap(
    hass: HomeAssistant, kenter_sim: KenterSimulator, loaded_kenter: MockConfigEntry
) -> None:
    """The next run asks one window per meter and rewrites nothing unchanged."""
    history = loaded_kenter.runtime_data.history
    before = kenter_sim.operation_counts["getMeterData"]
    written = history.importer.rows_written
    await history.async_refresh()
    await hass.async_block_till_done()
    assert kenter_sim.operation_counts["getMeterData"] - before == 2
    assert history.importer.rows_written == written
    assert history.last_update_success


@pytest.mark.recorder_db
@pytest.mark.parametrize("clock", ["elapsed", "wall"])
async def test_a_year_through_both_dst_changes_on_either_clock(
    hass: HomeAssistant, serve: Serve, clock: Any
) -> None:
    """A year of a gas meter lands whole, whichever clock Kenter counts 31 days on.

    The client's own test shows the requests; this one the statistics a user
    gets from setting up an entry with a year of history: every UTC hour once
    (23 on the March day, 25 on the October day), equal to the source.
    """
    sim = KenterSimulator(
        now=datetime.now(UTC).replace(microsecond=0), period_clock=clock
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Kenter gas",
        unique_id=f"kenter_{EAN_G}",
        data={
            CONF_PROVIDER: "kenter",
            CONF_CONNECTIONS: [_conn(EAN_G)],
            CONF_BASE_URL: await serve(sim.build_app()) + PATH,
        },
        options={CONF_HISTORY_DAYS: 366},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.history.last_update_success
    start = sim.now_utc() - timedelta(days=366)
    rows = await _assert_equals_source(
        hass, sim, meter_by_key(entry, KEY_G), "VN", Quantity.GAS_VOLUME, start
    )
    assert len(rows) >= 366 * 24 - 2
    # Twelve windows of 31 days, one of them an hour short on the wall clock
    # across the March change: no window refused (1005) and halved.
    assert sim.operation_counts["getMeterData"] <= 13
    local_days: dict[date, int] = defaultdict(int)
    for row in rows:
        local_days[datetime.fromtimestamp(row["start"], AMSTERDAM).date()] += 1
    # Whole local days (not the first and the last): 24 hours, 23 and 25 once.
    whole = sorted(local_days)[1:-1]
    assert sorted(local_days[day] for day in whole if local_days[day] != 24) == [
        23,
        25,
    ]


@pytest.mark.recorder_db
@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_days(
    hass: HomeAssistant,
    kenter_sim: KenterSimulator,
    loaded_kenter: MockConfigEntry,
    day: date,
    hours: int,
) -> None:
    """The spring day has 23 hourly rows, the autumn day 25, equal to the source."""
    importer = loaded_kenter.runtime_data.history.importer
    start = datetime.combine(day, datetime.min.time(), AMSTERDAM)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM)
    electricity = meter_by_key(loaded_kenter, KEY_E)
    gas = meter_by_key(loaded_kenter, KEY_G)
    for meter, counter, quantity in (
        (electricity, "LVR", Quantity.ENERGY_IMPORT),
        (gas, "VN", Quantity.GAS_VOLUME),
    ):
        await importer.async_import_period(meter, start, end, timedelta(days=31))
        rows = await _rows(hass, statistic_id(meter, quantity), start, end)
        assert len(rows) == hours
        code = meter.attributes["meter_code"]
        expected = _hourly(kenter_sim.source_intervals(code, counter, start, end))
        assert [row["state"] for row in rows] == pytest.approx(
            [expected[row["start"]] for row in rows]
        )


# ------------------------------------------------------------- diagnostics
