"""What a loaded Fluvius entry adds to the core: mandates, issues, peak data.

Set up from ``FluviusSpec.async_setup_entry`` (after the first poll of the
latest readings, before the platforms and the first history import). The
pieces are kept in the entry's runtime data (``provider``) for the sensors and
the sandbox service, and go with it on unload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from homeassistant.core import HomeAssistant

from ...runtime import ProviderRuntime
from ..base import MeetdataEntry, client_of
from .client import FluviusClient
from .insights import FluviusInsightsCoordinator, insight_meters
from .issues import FluviusIssueTracker
from .mandates import FluviusMandateCoordinator

#: How often history is imported after the backfill: values arrive once a day,
#: and each run also asks Fluvius by insertTime what changed since.
HISTORY_UPDATE_INTERVAL = timedelta(hours=6)


@dataclass(slots=True)
class FluviusRuntime(ProviderRuntime):
    """The Fluvius parts of one loaded entry."""

    client: FluviusClient
    mandates: FluviusMandateCoordinator
    insights: FluviusInsightsCoordinator
    tracker: FluviusIssueTracker


def get_runtime(entry: MeetdataEntry) -> FluviusRuntime | None:
    """Return the Fluvius parts of a loaded entry (None: not a loaded Fluvius entry)."""
    runtime_data = getattr(entry, "runtime_data", None)  # gone once unloaded
    runtime = runtime_data.provider if runtime_data is not None else None
    return runtime if isinstance(runtime, FluviusRuntime) else None


async def async_setup_fluvius(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """Read the mandates and the last two months; start following both."""
    runtime_data = entry.runtime_data
    client = client_of(entry, FluviusClient)
    mandates = FluviusMandateCoordinator(hass, entry, client)
    await mandates.async_refresh()
    tracker = FluviusIssueTracker(hass, entry, mandates)
    await tracker.async_start()
    insights = FluviusInsightsCoordinator(
        hass, entry, client, insight_meters(runtime_data.meters)
    )
    await insights.async_refresh()
    runtime_data.history.update_interval = HISTORY_UPDATE_INTERVAL
    runtime_data.provider = FluviusRuntime(client, mandates, insights, tracker)


async def async_follow_meters(entry: MeetdataEntry) -> None:
    """Follow the EANs of the entry as they are now (some came or went)."""
    runtime = get_runtime(entry)
    if runtime is None:  # pragma: no cover - called for loaded Fluvius entries
        return
    runtime.insights.meters = insight_meters(entry.runtime_data.meters)
    await runtime.insights.async_refresh()
