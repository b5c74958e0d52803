"""The same meter in two config entries: side by side, and migrated from 1.1.

Entities and devices are scoped to the entry; statistics keep the plain ids
for the entry that held the meter first and get the entry's tag in the other
(custom_components/meetdata/ids.py). Over HTTP against the simulators.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import get_metadata
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_KEY, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    CONF_STATISTIC_TAGS,
    DOMAIN,
)
from custom_components.meetdata.providers import PROVIDERS
from custom_components.meetdata.providers.kenter.client import meter_key
from custom_components.meetdata.providers.kenter.spec import (
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_PASSCODE,
)
from custom_components.meetdata.providers.wattworx.client.times import local_day_start

from ..conftest import Serve
from ..helpers import entity_id_of, find_device, stat_rows
from ..simulators.kenter import (
    PATH as KENTER_PATH,
    KenterSimulator,
    MeterKind,
    SimConnection,
    SimMeter,
)
from ..simulators.wattworx import (
    DEMO_KEY,
    EAN_GAS,
    EAN_POWER,
    EAN_POWER_2,
    SINGLE_CLIENT_KEY,
    WattworxSimulator,
)

pytestmark = pytest.mark.recorder_db

HOUR = 3600
DAYS = 2
#: The demo Kenter account: an electricity and a gas connection.
EAN_E = "876600504607071300"
EAN_G = "871687120000096366"
KENTER_PASSCODES = {EAN_E: "jTx7HCB", EAN_G: "oTW66As"}
KEY_G = meter_key(EAN_G, "Z0NR000042279210")
#: The Kenter simulator's gas counter and electricity import counter.
GAS_COUNTER = "VN"
IMPORT_COUNTER = "LVR"


# ----------------------------------------------------------------- helpers


def _tag(entry: MockConfigEntry) -> str:
    """The tag the README documents: the last six characters of the entry id."""
    return entry.entry_id.lower()[-6:]


def _hourly(amounts: Iterable[tuple[datetime, float]]) -> dict[float, float]:
    """Sum (start, amount) pairs into the UTC hour they start in."""
    hours: dict[float, float] = defaultdict(float)
    for start, value in amounts:
        ts = start.timestamp()
        hours[ts - ts % HOUR] += value
    return dict(hours)


async def _assert_rows(
    hass: HomeAssistant, stat_id: str, expected: dict[float, float]
) -> None:
    """The statistic's hours equal ``expected`` and its sums chain from zero."""
    since = datetime.now(UTC) - timedelta(days=DAYS + 2)
    rows = await stat_rows(hass, stat_id, since, None, ("state", "sum"))
    assert rows, stat_id
    assert {row["start"]: row["state"] for row in rows} == pytest.approx(expected)
    total = 0.0
    for row in rows:
        total += row["state"]
        assert row["sum"] == pytest.approx(total), stat_id


async def _names(hass: HomeAssistant, *stat_ids: str) -> dict[str, str]:
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids=set(stat_ids))
    )
    return {stat_id: meta["name"] for stat_id, (_, meta) in metadata.items()}


def _sensors(hass: HomeAssistant, entry: MockConfigEntry, meter: str) -> set[str]:
    """Return the quantities of the meter's sensors in one entry (all with values)."""
    prefix = f"{entry.entry_id}_{meter}_"
    quantities = set()
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        if entity.unique_id.startswith(prefix):
            state = hass.states.get(entity.entity_id)
            assert state is not None, entity.entity_id
            assert state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN), state
            quantities.add(entity.unique_id.removeprefix(prefix))
    return quantities


def _assert_own_device(
    hass: HomeAssistant, meter: str, *entries: MockConfigEntry
) -> list[dr.DeviceEntry]:
    """Each entry has its own device of the meter, holding its own sensors."""
    devices = []
    for entry in entries:
        device = find_device(hass, meter, entry.entry_id)
        assert device is not None, (meter, entry.title)
        assert dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        for entity in er.async_entries_for_device(er.async_get(hass), device.id):
            assert entity.config_entry_id == entry.entry_id
        devices.append(device)
    assert len({device.id for device in devices}) == len(entries)
    return devices


