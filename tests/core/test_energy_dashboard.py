"""The Energy dashboard takes Meetdata's statistics and its net power sensor.

Home Assistant 2026.x lets a grid source carry a power statistic
(``power_config``/``stat_rate``, positive = from the grid). Its shape changed
on the way (2026.2: ``flow_from``/``flow_to``/``power`` lists; later one
unified grid source), so the source is built for the running release.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from homeassistant.components.energy import data as energy_data
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import get_metadata
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

from ..helpers import entity_id_of, stat_rows
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


async def _assert_source_validates(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    source: dict[str, Any] | list[dict[str, Any]],
) -> None:
    """Save ``source`` as the only energy source(s); energy/validate finds nothing."""
    sources = source if isinstance(source, list) else [source]
    assert await async_setup_component(hass, "energy", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "energy/save_prefs",
            "energy_sources": sources,
            "device_consumption": [],
        }
    )
    saved = await client.receive_json()
    assert saved["success"], saved
    await client.send_json_auto_id({"type": "energy/validate"})
    result = await client.receive_json()
    assert result["success"], result
    assert result["result"]["energy_sources"] == [[] for _ in sources]


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

    await _assert_source_validates(hass, hass_ws_client, grid_source(entity_id))


COST_FROM = "meetdata:cemm_ffffffffffff_p1_energy_import_cost"
COST_TO = "meetdata:cemm_ffffffffffff_p1_energy_export_compensation"


def priced_grid_source() -> dict[str, Any]:
    """Return a grid source with Meetdata energy and its cost statistics."""
    no_price = {"entity_energy_price": None, "number_energy_price": None}
    if "flow_from" not in _grid_keys():
        return {
            "type": "grid",
            "stat_energy_from": ENERGY_FROM,
            "stat_energy_to": ENERGY_TO,
            "stat_cost": COST_FROM,
            "stat_compensation": COST_TO,
            **no_price,
            "entity_energy_price_export": None,
            "number_energy_price_export": None,
            "cost_adjustment_day": 0,
        }
    return {
        "type": "grid",
        "flow_from": [
            {"stat_energy_from": ENERGY_FROM, "stat_cost": COST_FROM, **no_price}
        ],
        "flow_to": [
            {"stat_energy_to": ENERGY_TO, "stat_compensation": COST_TO, **no_price}
        ],
        "cost_adjustment_day": 0,
    }


@pytest.mark.recorder_db
async def test_cost_statistics_validate(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    cemm_entry: MockConfigEntry,
) -> None:
    """Fixed prices give cost statistics in euros that pass energy/validate."""
    hass.config_entries.async_update_entry(
        cemm_entry,
        options=cemm_entry.options
        | {
            "import_price": {"source": "fixed", "price": 0.3},
            "export_price": {"source": "fixed", "price": 0.08},
        },
    )
    assert await hass.config_entries.async_setup(cemm_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    since = dt_util.utcnow() - timedelta(days=3)
    for energy, cost, price in (
        (ENERGY_FROM, COST_FROM, 0.3),
        (ENERGY_TO, COST_TO, 0.08),
    ):
        amounts = await stat_rows(hass, energy, since, None, ("state",))
        costs = await stat_rows(hass, cost, since, None, ("state", "sum"))
        assert costs
        assert [c["start"] for c in costs] == [a["start"] for a in amounts]
        assert [c["state"] for c in costs] == pytest.approx(
            [a["state"] * price for a in amounts], rel=1e-9
        )
    metadata = await get_instance(hass).async_add_executor_job(
        partial(get_metadata, hass, statistic_ids={COST_FROM, COST_TO})
    )
    assert {meta["unit_of_measurement"] for _, meta in metadata.values()} == {"EUR"}

    await _assert_source_validates(hass, hass_ws_client, priced_grid_source())


def _tariff_id(quantity: str) -> str:
    return f"meetdata:cemm_ffffffffffff_p1_{quantity}"


def tariff_grid_sources() -> list[dict[str, Any]]:
    """Return the low and normal tariffs as grid flows, each with its own costs."""
    no_price = {"entity_energy_price": None, "number_energy_price": None}
    tariffs = [
        {
            "stat_energy_from": _tariff_id(f"energy_import_{tariff}"),
            "stat_cost": _tariff_id(f"energy_import_{tariff}_cost"),
            "stat_energy_to": _tariff_id(f"energy_export_{tariff}"),
            "stat_compensation": _tariff_id(f"energy_export_{tariff}_compensation"),
        }
        for tariff in ("low", "normal")
    ]
    if "flow_from" not in _grid_keys():
        return [
            {
                "type": "grid",
                **tariff,
                **no_price,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "cost_adjustment_day": 0,
            }
            for tariff in tariffs
        ]
    return [
        {
            "type": "grid",
            "flow_from": [
                {
                    "stat_energy_from": t["stat_energy_from"],
                    "stat_cost": t["stat_cost"],
                    **no_price,
                }
                for t in tariffs
            ],
            "flow_to": [
                {
                    "stat_energy_to": t["stat_energy_to"],
                    "stat_compensation": t["stat_compensation"],
                    **no_price,
                }
                for t in tariffs
            ],
            "cost_adjustment_day": 0,
        }
    ]


@pytest.mark.recorder_db
async def test_each_tariff_is_a_grid_source_with_its_own_costs(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    cemm_entry: MockConfigEntry,
) -> None:
    """Low and normal, each at its own price, pass energy/validate as grid flows."""
    prices = {"low": (0.21, 0.05), "normal": (0.29, 0.07)}
    hass.config_entries.async_update_entry(
        cemm_entry,
        options=cemm_entry.options
        | {
            "import_price": {
                "source": "tariff",
                "price_low": prices["low"][0],
                "price_normal": prices["normal"][0],
            },
            "export_price": {
                "source": "tariff",
                "price_low": prices["low"][1],
                "price_normal": prices["normal"][1],
            },
        },
    )
    assert await hass.config_entries.async_setup(cemm_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    since = dt_util.utcnow() - timedelta(days=3)
    for tariff, (import_price, export_price) in prices.items():
        for energy, cost, price in (
            (f"energy_import_{tariff}", f"energy_import_{tariff}_cost", import_price),
            (
                f"energy_export_{tariff}",
                f"energy_export_{tariff}_compensation",
                export_price,
            ),
        ):
            amounts = await stat_rows(hass, _tariff_id(energy), since, None, ("state",))
            costs = await stat_rows(hass, _tariff_id(cost), since, None, ("state",))
            assert amounts, energy
            assert {c["start"]: c["state"] for c in costs} == pytest.approx(
                {a["start"]: a["state"] * price for a in amounts}, rel=1e-9
            ), cost

    await _assert_source_validates(hass, hass_ws_client, tariff_grid_sources())


@pytest.mark.recorder_db
async def test_statistics_are_named_in_home_assistants_language(
    hass: HomeAssistant, cemm_entry: MockConfigEntry
) -> None:
    """A Dutch Home Assistant lists Dutch statistic names in the Energy dashboard."""
    hass.config.language = "nl"
    hass.config_entries.async_update_entry(
        cemm_entry,
        options=cemm_entry.options
        | {"import_price": {"source": "tariff", "price_low": 0.2, "price_normal": 0.3}},
    )
    assert await hass.config_entries.async_setup(cemm_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    names = {
        stat_id: meta["name"]
        for stat_id, (_, meta) in (
            await get_instance(hass).async_add_executor_job(
                partial(
                    get_metadata,
                    hass,
                    statistic_ids={
                        ENERGY_FROM,
                        _tariff_id("energy_import_low"),
                        _tariff_id("energy_import_low_cost"),
                        COST_FROM,
                    },
                )
            )
        ).items()
    }
    assert names == {
        ENERGY_FROM: "CEMM FF-FF-FF-FF-FF-FF p1 Energie-import",
        _tariff_id(
            "energy_import_low"
        ): "CEMM FF-FF-FF-FF-FF-FF p1 Energie-import laagtarief",
        _tariff_id("energy_import_low_cost"): (
            "CEMM FF-FF-FF-FF-FF-FF p1 Kosten afname laagtarief"
        ),
        COST_FROM: "CEMM FF-FF-FF-FF-FF-FF p1 Kosten afname",
    }
