"""What a loaded config entry holds: the core parts and its provider's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .api.base import MeterDataClient
    from .api.models import Meter
    from .coordinator import HistoryCoordinator, LatestCoordinator
    from .discovery import MeterDiscovery
    from .providers.base import ProviderSpec

type MeetdataConfigEntry = ConfigEntry[MeetdataRuntimeData]


class ProviderRuntime:
    """Base of what a provider keeps per loaded entry beside the core parts."""

    __slots__ = ()


@dataclass(slots=True)
class MeetdataRuntimeData:
    """What a loaded config entry holds."""

    spec: ProviderSpec
    client: MeterDataClient
    all_meters: list[Meter]
    meters: list[Meter]
    latest: LatestCoordinator
    history: HistoryCoordinator
    #: Re-reads the meter list; its listeners hear of meters that came or went.
    discovery: MeterDiscovery
    #: What the provider's ``async_setup_entry`` hook added (None: nothing).
    provider: ProviderRuntime | None = None