def _assert_no_orphans(hass: HomeAssistant) -> None:
    """Every Meetdata device and entity belongs to an entry, under new ids only."""
    entries = {e.entry_id: e for e in hass.config_entries.async_entries(DOMAIN)}
    devices = dr.async_get(hass)
    for entry_id in entries:
        for device in dr.async_entries_for_config_entry(devices, entry_id):
            assert all(
                value.startswith(f"{entry_id}_")
                for domain, value in device.identifiers
                if domain == DOMAIN
            ), device.identifiers
    for entity in er.async_get(hass).entities.values():
        if entity.platform != DOMAIN:
            continue
        assert entity.config_entry_id in entries, entity.entity_id
        assert entity.unique_id.startswith(f"{entity.config_entry_id}_")
        assert entity.device_id is not None, entity.entity_id
        device = devices.async_get(entity.device_id)
        assert device is not None
        assert entity.config_entry_id in {
            e.entry_id
            for e in entries.values()
            if device in dr.async_entries_for_config_entry(devices, e.entry_id)
        }
        assert hass.states.get(entity.entity_id) is not None, entity.entity_id


async def _setup(hass: HomeAssistant, *entries: MockConfigEntry) -> None:
    """Add and set the entries up one after the other, in this order."""
    assert await async_setup_component(hass, DOMAIN, {})
    for entry in entries:
        if hass.config_entries.async_get_entry(entry.entry_id) is None:
            entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert entry.state is ConfigEntryState.LOADED, entry.title


