"""Coordinators: one polls the latest readings, a slower one imports history."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api.base import MeterDataClient
from .api.errors import MeetdataError, MeetdataPermissionError
from .api.models import LatestReadings, Meter
from .const import DOMAIN, HISTORY_UPDATE_INTERVAL, LOGGER
from .errors import ha_error
from .ids import statistics_of
from .repairs import async_clear_meter_issue, async_raise_meter_issue
from .runtime import MeetdataConfigEntry
from .statistics import StatisticsImporter

if TYPE_CHECKING:
    from .providers.base import ProviderSpec


async def async_call_client[T](
    hass: HomeAssistant,
    entry: MeetdataConfigEntry,
    call: Callable[..., Coroutine[Any, Any, T]],
    *args: Any,
    **kwargs: Any,
) -> T:
    """Run a client call; turn its errors into what Home Assistant expects."""
    try:
        result = await call(*args, **kwargs)
    except MeetdataError as err:
        if isinstance(err, MeetdataPermissionError) and err.meter:
            async_raise_meter_issue(hass, entry, "no_permission", err.meter)
        raise ha_error(err) from err
    return result


class MeetdataCoordinator[T](DataUpdateCoordinator[T]):
    """A coordinator of one entry's meters, named after the entry and its job."""

    config_entry: MeetdataConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataConfigEntry,
        client: MeterDataClient,
        meters: list[Meter],
        *,
        job: str,
        update_interval: timedelta,
    ) -> None:
        """Run ``job`` for ``meters`` through ``client`` every ``update_interval``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title} {job}",
            update_interval=update_interval,
        )
        self.client = client
        self.meters = meters


class LatestCoordinator(MeetdataCoordinator[LatestReadings]):
    """Poll the latest readings of every included meter."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataConfigEntry,
        client: MeterDataClient,
        meters: list[Meter],
        update_interval: timedelta,
    ) -> None:
        """Poll ``meters`` through ``client`` every ``update_interval``."""
        super().__init__(
            hass, entry, client, meters, job="latest", update_interval=update_interval
        )

    async def _async_update_data(self) -> LatestReadings:
        data = await async_call_client(
            self.hass, self.config_entry, self.client.async_get_latest, self.meters
        )
        for meter in self.meters:
            async_clear_meter_issue(
                self.hass, self.config_entry, "no_permission", meter.key
            )
        return data


class HistoryCoordinator(MeetdataCoordinator[dict[str, datetime]]):
    """Import history into long-term statistics, resuming where it stopped."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataConfigEntry,
        client: MeterDataClient,
        meters: list[Meter],
        history_days: int,
    ) -> None:
        """Import ``meters`` back to ``history_days`` days ago."""
        super().__init__(
            hass,
            entry,
            client,
            meters,
            job="history",
            update_interval=HISTORY_UPDATE_INTERVAL,
        )
        self.history_days = history_days
        self.importer = StatisticsImporter(hass, client, statistics_of(hass, entry))

    def _spec(self) -> ProviderSpec:
        return self.config_entry.runtime_data.spec

    async def _async_update_data(self) -> dict[str, datetime]:
        now = dt_util.utcnow()
        since = now - timedelta(days=self.history_days)
        spec = self._spec()
        newest = dict(self.data or {})
        for meter in self.meters:
            newest |= await async_call_client(
                self.hass,
                self.config_entry,
                self.importer.async_import_meter,
                meter,
                since=since,
                now=now,
                overlap=spec.history_overlap,
                window=spec.history_window,
            )
        return newest

    async def async_import_from(self, start: datetime) -> dict[str, datetime]:
        """Re-import every meter from ``start`` (the import_history service)."""
        now = dt_util.utcnow()
        newest: dict[str, datetime] = {}
        for meter in self.meters:
            newest |= await async_call_client(
                self.hass,
                self.config_entry,
                self.importer.async_import_period,
                meter,
                start,
                now,
                self._spec().history_window,
            )
        self.async_set_updated_data((self.data or {}) | newest)
        return newest
