"""Meters come and go while the entry runs: devices, sensors and statistics follow.

Per provider whose meter list can change (Kenter's connections are the user's):
a meter added at the simulator appears after the next discovery with its device,
sensors with values and statistics rows; a meter missing from two discoveries in
a row loses its device and entities (its statistics stay); the other meters are untouched; the user may
delete the device of a gone meter only. All over HTTP against the simulators.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.meetdata.api.models import Meter
from custom_components.meetdata.const import (
    CONF_HISTORY_DAYS,
    CONF_KNOWN_METERS,
    CONF_METERS,
    DOMAIN,
)
from custom_components.meetdata.statistics_rows import statistic_id

from ..conftest import Serve
from ..helpers import entity_id_of, find_device, sensor_state, stat_rows
from ..provider_cases import CEMM, DTL, FLUVIUS, WATTWORX, ProviderCase, serve_case
from ..simulators import cemm, dtl, fluvius, wattworx

#: One hour and a bit: the next discovery (and Fluvius' next mandate poll).
NEXT_DISCOVERY = timedelta(hours=1, seconds=1)
#: A new Wattworx EAN, of client 1111.
NEW_WATTWORX_EAN = "871234567890123500"
NEW_DTL_EAN = dtl.with_check_digit("87168714000098764")
#: A sandbox EAN: digital electricity, offtake and injection, quarter-hours.
NEW_FLUVIUS_EAN = "541440110000000007"


@dataclass(frozen=True, kw_only=True)
class Change:
    """How a provider's account gains one meter and loses another."""

    case: ProviderCase
    add: Callable[[Any], None]
    added: str
    remove: Callable[[Any], None]
    removed: str
    #: Whether losing a meter reloads the entry (Fluvius: its data period
    #: ended, so the statistics after it are cleared first).
    removal_reloads: bool = False

    def __str__(self) -> str:
        """Name the case in test ids."""
        return self.case.provider


def _fluvius_add(sim: fluvius.FluviusSimulator) -> None:
    sim.mandates.append(
        fluvius.SimMandate(
            NEW_FLUVIUS_EAN,
            data_period_from=sim.now - timedelta(days=30),
            expiration=sim.now + timedelta(days=400),
        )
    )


def _fluvius_remove(sim: fluvius.FluviusSimulator) -> None:
    sim.mandates = [m for m in sim.mandates if m.ean != fluvius.GAS_EAN]


def _wattworx_add(sim: wattworx.WattworxSimulator) -> None:
    sim.add_ean(NEW_WATTWORX_EAN, 1111)
    sim.sign(NEW_WATTWORX_EAN)
    sim.devices[NEW_WATTWORX_EAN].first_data_date = sim.today - timedelta(days=10)


CHANGES = (
    Change(
        case=CEMM,
        add=lambda sim: sim.connect(cemm.DEFAULT_UID, "s02", "solar_energy"),
        added="ffffffffffff_s02",
        remove=lambda sim: sim.disconnect(cemm.DEFAULT_UID, "s01"),
        removed="ffffffffffff_s01",
    ),
    Change(
        case=WATTWORX,
        add=_wattworx_add,
        added=NEW_WATTWORX_EAN,
        remove=lambda sim: sim.remove_ean(wattworx.EAN_POWER_2),
        removed=wattworx.EAN_POWER_2,
    ),
    Change(
        case=DTL,
        add=lambda sim: sim.add_meter(dtl.CUSTOMER_EAN, NEW_DTL_EAN),
        added=NEW_DTL_EAN,
        remove=lambda sim: sim.remove_meter(dtl.PRODUCTION_METER_EAN),
        removed=dtl.PRODUCTION_METER_EAN,
    ),
    Change(
        case=FLUVIUS,
        add=_fluvius_add,
        added=NEW_FLUVIUS_EAN,
        remove=_fluvius_remove,
        removed=fluvius.GAS_EAN,
        removal_reloads=True,
    ),
)

#: A point before any simulator's history: every statistics row counts.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
async def loaded(
    hass: HomeAssistant, change: Change, serve: Serve, fast_promises: None
) -> tuple[MockConfigEntry, Any]:
    """Set the provider's entry up against a fresh simulator; return both."""
    sim, url = await serve_case(change.case, serve)
    entry = change.case.make_entry(hass, sim, url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry, sim


async def _next_discovery(hass: HomeAssistant, hours: int = 1) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + hours * NEXT_DISCOVERY)
    await hass.async_block_till_done(wait_background_tasks=True)


