"""Fluvius end to end: config flow, devices, sensors, repair issues, services.

Against the Fluvius simulator over real HTTP with a real recorder; the demo
account has a digital meter (offtake + injection, quarter-hour), an AMR
injection meter with a PV production and an auxiliary submeter, and a gas
meter, plus a requested and a rejected mandate.
"""

from __future__ import annotations

from datetime import timedelta
import json
import logging
import socket

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meetdata.api.models import Meter, Quantity
from custom_components.meetdata.const import CONF_BASE_URL, CONF_PROVIDER, DOMAIN
from custom_components.meetdata.providers.fluvius.client import month_bounds
from custom_components.meetdata.providers.fluvius.client.parse import BRUSSELS
from custom_components.meetdata.providers.fluvius.client.windows import (
    local_midnight_floor,
)
from custom_components.meetdata.providers.fluvius.insights import month_start
from custom_components.meetdata.providers.fluvius.mandates import (
    FluviusMandateCoordinator,
)
from custom_components.meetdata.providers.fluvius.runtime import (
    FluviusRuntime,
    get_runtime,
)
from custom_components.meetdata.providers.fluvius.spec import FluviusSpec
from custom_components.meetdata.statistics_rows import statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import entity_id_of, find_device, flow_input, form_fields, sensor_state
from ...simulators import fluvius as fluvius_simulator
from ...simulators.fluvius import (
    AMR_INJECTION_EAN,
    DIGITAL_EAN,
    GAS_EAN,
    FluviusSimulator,
)
from .fixtures import (
    AUX_EAN,
    PROD_EAN,
    SECRETS,
    STATISTICS,
    TITLE,
    UNIQUE_ID,
    fluvius_issues,
    form,
    hourly,
    issue_of,
    make_entry,
    make_sim,
    rows,
)

ADVANCED = {"source": SOURCE_USER}
NEW_SANDBOX_EAN = "541440000000000004"  # digital, offtake only, daily


@pytest.fixture(autouse=True)
def short_default_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let entries created in the UI import two days instead of three years."""
    monkeypatch.setattr(FluviusSpec, "default_history_days", 2)


@pytest.fixture
def fluvius_sim() -> FluviusSimulator:
    """Return the demo account at this minute."""
    return make_sim()


@pytest.fixture
async def fluvius_url(serve: Serve, fluvius_sim: FluviusSimulator) -> str:
    """Serve the simulator; return its root URL."""
    return await serve(fluvius_sim.build_app())


@pytest.fixture
def fluvius_entry(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, fluvius_url: str
) -> MockConfigEntry:
    """Return the demo account's entry, importing three days."""
    return make_entry(hass, fluvius_sim, fluvius_url)


