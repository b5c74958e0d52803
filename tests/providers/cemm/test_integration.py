"""CEMM end to end: devices, sensors, availability, errors at setup."""

from __future__ import annotations

import logging

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import DOMAIN

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import find_device, sensor_state, visible_tracebacks
from ...simulators.cemm import DEFAULT_UID, CemmSimulator


def _state(hass: HomeAssistant, meter: str, quantity: str) -> State:
    """Return the state of the sensor of ``quantity`` on CEMM meter ``meter``."""
    return sensor_state(hass, f"cemm_ffffffffffff_{meter}_{quantity}", meter, quantity)


async def test_devices_and_sensors(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Each alias is a device behind its CEMM; sensors show the realtime values."""
    gateway = find_device(hass, "cemm_ffffffffffff")
    p1 = find_device(hass, "cemm_ffffffffffff_p1")
    gas = find_device(hass, "cemm_ffffffffffff_p1_gas")
    assert gateway is not None and p1 is not None and gas is not None
    assert p1.via_device_id == gateway.id
    assert gas.via_device_id == gateway.id
    assert p1.manufacturer == "CEMM"

    registers = cemm_sim.registers(DEFAULT_UID)
    expected = {
        "energy_import_low": registers["t1"],
        "energy_import_normal": registers["t2"],
        "energy_export_low": registers["t3"],
        "energy_export_normal": registers["t4"],
    }
    for key, value in expected.items():
        state = _state(hass, "p1", key)
        assert float(state.state) == pytest.approx(value, abs=1e-3)
        assert state.attributes["unit_of_measurement"] == "kWh"
        assert state.attributes["device_class"] == "energy"
        assert state.attributes["state_class"] == "total_increasing"

    power = _state(hass, "p1", "power")
    assert float(power.state) == pytest.approx(
        cemm_sim.current_power(DEFAULT_UID, "p1") / 1000
    )
    assert power.attributes["unit_of_measurement"] == "kW"
    assert power.attributes["state_class"] == "measurement"

    tariff = _state(hass, "p1", "tariff")
    assert tariff.state == {1: "low", 2: "normal"}[cemm_sim.tariff_at(cemm_sim.now)]

    gas_state = _state(hass, "p1_gas", "gas_volume")
    assert float(gas_state.state) == pytest.approx(registers["gas"], abs=1e-3)
    assert gas_state.attributes["unit_of_measurement"] == "m³"
    assert gas_state.attributes["device_class"] == "gas"

    entries = er.async_entries_for_config_entry(entity_registry, loaded_cemm.entry_id)
    assert {entry.translation_key for entry in entries} >= {
        "energy_import_low",
        "power",
        "tariff",
        "gas_volume",
        "production",
    }


async def test_outage_makes_sensors_unavailable_once(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 502 outage: unavailable, one error line, no traceback; back when it ends."""
    coordinator = loaded_cemm.runtime_data.latest
    caplog.clear()
    cemm_sim.force_status(502, count=100)
    for _ in range(3):
        await coordinator.async_refresh()
        await hass.async_block_till_done()
    assert _state(hass, "p1", "power").state == STATE_UNAVAILABLE
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is None
    assert visible_tracebacks(caplog.records) == []

    cemm_sim._forced.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, "p1", "power").state != STATE_UNAVAILABLE
    assert "Fetching meetdata" in caplog.text or "recovered" in caplog.text


async def test_revoked_key_starts_reauth(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """A 403 mid-session asks the user for a new key."""
    cemm_sim.api_key = "revoked"
    await loaded_cemm.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize(
    ("status", "state"),
    [(502, ConfigEntryState.SETUP_RETRY), (403, ConfigEntryState.SETUP_ERROR)],
)
async def test_setup_errors(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    cemm_entry: MockConfigEntry,
    status: int,
    state: ConfigEntryState,
) -> None:
    """Temporary failures retry; a refused key needs reauthentication."""
    cemm_sim.force_status(status, count=20)
    await hass.config_entries.async_setup(cemm_entry.entry_id)
    await hass.async_block_till_done()
    assert cemm_entry.state is state


async def test_unload(hass: HomeAssistant, loaded_cemm: MockConfigEntry) -> None:
    """Unloading removes the entities' state."""
    assert await hass.config_entries.async_unload(loaded_cemm.entry_id)
    await hass.async_block_till_done()
    assert loaded_cemm.state is ConfigEntryState.NOT_LOADED
    assert _state(hass, "p1", "power").state == STATE_UNAVAILABLE
