"""What a loaded Fluvius entry adds to the core: mandates, issues, peak data.

Set up from ``FluviusSpec.async_setup_entry`` (after the first poll of the
latest readings, before the platforms and the first history import). The
pieces are kept in ``hass.data`` by entry id for the sensor platform and the
sandbox service, and dropped on unload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from ...const import DOMAIN
from ..base import MeetdataEntry
from .client import FluviusClient
from .insights import FluviusInsightsCoordinator, insight_meters
from .issues import FluviusIssueTracker
from .mandates import FluviusMandateCoordinator

#: How often history is imported after the backfill: values arrive once a day,
#: and each run also asks Fluvius by insertTime what changed since.
HISTORY_UPDATE_INTERVAL = timedelta(hours=6)


@dataclass(slots=True)
class FluviusRuntime:
    """The Fluvius parts of one loaded entry."""

    client: FluviusClient
    mandates: FluviusMandateCoordinator
    insights: FluviusInsightsCoordinator
    tracker: FluviusIssueTracker


FLUVIUS_DATA: HassKey[dict[str, FluviusRuntime]] = HassKey(f"{DOMAIN}_fluvius")


def get_runtime(hass: HomeAssistant, entry_id: str) -> FluviusRuntime | None:
    """Return the Fluvius parts of a loaded entry (None: not a loaded Fluvius entry)."""
    return hass.data.get(FLUVIUS_DATA, {}).get(entry_id)


async def async_setup_fluvius(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """Read the mandates and the last two months; start following both."""
    runtime_data = entry.runtime_data
    client = cast("FluviusClient", runtime_data.client)
    mandates = FluviusMandateCoordinator(hass, entry, client)
    await mandates.async_refresh()
    tracker = FluviusIssueTracker(hass, entry, mandates)
    await tracker.async_start()
    insights = FluviusInsightsCoordinator(
        hass, entry, client, insight_meters(runtime_data.meters)
    )
    await insights.async_refresh()
    runtime_data.history.update_interval = HISTORY_UPDATE_INTERVAL
    store = hass.data.setdefault(FLUVIUS_DATA, {})
    store[entry.entry_id] = FluviusRuntime(client, mandates, insights, tracker)

    def _forget() -> None:
        store.pop(entry.entry_id, None)

    entry.async_on_unload(_forget)
