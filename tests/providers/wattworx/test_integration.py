"""Wattworx end to end: config flow, devices, sensors, repair issues, diagnostics."""

# Fixtures imported from wattworx_fixtures are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
import hashlib
import json
import logging
import socket

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_KEY, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.meetdata.providers import PROVIDERS
from custom_components.meetdata.providers.wattworx.client.times import day_end
from custom_components.meetdata.providers.wattworx.spec import account_unique_id

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import find_device, form_fields, state_of, visible_tracebacks
from ...simulators.wattworx import (
    DEMO_KEY,
    EAN_GAS,
    EAN_GAS_2,
    EAN_PENDING,
    EAN_POWER,
    EAN_POWER_2,
    PENDING,
    SINGLE_CLIENT_KEY,
    WattworxSimulator,
)
from .fixtures import (  # noqa: F401
    TITLE,
    UNIQUE_ID,
    loaded_wattworx,
    sensor_id,
    wattworx_entry,
    wattworx_sim,
    wattworx_url,
)

ADVANCED = {"source": SOURCE_USER}
SIGNED_EANS = (EAN_POWER, EAN_GAS, EAN_POWER_2, EAN_GAS_2)


async def _form(hass: HomeAssistant, *, advanced: bool = True) -> str:
    context = ADVANCED if advanced else {"source": SOURCE_USER}
    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    assert result["type"] is FlowResultType.MENU
    assert "wattworx" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "wattworx"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "wattworx"
    return result["flow_id"]


def _state(hass: HomeAssistant, ean: str, quantity: str) -> State:
    return state_of(hass, sensor_id(hass, ean, quantity), ean, quantity)


def _issue(
    hass: HomeAssistant, entry: MockConfigEntry, ean: str
) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN, f"{entry.entry_id}_wattworx_not_signed_{ean}"
    )


# ----------------------------------------------------------------------
# Config flow


