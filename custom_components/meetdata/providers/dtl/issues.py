"""Metering company: a repair issue for a meter whose customer withdrew consent.

Customers give the metering company explicit consent to share their data and
may withdraw it (the API document). The API then leaves the customer's meters
out of ``/meters`` (and ``/meetdata`` answers 404). The latest coordinator
asks ``/meters`` on every poll, so the issues follow it: an issue names each
meter that is no longer listed, and goes when the meter is listed again.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback

from ...repairs import async_clear_meter_issue, async_raise_meter_issue
from ..base import MeetdataEntry, client_of
from .client.client import DtlClient

ISSUE_CONSENT_WITHDRAWN = "dtl_consent_withdrawn"


@callback
def async_update_issues(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """Raise the issue of every meter /meters left out; clear the others."""
    client = client_of(entry, DtlClient)
    for meter in entry.runtime_data.all_meters:
        customer = client.unlisted.get(meter.key)
        if customer is None:
            async_clear_meter_issue(hass, entry, ISSUE_CONSENT_WITHDRAWN, meter.key)
            continue
        async_raise_meter_issue(
            hass,
            entry,
            ISSUE_CONSENT_WITHDRAWN,
            meter.key,
            {"customer": customer or meter.attributes.get("klant_ean", "?")},
        )


@callback
def async_track_consent(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """Check the meters after every poll of the latest readings."""
    entry.async_on_unload(
        entry.runtime_data.latest.async_add_listener(
            lambda: async_update_issues(hass, entry)
        )
    )
