"""Fluvius mandates: a coordinator polling GET Mandate, and what the list means.

The pure functions here turn the mandate list into the repair issues the
entry should show (Requested, Rejected, Finished, ToBeRenewed, Expired, and
"no mandate" for a selected EAN) and into the data periods that decide when
the entry must reload or forget data after a period end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import hashlib

from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from ...api.errors import MeetdataError
from ...const import DOMAIN, LOGGER
from ...errors import ha_error
from ..base import MeetdataEntry
from .client import FluviusClient, Mandate, MandateStatus, RenewalStatus
from .client.parse import BRUSSELS

MANDATE_UPDATE_INTERVAL = timedelta(hours=1)

ISSUE_REQUESTED = "fluvius_mandate_requested"
ISSUE_REJECTED = "fluvius_mandate_rejected"
ISSUE_FINISHED = "fluvius_mandate_finished"
ISSUE_TO_BE_RENEWED = "fluvius_mandate_to_be_renewed"
ISSUE_EXPIRED = "fluvius_mandate_expired"
ISSUE_NO_MANDATE = "fluvius_no_mandate"
#: Shown for a date or name the API left out.
UNKNOWN = "—"

_STATUS_ISSUES = {
    MandateStatus.REQUESTED: ISSUE_REQUESTED,
    MandateStatus.REJECTED: ISSUE_REJECTED,
    MandateStatus.FINISHED: ISSUE_FINISHED,
}
_RENEWAL_ISSUES = {
    RenewalStatus.TO_BE_RENEWED: ISSUE_TO_BE_RENEWED,
    RenewalStatus.EXPIRED: ISSUE_EXPIRED,
}

#: One approved data period: (detail level, from, to) as ISO text ("" = open).
type Period = tuple[str, str, str]


class FluviusMandateCoordinator(DataUpdateCoordinator[list[Mandate]]):
    """Poll every mandate of the account (GET Mandate without filters)."""

    config_entry: MeetdataEntry

    def __init__(
        self, hass: HomeAssistant, entry: MeetdataEntry, client: FluviusClient
    ) -> None:
        """Poll the mandates of ``client`` every hour."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title} mandates",
            update_interval=MANDATE_UPDATE_INTERVAL,
        )
        self.client = client

    async def _async_update_data(self) -> list[Mandate]:
        try:
            return await self.client.async_get_mandates()
        except MeetdataError as err:
            raise ha_error(err) from err


@dataclass(frozen=True, slots=True)
class IssueSpec:
    """A repair issue the entry should show: kind, subject and placeholders."""

    kind: str
    key: str
    placeholders: dict[str, str] = field(default_factory=dict, compare=False)


def local_date(moment: datetime | None) -> str:
    """Return the Brussels calendar date of a moment (UNKNOWN for None)."""
    return moment.astimezone(BRUSSELS).date().isoformat() if moment else UNKNOWN


def _level(mandate: Mandate) -> str:
    """Return the detail level as Fluvius names it (VH_dag, VH_kwartier_uur)."""
    service = mandate.data_service_type
    return service.value if service else UNKNOWN


def _subject(mandate: Mandate) -> str:
    """Return a stable key of a mandate: EAN, reference, or a digest of its fields."""
    if mandate.ean:
        return f"{mandate.ean}_{_level(mandate).lower()}"
    if mandate.reference_number:
        return mandate.reference_number.lower()
    raw = "|".join(
        (
            mandate.raw_status or "",
            _level(mandate),
            local_date(mandate.data_period_from),
            local_date(mandate.data_period_to),
            local_date(mandate.expiration),
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _placeholders(mandate: Mandate) -> dict[str, str]:
    return {
        "ean": mandate.ean or mandate.reference_number or UNKNOWN,
        "service": _level(mandate),
        "start": local_date(mandate.data_period_from),
        "end": local_date(mandate.data_period_to),
        "expiration": local_date(mandate.expiration),
    }


def mandate_issues(
    mandates: Iterable[Mandate], relevant: Callable[[str], bool]
) -> list[IssueSpec]:
    """Return the issues the mandates call for.

    ``relevant(ean)`` tells whether the user still reads an EAN (mandates of
    EANs excluded in the options raise nothing). A Finished mandate raises
    nothing when an approved one of the same EAN and level replaced it.
    """
    mandates = list(mandates)
    approved = {
        (m.ean, m.data_service_type)
        for m in mandates
        if m.status is MandateStatus.APPROVED
    }
    issues: list[IssueSpec] = []
    for mandate in mandates:
        if mandate.ean and not relevant(mandate.ean):
            continue
        kind = _STATUS_ISSUES.get(mandate.status) if mandate.status else None
        if kind == ISSUE_FINISHED and (
            (mandate.ean, mandate.data_service_type) in approved
        ):
            continue
        if mandate.status is MandateStatus.APPROVED and mandate.renewal_status:
            kind = _RENEWAL_ISSUES.get(mandate.renewal_status)
        if kind is not None:
            issues.append(IssueSpec(kind, _subject(mandate), _placeholders(mandate)))
    return issues


def approved_eans(mandates: Iterable[Mandate]) -> set[str]:
    """Return the EANs with at least one approved mandate."""
    return {m.ean for m in mandates if m.ean and m.is_approved}


def no_mandate_issues(
    selected: Iterable[str],
    mandates: Iterable[Mandate],
    headpoints: dict[str, str],
) -> list[IssueSpec]:
    """Return a "no mandate" issue for each selected EAN nothing approves.

    ``headpoints`` maps submeter EANs to their headpoint: a submeter is
    covered by its headpoint's mandate. The dates are those of the newest
    mandate Fluvius still lists for the EAN, if any.
    """
    mandates = list(mandates)
    covered = approved_eans(mandates)
    issues: list[IssueSpec] = []
    for ean in selected:
        if ean in covered or headpoints.get(ean) in covered:
            continue
        known = [m for m in mandates if m.ean in (ean, headpoints.get(ean))]
        newest = max(
            known,
            key=lambda m: m.data_period_to
            or m.expiration
            or datetime.min.replace(tzinfo=BRUSSELS),
            default=None,
        )
        issues.append(
            IssueSpec(
                ISSUE_NO_MANDATE,
                ean,
                {
                    "ean": ean,
                    "start": local_date(newest.data_period_from if newest else None),
                    "end": local_date(newest.data_period_to if newest else None),
                },
            )
        )
    return issues


def approved_periods(mandates: Iterable[Mandate]) -> dict[str, tuple[Period, ...]]:
    """Return the approved data periods per EAN (what the client plans with)."""
    periods: dict[str, list[Period]] = {}
    for mandate in mandates:
        if not mandate.is_approved or not mandate.ean:
            continue
        periods.setdefault(mandate.ean, []).append(
            (
                _level(mandate),
                mandate.data_period_from.isoformat()
                if mandate.data_period_from
                else "",
                mandate.data_period_to.isoformat() if mandate.data_period_to else "",
            )
        )
    return {ean: tuple(sorted(items)) for ean, items in periods.items()}


def data_period_end(mandates: Iterable[Mandate], ean: str) -> datetime | None:
    """Return where the approved data of an EAN end (None: open or no mandate)."""
    ends = [m.data_period_to for m in mandates if m.is_approved and m.ean == ean]
    if not ends or None in ends:
        return None
    return max(end for end in ends if end is not None)
