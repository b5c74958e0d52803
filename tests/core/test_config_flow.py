"""Config flow: provider menu, CEMM credentials, reauth, reconfigure, options."""

from __future__ import annotations

import socket

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import CONF_BASE_URL, CONF_PROVIDER, DOMAIN

from ..helpers import form_fields
from ..simulators.cemm import DEMO_API_KEY, CemmSimulator

ADVANCED = {"source": SOURCE_USER}


async def _cemm_form(hass: HomeAssistant, *, advanced: bool = True) -> str:
    context = ADVANCED if advanced else {"source": SOURCE_USER}
    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    assert result["type"] is FlowResultType.MENU
    assert "cemm" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "cemm"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "cemm"
    return result["flow_id"]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/"


async def test_user_creates_cemm_entry(hass: HomeAssistant, cemm_url: str) -> None:
    """A valid key creates an entry named after the CEMM, keyed by its uid."""
    flow_id = await _cemm_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_API_KEY: f"  {DEMO_API_KEY} ", "advanced": {CONF_BASE_URL: cemm_url}},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "CEMM FF-FF-FF-FF-FF-FF"
    assert result["data"] == {
        CONF_PROVIDER: "cemm",
        CONF_API_KEY: DEMO_API_KEY,
        CONF_BASE_URL: cemm_url,
    }
    assert result["result"].unique_id == "cemm_ffffffffffff"
    assert DEMO_API_KEY not in result["result"].unique_id


async def test_base_url_in_a_collapsed_section(hass: HomeAssistant) -> None:
    """The form asks for the key; the base URL waits in a collapsed section."""
    flow_id = await _cemm_form(hass, advanced=False)
    flow = hass.config_entries.flow.async_get(flow_id)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: " "}
    )
    assert result["errors"] == {CONF_API_KEY: "empty"}
    assert form_fields(result["data_schema"]) == [
        CONF_API_KEY,
        "advanced(collapsed)[base_url]",
    ]
    assert flow["step_id"] == "cemm"


@pytest.mark.parametrize(
    ("knob", "error"),
    [
        ("bad_key", "invalid_auth"),
        ("malformed", "invalid_response"),
        ("never_resolve", "timeout"),
        ("bad_gateway", "cannot_connect"),
        ("no_devices", "no_meters"),
    ],
)
async def test_user_errors_then_recover(
    hass: HomeAssistant, cemm_sim: CemmSimulator, cemm_url: str, knob: str, error: str
) -> None:
    """Each failure is a translated form error; fixing it creates the entry."""
    key = DEMO_API_KEY
    saved_devices = dict(cemm_sim.devices)
    if knob == "bad_key":
        key = "wrong-key"
    elif knob == "malformed":
        cemm_sim.malformed_next(1)
    elif knob == "never_resolve":
        cemm_sim.never_resolve = True
    elif knob == "bad_gateway":
        cemm_sim.force_status(502)
    else:
        cemm_sim.devices.clear()
    flow_id = await _cemm_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: key, "advanced": {CONF_BASE_URL: cemm_url}}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    cemm_sim.never_resolve = False
    cemm_sim.devices.update(saved_devices)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: DEMO_API_KEY, "advanced": {CONF_BASE_URL: cemm_url}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_cannot_connect(hass: HomeAssistant, socket_enabled: None) -> None:
    """A server that refuses the connection says so."""
    flow_id = await _cemm_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_API_KEY: DEMO_API_KEY, "advanced": {CONF_BASE_URL: _closed_port_url()}},
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_already_configured(
    hass: HomeAssistant, cemm_entry: MockConfigEntry, cemm_url: str
) -> None:
    """The same CEMM cannot be added twice."""
    flow_id = await _cemm_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_API_KEY: DEMO_API_KEY, "advanced": {CONF_BASE_URL: cemm_url}}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_wrong_account(
    hass: HomeAssistant, cemm_sim: CemmSimulator, cemm_entry: MockConfigEntry
) -> None:
    """A key that reaches other CEMMs belongs to another account."""
    cemm_sim.devices.clear()
    cemm_sim.add_device("00-00-00-00-00-01")
    result = await cemm_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: DEMO_API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


async def test_reconfigure_wrong_account(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    cemm_entry: MockConfigEntry,
    cemm_url: str,
) -> None:
    """Reconfigure cannot switch to a key of other CEMMs."""
    cemm_sim.add_device("00-00-00-00-00-02")
    result = await cemm_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: DEMO_API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
