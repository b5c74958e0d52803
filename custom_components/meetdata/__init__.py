"""Meetdata: metering data of Dutch and Belgian energy connections."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api.errors import MeetdataError
from .api.models import Meter, MeterKind
from .compat import async_forget_device
from .const import (
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PROVIDER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from .coordinator import HistoryCoordinator, LatestCoordinator
from .entity import device_info
from .errors import ha_error
from .ids import async_claim_meters, meter_id, via_id
from .migrate import async_migrate_registry_ids
from .providers import get_spec
from .repairs import async_clear_entry_issues
from .runtime import MeetdataConfigEntry, MeetdataRuntimeData
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's services."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: MeetdataConfigEntry) -> bool:
    """Bring an entry from an older version to this one (see migrate.py)."""
    return await async_migrate_registry_ids(hass, entry)


async def async_setup_entry(hass: HomeAssistant, entry: MeetdataConfigEntry) -> bool:
    """Discover the account's meters, start polling and importing history."""
    spec = get_spec(entry.data[CONF_PROVIDER])
    client = spec.build_client(async_get_clientsession(hass), entry.data)
    try:
        all_meters = await client.async_get_meters()
    except MeetdataError as err:
        raise ha_error(err, other=ConfigEntryNotReady) from err

    included = entry.options.get(CONF_METERS)
    meters = [m for m in all_meters if included is None or m.key in included]
    data_meters = [m for m in meters if m.kind is not MeterKind.GATEWAY]
    interval = timedelta(
        minutes=entry.options.get(
            CONF_UPDATE_INTERVAL, spec.default_update_interval.total_seconds() / 60
        )
    )
    async_claim_meters(hass, entry, [meter.key for meter in data_meters])
    history_days = int(entry.options.get(CONF_HISTORY_DAYS, spec.default_history_days))
    latest = LatestCoordinator(hass, entry, client, data_meters, interval)
    history = HistoryCoordinator(hass, entry, client, data_meters, history_days)
    entry.runtime_data = MeetdataRuntimeData(
        spec=spec,
        client=client,
        all_meters=all_meters,
        meters=meters,
        latest=latest,
        history=history,
    )
    _register_devices(hass, entry, meters)
    await latest.async_config_entry_first_refresh()
    await spec.async_setup_entry(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # A coordinator only schedules its next run while something listens to it;
    # no entity does for history, so keep the import schedule alive ourselves.
    entry.async_on_unload(history.async_add_listener(lambda: None))
    entry.async_create_background_task(
        hass, history.async_refresh(), f"{DOMAIN} history import {entry.title}"
    )
    return True


def _register_devices(
    hass: HomeAssistant, entry: MeetdataConfigEntry, meters: list[Meter]
) -> None:
    """Create a device per meter, linked to its gateway; drop excluded meters'."""
    registry = dr.async_get(hass)
    manufacturer = entry.runtime_data.spec.manufacturer
    devices = {
        meter_id(entry.entry_id, meter): registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            **device_info(entry.entry_id, meter, manufacturer),
        )
        for meter in meters
    }
    for meter in meters:
        parent = devices.get(via_id(entry.entry_id, meter) or "")
        device = devices[meter_id(entry.entry_id, meter)]
        if parent is not None and device.via_device_id != parent.id:
            registry.async_update_device(device.id, via_device_id=parent.id)
    current = {device.id for device in devices.values()}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.id not in current:
            async_forget_device(registry, device, entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: MeetdataConfigEntry) -> bool:
    """Unload the entry's platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: MeetdataConfigEntry) -> None:
    """Forget the repair issues of a deleted entry (its statistics stay)."""
    async_clear_entry_issues(hass, entry.entry_id)
