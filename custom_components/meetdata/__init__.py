"""Meetdata: metering data of Dutch and Belgian energy connections."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api.errors import MeetdataError
from .const import CONF_HISTORY_DAYS, CONF_PROVIDER, CONF_UPDATE_INTERVAL, DOMAIN
from .coordinator import HistoryCoordinator, LatestCoordinator
from .discovery import (
    MeterDiscovery,
    async_follow_meters,
    async_select_meters,
    is_present,
)
from .errors import ha_error
from .holes import async_remove_holes
from .ids import async_claim_meters, async_statistic_labels
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
        all_meters = await client.async_discover_meters()
    except MeetdataError as err:
        raise ha_error(err, other=ConfigEntryNotReady) from err

    meters, polled = async_select_meters(
        hass, entry, all_meters, (m.key for m in all_meters)
    )
    interval = timedelta(
        minutes=entry.options.get(
            CONF_UPDATE_INTERVAL, spec.default_update_interval.total_seconds() / 60
        )
    )
    async_claim_meters(hass, entry, [meter.key for meter in polled])
    history_days = int(entry.options.get(CONF_HISTORY_DAYS, spec.default_history_days))
    latest = LatestCoordinator(hass, entry, client, polled, interval)
    history = HistoryCoordinator(
        hass, entry, client, polled, history_days, await async_statistic_labels(hass)
    )
    discovery = MeterDiscovery(hass, entry, client, all_meters, spec.discovery_interval)
    entry.runtime_data = MeetdataRuntimeData(
        spec=spec,
        client=client,
        all_meters=all_meters,
        meters=meters,
        latest=latest,
        history=history,
        discovery=discovery,
    )
    async_follow_meters(hass, entry, meters, polled)
    await latest.async_config_entry_first_refresh()
    await spec.async_setup_entry(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # A coordinator only schedules its next run while something listens to it;
    # no entity does for history, so keep the import schedule alive ourselves.
    entry.async_on_unload(history.async_add_listener(lambda: None))
    entry.async_on_unload(discovery.async_add_listener(lambda: None))
    entry.async_create_background_task(
        hass, history.async_refresh(), f"{DOMAIN} history import {entry.title}"
    )
    return True


async def async_unload_entry(hass: HomeAssistant, entry: MeetdataConfigEntry) -> bool:
    """Unload the entry's platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: MeetdataConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete the device of a meter the provider no longer lists."""
    if entry.state is not ConfigEntryState.LOADED:
        return False  # the meter list is only known while the entry runs
    return not is_present(entry, device)


async def async_remove_entry(hass: HomeAssistant, entry: MeetdataConfigEntry) -> None:
    """Forget the repair issues and history holes of a deleted entry.

    Its statistics stay.
    """
    async_clear_entry_issues(hass, entry.entry_id)
    await async_remove_holes(hass, entry.entry_id)
