"""What differs between the Home Assistant releases Meetdata supports (2025.4 on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

if TYPE_CHECKING:
    OptionsFlowBase = config_entries.OptionsFlow
else:
    #: The options flow base: one that reloads the entry after a change where
    #: Home Assistant has it (2025.8 on), the plain one before.
    OptionsFlowBase = getattr(
        config_entries, "OptionsFlowWithReload", config_entries.OptionsFlow
    )

#: Whether Home Assistant reloads an entry itself after its options changed.
RELOADS_AFTER_OPTIONS = OptionsFlowBase is not config_entries.OptionsFlow


def async_reload_for_options(
    hass: HomeAssistant,
    entry: config_entries.ConfigEntry[Any],
    options: Mapping[str, Any],
) -> None:
    """Store new options and reload, where Home Assistant does not do it itself.

    Without an update listener (which would also reload on every reauth and
    reconfigure): the flow's own result then finds the options unchanged.
    """
    if RELOADS_AFTER_OPTIONS:
        return
    if hass.config_entries.async_update_entry(entry, options=dict(options)):
        hass.config_entries.async_schedule_reload(entry.entry_id)


def async_forget_device(
    registry: dr.DeviceRegistry, device: dr.DeviceEntry, entry_id: str
) -> None:
    """Take a device away from a config entry; remove it once it has no entry.

    Since Home Assistant 2026.x a device belongs to one config entry
    (``config_entry_id``) and is removed with ``async_remove_device``; before,
    a device could be shared, so only this entry is detached from it.
    """
    if hasattr(device, "config_entry_id") or device.config_entries == {entry_id}:
        registry.async_remove_device(device.id)
    else:
        registry.async_update_device(device.id, remove_config_entry_id=entry_id)


def device_entry_ids(device: dr.DeviceEntry) -> set[str]:
    """Return the config entries a device belongs to.

    One (``config_entry_id``) since Home Assistant 2026.x; before, a set.
    """
    if hasattr(device, "config_entry_id"):
        return {device.config_entry_id}
    return set(device.config_entries)
