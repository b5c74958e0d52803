"""The demo account's electricity connection, set up as a Dutch entry."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Meter
from custom_components.meetdata.const import CONF_BASE_URL, CONF_PROVIDER, DOMAIN
from custom_components.meetdata.providers.kenter.client import meter_key
from custom_components.meetdata.providers.kenter.spec import (
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_PASSCODE,
)

from ...conftest import Serve
from ...simulators.kenter import PATH, KenterSimulator

EAN = "876600504607071300"
METER_CODE = "V066005019551812"
PASSCODE = "jTx7HCB"
KEY = meter_key(EAN, METER_CODE)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


async def setup_entry(
    hass: HomeAssistant,
    serve: Serve,
    sim: KenterSimulator,
    title: str,
    options: dict[str, Any],
) -> MockConfigEntry:
    """Set up an entry of the electricity connection; wait for its history import.

    Home Assistant's time zone is Dutch: local days and months are Dutch.
    """
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=f"kenter_{EAN}",
        data={
            CONF_PROVIDER: "kenter",
            CONF_CONNECTIONS: [{CONF_EAN: EAN, CONF_PASSCODE: PASSCODE}],
            CONF_BASE_URL: await serve(sim.build_app()) + PATH,
        },
        options=options,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.history.last_update_success
    return entry


def meter_of(entry: MockConfigEntry) -> Meter:
    """Return the entry's meter of the electricity connection."""
    return next(m for m in entry.runtime_data.meters if m.key == KEY)
