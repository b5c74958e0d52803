"""Reauth, reconfigure and options each reload the entry exactly once.

An update listener beside ``async_update_reload_and_abort`` reloaded twice
(and is reported on Home Assistant 2026.11, refused from 2026.12 on); options
reload through ``OptionsFlowWithReload`` where Home Assistant has it.
"""

from __future__ import annotations

from collections import Counter

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import (
    CONF_HISTORY_DAYS,
    CONF_KNOWN_METERS,
    CONF_METERS,
    CONF_UPDATE_INTERVAL,
)

from ..helpers import advanced
from ..simulators.cemm import CemmSimulator


async def test_reconfigure_reloads_once_and_keeps_the_url(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
    cemm_url: str,
    reloads: Counter[str],
) -> None:
    """A reconfigure with the advanced section left empty keeps the base URL."""
    cemm_sim.api_key = "second-key"
    result = await loaded_cemm.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "second-key", **advanced()}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert reloads[loaded_cemm.entry_id] == 1
    assert loaded_cemm.state is ConfigEntryState.LOADED
    assert loaded_cemm.data["base_url"] == cemm_url


async def test_options_reload_once(
    hass: HomeAssistant, loaded_cemm: MockConfigEntry, reloads: Counter[str]
) -> None:
    """New options reload the entry once; unchanged options do not reload."""
    options = {
        CONF_UPDATE_INTERVAL: 5,
        CONF_HISTORY_DAYS: 2,
        CONF_METERS: ["ffffffffffff_p1"],
    }
    for expected in (1, 1):
        result = await hass.config_entries.options.async_init(loaded_cemm.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], options
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done(wait_background_tasks=True)
        assert reloads[loaded_cemm.entry_id] == expected
    # The options also remember the meters the form offered (left out: on purpose).
    known = sorted(m.key for m in loaded_cemm.runtime_data.all_meters)
    # Price sections left alone hold no price.
    prices = {key for key in loaded_cemm.options if key.endswith("_price")}
    assert prices == {"import_price", "export_price", "gas_price"}
    assert all(loaded_cemm.options[key] == {"source": "none"} for key in prices)
    rest = {k: v for k, v in loaded_cemm.options.items() if k not in prices}
    assert rest == options | {CONF_KNOWN_METERS: known}
    assert loaded_cemm.state is ConfigEntryState.LOADED