async def _start(hass: HomeAssistant, *entries: MockConfigEntry) -> None:
    """Set up the integration with its entries, all at once (a start-up)."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done(wait_background_tasks=True)
    for entry in entries:
        assert entry.state is ConfigEntryState.LOADED, entry.title


async def _unload(hass: HomeAssistant, *entries: MockConfigEntry) -> None:
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def _wattworx_entry(
    hass: HomeAssistant, url: str, key: str, title: str, **extra: Any
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=f"wattworx_{title.lower().replace(' ', '_')}",
        data={CONF_PROVIDER: "wattworx", CONF_API_KEY: key, CONF_BASE_URL: url},
        options={CONF_HISTORY_DAYS: DAYS},
        **extra,
    )


def _kenter_entry(
    hass: HomeAssistant, url: str, eans: list[str], **extra: Any
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Kenter " + ", ".join(eans),
        unique_id="kenter_" + "_".join(eans),
        data={
            CONF_PROVIDER: "kenter",
            CONF_CONNECTIONS: [
                {CONF_EAN: ean, CONF_PASSCODE: KENTER_PASSCODES[ean]} for ean in eans
            ],
            CONF_BASE_URL: url,
        },
        options={CONF_HISTORY_DAYS: DAYS},
        **extra,
    )


def _wattworx_expected(sim: WattworxSimulator, ean: str) -> dict[float, float]:
    since = datetime.now(UTC) - timedelta(days=DAYS)
    first = datetime.fromtimestamp(since.timestamp() // HOUR * HOUR, UTC)
    source = sim.intervals(ean, first, local_day_start(sim.today))
    return _hourly((start, value) for start, _, value in source["energy_import"])


def _kenter_expected(
    sim: KenterSimulator, code: str, counter: str, rows_from: float
) -> dict[float, float]:
    first = datetime.fromtimestamp(rows_from, UTC)
    intervals = sim.source_intervals(code, counter, first, sim.now_utc())
    return _hourly((iv.start, iv.value) for iv in intervals)


async def _first_hour(hass: HomeAssistant, stat_id: str) -> float:
    since = datetime.now(UTC) - timedelta(days=DAYS + 2)
    rows = await stat_rows(hass, stat_id, since, None, ("state",))
    assert rows, stat_id
    return float(rows[0]["start"])


# ------------------------------------------------------------------- tests


async def test_two_wattworx_accounts_with_one_client(
    hass: HomeAssistant, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two keys reaching client 1111's EANs: both load, each its own statistics.

    The second key is added through the config flow, as a user does.
    """
    sim = WattworxSimulator(now=datetime.now(UTC).replace(second=0, microsecond=0))
    url = await serve(sim.build_app()) + "/api/v1/"
    first = _wattworx_entry(hass, url, DEMO_KEY, "Wattworx both clients")
    await _setup(hass, first)
    monkeypatch.setattr(PROVIDERS["wattworx"], "default_history_days", DAYS)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "wattworx"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_API_KEY: SINGLE_CLIENT_KEY, "advanced": {CONF_BASE_URL: url}},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    second = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert second.state is ConfigEntryState.LOADED
    # Created at the current version: nothing to migrate.
    assert (second.version, second.minor_version) == (1, 2)
    assert (first.version, first.minor_version) == (1, 2)

    for ean in (EAN_POWER, EAN_GAS):
        meter = f"wattworx_{ean}"
        quantities = _sensors(hass, first, meter)
        assert quantities
        assert _sensors(hass, second, meter) == quantities
        one = sorted(quantities)[0]
        ids = {
            entity_id_of(hass, f"{meter}_{one}", e.entry_id) for e in (first, second)
        }
        assert None not in ids
        assert len(ids) == 2
        _assert_own_device(hass, meter, first, second)
    _assert_own_device(hass, "wattworx_client_1111", first, second)
    # The second key does not reach client 2222.
    assert find_device(hass, f"wattworx_{EAN_POWER_2}", second.entry_id) is None

    # The first entry keeps the plain ids, the second tags only what it shares.
    assert first.data[CONF_STATISTIC_TAGS] == dict.fromkeys(
        first.data[CONF_STATISTIC_TAGS], ""
    )
    assert second.data[CONF_STATISTIC_TAGS] == {
        EAN_POWER: _tag(second),
        EAN_GAS: _tag(second),
    }
    plain = f"meetdata:wattworx_{EAN_POWER}_energy_import"
    tagged = f"meetdata:wattworx_{EAN_POWER}_{_tag(second)}_energy_import"
    expected = _wattworx_expected(sim, EAN_POWER)
    await _assert_rows(hass, plain, expected)
    await _assert_rows(hass, tagged, expected)
    names = await _names(hass, plain, tagged)
    assert names[tagged] == f"{names[plain]} ({second.title})"
    assert second.title not in names[plain]

    # Decided once: set up in the other order, nothing changes.
    tags = {e.entry_id: dict(e.data[CONF_STATISTIC_TAGS]) for e in (first, second)}
    await _unload(hass, first, second)
    await _setup(hass, second, first)
    assert {
        e.entry_id: dict(e.data[CONF_STATISTIC_TAGS]) for e in (first, second)
    } == tags
    await _assert_rows(hass, plain, expected)
    await _assert_rows(hass, tagged, expected)
    _assert_no_orphans(hass)

    # The first account deleted and added again: the plain ids continue.
    assert await hass.config_entries.async_remove(first.entry_id)
    again = _wattworx_entry(hass, url, DEMO_KEY, "Wattworx again")
    await _setup(hass, again)
    assert again.data[CONF_STATISTIC_TAGS][EAN_POWER] == ""
    assert second.data[CONF_STATISTIC_TAGS] == tags[second.entry_id]
    await _assert_rows(hass, plain, expected)
    _assert_no_orphans(hass)


async def test_two_kenter_entries_with_one_connection(
    hass: HomeAssistant, serve: Serve
) -> None:
    """The gas connection in two entries: both read it, each its own statistics."""
    sim = KenterSimulator(now=datetime.now(UTC).replace(microsecond=0))
    url = await serve(sim.build_app()) + KENTER_PATH
    first = _kenter_entry(hass, url, [EAN_E, EAN_G])
    second = _kenter_entry(hass, url, [EAN_G])
    await _setup(hass, first, second)

    meter = f"kenter_{KEY_G}"
    quantities = _sensors(hass, first, meter)
    assert "gas_volume_interval" in quantities
    assert _sensors(hass, second, meter) == quantities
    _assert_own_device(hass, meter, first, second)
    assert second.data[CONF_STATISTIC_TAGS] == {KEY_G: _tag(second)}

    plain = f"meetdata:kenter_{KEY_G.lower()}_gas_volume"
    tagged = f"meetdata:kenter_{KEY_G.lower()}_{_tag(second)}_gas_volume"
    start = await _first_hour(hass, plain)
    assert await _first_hour(hass, tagged) == start
    expected = _kenter_expected(sim, "Z0NR000042279210", GAS_COUNTER, start)
    await _assert_rows(hass, plain, expected)
    await _assert_rows(hass, tagged, expected)
    names = await _names(hass, plain, tagged)
    assert names[tagged] == f"{names[plain]} ({second.title})"
    _assert_no_orphans(hass)


