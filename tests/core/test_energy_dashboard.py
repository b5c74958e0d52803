"""The Energy dashboard takes Meetdata's statistics and its net power sensor.

Home Assistant 2026.x lets a grid source carry a power statistic
(``power_config``/``stat_rate``, positive = from the grid). Its shape changed
on the way (2026.2: ``flow_from``/``flow_to``/``power`` lists; later one
unified grid source), so the source is built for the running release.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.energy import data as energy_data
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from ..helpers import entity_id_of
from ..simulators.cemm import DEFAULT_UID, CemmSimulator

ENERGY_FROM = "meetdata:cemm_ffffffffffff_p1_energy_import"
ENERGY_TO = "meetdata:cemm_ffffffffffff_p1_energy_export"
#: What the frontend sends for a flow without a price (2026.2 needs the keys).
NO_PRICE = {"entity_energy_price": None, "number_energy_price": None}


def _grid_keys() -> set[str]:
    return set(energy_data.GridSourceType.__annotations__)


def grid_source(power_entity: str) -> dict[str, Any]:
    """Return a grid source with Meetdata energy and a power sensor."""
    power = {"power_config": {"stat_rate": power_entity}}
    if "flow_from" not in _grid_keys():
        return {
            "type": "grid",
            "stat_energy_from": ENERGY_FROM,
            "stat_energy_to": ENERGY_TO,
            "cost_adjustment_day": 0,
            **power,
        }
    return {
        "type": "grid",
        "flow_from": [{"stat_energy_from": ENERGY_FROM, **NO_PRICE}],
        "flow_to": [{"stat_energy_to": ENERGY_TO, **NO_PRICE}],
        "power": [power],
        "cost_adjustment_day": 0,
    }


@pytest.mark.recorder_db
async def test_grid_power_source_validates(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
) -> None:
    """Meetdata energy statistics and the CEMM net power pass energy/validate."""
    if not {"power", "power_config"} & _grid_keys():
        pytest.skip("this Home Assistant's Energy dashboard has no grid power")
    entity_id = entity_id_of(hass, "cemm_ffffffffffff_p1_power")
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["device_class"] == "power"
    assert state.attributes["state_class"] == "measurement"
    # Positive while the simulated household takes power from the grid.
    watts = cemm_sim.current_power(DEFAULT_UID, "p1")
    assert float(state.state) == pytest.approx(watts / 1000)

    # The recorder's five-minute statistics make the sensor a power statistic.
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    do_adhoc_statistics(hass, start=start)
    await async_wait_recording_done(hass)

    assert await async_setup_component(hass, "energy", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "energy/save_prefs",
            "energy_sources": [grid_source(entity_id)],
            "device_consumption": [],
        }
    )
    saved = await client.receive_json()
    assert saved["success"], saved
    await client.send_json_auto_id({"type": "energy/validate"})
    result = await client.receive_json()
    assert result["success"], result
    assert result["result"]["energy_sources"] == [[]]
