"""Diagnostics (secrets redacted) and the import_history service."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from ..helpers import call_import_history


@pytest.mark.recorder_db
async def test_import_history_service(
    hass: HomeAssistant, loaded_cemm: MockConfigEntry
) -> None:
    """The service re-imports from a date and answers with the newest hours."""
    start = (dt_util.now() - timedelta(days=1)).date()
    response = await call_import_history(hass, loaded_cemm.entry_id, start)
    assert response is not None
    statistics = response["statistics"]
    assert "meetdata:cemm_ffffffffffff_p1_energy_import" in statistics


@pytest.mark.parametrize(
    ("start_days", "entry_id", "key"),
    [
        (-1, None, "start_in_future"),
        (4000, None, "start_too_old"),
        (1, "nope", "unknown_entry"),
    ],
)
async def test_import_history_rejects_bad_input(
    hass: HomeAssistant,
    loaded_cemm: MockConfigEntry,
    start_days: int,
    entry_id: str | None,
    key: str,
) -> None:
    """Dates out of range and unknown entries are validation errors."""
    start = (dt_util.now() - timedelta(days=start_days)).date()
    with pytest.raises(ServiceValidationError) as err:
        await call_import_history(hass, entry_id or loaded_cemm.entry_id, start)
    assert err.value.translation_key == key


async def test_import_history_needs_loaded_entry(
    hass: HomeAssistant, loaded_cemm: MockConfigEntry
) -> None:
    """An unloaded entry cannot import."""
    await hass.config_entries.async_unload(loaded_cemm.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call_import_history(hass, loaded_cemm.entry_id, "2025-01-01")
    assert err.value.translation_key == "entry_not_loaded"