async def test_kenter_and_wattworx_with_the_same_ean(
    hass: HomeAssistant, serve: Serve
) -> None:
    """One EAN at two providers: apart by the provider in every id, no tag."""
    sim_w = WattworxSimulator(now=datetime.now(UTC).replace(second=0, microsecond=0))
    url_w = await serve(sim_w.build_app()) + "/api/v1/"
    code = "E0031099887766"
    sim_k = KenterSimulator(
        [
            SimConnection(
                EAN_POWER,
                "pw",
                "Stadstraat",
                "STADSTRAAT 111",
                "GRONINGEN",
                [SimMeter(code, MeterKind.ELECTRICITY)],
            )
        ],
        now=datetime.now(UTC).replace(microsecond=0),
    )
    url_k = await serve(sim_k.build_app()) + KENTER_PATH
    KENTER_PASSCODES[EAN_POWER] = "pw"
    try:
        kenter = _kenter_entry(hass, url_k, [EAN_POWER])
    finally:
        del KENTER_PASSCODES[EAN_POWER]
    wattworx = _wattworx_entry(hass, url_w, SINGLE_CLIENT_KEY, "Wattworx Klant 1")
    await _setup(hass, kenter, wattworx)

    key_k = meter_key(EAN_POWER, code)
    assert _sensors(hass, kenter, f"kenter_{key_k}")
    assert _sensors(hass, wattworx, f"wattworx_{EAN_POWER}")
    device_k = find_device(hass, f"kenter_{key_k}", kenter.entry_id)
    device_w = find_device(hass, f"wattworx_{EAN_POWER}", wattworx.entry_id)
    assert device_k is not None
    assert device_w is not None
    assert device_k.id != device_w.id
    assert set(kenter.data[CONF_STATISTIC_TAGS].values()) == {""}
    assert set(wattworx.data[CONF_STATISTIC_TAGS].values()) == {""}

    stat_k = f"meetdata:kenter_{key_k.lower()}_energy_import"
    stat_w = f"meetdata:wattworx_{EAN_POWER}_energy_import"
    start = await _first_hour(hass, stat_k)
    await _assert_rows(
        hass, stat_k, _kenter_expected(sim_k, code, IMPORT_COUNTER, start)
    )
    await _assert_rows(hass, stat_w, _wattworx_expected(sim_w, EAN_POWER))
    _assert_no_orphans(hass)


async def test_entry_from_1_1_keeps_its_entities(
    hass: HomeAssistant, serve: Serve
) -> None:
    """Registry ids of 1.1 are rewritten in place: entity ids, names, areas stay."""
    sim = KenterSimulator(now=datetime.now(UTC).replace(microsecond=0))
    url = await serve(sim.build_app()) + KENTER_PATH
    entry = _kenter_entry(hass, url, [EAN_E, EAN_G], minor_version=1)
    entry.add_to_hass(hass)
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    old_device = devices.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, f"kenter_{KEY_G}")},
        name="Gas",
    )
    devices.async_update_device(old_device.id, name_by_user="Gas in the shed")
    old_entity = entities.async_get_or_create(
        "sensor",
        DOMAIN,
        f"kenter_{KEY_G}_gas_volume_interval",
        config_entry=entry,
        device_id=old_device.id,
        suggested_object_id="my_gas",
    )
    entities.async_update_entity(old_entity.entity_id, name="My gas")

    await _start(hass, entry)

    assert (entry.version, entry.minor_version) == (1, 2)
    entity = entities.async_get(old_entity.entity_id)
    assert entity is not None
    assert entity.entity_id == "sensor.my_gas"
    assert entity.unique_id == f"{entry.entry_id}_kenter_{KEY_G}_gas_volume_interval"
    assert entity.name == "My gas"
    assert entity.device_id == old_device.id
    device = devices.async_get(old_device.id)
    assert device is not None
    assert device.identifiers == {(DOMAIN, f"{entry.entry_id}_kenter_{KEY_G}")}
    assert device.name_by_user == "Gas in the shed"
    assert float(hass.states.get("sensor.my_gas").state) >= 0  # type: ignore[union-attr]
    # Alone with its meters: the plain statistic ids of before.
    assert set(entry.data[CONF_STATISTIC_TAGS].values()) == {""}
    assert await _first_hour(hass, f"meetdata:kenter_{KEY_G.lower()}_gas_volume")
    _assert_no_orphans(hass)
    assert len(dr.async_entries_for_config_entry(devices, entry.entry_id)) == 2


