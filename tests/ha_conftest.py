"""Fixtures for Home Assistant tests: a recorder, simulators, config entries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, date, datetime

from homeassistant.components.recorder import Recorder
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DOMAIN,
)

from .conftest import Serve
from .simulators.cemm import DEMO_API_KEY, CemmSimulator


@pytest.fixture(autouse=True)
async def auto_recorder(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """Run every Home Assistant test with a real recorder and our integration."""


@pytest.fixture(autouse=True)
async def settle_background_imports(hass: HomeAssistant) -> AsyncIterator[None]:
    """Let history imports finish before the recorder stops.

    A history import still reading the database while the test's recorder
    shuts down can crash SQLite; the simulators are gone by now, so a running
    import ends quickly with a connection error.
    """
    yield
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def fast_promises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let CEMM promises expire after 0.3 s instead of 10 s."""
    monkeypatch.setattr(
        "custom_components.meetdata.providers.cemm.spec.PROMISE_TIMEOUT", 0.3
    )
    monkeypatch.setattr(
        "custom_components.meetdata.providers.cemm.spec.PROMISE_RETRY_DELAY", 0.05
    )


@pytest.fixture
def cemm_sim() -> CemmSimulator:
    """Return a CEMM account (p1, p1-gas, solar s01) stopped at this minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return CemmSimulator(now=now, history_start=date(2025, 1, 1))


@pytest.fixture
async def cemm_url(serve: Serve, cemm_sim: CemmSimulator, fast_promises: None) -> str:
    """Serve the CEMM simulator; return its base URL."""
    return await serve(cemm_sim.build_app()) + "/v1/"


@pytest.fixture
def cemm_entry(hass: HomeAssistant, cemm_url: str) -> MockConfigEntry:
    """Return a CEMM config entry that points at the simulator and imports 2 days."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="CEMM FF-FF-FF-FF-FF-FF",
        unique_id="cemm_ffffffffffff",
        data={
            CONF_PROVIDER: "cemm",
            CONF_API_KEY: DEMO_API_KEY,
            CONF_BASE_URL: cemm_url,
        },
        options={CONF_HISTORY_DAYS: 2},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_cemm(
    hass: HomeAssistant, cemm_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the CEMM entry up and wait for its first history import."""
    assert await hass.config_entries.async_setup(cemm_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return cemm_entry
