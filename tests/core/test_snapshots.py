"""Snapshots of every provider's sensor entities and diagnostics (syrupy).

The snapshots hold what must not change unnoticed: entity ids, unique ids,
translation keys, device classes, units, state classes, attribute names and
the redacted diagnostics. What depends on "now" (sensor values, timestamps,
the simulators' ports) is reduced to its kind (see helpers.stable), so the
snapshots hold on every run and every Home Assistant leg. Update them with
``pytest tests/core/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from ..conftest import Serve
from ..helpers import entity_snapshot, stable
from ..provider_cases import ProviderCase, all_providers, serve_case


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Use Home Assistant's extension (tests/core/snapshots/) on every leg.

    Which plugin's ``snapshot`` fixture wins differs between the legs; this
    module's fixture does not.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
async def loaded(
    hass: HomeAssistant, case: ProviderCase, serve: Serve, fast_promises: None
) -> MockConfigEntry:
    """Set the case's entry up and wait for its first history import."""
    entry = case.make_entry(hass, *await serve_case(case, serve))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


def _diagnostics(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Return the diagnostics without values that depend on "now"."""
    return {
        "entry": stable(diagnostics["entry"]),
        "meters": stable(diagnostics["meters"]),
        "latest": {
            meter: sorted(readings)
            for meter, readings in sorted(diagnostics["latest"].items())
        },
        "latest_update_success": diagnostics["latest_update_success"],
        "history": sorted(diagnostics["history"]),
        "history_update_success": diagnostics["history_update_success"],
    }


@all_providers
async def test_entities(
    hass: HomeAssistant,
    case: ProviderCase,
    loaded: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The sensor entities of each provider's demo account."""
    assert entity_snapshot(hass, loaded.entry_id) == snapshot


@all_providers
async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    case: ProviderCase,
    loaded: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The diagnostics of each provider's demo account."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded)
    assert _diagnostics(diagnostics) == snapshot
