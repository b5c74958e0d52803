"""Coordinators: one polls the latest readings, a slower one imports history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
import functools
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api.base import MeterDataClient
from .api.errors import MeetdataAuthError, MeetdataError, MeetdataPermissionError
from .api.failure_domains import FailureDomains, entry_wide, most_telling
from .api.models import LatestReadings, Meter, MeterKind, Quantity
from .capacity import Capacity, async_capacity
from .const import DOMAIN, HISTORY_UPDATE_INTERVAL, LOGGER
from .costs import CostPricer
from .errors import ha_error, service_call_error
from .ids import statistics_of
from .outages import MeterOutages
from .prices import price_settings
from .repairs import (
    ISSUE_NO_PERMISSION,
    async_clear_meter_issue,
    async_clear_other_meter_issues,
    async_raise_meter_issue,
)
from .runtime import MeetdataConfigEntry
from .statistics import StatisticsImporter

if TYPE_CHECKING:
    from .providers.base import ProviderSpec


@callback
def async_meter_failed(
    hass: HomeAssistant, entry: MeetdataConfigEntry, meter: Meter, err: MeetdataError
) -> None:
    """Ask the user to act where one meter's failure needs it.

    No rights to the meter: a repair issue naming it. One connection's
    passcode refused (Kenter): re-authentication, which names the EAN-code.
    """
    if isinstance(err, MeetdataPermissionError):
        async_raise_meter_issue(
            hass, entry, ISSUE_NO_PERMISSION, err.meter or meter.key
        )
    elif isinstance(err, MeetdataAuthError):
        entry.async_start_reauth(hass)


@callback
def async_meters_readable(
    hass: HomeAssistant,
    entry: MeetdataConfigEntry,
    meters: Sequence[Meter],
    failing: Iterable[str],
) -> None:
    """Clear the permission issues of the meters that answered."""
    failing = set(failing)
    bad = {_id for m in meters if m.key in failing for _id in _issue_ids(m)}
    for meter in meters:
        if meter.key not in failing:
            for issue_meter in _issue_ids(meter) - bad:
                async_clear_meter_issue(hass, entry, ISSUE_NO_PERMISSION, issue_meter)


@callback
def async_forget_left_out(
    hass: HomeAssistant, entry: MeetdataConfigEntry, meters: Iterable[Meter]
) -> None:
    """Remove the permission issues of meters the entry no longer polls."""
    keep = {issue_id for meter in meters for issue_id in _issue_ids(meter)}
    async_clear_other_meter_issues(hass, entry, ISSUE_NO_PERMISSION, keep)


def _issue_ids(meter: Meter) -> set[str]:
    """Return the ids a meter's issues may carry: its key and its EAN-code."""
    return {meter.key, meter.attributes.get("ean", meter.key)}


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

    def set_meters(self, meters: list[Meter]) -> None:
        """Follow ``meters`` from the next run on (meters came or went)."""
        self.meters = list(meters)


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
        self.domains = FailureDomains(client)
        self.outages = MeterOutages(entry.title, "latest readings")

    async def _async_update_data(self) -> LatestReadings:
        try:
            readings, failures = await self.domains.async_latest(self.meters)
        except MeetdataError as err:
            if isinstance(err, MeetdataPermissionError) and err.meter:
                async_raise_meter_issue(
                    self.hass, self.config_entry, ISSUE_NO_PERMISSION, err.meter
                )
            raise ha_error(err) from err
        for meter in self.meters:
            if (failure := failures.get(meter.key)) is not None:
                async_meter_failed(self.hass, self.config_entry, meter, failure)
        async_meters_readable(self.hass, self.config_entry, self.meters, failures)
        self.outages.update(failures, (meter.key for meter in self.meters))
        return readings


class HistoryCoordinator(MeetdataCoordinator[dict[str, datetime]]):
    """Import history into long-term statistics, resuming where it stopped."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataConfigEntry,
        client: MeterDataClient,
        meters: list[Meter],
        history_days: int,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Import ``meters`` back to ``history_days`` days ago.

        ``labels`` name the statistics' quantities (Home Assistant's language).
        """
        super().__init__(
            hass,
            entry,
            client,
            meters,
            job="history",
            update_interval=HISTORY_UPDATE_INTERVAL,
        )
        self.history_days = history_days
        self.importer = StatisticsImporter(
            hass,
            client,
            entry,
            metadata=statistics_of(hass, entry, labels),
            pricer=CostPricer(hass, price_settings(entry.options), entry),
        )
        self.outages = MeterOutages(entry.title, "history import")
        #: This month's peak and the rolling average, by meter key (meters
        #: with a quarter-hour power statistic only).
        self.capacity: dict[str, Capacity] = {}

    def _spec(self) -> ProviderSpec:
        return self.config_entry.runtime_data.spec

    async def _async_update_data(self) -> dict[str, datetime]:
        now = dt_util.utcnow()
        since = now - timedelta(days=self.history_days)
        spec = self._spec()
        try:
            newest, failures = await self._async_each_meter(
                functools.partial(
                    self.importer.async_import_meter,
                    since=since,
                    now=now,
                    overlap=spec.history_overlap,
                    window=spec.history_window,
                )
            )
        except MeetdataError as err:
            raise ha_error(err) from err
        if failures and not newest:
            # Not one meter brought data: the account, not a meter, fails.
            raise ha_error(most_telling(failures.values()))
        self.outages.update(failures, (meter.key for meter in self.meters))
        await self._async_update_capacity(now)
        return dict(self.data or {}) | newest

    async def _async_update_capacity(self, now: datetime) -> None:
        """Read this month's peaks (and the average) back from the statistics."""
        self.capacity = await async_capacity(
            self.importer.io,
            self.importer.peaks,
            {
                meter.key: self.importer.metadata(meter, Quantity.QUARTER_HOUR_POWER)[
                    "statistic_id"
                ]
                for meter in self.meters
                if meter.kind is not MeterKind.GAS
            },
            now,
        )

    async def _async_each_meter(
        self, job: Callable[[Meter], Awaitable[dict[str, datetime]]]
    ) -> tuple[dict[str, datetime], dict[str, MeetdataError]]:
        """Run ``job`` for every meter; one meter's error never stops the others.

        An error of the account (see ``entry_wide``) stops the run: it is raised.
        """
        newest: dict[str, datetime] = {}
        failures: dict[str, MeetdataError] = {}
        for meter in self.meters:
            try:
                newest |= await job(meter)
            except MeetdataError as err:
                if entry_wide(err):
                    raise
                failures[meter.key] = err
                async_meter_failed(self.hass, self.config_entry, meter, err)
        return newest, failures

    async def async_import_from(self, start: datetime) -> dict[str, datetime]:
        """Re-import every meter from ``start`` (the import_history action).

        Every meter that answers is imported; then a translated error names
        the meters that failed.
        """
        now = dt_util.utcnow()
        window = self._spec().history_window
        try:
            newest, failures = await self._async_each_meter(
                lambda meter: self.importer.async_import_period(
                    meter, start, now, window
                )
            )
        except MeetdataError as err:
            raise service_call_error(self.hass, self.config_entry, err) from err
        await self._async_update_capacity(now)
        self.async_set_updated_data((self.data or {}) | newest)
        if failures:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="import_failed",
                translation_placeholders={
                    "meters": ", ".join(
                        f"{key} ({err})" for key, err in failures.items()
                    ),
                    "imported": str(len(self.meters) - len(failures)),
                    "count": str(len(self.meters)),
                },
            )
        return newest
