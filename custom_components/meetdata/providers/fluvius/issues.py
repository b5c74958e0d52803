"""Fluvius repair issues, reloads and ended data periods, kept current.

After every poll of the mandates the tracker raises the issues the list calls
for and deletes the ones that no longer apply (their ids all start with
``<entry id>_fluvius_``, so this also works after a restart). When the
data periods of approved EANs change or an EAN loses its mandate, the entry
reloads so that devices and imports follow (new EANs join without a reload:
the meter list is read again); a data period whose end moved into the past first has the
statistics after that end cleared. A history import refused for lack of a
mandate (404) or of access (403), or latest readings refused with a 403, raise
a "no mandate" issue for that EAN until the import and the readings succeed
again.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from ...api.errors import MeetdataPermissionError
from ...api.models import Meter
from ...const import CONF_METERS, DOMAIN, LOGGER
from ...repairs import ISSUE_NO_PERMISSION, async_clear_meter_issue
from ..base import MeetdataEntry, client_of
from .client import FluviusClient, Mandate
from .client.meters import ATTR_HEADPOINT
from .mandates import (
    ISSUE_NO_MANDATE,
    FluviusMandateCoordinator,
    IssueSpec,
    Period,
    approved_periods,
    data_period_end,
    local_date,
    mandate_issues,
    no_mandate_issues,
)


def headpoint_of(meter: Meter) -> str:
    """Return the EAN whose mandate covers a meter (the headpoint for submeters)."""
    return meter.attributes.get(ATTR_HEADPOINT) or meter.key


class FluviusIssueTracker:
    """Raise and clear the repair issues of one Fluvius entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeetdataEntry,
        mandates: FluviusMandateCoordinator,
    ) -> None:
        """Follow ``mandates`` and the entry's history coordinator."""
        self.hass = hass
        self.entry = entry
        self.mandates = mandates
        self._prefix = f"{entry.entry_id}_fluvius_"
        self._baseline: dict[str, tuple[Period, ...]] | None = None
        #: "No mandate" issues from refused history imports, by EAN.
        self._refused: dict[str, IssueSpec] = {}

    @property
    def _client(self) -> FluviusClient:
        return client_of(self.entry, FluviusClient)

    async def async_start(self) -> None:
        """Clear data after ended periods, raise the issues, start following."""
        if self.mandates.last_update_success:
            self._baseline = approved_periods(self.mandates.data)
            # In the background: the recorder writes nothing before Home
            # Assistant has started, and setup must not wait for that.
            self.entry.async_create_background_task(
                self.hass,
                self.async_clear_ended(self.entry.runtime_data.meters),
                f"{DOMAIN} ended data periods {self.entry.title}",
            )
        self.async_sync()
        self.entry.async_on_unload(
            self.mandates.async_add_listener(self._async_mandates_updated)
        )
        runtime = self.entry.runtime_data
        for coordinator in (runtime.history, runtime.latest):
            self.entry.async_on_unload(
                coordinator.async_add_listener(self._async_reads_updated)
            )

    def _issue_id(self, issue: IssueSpec) -> str:
        return f"{self._prefix}{issue.kind.removeprefix('fluvius_')}_{issue.key}"

    def _selected(self) -> list[str] | None:
        selected = self.entry.options.get(CONF_METERS)
        return None if selected is None else list(selected)

    def _relevant(self, ean: str) -> bool:
        """Return whether the user reads an EAN (or a submeter behind it)."""
        selected = self._selected()
        if selected is None:
            return True
        headpoints = {
            headpoint_of(m)
            for m in self.entry.runtime_data.all_meters
            if m.key in selected
        }
        return ean in selected or ean in headpoints

    def _wanted(self) -> dict[str, IssueSpec]:
        """Return the issues that should exist now, by issue id."""
        issues = list(self._refused.values())
        mandates: list[Mandate] | None = self.mandates.data
        if mandates is not None:
            issues += mandate_issues(mandates, self._relevant)
            headpoints = {
                m.key: headpoint_of(m) for m in self.entry.runtime_data.all_meters
            }
            issues += no_mandate_issues(self._selected() or [], mandates, headpoints)
        return {self._issue_id(issue): issue for issue in issues}

    @callback
    def async_sync(self) -> None:
        """Create the wanted issues and delete every other issue of ours."""
        wanted = self._wanted()
        placeholders = {"entry": self.entry.title}
        for issue_id, issue in wanted.items():
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=issue.kind,
                translation_placeholders=placeholders | issue.placeholders,
            )
        read: list[Mandate] | None = self.mandates.data
        if read is None:
            return  # never read the mandates: keep what an earlier run raised
        registry = ir.async_get(self.hass)
        for domain, issue_id in list(registry.issues):
            if (
                domain == DOMAIN
                and issue_id.startswith(self._prefix)
                and issue_id not in wanted
            ):
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    async def async_clear_ended(self, meters: list[Meter]) -> int:
        """Zero the statistics of ``meters`` after their data period ended."""
        now = dt_util.utcnow()
        history = self.entry.runtime_data.history
        written = 0
        for ean in sorted({headpoint_of(m) for m in meters}):
            end = data_period_end(self.mandates.data, ean)
            if end is None or end >= now:
                continue
            behind = [m for m in meters if headpoint_of(m) == ean]
            written += await history.importer.async_clear_after(
                behind, self._client.history_quantities, end
            )
        return written

    @callback
    def _async_mandates_updated(self) -> None:
        """Follow a new mandate list: issues now; reload when periods changed."""
        if not self.mandates.last_update_success:
            return
        self.async_sync()
        periods = approved_periods(self.mandates.data)
        baseline, self._baseline = self._baseline, periods
        if baseline is None or periods == baseline:
            return
        if all(periods.get(ean) == approved for ean, approved in baseline.items()):
            # Only new EANs: their devices, sensors and imports join the entry.
            LOGGER.info("New Fluvius mandates for %s", self.entry.title)
            self.entry.async_create_background_task(
                self.hass,
                self.entry.runtime_data.discovery.async_refresh(),
                f"{DOMAIN} new mandates {self.entry.title}",
            )
        else:
            LOGGER.info("The Fluvius mandates of %s changed", self.entry.title)
            # Last: the task starts eagerly and may unload the entry at once.
            self.entry.async_create_background_task(
                self.hass,
                self._async_reload(),
                f"{DOMAIN} mandates changed {self.entry.title}",
            )

    async def _async_reload(self) -> None:
        """Clear data after a period end that moved into the past; reload."""
        await self.async_clear_ended(self.entry.runtime_data.meters)
        self.hass.config_entries.async_schedule_reload(self.entry.entry_id)

    @callback
    def _async_reads_updated(self) -> None:
        """Raise "no mandate" for an EAN whose history or readings Fluvius refused."""
        runtime = self.entry.runtime_data
        history = runtime.history
        errors = [
            *history.outages.current.values(),
            *runtime.latest.outages.current.values(),
        ]
        if not history.last_update_success and history.last_exception:
            errors.append(history.last_exception.__cause__)  # type: ignore[arg-type]
        now = dt_util.utcnow()
        refused: dict[str, IssueSpec] = {}
        for cause in errors:
            if isinstance(cause, MeetdataPermissionError) and cause.meter:
                ean = cause.meter
                # Ours names the dates; the core's generic issue would repeat it.
                async_clear_meter_issue(self.hass, self.entry, ISSUE_NO_PERMISSION, ean)
                refused[ean] = IssueSpec(
                    ISSUE_NO_MANDATE,
                    f"read_{ean}",
                    {
                        "ean": ean,
                        "start": local_date(now - timedelta(days=history.history_days)),
                        "end": local_date(now),
                    },
                )
        self._refused = refused
        self.async_sync()
