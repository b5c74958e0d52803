"""Migrate config entries: 1.1 → 1.2 scopes entity and device ids to the entry.

Entity unique ids ``<provider>_<meter>_<quantity>`` become
``<entry_id>_<provider>_<meter>_<quantity>`` and device identifiers
``<provider>_<meter>`` become ``<entry_id>_<provider>_<meter>`` (ids.py), so
entity ids, names, areas and history stay. Before Home Assistant 2026.x a
device could belong to two entries (the same meter in two accounts): the
oldest of them keeps it, the others leave it, their entities detached first
so that they stay and join their entry's own device at setup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .compat import async_forget_device, device_entry_ids
from .const import CONF_PROVIDER, DOMAIN

#: The config entry version this code writes (the config flow's).
VERSION = 1
MINOR_VERSION = 2


async def async_migrate_registry_ids(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Migrate an entry to VERSION.MINOR_VERSION; False for a newer major version."""
    if entry.version > VERSION:
        return False
    if entry.minor_version < MINOR_VERSION:
        _migrate_devices(hass, entry)
        await er.async_migrate_entries(hass, entry.entry_id, _scoped(entry))
        hass.config_entries.async_update_entry(entry, minor_version=MINOR_VERSION)
    return True


def _old(entry: ConfigEntry, identifier: tuple[str, str]) -> bool:
    """Whether a device identifier has the form before 1.2 (``<provider>_…``)."""
    domain, value = identifier
    return domain == DOMAIN and value.startswith(f"{entry.data[CONF_PROVIDER]}_")


def _age(hass: HomeAssistant, entry_id: str) -> tuple[float, str]:
    entry = hass.config_entries.async_get_entry(entry_id)
    return (entry.created_at.timestamp() if entry else 0.0), entry_id


def _scoped(entry: ConfigEntry) -> Callable[[er.RegistryEntry], dict[str, Any] | None]:
    """Return the entity registry update of an entity of this entry (None: none)."""
    prefix = f"{entry.entry_id}_"

    def _update(entity: er.RegistryEntry) -> dict[str, Any] | None:
        if entity.platform != DOMAIN or entity.unique_id.startswith(prefix):
            return None
        return {"new_unique_id": prefix + entity.unique_id}

    return _update


def _migrate_devices(hass: HomeAssistant, entry: ConfigEntry) -> None:
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        old = {i for i in device.identifiers if _old(entry, i)}
        if not old:
            continue
        holders = sorted(device_entry_ids(device), key=lambda e: _age(hass, e))
        for other in holders[1:]:
            # Shared (before 2026.x): only the oldest entry keeps the device.
            for entity in er.async_entries_for_device(entities, device.id, True):
                if entity.config_entry_id == other:
                    entities.async_update_entity(entity.entity_id, device_id=None)
            async_forget_device(devices, device, other)
        if holders[0] == entry.entry_id:
            scoped = {(DOMAIN, f"{entry.entry_id}_{value}") for _, value in old}
            devices.async_update_device(
                device.id, new_identifiers=(device.identifiers - old) | scoped
            )