async def test_two_entries_from_1_1_sharing_a_meter(
    hass: HomeAssistant, serve: Serve
) -> None:
    """The collision of 1.1, migrated: the older entry keeps the device and ids.

    Before 2026.x the two entries shared one device; the second entry's
    sensors of it were refused (same unique id). Both start together, the
    younger one added first.
    """
    sim = WattworxSimulator(now=datetime.now(UTC).replace(second=0, microsecond=0))
    url = await serve(sim.build_app()) + "/api/v1/"
    older = _wattworx_entry(hass, url, DEMO_KEY, "Wattworx both", minor_version=1)
    younger = _wattworx_entry(
        hass, url, SINGLE_CLIENT_KEY, "Wattworx one", minor_version=1
    )
    assert older.created_at < younger.created_at
    younger.add_to_hass(hass)
    older.add_to_hass(hass)
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    meter = f"wattworx_{EAN_POWER}"
    old_device = devices.async_get_or_create(
        config_entry_id=older.entry_id, identifiers={(DOMAIN, meter)}, name="Power"
    )
    devices.async_update_device(old_device.id, name_by_user="Main meter")
    # 2025.x: the younger entry joins that device; 2026.x: a device of its own.
    devices.async_get_or_create(
        config_entry_id=younger.entry_id, identifiers={(DOMAIN, meter)}, name="Power"
    )
    kept = entities.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{meter}_energy_import_normal",
        config_entry=older,
        device_id=old_device.id,
        suggested_object_id="main_import",
    )

    await _start(hass, younger, older)

    entity = entities.async_get(kept.entity_id)
    assert entity is not None
    assert entity.entity_id == "sensor.main_import"
    assert entity.unique_id == f"{older.entry_id}_{meter}_energy_import_normal"
    assert entity.device_id == old_device.id
    device_old, device_young = _assert_own_device(hass, meter, older, younger)
    assert device_old.id == old_device.id
    assert device_old.name_by_user == "Main meter"
    assert _sensors(hass, younger, meter) == _sensors(hass, older, meter)
    # The older entry had the meter's device: it keeps the plain statistic ids.
    assert older.data[CONF_STATISTIC_TAGS][EAN_POWER] == ""
    assert younger.data[CONF_STATISTIC_TAGS][EAN_POWER] == _tag(younger)
    expected = _wattworx_expected(sim, EAN_POWER)
    await _assert_rows(hass, f"meetdata:{meter}_energy_import", expected)
    await _assert_rows(
        hass, f"meetdata:{meter}_{_tag(younger)}_energy_import", expected
    )
    _assert_no_orphans(hass)


async def test_entry_of_a_newer_version_is_not_loaded(
    hass: HomeAssistant, serve: Serve
) -> None:
    """An entry a newer Meetdata wrote (version 2) is refused, not damaged."""
    sim = WattworxSimulator(now=datetime.now(UTC).replace(second=0, microsecond=0))
    url = await serve(sim.build_app()) + "/api/v1/"
    entry = _wattworx_entry(hass, url, DEMO_KEY, "Wattworx", version=2)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert entry.version == 2
    assert CONF_STATISTIC_TAGS not in entry.data