def registry_has(hass: HomeAssistant, entity_ids: list[str]) -> bool:
    """Return whether every one of these entities is registered."""
    registry = er.async_get(hass)
    return all(registry.async_get(entity_id) for entity_id in entity_ids)


def _device_key(change: Change, key: str) -> str:
    return f"{change.case.provider}_{key}"


def _entities(hass: HomeAssistant, device: dr.DeviceEntry) -> list[er.RegistryEntry]:
    return er.async_entries_for_device(er.async_get(hass), device.id)


def _snapshot(
    hass: HomeAssistant, entry: MockConfigEntry, skip: set[str]
) -> dict[str, tuple[str, frozenset[tuple[str, str]]]]:
    """Return the device id and (unique id, entity id)s of every other device."""
    registry = dr.async_get(hass)
    snapshot = {}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        (ident,) = (i for domain, i in device.identifiers if domain == DOMAIN)
        key = ident.removeprefix(f"{entry.entry_id}_")
        if key in skip:
            continue
        entities = frozenset(
            (e.unique_id, e.entity_id) for e in _entities(hass, device)
        )
        snapshot[key] = (device.id, entities)
    return snapshot


def _assert_values(
    hass: HomeAssistant, device: dr.DeviceEntry, *, number: bool = True
) -> None:
    """Every sensor of the device is available; at least one has a number."""
    entities = _entities(hass, device)
    assert entities, device.name
    numbers = 0
    for entity in entities:
        state = hass.states.get(entity.entity_id)
        assert state is not None, entity.entity_id
        assert state.state != STATE_UNAVAILABLE, entity.entity_id
        if not number:
            continue
        try:
            float(state.state)
        except ValueError:
            continue
        numbers += 1
    assert numbers or not number, [hass.states.get(e.entity_id) for e in entities]


async def _stored_rows(
    hass: HomeAssistant, entry: MockConfigEntry, meter: Meter
) -> int:
    """Return how many statistics rows the meter has, over every quantity."""
    quantities = entry.runtime_data.client.history_quantities
    return sum(
        [
            len(await stat_rows(hass, statistic_id(meter, q), EPOCH, types={"sum"}))
            for q in quantities
        ]
    )


async def _remove_device(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    entry: MockConfigEntry,
    device: dr.DeviceEntry,
) -> dict[str, Any]:
    """Delete a device the way the device page's "Delete" button does."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
        }
    )
    response: dict[str, Any] = await client.receive_json()
    return response


@pytest.mark.parametrize("change", CHANGES, ids=str)
async def test_meters_come_and_go(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    change: Change,
    loaded: tuple[MockConfigEntry, Any],
    reloads: Counter[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new meter joins, a gone one leaves; the others stay as they were."""
    entry, sim = loaded
    added_key = _device_key(change, change.added)
    removed_key = _device_key(change, change.removed)
    assert find_device(hass, added_key) is None
    before = _snapshot(hass, entry, {removed_key})
    assert before

    change.add(sim)
    await _next_discovery(hass)
    assert reloads[entry.entry_id] == 0
    assert entry.state is ConfigEntryState.LOADED
    device = find_device(hass, added_key)
    assert device is not None
    _assert_values(hass, device)
    new = next(m for m in entry.runtime_data.meters if m.key == change.added)
    assert await _stored_rows(hass, entry, new) > 0
    assert _snapshot(hass, entry, {removed_key, added_key}) == before
    after_add = _snapshot(hass, entry, {removed_key})

    # A meter the provider still lists: its device may not be deleted.
    response = await _remove_device(hass, hass_ws_client, entry, device)
    assert not response["success"]
    assert find_device(hass, added_key) is not None

    gone_device = find_device(hass, removed_key)
    assert gone_device is not None
    gone_entities = [e.entity_id for e in _entities(hass, gone_device)]
    assert gone_entities
    gone = next(m for m in entry.runtime_data.meters if m.key == change.removed)
    gone_rows = await _stored_rows(hass, entry, gone)
    assert gone_rows > 0

    change.remove(sim)
    await _next_discovery(hass, 2)
    if not change.removal_reloads:
        # One reading without it is not enough (a meter may answer nothing
        # for a moment): it keeps its device until the next reading.
        assert find_device(hass, removed_key) is not None
        assert registry_has(hass, gone_entities)
        await _next_discovery(hass, 3)
    assert entry.state is ConfigEntryState.LOADED
    assert reloads[entry.entry_id] == int(change.removal_reloads)
    assert find_device(hass, removed_key) is None
    registry = er.async_get(hass)
    for entity_id in gone_entities:
        assert registry.async_get(entity_id) is None
        assert hass.states.get(entity_id) is None
    assert change.removed not in {m.key for m in entry.runtime_data.all_meters}
    # Its statistics stay in the recorder.
    assert await _stored_rows(hass, entry, gone) >= gone_rows
    assert _snapshot(hass, entry, set()) == after_add
    for key in after_add:
        other = find_device(hass, key)
        assert other is not None
        if _entities(hass, other):
            _assert_values(hass, other, number=False)

    # The device of a meter that is gone (left behind, say, by an older
    # version) may be deleted by the user.
    leftover = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, removed_key)}
    )
    response = await _remove_device(hass, hass_ws_client, entry, leftover)
    assert response["success"], response
    assert find_device(hass, removed_key) is None
    assert not [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and "already exists" in r.getMessage()
    ]


