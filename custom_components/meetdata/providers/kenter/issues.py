"""Kenter: clear the permission issue of an EAN-code once it is readable again.

A fault 1007 (insufficient rights) names the EAN-code, so the core raises its
``no_permission`` issue for the EAN-code rather than for a meter key. One
getLatestMeasurement carries every connection: a successful poll shows that
each EAN-code of the included meters is readable again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback

from ...repairs import async_clear_meter_issue

if TYPE_CHECKING:
    from ..base import MeetdataEntry

ISSUE_NO_PERMISSION = "no_permission"


@callback
def async_track_permissions(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """After every successful poll, clear the issues of the polled EAN-codes."""
    runtime = entry.runtime_data
    coordinator = runtime.latest
    eans = sorted(
        {
            meter.attributes["ean"]
            for meter in runtime.meters
            if "ean" in meter.attributes
        }
    )

    @callback
    def _after_poll() -> None:
        if not coordinator.last_update_success:
            return
        for ean in eans:
            async_clear_meter_issue(hass, entry, ISSUE_NO_PERMISSION, ean)

    _after_poll()
    entry.async_on_unload(coordinator.async_add_listener(_after_poll))
