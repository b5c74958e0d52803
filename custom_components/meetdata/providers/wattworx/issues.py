"""Wattworx: a repair issue for every EAN whose authorisation is not signed.

Wattworx only reads an EAN once its client signed the authorisation
("Getekend"). The device list says where each EAN stands; the latest
coordinator asks for that list on every poll, so the issues follow it: an
issue appears when an EAN is not signed and goes when it is. An EAN that gets
signed while the entry runs has its sensors added with the poll's readings
and its history imported right away (no reload).
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from ...api.models import Meter, MeterKind
from ...const import DOMAIN, LOGGER
from ...repairs import async_clear_meter_issue, async_raise_meter_issue
from ..base import MeetdataEntry, client_of
from .client import WattworxClient
from .client.convert import ATTR_AUTHORISATION_STATUS
from .client.params import AUTHORISATION_SIGNED

ISSUE_NOT_SIGNED = "wattworx_not_signed"
#: Shown when the device list has no status for an EAN.
UNKNOWN_STATUS = "?"


def _status(client: WattworxClient, meter: Meter) -> str | None:
    """Return the newest known authorisation status of a meter's EAN."""
    device = client.known_devices.get(meter.key)
    if device is None:
        return meter.attributes.get(ATTR_AUTHORISATION_STATUS)
    return device.client.authorisation_status if device.client else None


@callback
def _clear_vanished(hass: HomeAssistant, entry: MeetdataEntry, known: set[str]) -> None:
    """Clear the issues of EANs that are no longer in the device list."""
    prefix = f"{entry.entry_id}_{ISSUE_NOT_SIGNED}_"
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ean = issue_id.removeprefix(prefix)
            if ean not in known:
                async_clear_meter_issue(hass, entry, ISSUE_NOT_SIGNED, ean)


@callback
def async_update_issues(hass: HomeAssistant, entry: MeetdataEntry) -> set[str]:
    """Raise or clear the issue of every included EAN (excluded ones: clear).

    Returns the included EANs that are signed.
    """
    runtime = entry.runtime_data
    client = client_of(entry, WattworxClient)
    included = {meter.key for meter in runtime.meters}
    _clear_vanished(hass, entry, {meter.key for meter in runtime.all_meters})
    signed: set[str] = set()
    for meter in runtime.all_meters:
        if meter.kind is MeterKind.GATEWAY:
            continue
        if meter.key not in included:
            async_clear_meter_issue(hass, entry, ISSUE_NOT_SIGNED, meter.key)
            continue
        status = _status(client, meter)
        if status == AUTHORISATION_SIGNED:
            async_clear_meter_issue(hass, entry, ISSUE_NOT_SIGNED, meter.key)
            signed.add(meter.key)
            continue
        async_raise_meter_issue(
            hass,
            entry,
            ISSUE_NOT_SIGNED,
            meter.key,
            {"status": status or UNKNOWN_STATUS},
        )
    return signed


@callback
def async_track_authorisations(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """Check the EANs now and after every poll of the latest readings."""
    signed = async_update_issues(hass, entry)

    @callback
    def _after_poll() -> None:
        nonlocal signed
        before, signed = signed, async_update_issues(hass, entry)
        if signed - before:
            # Its sensors come with this poll's readings; import its history now.
            LOGGER.info("An EAN of %s is signed now", entry.title)
            entry.async_create_background_task(
                hass,
                entry.runtime_data.history.async_refresh(),
                f"{DOMAIN} history import {entry.title}",
            )

    entry.async_on_unload(entry.runtime_data.latest.async_add_listener(_after_poll))