async def test_quantity_reported_later_gets_its_sensor(
    hass: HomeAssistant, serve: Serve
) -> None:
    """A quantity a meter starts to report later gets its sensor at that poll."""
    sim, url = await serve_case(DTL, serve)
    meter = dtl.TRANSFER_METER_EAN
    key = f"dtl_{meter}_voltage_l3"
    sim.add_gap(
        sim.now - timedelta(days=40),
        sim.now + timedelta(days=1),
        meter_ean=meter,
        meting_types=["spanning_l3"],
    )
    entry = DTL.make_entry(hass, sim, url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    registry = er.async_get(hass)
    assert entity_id_of(hass, key) is None
    assert entity_id_of(hass, f"dtl_{meter}_power")

    sim.gaps.clear()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=6))
    await hass.async_block_till_done(wait_background_tasks=True)
    state = sensor_state(hass, key)
    assert state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    assert float(state.state) > 0
    # One sensor per quantity: the next poll adds nothing twice.
    count = len(er.async_entries_for_config_entry(registry, entry.entry_id))
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=12))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(er.async_entries_for_config_entry(registry, entry.entry_id)) == count


@pytest.mark.parametrize("change", [CHANGES[0]], ids=str)
async def test_selection_takes_new_meters_keeps_left_out_ones(
    hass: HomeAssistant, change: Change, serve: Serve, fast_promises: None
) -> None:
    """With a selection, a meter never seen joins; one the user left out stays out."""
    sim, url = await serve_case(change.case, serve)
    entry = change.case.make_entry(hass, sim, url)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_HISTORY_DAYS: 1,
            CONF_METERS: ["ffffffffffff", "ffffffffffff_p1"],
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Options written before the known meters existed: what was there is known.
    assert entry.options[CONF_KNOWN_METERS] == sorted(
        ["ffffffffffff", "ffffffffffff_p1", "ffffffffffff_p1_gas", "ffffffffffff_s01"]
    )
    assert find_device(hass, "cemm_ffffffffffff_s01") is None

    change.add(sim)
    await _next_discovery(hass)
    assert find_device(hass, "cemm_ffffffffffff_s02") is not None
    assert find_device(hass, "cemm_ffffffffffff_s01") is None
    assert "ffffffffffff_s02" in entry.options[CONF_METERS]
    assert "ffffffffffff_s01" not in entry.options[CONF_METERS]
    assert "ffffffffffff_s02" in entry.options[CONF_KNOWN_METERS]


async def test_failed_discovery_changes_nothing(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, serve: Serve
) -> None:
    """A meter list that cannot be read removes nothing; unloaded: no deleting."""
    sim, url = await serve_case(WATTWORX, serve)
    entry = WATTWORX.make_entry(hass, sim, url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    before = _snapshot(hass, entry, set())
    sim.remove_ean(wattworx.EAN_POWER_2)
    discovery = entry.runtime_data.discovery
    for _ in range(2):
        sim.fail_next(500, count=5, endpoint="ean/list")
        await discovery.async_refresh()
        assert not discovery.last_update_success
    assert _snapshot(hass, entry, set()) == before
    assert wattworx.EAN_POWER_2 in {m.key for m in entry.runtime_data.all_meters}

    # Once the entry is unloaded, which meters are gone is unknown: refused.
    assert await hass.config_entries.async_unload(entry.entry_id)
    device = find_device(hass, f"wattworx_{wattworx.EAN_POWER_2}")
    assert device is not None
    response = await _remove_device(hass, hass_ws_client, entry, device)
    assert not response["success"]
