"""Reauth, reconfigure and options of every provider, against its simulator.

Each runs once per provider of tests/provider_cases.py; each flow that changes
the entry reloads it exactly once and leaves it loaded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import CONF_PROVIDER, CONF_STATISTIC_TAGS

from ..conftest import Serve
from ..helpers import form_fields
from ..provider_cases import ProviderCase, Sim, all_providers, serve_case


@pytest.fixture
async def served(
    case: ProviderCase, serve: Serve, fast_promises: None
) -> tuple[Sim, str]:
    """Serve the case's simulator; return it and its base URL."""
    return await serve_case(case, serve)


@pytest.fixture
def entry(
    hass: HomeAssistant, case: ProviderCase, served: tuple[Sim, str]
) -> MockConfigEntry:
    """Return the case's config entry (not set up)."""
    return case.make_entry(hass, *served)


async def _load(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


def _suggested(result: Any) -> dict[str, Any]:
    schema = result["data_schema"]
    assert schema is not None
    return {
        str(key): (key.description or {}).get("suggested_value")
        for key in schema.schema
    }


@all_providers
async def test_reauth(
    hass: HomeAssistant,
    case: ProviderCase,
    served: tuple[Sim, str],
    entry: MockConfigEntry,
    reloads: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Renewed credentials are verified and stored; stale ones are refused."""
    sim, _ = served
    await _load(hass, entry)
    old = dict(entry.data)
    refused, renewed = case.rotate(sim, monkeypatch)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == case.reauth_step
    if case.reauth_fields is not None:
        assert form_fields(result["data_schema"]) == case.reauth_fields
    if case.reauth_first_errors is not None:
        assert result["errors"] == case.reauth_first_errors
    flow_id = result["flow_id"]
    for user_input, errors in refused:
        result = await hass.config_entries.flow.async_configure(flow_id, user_input)
        assert result["type"] is FlowResultType.FORM, user_input
        assert result["errors"] == errors, user_input
    result = await hass.config_entries.flow.async_configure(flow_id, renewed)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert dict(entry.data) == case.reauth_data(old)
    assert entry.unique_id == case.unique_id
    await hass.async_block_till_done(wait_background_tasks=True)
    assert reloads[entry.entry_id] == 1
    assert entry.state is ConfigEntryState.LOADED


@all_providers
async def test_reconfigure(
    hass: HomeAssistant,
    case: ProviderCase,
    served: tuple[Sim, str],
    entry: MockConfigEntry,
    reloads: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reconfigure verifies the new settings and keeps the account."""
    sim, url = served
    await _load(hass, entry)
    # The statistic ids decided for the meters (all plain: the entry is alone).
    tags = entry.data[CONF_STATISTIC_TAGS]
    assert tags
    assert set(tags.values()) == {""}
    refused, final, data = case.reconfigure(sim, url, monkeypatch)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == case.reconfigure_step
    flow_id = result["flow_id"]
    for user_input, errors in refused:
        result = await hass.config_entries.flow.async_configure(flow_id, user_input)
        assert result["type"] is FlowResultType.FORM, user_input
        assert result["errors"] == errors, user_input
    result = await hass.config_entries.flow.async_configure(flow_id, final)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == {
        CONF_PROVIDER: case.provider,
        **data,
        CONF_STATISTIC_TAGS: tags,
    }
    assert entry.unique_id == case.unique_id
    assert entry.title == case.title
    await hass.async_block_till_done(wait_background_tasks=True)
    assert reloads[entry.entry_id] == 1
    assert entry.state is ConfigEntryState.LOADED


@all_providers
async def test_options(
    hass: HomeAssistant,
    case: ProviderCase,
    entry: MockConfigEntry,
    reloads: Counter[str],
) -> None:
    """Options suggest the current choice; a new one reloads the entry once."""
    await _load(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    defaults = _suggested(result)
    for key, expected in case.option_defaults.items():
        value = defaults[key]
        if isinstance(expected, list):
            assert sorted(value) == sorted(expected), key
        else:
            assert value == expected, key
    choice = {
        key: value for key, value in defaults.items() if value is not None
    } | case.option_choice
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], choice
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert reloads[entry.entry_id] == 1
    assert entry.state is ConfigEntryState.LOADED
    for key, value in case.option_choice.items():
        assert entry.options[key] == value, key
    case.after_options(hass, entry)


@all_providers
async def test_options_need_a_loaded_entry(
    hass: HomeAssistant, case: ProviderCase, entry: MockConfigEntry
) -> None:
    """Options of an entry that is not loaded cannot list its meters."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
