"""Meters come and go: the account's meter list, read again while the entry runs.

A coordinator re-reads the provider's meter list (every hour, or when a
provider asks for it: Fluvius after its mandates changed). A meter that
appeared gets its device and joins the polls and the history import (the
sensor platform adds its sensors after the next poll); a meter missing from
two readings in a row is gone: it loses its device and with it its entities
(its statistics stay). With an
explicit meter selection in the options, a meter nobody saw before is added
to the selection; one the user left out stays out (``CONF_KNOWN_METERS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .api.base import MeterDataClient
from .api.errors import MeetdataError
from .api.models import Meter, MeterKind
from .compat import async_forget_device
from .const import CONF_KNOWN_METERS, CONF_METERS, DOMAIN, LOGGER
from .coordinator import async_forget_left_out
from .entity import device_info
from .errors import ha_error
from .ids import meter_id, via_id
from .runtime import MeetdataConfigEntry


def included_meters(entry: MeetdataConfigEntry, all_meters: list[Meter]) -> list[Meter]:
    """Return the meters the options include (all without a selection)."""
    selected = entry.options.get(CONF_METERS)
    return [m for m in all_meters if selected is None or m.key in selected]


def data_meters(meters: Iterable[Meter]) -> list[Meter]:
    """Return the meters with readings (not the gateways they are reached through)."""
    return [m for m in meters if m.kind is not MeterKind.GATEWAY]


@callback
def async_follow_selection(
    hass: HomeAssistant,
    entry: MeetdataConfigEntry,
    all_meters: list[Meter],
    seen: Iterable[str],
) -> None:
    """Select the meters nobody saw yet; remember every meter seen.

    ``seen`` stands in for the known meters of an entry whose options predate
    ``CONF_KNOWN_METERS`` (the meters of the previous reading, or at setup
    those of this one: what the user left out then stays out).
    """
    options = entry.options
    selected = options.get(CONF_METERS)
    if selected is None:
        return
    keys = [meter.key for meter in all_meters]
    known = set(options.get(CONF_KNOWN_METERS, seen))
    new = [key for key in keys if key not in known and key not in selected]
    known_now = sorted(known | set(keys))
    if not new and options.get(CONF_KNOWN_METERS) == known_now:
        return
    if new:
        LOGGER.info("New meters of %s join its selection: %s", entry.title, new)
    hass.config_entries.async_update_entry(
        entry,
        options={
            **options,
            CONF_METERS: [*selected, *new],
            CONF_KNOWN_METERS: known_now,
        },
    )


@callback
def async_select_meters(
    hass: HomeAssistant,
    entry: MeetdataConfigEntry,
    all_meters: list[Meter],
    seen: Iterable[str],
) -> tuple[list[Meter], list[Meter]]:
    """Follow the options' selection; return the included and the polled meters."""
    async_follow_selection(hass, entry, all_meters, seen)
    meters = included_meters(entry, all_meters)
    return meters, data_meters(meters)


@callback
def async_follow_meters(
    hass: HomeAssistant,
    entry: MeetdataConfigEntry,
    meters: list[Meter],
    polled: list[Meter],
) -> None:
    """Give the included meters their devices; drop what left-out meters had."""
    async_register_devices(hass, entry, meters)
    async_forget_left_out(hass, entry, polled)


@callback
def async_register_devices(
    hass: HomeAssistant, entry: MeetdataConfigEntry, meters: list[Meter]
) -> None:
    """Create a device per meter, linked to its gateway; forget every other device."""
    registry = dr.async_get(hass)
    devices = {
        meter_id(entry.entry_id, meter): registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            **device_info(entry.entry_id, meter, entry.runtime_data.spec.manufacturer),
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


def is_present(entry: MeetdataConfigEntry, device: dr.DeviceEntry) -> bool:
    """Return whether a device belongs to a meter the provider still lists."""
    present = {
        (DOMAIN, meter_id(entry.entry_id, m)) for m in entry.runtime_data.all_meters
    }
    return bool(present & device.identifiers)


class MeterDiscovery(DataUpdateCoordinator[list[Meter]]):
    """Read the account's meter list again; let the entry follow it."""

    config_entry: MeetdataConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataConfigEntry,
        client: MeterDataClient,
        all_meters: list[Meter],
        update_interval: timedelta | None,
    ) -> None:
        """Start from ``all_meters`` (read at setup); re-read every ``update_interval``.

        ``None``: only when asked (``async_refresh``).
        """
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title} meters",
            update_interval=update_interval,
        )
        self.client = client
        self.data = all_meters
        #: Keys of the meters the last reading left out (kept once more).
        self._missed: set[str] = set()

    async def _async_update_data(self) -> list[Meter]:
        try:
            listed = await self.client.async_discover_meters()
        except MeetdataError as err:
            raise ha_error(err) from err
        all_meters = self._with_missed_once(listed)
        await self._async_follow(all_meters)
        return all_meters

    def _with_missed_once(self, listed: list[Meter]) -> list[Meter]:
        """Return ``listed`` plus the meters missing from this reading only.

        A meter is gone once two readings in a row leave it out: a meter
        that answers nothing for a moment (a CEMM alias without data, say)
        keeps its device, entities and their settings.
        """
        keys = {meter.key for meter in listed}
        missing = [
            m for m in self.config_entry.runtime_data.all_meters if m.key not in keys
        ]
        kept = [m for m in missing if m.key not in self._missed]
        self._missed = {m.key for m in kept}
        if kept:
            LOGGER.debug(
                "Meters of %s missing from the list, kept until the next reading: %s",
                self.config_entry.title,
                [m.key for m in kept],
            )
        return [*listed, *kept]

    async def _async_follow(self, all_meters: list[Meter]) -> None:
        """Bring devices, polls and imports in line with the meter list."""
        hass, entry = self.hass, self.config_entry
        runtime = entry.runtime_data
        before = {meter.key for meter in runtime.meters}
        meters, polled = async_select_meters(
            hass, entry, all_meters, (meter.key for meter in runtime.all_meters)
        )
        runtime.all_meters = all_meters
        runtime.meters = meters
        runtime.latest.set_meters(polled)
        runtime.history.set_meters(polled)
        async_follow_meters(hass, entry, meters, polled)
        added = [meter for meter in meters if meter.key not in before]
        gone = sorted(before - {meter.key for meter in meters})
        if not added and not gone:
            return
        LOGGER.info(
            "Meters of %s: %s new, %s gone",
            entry.title,
            [meter.key for meter in added] or "none",
            gone or "none",
        )
        await runtime.spec.async_meters_changed(hass, entry)
        if data_meters(added):
            # Values for the new meters' sensors now, their history behind it.
            await runtime.latest.async_refresh()
            entry.async_create_background_task(
                hass,
                runtime.history.async_refresh(),
                f"{DOMAIN} history import {entry.title}",
            )
