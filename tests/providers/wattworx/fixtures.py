"""Fixtures of the Wattworx end-to-end tests: a simulator and a config entry."""

from __future__ import annotations

from datetime import UTC, datetime

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
from custom_components.meetdata.providers.wattworx.spec import account_unique_id

from ...conftest import Serve
from ...helpers import entity_id_of
from ...simulators.wattworx import DEMO_KEY, WattworxSimulator

TITLE = "Wattworx Klant 1, Klant 2 BV"
UNIQUE_ID = account_unique_id("1111,2222")


def sensor_id(hass: HomeAssistant, ean: str, quantity: str) -> str | None:
    """Return the entity id of the sensor of ``quantity`` on an EAN."""
    return entity_id_of(hass, f"wattworx_{ean}_{quantity}")


@pytest.fixture
def wattworx_sim() -> WattworxSimulator:
    """Return the demo account (two clients, five EANs) stopped at this minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return WattworxSimulator(now=now)


@pytest.fixture
async def wattworx_url(serve: Serve, wattworx_sim: WattworxSimulator) -> str:
    """Serve the Wattworx simulator; return its base URL."""
    return await serve(wattworx_sim.build_app()) + "/api/v1/"


@pytest.fixture
def wattworx_entry(hass: HomeAssistant, wattworx_url: str) -> MockConfigEntry:
    """Return a Wattworx entry (multi-client key) that imports three days."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=UNIQUE_ID,
        data={
            CONF_PROVIDER: "wattworx",
            CONF_API_KEY: DEMO_KEY,
            CONF_BASE_URL: wattworx_url,
        },
        options={CONF_HISTORY_DAYS: 3},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_wattworx(
    hass: HomeAssistant, wattworx_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the Wattworx entry up and wait for its first history import."""
    assert await hass.config_entries.async_setup(wattworx_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return wattworx_entry
