"""Diagnostics of every provider: secrets redacted, meters and readings shown."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from ..conftest import Serve
from ..provider_cases import ProviderCase, all_providers, serve_case


@pytest.fixture
async def loaded(
    hass: HomeAssistant, case: ProviderCase, serve: Serve, fast_promises: None
) -> MockConfigEntry:
    """Set the case's entry up and wait for its first history import."""
    entry = case.make_entry(hass, *await serve_case(case, serve))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@all_providers
async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    case: ProviderCase,
    loaded: MockConfigEntry,
) -> None:
    """No secret reaches diagnostics; meters and readings do."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded)
    dumped = json.dumps(diagnostics)
    for secret in case.secrets:
        assert secret not in dumped
    for key, value in case.redacted.items():
        assert diagnostics["entry"]["data"][key] == value, key
    keys = {meter["key"] for meter in diagnostics["meters"]}
    if case.all_meters:
        assert keys == case.meters
    else:
        assert keys >= case.meters
    if case.latest is not None:
        meter, quantity = case.latest
        assert quantity in diagnostics["latest"][meter]
    if case.history_suffix is not None:
        assert any(key.endswith(case.history_suffix) for key in diagnostics["history"])
    case.diagnostics_extra(diagnostics)