@pytest.fixture
async def loaded(
    hass: HomeAssistant, fluvius_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the entry up and wait for its first history import."""
    assert await hass.config_entries.async_setup(fluvius_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return fluvius_entry


def _state(hass: HomeAssistant, ean: str, quantity: str) -> State:
    return sensor_state(hass, f"fluvius_{ean}_{quantity}", ean, quantity)


async def _form(hass: HomeAssistant, *, advanced: bool = True) -> str:
    context = ADVANCED if advanced else {"source": SOURCE_USER}
    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    assert "fluvius" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "fluvius"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "fluvius"
    return result["flow_id"]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ config flow


@pytest.mark.recorder_db
async def test_account_added_through_the_ui(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    fluvius_sim: FluviusSimulator,
    fluvius_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The demo account is added in the UI; history imports equal to the source.

    The client secret and subscription key appear nowhere in the DEBUG log or
    in the diagnostics.
    """
    caplog.set_level(logging.DEBUG)
    flow_id = await _form(hass)
    data = form(fluvius_sim, fluvius_url)
    result = await hass.config_entries.flow.async_configure(
        flow_id, flow_input({**data, "client_secret": f" {data['client_secret']} "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == {CONF_PROVIDER: "fluvius", **data}
    entry = result["result"]
    assert entry.unique_id == UNIQUE_ID == "fluvius_demo-tenant_demo-client"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED

    # Devices: one per mandated EAN, submeters behind their headpoint.
    registry = dr.async_get(hass)
    devices = {
        next(iter(d.identifiers))[1].removeprefix(f"{entry.entry_id}_"): d
        for d in dr.async_entries_for_config_entry(registry, entry.entry_id)
    }
    assert set(devices) == {
        f"fluvius_{ean}"
        for ean in (DIGITAL_EAN, AMR_INJECTION_EAN, PROD_EAN, AUX_EAN, GAS_EAN)
    }
    digital = devices[f"fluvius_{DIGITAL_EAN}"]
    assert digital.name == DIGITAL_EAN
    assert digital.manufacturer == "Fluvius"
    assert digital.model == "Digital meter · electricity · quarter-hour"
    assert digital.serial_number == "1SAG3100000001"
    amr = devices[f"fluvius_{AMR_INJECTION_EAN}"]
    assert amr.model == "AMR meter · electricity · quarter-hour"
    assert devices[f"fluvius_{PROD_EAN}"].via_device_id == amr.id
    assert devices[f"fluvius_{PROD_EAN}"].model == (
        "PV production submeter · quarter-hour"
    )
    assert devices[f"fluvius_{AUX_EAN}"].via_device_id == amr.id
    assert devices[f"fluvius_{GAS_EAN}"].model == (
        "Digital meter (EAN and meter level) · gas · hourly"
    )

    # Statistics: every hour equals the source; sums chain from the first hour.
    now = dt_util.utcnow()
    since = now - timedelta(days=3)
    for ean, quantity, headpoint in STATISTICS:
        meter = Meter("fluvius", ean, "electricity")  # type: ignore[arg-type]
        stored = await rows(hass, statistic_id(meter, Quantity(quantity)), since)
        assert stored, (ean, quantity)
        first = stored[0]["start"]
        expected = hourly(
            fluvius_sim.expected_intervals(
                ean,
                quantity,
                dt_util.utc_from_timestamp(first),
                now,
                headpoint=headpoint,
            )
        )
        assert first <= (now - timedelta(days=2)).timestamp() + 3600
        assert {row["start"]: row["state"] for row in stored} == pytest.approx(
            expected, abs=1e-6
        ), (ean, quantity)
        assert stored[-1]["sum"] == pytest.approx(sum(expected.values()), abs=1e-6)

    # Data freshness: the end of the newest interval.
    newest = fluvius_sim.expected_intervals(
        DIGITAL_EAN, "energy_import", now - timedelta(days=1), now
    )[-1]
    assert _state(hass, DIGITAL_EAN, "last_measurement").state == (
        newest.end.isoformat()
    )

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    dumped = json.dumps(diagnostics)
    assert "Finished fetching meetdata Fluvius" in caplog.text  # DEBUG is captured
    for secret in SECRETS:
        assert secret not in dumped
        assert secret not in caplog.text
    assert diagnostics["entry"]["data"]["client_secret"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["subscription_key"] == "**REDACTED**"
    assert DIGITAL_EAN in {meter["key"] for meter in diagnostics["meters"]}


#: (form changes, fault, expected errors) tried one after the other in one form.
FORM_ERRORS: list[tuple[dict[str, str], str | None, dict[str, str]]] = [
    ({"client_secret": " "}, None, {"client_secret": "empty"}),
    ({"subscription_key": ""}, None, {"subscription_key": "empty"}),
    ({"tenant_id": "", "scope": ""}, None, {"tenant_id": "empty", "scope": "empty"}),
    ({"client_id": ""}, None, {"client_id": "empty"}),
    ({"tenant_id": "a/b"}, None, {"tenant_id": "fluvius_tenant_format"}),
    ({"token_url": "ftp://x"}, None, {"token_url": "fluvius_invalid_url"}),
    ({CONF_BASE_URL: "not a url"}, None, {CONF_BASE_URL: "fluvius_invalid_url"}),
    ({"tenant_id": "other"}, "tenant", {"tenant_id": "fluvius_unknown_tenant"}),
    ({}, "unauthorized_client", {"client_id": "fluvius_unknown_client"}),
    ({}, "unknown_code", {"base": "invalid_auth"}),
    ({"client_secret": "old"}, None, {"client_secret": "fluvius_invalid_secret"}),
    ({"scope": "api://x"}, None, {"scope": "fluvius_invalid_scope"}),
    (
        {"subscription_key": "wrong"},
        None,
        {"subscription_key": "fluvius_invalid_subscription_key"},
    ),
    ({}, "503", {"base": "cannot_connect"}),
    ({}, "403", {"base": "no_permission"}),
    ({}, "malformed", {"base": "invalid_response"}),
    ({}, "closed", {"base": "cannot_connect"}),
]


async def test_form_errors_then_recover(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, fluvius_url: str
) -> None:
    """Each problem is a translated error on its field; fixing it creates the entry."""
    flow_id = await _form(hass)
    for changes, fault, errors in FORM_ERRORS:
        data = form(fluvius_sim, fluvius_url, **changes)
        if fault == "tenant":
            data["token_url"] = fluvius_sim.token_url(fluvius_url, "other")
        elif fault == "unauthorized_client":
            body = json.dumps({"error": fault}).encode()
            fluvius_sim.fail_next(400, path="token", body=body)
        elif fault == "unknown_code":
            body = json.dumps({"error": fault}).encode()
            fluvius_sim.fail_next(401, path="token", body=body)
        elif fault == "503":
            fluvius_sim.fail_next(503, count=10, path="mandate")
        elif fault == "403":
            fluvius_sim.fail_next(403, path="mandate")
        elif fault == "malformed":
            fluvius_sim.malformed_next(path="mandate")
        elif fault == "closed":
            data["token_url"] = _closed_port_url() + "/t/oauth2/v2.0/token"
        result = await hass.config_entries.flow.async_configure(
            flow_id, flow_input(data)
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == errors, (changes, fault)
        fluvius_sim.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        flow_id, flow_input(form(fluvius_sim, fluvius_url))
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_form_fields_and_empty_account(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, fluvius_url: str
) -> None:
    """URLs wait in a collapsed section; an account without mandates can be added."""
    flow_id = await _form(hass, advanced=False)
    flow = hass.config_entries.flow.async_get(flow_id)
    assert flow["step_id"] == "fluvius"
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        flow_input(
            {k: v for k, v in form(fluvius_sim, fluvius_url).items() if "url" not in k}
            | {"tenant_id": ""},
        ),
    )
    assert form_fields(result["data_schema"]) == [
        "environment",
        "tenant_id",
        "client_id",
        "client_secret",
        "scope",
        "subscription_key",
        "advanced(collapsed)[base_url, token_url]",
    ]
    fluvius_sim.mandates.clear()
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, flow_input(form(fluvius_sim, fluvius_url))
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["result"].state is ConfigEntryState.LOADED
    assert result["result"].runtime_data.all_meters == []
    # Empty URLs fall back to the environment's Fluvius addresses.
    assert FluviusSpec().normalize({"token_url": " ", CONF_BASE_URL: ""}) == {}


async def test_already_configured(
    hass: HomeAssistant,
    fluvius_sim: FluviusSimulator,
    fluvius_url: str,
    fluvius_entry: MockConfigEntry,
) -> None:
    """The same tenant and client id cannot be added twice."""
    flow_id = await _form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, flow_input(form(fluvius_sim, fluvius_url))
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_renewed_secret_starts_reauth(
    hass: HomeAssistant,
    fluvius_sim: FluviusSimulator,
    loaded: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A renewed secret refuses the stored one: reauth asks secret and key again."""
    monkeypatch.setattr(fluvius_simulator, "DEMO_CLIENT_SECRET", "renewed-secret")
    fluvius_sim.revoke_tokens()
    await loaded.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        flow_input({"client_secret": "old", "subscription_key": "demo-sub-key"}),
    )
    assert result["errors"] == {"client_secret": "fluvius_invalid_secret"}
    assert [str(key) for key in result["data_schema"].schema] == [
        "client_secret",
        "subscription_key",
    ]
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        flow_input({"client_secret": "renewed-secret", "subscription_key": "wrong"}),
    )
    assert result["errors"] == {"subscription_key": "fluvius_invalid_subscription_key"}
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        flow_input(
            {"client_secret": "renewed-secret", "subscription_key": "demo-sub-key"}
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert loaded.data["client_secret"] == "renewed-secret"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded.state is ConfigEntryState.LOADED


async def test_reconfigure(
    hass: HomeAssistant,
    fluvius_sim: FluviusSimulator,
    fluvius_url: str,
    fluvius_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reconfigure keeps the URLs without advanced mode; another client is refused."""
    result = await fluvius_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    plain = {k: v for k, v in form(fluvius_sim, fluvius_url).items() if "url" not in k}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], flow_input(plain | {"scope": "api://other/.default"})
    )
    assert result["errors"] == {"scope": "fluvius_invalid_scope"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], flow_input(plain)
    )
    assert result["reason"] == "reconfigure_successful"
    assert fluvius_entry.data == {
        CONF_PROVIDER: "fluvius",
        **form(fluvius_sim, fluvius_url),
    }
    await hass.async_block_till_done(wait_background_tasks=True)

    result = await fluvius_entry.start_reconfigure_flow(hass)
    monkeypatch.setattr(fluvius_simulator, "DEMO_CLIENT_ID", "other-client")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        flow_input(form(fluvius_sim, fluvius_url, client_id="other-client")),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


# ------------------------------------------------------------- sensors, setup


async def test_sensors_and_monthly_peak_by_hand(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, loaded: MockConfigEntry
) -> None:
    """Yesterday's amounts and both peaks equal a hand computation from the source."""
    now = dt_util.utcnow()
    today = local_midnight_floor(now)
    yesterday = local_midnight_floor(today - timedelta(hours=1))
    for quantity, sensor in (
        ("energy_import", "energy_import_yesterday"),
        ("energy_export", "energy_export_yesterday"),
    ):
        source = fluvius_sim.expected_intervals(DIGITAL_EAN, quantity, yesterday, today)
        state = _state(hass, DIGITAL_EAN, sensor)
        assert float(state.state) == pytest.approx(sum(i.value for i in source))
        assert state.attributes["unit_of_measurement"] == "kWh"
        assert state.attributes["device_class"] == "energy"
        assert state.attributes["state_class"] == "total"
        assert state.attributes["last_reset"] == yesterday.isoformat()
        assert state.attributes["complete"] is (
            len(source) == (today - yesterday) / timedelta(minutes=15)
            and all(i.quality != "estimated" for i in source)
        )
    # The injection-only AMR EAN has no offtake: no offtake or peak sensors.
    assert _state(hass, AMR_INJECTION_EAN, "energy_export_yesterday").state != (
        STATE_UNKNOWN
    )
    assert entity_id_of(hass, f"fluvius_{AMR_INJECTION_EAN}_capacity_peak") is None

    for sensor, start in (
        ("capacity_peak", month_start(now)),
        ("capacity_peak_last_month", month_start(now, 1)),
    ):
        local = start.astimezone(BRUSSELS)
        lo, hi = month_bounds(local.year, local.month)
        quarters = fluvius_sim.expected_intervals(DIGITAL_EAN, "energy_import", lo, hi)
        final = [q for q in quarters if q.quality in ("measured", "validated")]
        best = max(final, key=lambda q: q.value)
        state = _state(hass, DIGITAL_EAN, sensor)
        assert float(state.state) == pytest.approx(best.value * 4)
        assert state.attributes["peak_start"] == best.start
        assert state.attributes["unit_of_measurement"] == "kW"
        assert state.attributes["device_class"] == "power"
        expected = int((min(hi, now) - lo) / timedelta(minutes=15))
        if sensor == "capacity_peak":
            # This month is never complete: today's quarters are still to come.
            expected = int((now - lo) // timedelta(minutes=15))
        assert state.attributes["quarters_expected"] == expected
        assert state.attributes["quarters_read"] == len(final)
        assert state.attributes["complete"] is (len(final) == expected)


async def test_sensors_follow_insert_time(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, loaded: MockConfigEntry
) -> None:
    """A later poll asks only what Fluvius inserted since, and takes corrections."""
    insights = _runtime(hass, loaded).insights
    now = dt_util.utcnow()
    # Estimates are corrected three hours after their quarter now; pretend the
    # previous poll was four days ago, before those corrections were inserted.
    fluvius_sim.correction_delay = timedelta(hours=3)
    insights._synced = dict.fromkeys(insights._synced, now - timedelta(days=4))
    before = len(fluvius_sim.requests)
    await insights.async_refresh()
    await hass.async_block_till_done()
    asked = [
        r.query["periodType"]
        for r in fluvius_sim.requests[before:]
        if r.kind == "energy" and r.query["ean"] == [DIGITAL_EAN]
    ]
    assert asked == [["insertTime"]]
    local = now.astimezone(BRUSSELS)
    lo, hi = month_bounds(local.year, local.month)
    quarters = fluvius_sim.expected_intervals(DIGITAL_EAN, "energy_import", lo, hi)
    final = [q for q in quarters if q.quality != "estimated"]
    state = _state(hass, DIGITAL_EAN, "capacity_peak")
    assert float(state.state) == pytest.approx(max(q.value for q in final) * 4)
    assert state.attributes["quarters_estimated"] == len(quarters) - len(final)
    assert state.attributes["quarters_read"] == len(final)
    # Nothing inserted under a valid mandate (404): the values stay.
    fluvius_sim.fail_next(404, count=2, path="energy")
    await insights.async_refresh()
    assert insights.last_update_success
    assert float(_state(hass, DIGITAL_EAN, "capacity_peak").state) == float(state.state)


@pytest.mark.parametrize("status", [404, 503])
async def test_peak_data_unreadable_at_setup(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, fluvius_url: str, status: int
) -> None:
    """No mandate for the last days leaves them empty; an outage, unavailable."""
    entry = make_entry(hass, fluvius_sim, fluvius_url, meters=[DIGITAL_EAN])
    # Three probes and the latest readings pass; the peak data's first read not.
    fluvius_sim.fail_next(status, path="energy", after=4)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    yesterday = _state(hass, DIGITAL_EAN, "energy_import_yesterday")
    peak = _state(hass, DIGITAL_EAN, "capacity_peak_last_month")
    if status == 404:
        assert yesterday.state == STATE_UNKNOWN
        assert peak.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
        return
    assert yesterday.state == peak.state == STATE_UNAVAILABLE
    await _runtime(hass, entry).insights.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, DIGITAL_EAN, "capacity_peak_last_month").state not in (
        STATE_UNKNOWN,
        STATE_UNAVAILABLE,
    )


async def test_mandates_unreadable(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, fluvius_url: str
) -> None:
    """Issues wait for a readable mandate list; a refused token asks to reauth."""
    entry = make_entry(hass, fluvius_sim, fluvius_url, meters=[DIGITAL_EAN])
    fluvius_sim.fail_next(503, path="mandate", after=1)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert fluvius_issues(hass) == {}
    mandates = _mandates(hass, entry)
    await mandates.async_refresh()
    assert len(fluvius_issues(hass)) == 2
    fluvius_sim.fail_next(401, count=2, path="mandate")
    await mandates.async_refresh()
    await hass.async_block_till_done()
    assert len(fluvius_issues(hass)) == 2
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_outage_and_back(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, loaded: MockConfigEntry
) -> None:
    """An outage makes the sensors unavailable; they come back with the API."""
    runtime = _runtime(hass, loaded)
    fluvius_sim.fail_next(503, count=100)
    await loaded.runtime_data.latest.async_refresh()
    await runtime.insights.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, DIGITAL_EAN, "last_measurement").state == STATE_UNAVAILABLE
    assert _state(hass, DIGITAL_EAN, "capacity_peak").state == STATE_UNAVAILABLE
    fluvius_sim.faults.clear()
    await loaded.runtime_data.latest.async_refresh()
    await runtime.insights.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, DIGITAL_EAN, "last_measurement").state != STATE_UNAVAILABLE
    assert _state(hass, DIGITAL_EAN, "capacity_peak").state != STATE_UNAVAILABLE


async def test_unload(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """Unloading drops the Fluvius parts of the entry."""
    assert get_runtime(loaded) is not None
    assert await hass.config_entries.async_unload(loaded.entry_id)
    assert get_runtime(loaded) is None


# ---------------------------------------------------------------- repair issues


async def test_mandate_issues(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, loaded: MockConfigEntry
) -> None:
    """Requested and rejected mandates raise issues; ToBeRenewed appears and goes."""
    kinds = sorted(i.translation_key for i in fluvius_issues(hass).values())
    assert kinds == ["fluvius_mandate_rejected", "fluvius_mandate_requested"]
    requested = next(
        i
        for i in fluvius_issues(hass).values()
        if i.translation_key == "fluvius_mandate_requested"
    )
    assert requested.translation_placeholders == {
        "entry": TITLE,
        "ean": "—",
        "service": "VH_dag",
        "start": "—",
        "end": "—",
        "expiration": "—",
    }
    runtime_mandates = _mandates(hass, loaded)

    amr = next(m for m in fluvius_sim.mandates if m.ean == AMR_INJECTION_EAN)
    amr.renewal_status = "ToBeRenewed"
    amr.expiration = dt_util.utcnow() + timedelta(days=60)
    await runtime_mandates.async_refresh()
    await hass.async_block_till_done()
    issue = issue_of(hass, "fluvius_mandate_to_be_renewed", AMR_INJECTION_EAN)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["expiration"] == (
        amr.expiration.astimezone(BRUSSELS).date().isoformat()
    )
    assert issue.translation_placeholders["service"] == "VH_kwartier_uur"

    amr.renewal_status = "Expired"
    await runtime_mandates.async_refresh()
    assert issue_of(hass, "fluvius_mandate_to_be_renewed", AMR_INJECTION_EAN) is None
    assert issue_of(hass, "fluvius_mandate_expired", AMR_INJECTION_EAN) is not None

    amr.renewal_status = "RenewalRequested"
    fluvius_sim.mandates = [
        m for m in fluvius_sim.mandates if m.status not in ("Requested", "Rejected")
    ]
    await runtime_mandates.async_refresh()
    assert fluvius_issues(hass) == {}
    assert loaded.state is ConfigEntryState.LOADED


async def test_finished_mandate_and_selected_ean_without_mandate(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, fluvius_url: str
) -> None:
    """A finished mandate raises an issue; the EAN disappears; selected: no mandate."""
    entry = make_entry(
        hass, fluvius_sim, fluvius_url, meters=[DIGITAL_EAN, GAS_EAN], history_days=1
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_of(hass, "fluvius_no_mandate", GAS_EAN) is None
    # Mandates of EANs the user excluded raise nothing.
    amr = next(m for m in fluvius_sim.mandates if m.ean == AMR_INJECTION_EAN)
    amr.renewal_status = "ToBeRenewed"

    gas = next(m for m in fluvius_sim.mandates if m.ean == GAS_EAN)
    gas.status = "Finished"
    gas.data_period_to = local_midnight_floor(dt_util.utcnow())
    await _mandates(hass, entry).async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    # The approved EANs changed: the entry reloaded without the gas meter.
    assert entry.state is ConfigEntryState.LOADED
    assert GAS_EAN not in {m.key for m in entry.runtime_data.all_meters}
    finished = issue_of(hass, "fluvius_mandate_finished", GAS_EAN)
    assert finished is not None
    assert finished.translation_placeholders is not None
    assert finished.translation_placeholders["end"] == (
        gas.data_period_to.astimezone(BRUSSELS).date().isoformat()
    )
    missing = issue_of(hass, "fluvius_no_mandate", GAS_EAN)
    assert missing is not None
    assert missing.translation_placeholders is not None
    assert (
        missing.translation_placeholders["end"]
        == (finished.translation_placeholders["end"])
    )
    assert issue_of(hass, "fluvius_mandate_to_be_renewed", AMR_INJECTION_EAN) is None

    gas.status = "Approved"
    gas.data_period_to = None
    await _mandates(hass, entry).async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_of(hass, "fluvius_no_mandate", GAS_EAN) is None
    assert issue_of(hass, "fluvius_mandate_finished", GAS_EAN) is None
    assert GAS_EAN in {m.key for m in entry.runtime_data.meters}


async def test_refused_history_raises_no_mandate(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, loaded: MockConfigEntry
) -> None:
    """A history import Fluvius refuses names the EAN and period until it works."""
    fluvius_sim.forbidden_eans.add(DIGITAL_EAN)
    history = loaded.runtime_data.history
    await history.async_refresh()
    await hass.async_block_till_done()
    issue = issue_of(hass, "fluvius_no_mandate", DIGITAL_EAN)
    assert issue is not None
    assert issue.translation_placeholders is not None
    today = dt_util.utcnow().astimezone(BRUSSELS).date()
    assert issue.translation_placeholders["end"] == today.isoformat()
    assert issue.translation_placeholders["start"] == str(today - timedelta(days=3))
    # The core's generic issue would say the same: it is not kept.
    assert not [i for i in fluvius_issues(hass) if "no_permission" in i]

    fluvius_sim.forbidden_eans.clear()
    await history.async_refresh()
    await hass.async_block_till_done()
    assert issue_of(hass, "fluvius_no_mandate", DIGITAL_EAN) is None


def _runtime(hass: HomeAssistant, entry: MockConfigEntry) -> FluviusRuntime:
    runtime = get_runtime(entry)
    assert runtime is not None
    return runtime


def _mandates(hass: HomeAssistant, entry: MockConfigEntry) -> FluviusMandateCoordinator:
    return _runtime(hass, entry).mandates


# --------------------------------------------------------------------- services


async def test_create_mock_mandate(
    hass: HomeAssistant, fluvius_sim: FluviusSimulator, loaded: MockConfigEntry
) -> None:
    """A mock mandate for a new sandbox EAN adds its device after a reload."""
    response = await hass.services.async_call(
        DOMAIN,
        "fluvius_create_mock_mandate",
        {
            "config_entry_id": loaded.entry_id,
            "ean": NEW_SANDBOX_EAN,
            "data_period_from": str(dt_util.now().date() - timedelta(days=30)),
            "reference_number": "MOCK-1",
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    mandate = response["mandate"]
    assert mandate["ean"] == NEW_SANDBOX_EAN
    assert mandate["status"] == "Approved"
    assert mandate["data_service_type"] == "VH_dag"
    assert mandate["energy_type"] == "E"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded.state is ConfigEntryState.LOADED
    assert NEW_SANDBOX_EAN in {m.key for m in loaded.runtime_data.meters}
    device = find_device(hass, f"fluvius_{NEW_SANDBOX_EAN}")
    assert device is not None
    assert device.model == "Digital meter · electricity · daily"

    # A requested mock mandate raises its issue right away.
    await hass.services.async_call(
        DOMAIN,
        "fluvius_create_mock_mandate",
        {
            "config_entry_id": loaded.entry_id,
            "ean": "541440000000000005",
            "status": "Requested",
            "renewal_status": "ToBeRenewed",
            "expiration": str(dt_util.now().date() + timedelta(days=30)),
            "data_period_to": str(dt_util.now().date()),
        },
        blocking=True,
        return_response=True,
    )
    assert any(
        i.translation_key == "fluvius_mandate_requested"
        and (i.translation_placeholders or {}).get("end") == str(dt_util.now().date())
        for i in fluvius_issues(hass).values()
    )


async def test_create_mock_mandate_refuses_bad_input(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """EANs outside the sandbox scheme and bad periods are refused before sending."""
    for changes, key in (
        ({"ean": "541440110000000001x"}, "fluvius_mock_invalid_ean"),
        ({"ean": "871440110000000001"}, "fluvius_mock_invalid_ean"),
        ({"ean": "541460000000000001"}, "fluvius_mock_invalid_ean"),
        (
            {"data_period_from": "2026-01-02", "data_period_to": "2026-01-01"},
            "fluvius_mock_invalid_period",
        ),
        ({"config_entry_id": "nope"}, "unknown_entry"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "fluvius_create_mock_mandate",
                {"config_entry_id": loaded.entry_id, "ean": NEW_SANDBOX_EAN} | changes,
                blocking=True,
                return_response=True,
            )
        assert err.value.translation_key == key, changes


async def test_create_mock_mandate_refused_in_live_and_elsewhere(
    hass: HomeAssistant,
    fluvius_sim: FluviusSimulator,
    fluvius_url: str,
    cemm_entry: MockConfigEntry,
) -> None:
    """Live entries, other providers and unloaded entries cannot create mocks."""
    live = make_entry(
        hass,
        fluvius_sim,
        fluvius_url,
        meters=[GAS_EAN],
        environment="live",
        base_url=fluvius_sim.base_url(fluvius_url, "live"),
    )
    assert await hass.config_entries.async_setup(live.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert live.state is ConfigEntryState.LOADED
    idle = MockConfigEntry(
        domain=DOMAIN, title="idle", unique_id="idle", data=dict(live.data)
    )
    idle.add_to_hass(hass)
    for entry_id, key in (
        (live.entry_id, "fluvius_mock_live"),
        (idle.entry_id, "entry_not_loaded"),
        (cemm_entry.entry_id, "fluvius_not_fluvius"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "fluvius_create_mock_mandate",
                {"config_entry_id": entry_id, "ean": NEW_SANDBOX_EAN},
                blocking=True,
            )
        assert err.value.translation_key == key


async def test_create_mock_mandate_api_errors(
    hass: HomeAssistant,
    fluvius_sim: FluviusSimulator,
    loaded: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refusal of the sandbox is a translated error; a refused secret reauths."""
    call = {"config_entry_id": loaded.entry_id, "ean": NEW_SANDBOX_EAN}
    fluvius_sim.fail_next(400, path="mock")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "fluvius_create_mock_mandate", call, blocking=True
        )
    assert err.value.translation_key == "invalid_request"
    monkeypatch.setattr(fluvius_simulator, "DEMO_CLIENT_SECRET", "renewed")
    fluvius_sim.revoke_tokens()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "fluvius_create_mock_mandate", call, blocking=True
        )
    assert err.value.translation_key == "invalid_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