async def test_user_adds_multi_client_key(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The UI creates an entry; devices, sensors and statistics appear."""
    spec = PROVIDERS["wattworx"]
    assert spec.default_history_days == 365
    # A year of history is ~35k rows; three days keep this test fast.
    monkeypatch.setattr(spec, "default_history_days", 3)
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_API_KEY: f"  {DEMO_KEY} ", "advanced": {CONF_BASE_URL: wattworx_url}},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == {
        CONF_PROVIDER: "wattworx",
        CONF_API_KEY: DEMO_KEY,
        CONF_BASE_URL: wattworx_url,
    }
    entry = result["result"]
    digest = hashlib.sha256(b"1111,2222").hexdigest()[:16]
    assert entry.unique_id == UNIQUE_ID == f"wattworx_{digest}"
    assert DEMO_KEY not in entry.unique_id
    # Verified with the device list; identified by the client overview.
    assert {r.endpoint for r in wattworx_sim.requests} >= {"ean/list", "client/list"}

    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert find_device(hass, f"wattworx_{EAN_GAS_2}")
    assert float(_state(hass, EAN_POWER, "energy_import_normal").state) > 0
    await async_wait_recording_done(hass)
    assert entry.runtime_data.history.data
    assert f"meetdata:wattworx_{EAN_GAS}_gas_volume" in entry.runtime_data.history.data


async def test_single_client_key(hass: HomeAssistant, wattworx_url: str) -> None:
    """A single-client key is another account, titled after its client."""
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_API_KEY: SINGLE_CLIENT_KEY, "advanced": {CONF_BASE_URL: wattworx_url}},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Wattworx Klant 1"
    digest = hashlib.sha256(b"1111").hexdigest()[:16]
    assert result["result"].unique_id == f"wattworx_{digest}"


def test_unique_id_sorts_client_ids_numerically() -> None:
    """The same client set gives the same id, whatever order the ids come in."""
    digest = hashlib.sha256(b"999,1111").hexdigest()[:16]
    assert account_unique_id("1111,999") == f"wattworx_{digest}"
    assert account_unique_id("999,1111,999") == f"wattworx_{digest}"


async def test_base_url_in_a_collapsed_section(hass: HomeAssistant) -> None:
    """The form asks for the key (URL in a collapsed section); bad keys are caught."""
    flow_id = await _form(hass, advanced=False)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: " "}
    )
    assert result["errors"] == {CONF_API_KEY: "empty"}
    assert form_fields(result["data_schema"]) == [
        CONF_API_KEY,
        "advanced(collapsed)[base_url]",
    ]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: "two words"}
    )
    assert result["errors"] == {CONF_API_KEY: "wattworx_invalid_key_format"}


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1/"


@pytest.mark.parametrize(
    ("knob", "error"),
    [
        ("bad_key", "invalid_auth"),
        ("malformed", "invalid_response"),
        ("bad_gateway", "cannot_connect"),
        ("rate_limited", "rate_limited"),
        ("no_devices", "no_meters"),
        ("client_list_fails", "cannot_connect"),
        ("closed_port", "cannot_connect"),
    ],
)
async def test_user_errors_then_recover(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_url: str,
    knob: str,
    error: str,
) -> None:
    """Each failure is a translated form error; fixing it creates the entry."""
    key, url = DEMO_KEY, wattworx_url
    if knob == "bad_key":
        key = "wrong-key"
    elif knob == "malformed":
        wattworx_sim.respond_next(b"<devices><device>", endpoint="ean/list")
    elif knob == "bad_gateway":
        wattworx_sim.fail_next(502)
    elif knob == "rate_limited":
        wattworx_sim.fail_next(429, retry_after="5")
    elif knob == "no_devices":
        wattworx_sim.respond_next(b"<devices/>", endpoint="ean/list")
    elif knob == "client_list_fails":
        wattworx_sim.fail_next(503, endpoint="client/list")
    else:
        url = _closed_port_url()
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: key, "advanced": {CONF_BASE_URL: url}}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: DEMO_KEY, "advanced": {CONF_BASE_URL: wattworx_url}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_already_configured(
    hass: HomeAssistant, wattworx_entry: MockConfigEntry, wattworx_url: str
) -> None:
    """The same set of clients cannot be added twice, whatever the key."""
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: DEMO_KEY, "advanced": {CONF_BASE_URL: wattworx_url}}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_wrong_account(
    hass: HomeAssistant, wattworx_entry: MockConfigEntry
) -> None:
    """A key of another set of clients is refused (the rest: test_flows_all_providers)."""
    result = await wattworx_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: SINGLE_CLIENT_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert wattworx_entry.data[CONF_API_KEY] == DEMO_KEY


async def test_reconfigure_wrong_account(
    hass: HomeAssistant, wattworx_entry: MockConfigEntry, wattworx_url: str
) -> None:
    """Reconfigure refuses a key of another account (the rest: all providers)."""
    result = await wattworx_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_API_KEY: SINGLE_CLIENT_KEY, "advanced": {CONF_BASE_URL: wattworx_url}},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert wattworx_entry.unique_id == UNIQUE_ID


# ----------------------------------------------------------------------
# Devices and sensors


async def test_devices(
    hass: HomeAssistant,
    loaded_wattworx: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A device per client, and per EAN behind it: address, type, operator, meter id."""
    klant = find_device(hass, "wattworx_client_1111")
    klant_2 = find_device(hass, "wattworx_client_2222")
    assert klant is not None and klant_2 is not None
    assert (klant.name, klant.model, klant.manufacturer) == (
        "Klant 1",
        "Client",
        "Wattworx",
    )
    expected = {
        EAN_POWER: ("STADSTRAAT 111 (KVBE)", "KVBE · Liander NWN", "BC233232j44444"),
        EAN_GAS: ("STADSTRAAT 111 (KVBG)", "KVBG · Liander NWN", "G4-2019-55501"),
        EAN_POWER_2: ("Voorbeeldweg 58 (KVBE)", "KVBE · Liander", "E0031003"),
        EAN_GAS_2: ("Voorbeeldweg 58 (GVBG)", "GVBG · Liander", "G25-7781"),
        EAN_PENDING: ("Voorbeeldweg 60 (KVBE)", "KVBE · Liander", "E0031077"),
    }
    for ean, (name, model, serial) in expected.items():
        device = find_device(hass, f"wattworx_{ean}")
        assert device is not None, ean
        assert (device.name, device.model, device.serial_number) == (
            name,
            model,
            serial,
        )
        assert device.manufacturer == "Wattworx"
        parent = klant if ean in (EAN_POWER, EAN_GAS) else klant_2
        assert device.via_device_id == parent.id


async def test_sensors(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Readings of the last data date as total_increasing; the date as timestamp."""
    last = wattworx_sim.today - timedelta(days=1)
    moment = day_end(last)
    for ean in (EAN_POWER, EAN_POWER_2):
        regs = wattworx_sim.registers(ean, moment)
        expected = {
            "energy_import_normal": regs["cons"],
            "energy_import_low": regs["cons_low"],
            "energy_export_normal": regs["prod"],
            "energy_export_low": regs["prod_low"],
        }
        for quantity, value in expected.items():
            state = _state(hass, ean, quantity)
            assert float(state.state) == pytest.approx(value, abs=1e-3)
            assert state.attributes["unit_of_measurement"] == "kWh"
            assert state.attributes["device_class"] == "energy"
            assert state.attributes["state_class"] == "total_increasing"
    for ean in (EAN_GAS, EAN_GAS_2):
        state = _state(hass, ean, "gas_volume")
        expected_gas = wattworx_sim.registers(ean, moment)["gas"]
        assert float(state.state) == pytest.approx(expected_gas, abs=1e-3)
        assert state.attributes["unit_of_measurement"] == "m³"
        assert state.attributes["device_class"] == "gas"
        assert state.attributes["state_class"] == "total_increasing"
    stamp = _state(hass, EAN_GAS, "last_measurement")
    assert stamp.state == moment.isoformat()
    assert stamp.attributes["device_class"] == "timestamp"
    # The EAN without a signed authorisation has no sensors.
    assert sensor_id(hass, EAN_PENDING, "last_measurement") is None
    entries = er.async_entries_for_config_entry(
        entity_registry, loaded_wattworx.entry_id
    )
    # Electricity: five readings and the capacity peak; gas: two readings.
    assert len(entries) == 2 * (5 + 1) + 2 * 2


async def test_outage_and_recovery(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 502 outage: unavailable, one error line; back when it ends."""
    coordinator = loaded_wattworx.runtime_data.latest
    caplog.clear()
    wattworx_sim.fail_next(502, count=100)
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert _state(hass, EAN_POWER, "energy_import_normal").state == STATE_UNAVAILABLE
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert visible_tracebacks(caplog.records) == []

    wattworx_sim._overrides.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, EAN_POWER, "energy_import_normal").state != STATE_UNAVAILABLE


async def test_revoked_key_starts_reauth(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A 401 mid-session asks the user for a new key."""
    del wattworx_sim.keys[DEMO_KEY]
    await loaded_wattworx.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize(
    ("status", "state"),
    [(502, ConfigEntryState.SETUP_RETRY), (401, ConfigEntryState.SETUP_ERROR)],
)
async def test_setup_errors(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    wattworx_entry: MockConfigEntry,
    status: int,
    state: ConfigEntryState,
) -> None:
    """Temporary failures retry; a refused key needs reauthentication."""
    wattworx_sim.fail_next(status, count=20)
    await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done()
    assert wattworx_entry.state is state


# ----------------------------------------------------------------------
# Repair issues


async def test_unsigned_ean_issue_until_signed(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """An unsigned EAN raises an issue naming it and its status; signing clears it."""
    issue = _issue(hass, loaded_wattworx, EAN_PENDING)
    assert issue is not None
    assert issue.translation_key == "wattworx_not_signed"
    assert issue.translation_placeholders == {
        "meter": EAN_PENDING,
        "entry": TITLE,
        "status": PENDING,
    }
    for ean in SIGNED_EANS:
        assert _issue(hass, loaded_wattworx, ean) is None
    # The history import skips it without asking (no 403, no failed import).
    assert loaded_wattworx.runtime_data.history.last_update_success
    assert not [
        r
        for r in wattworx_sim.requests
        if r.endpoint == "ean/innerdayvalues" and r.params.get("code") == EAN_PENDING
    ]

    # A status that changes but stays unsigned updates the issue.
    wattworx_sim.devices[EAN_PENDING].authorisation_status = "Afgekeurd"
    await loaded_wattworx.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    issue = _issue(hass, loaded_wattworx, EAN_PENDING)
    assert issue is not None
    assert issue.translation_placeholders["status"] == "Afgekeurd"

    wattworx_sim.sign(EAN_PENDING)
    await loaded_wattworx.runtime_data.latest.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _issue(hass, loaded_wattworx, EAN_PENDING) is None
    # Without a reload, the newly signed EAN has its sensor with readings now.
    assert loaded_wattworx.state is ConfigEntryState.LOADED
    moment = day_end(wattworx_sim.today - timedelta(days=1))
    state = _state(hass, EAN_PENDING, "energy_import_normal")
    assert float(state.state) == pytest.approx(
        wattworx_sim.registers(EAN_PENDING, moment)["cons"], abs=1e-3
    )


async def test_excluded_ean_has_no_issue(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Options offer the EANs; excluding the unsigned one clears its issue."""
    result = await hass.config_entries.options.async_init(loaded_wattworx.entry_id)
    schema = result["data_schema"]
    assert schema is not None
    defaults = {
        str(key): key.description["suggested_value"]
        for key in schema.schema
        if key.description  # the price sections suggest nothing
    }
    assert defaults["update_interval"] == 60
    assert defaults[CONF_HISTORY_DAYS] == 3
    assert EAN_PENDING in defaults[CONF_METERS]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "update_interval": 60,
            CONF_HISTORY_DAYS: 3,
            CONF_METERS: ["client_1111", "client_2222", EAN_POWER, EAN_GAS],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.state is ConfigEntryState.LOADED
    assert _issue(hass, loaded_wattworx, EAN_PENDING) is None
    devices = dr.async_entries_for_config_entry(
        dr.async_get(hass), loaded_wattworx.entry_id
    )
    assert len(devices) == 4


async def test_unknown_status_is_named(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A device without an authorisation status still gets an issue."""
    body = (
        f"<devices><device><id>1</id><ean>{EAN_PENDING}</ean><eantype>KVBE</eantype>"
        "</device></devices>"
    ).encode()
    wattworx_sim.respond_next(body, endpoint="ean/list")
    await loaded_wattworx.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    issue = _issue(hass, loaded_wattworx, EAN_PENDING)
    assert issue is not None
    assert issue.translation_placeholders["status"] == "?"


# ----------------------------------------------------------------------
# Secrets


async def test_key_never_in_diagnostics_or_logs(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    wattworx_sim: WattworxSimulator,
    wattworx_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither setup, failures echoing the key, nor diagnostics reveal it."""
    caplog.set_level(logging.DEBUG)
    assert await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    wattworx_sim.fail_next(500, count=3, message=f"Server saw key {DEMO_KEY}")
    await wattworx_entry.runtime_data.latest.async_refresh()
    await wattworx_entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, wattworx_entry
    )
    dumped = json.dumps(diagnostics)
    assert DEMO_KEY not in dumped
    assert diagnostics["entry"]["data"]["api_key"] == "**REDACTED**"
    meters = {meter["key"]: meter for meter in diagnostics["meters"]}
    assert meters[EAN_POWER]["attributes"]["grid_operator"] == "Liander NWN"
    assert meters[EAN_PENDING]["attributes"]["authorisation_status"] == PENDING
    # The 500s hit the first meters asked on their own; the others kept answering.
    failing = diagnostics["latest_failing_meters"]
    assert failing
    assert all("Server saw key **REDACTED**" in text for text in failing.values())
    assert diagnostics["latest"]
    assert set(failing).isdisjoint(diagnostics["latest"])
    assert any(key.endswith("_gas_volume") for key in diagnostics["history"])

    assert "Server saw key" in caplog.text
    assert DEMO_KEY not in caplog.text


async def test_deleting_the_entry_removes_its_issues(
    hass: HomeAssistant,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Repairs shows nothing of an account once its entry is deleted."""
    assert _issue(hass, loaded_wattworx, EAN_PENDING) is not None
    await hass.config_entries.async_remove(loaded_wattworx.entry_id)
    await hass.async_block_till_done()
    assert not [
        issue_id for domain, issue_id in ir.async_get(hass).issues if domain == DOMAIN
    ]
