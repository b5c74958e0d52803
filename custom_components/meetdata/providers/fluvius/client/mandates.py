"""Typed mandates (toegangen) of the Fluvius API and their parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ....api.errors import MeetdataResponseError


class MandateStatus(StrEnum):
    """Status of a mandate (the document's GET Mandate status table)."""

    REQUESTED = "Requested"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    FINISHED = "Finished"
    REMOVED = "Removed"


class RenewalStatus(StrEnum):
    """Renewal status, shown only in the three months before expiry."""

    TO_BE_RENEWED = "ToBeRenewed"
    RENEWAL_REQUESTED = "RenewalRequested"
    EXPIRED = "Expired"


class EnergyType(StrEnum):
    """Energy type of an EAN."""

    ELECTRICITY = "E"
    GAS = "G"


class DataServiceType(StrEnum):
    """Detail level of a mandate."""

    DAILY = "VH_dag"
    QUARTER_HOURLY = "VH_kwartier_uur"


class Granularity(StrEnum):
    """Detail level asked of GET Energy."""

    DAILY = "daily"
    HOURLY_QUARTERHOURLY = "hourly_quarterhourly"


class PeriodType(StrEnum):
    """How GET Energy selects values: by measurement or by insertion time."""

    READ_TIME = "readTime"
    INSERT_TIME = "insertTime"


class ComplexEnergyType(StrEnum):
    """Active and/or reactive energy (AMR electricity meters only)."""

    ACTIVE = "active"
    REACTIVE = "reactive"


GRANULARITY_OF_SERVICE: dict[DataServiceType, Granularity] = {
    DataServiceType.DAILY: Granularity.DAILY,
    DataServiceType.QUARTER_HOURLY: Granularity.HOURLY_QUARTERHOURLY,
}


@dataclass(frozen=True, slots=True)
class Mandate:
    """One mandate as GET Mandate returns it.

    ``ean`` and ``energy_type`` are only shown for Approved and Finished
    mandates; ``renewal_status`` only in the three months before expiry.
    Unknown enum values are kept as None; the raw strings stay in ``raw``.
    """

    status: MandateStatus | None
    ean: str | None = None
    energy_type: EnergyType | None = None
    data_service_type: DataServiceType | None = None
    data_period_from: datetime | None = None
    data_period_to: datetime | None = None
    expiration: datetime | None = None
    renewal_status: RenewalStatus | None = None
    reference_number: str | None = None
    raw_status: str | None = None
    raw_renewal_status: str | None = None

    @property
    def is_approved(self) -> bool:
        """Return whether measurements can be fetched under this mandate."""
        return self.status is MandateStatus.APPROVED

    def covers(self, start: datetime, end: datetime) -> bool:
        """Return whether the data period overlaps [start, end)."""
        lo = self.data_period_from
        hi = self.data_period_to
        return (lo is None or lo < end) and (hi is None or hi > start)


def _enum[E: StrEnum](cls: type[E], value: object) -> E | None:
    """Return the enum member matching ``value`` case-insensitively, or None."""
    if not isinstance(value, str):
        return None
    folded = value.strip().casefold()
    for member in cls:
        if member.value.casefold() == folded:
            return member
    return None


def parse_service_type(value: object) -> DataServiceType | None:
    """Parse a dataServiceType, accepting the short ``VH_kwartier`` spelling."""
    if isinstance(value, str) and value.strip().casefold() == "vh_kwartier":
        return DataServiceType.QUARTER_HOURLY
    return _enum(DataServiceType, value)


def parse_utc(value: object, field: str) -> datetime | None:
    """Parse an ISO timestamp of the API (UTC) into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MeetdataResponseError(f"Fluvius field {field} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MeetdataResponseError(
            f"Fluvius field {field} has an invalid timestamp"
        ) from None
    if parsed.tzinfo is None:
        # The API documents every timestamp as UTC (YYYY-MM-DDTHH:MM:SSZ).
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # Year 1 or 9999 with an offset: a "never" sentinel, as far as it goes.
        edge = datetime.max if parsed.year > 1 else datetime.min
        return edge.replace(tzinfo=UTC)


def format_utc(moment: datetime) -> str:
    """Format an aware datetime as the API wants it: YYYY-MM-DDTHH:MM:SSZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _opt_str(value: object) -> str | None:
    """Return a non-empty string (numbers become strings), else None."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def mandate_from_json(item: dict[str, Any]) -> Mandate:
    """Build a Mandate from one JSON object of the mandates list."""
    status = item.get("status")
    renewal = item.get("renewalStatus")
    ean = _opt_str(item.get("ean", item.get("eanNumber")))
    return Mandate(
        status=_enum(MandateStatus, status),
        ean=ean,
        energy_type=_enum(EnergyType, item.get("energyType")),
        data_service_type=parse_service_type(item.get("dataServiceType")),
        data_period_from=parse_utc(item.get("dataPeriodFrom"), "dataPeriodFrom"),
        data_period_to=parse_utc(item.get("dataPeriodTo"), "dataPeriodTo"),
        expiration=parse_utc(
            item.get("mandateExpirationDate"), "mandateExpirationDate"
        ),
        renewal_status=_enum(RenewalStatus, renewal),
        reference_number=_opt_str(item.get("referenceNumber")),
        raw_status=status if isinstance(status, str) else None,
        raw_renewal_status=renewal if isinstance(renewal, str) else None,
    )


def parse_mandates(payload: object) -> list[Mandate]:
    """Parse the decoded body of GET Mandate: ``{"data": {"mandates": [...]}}``."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        items = data.get("mandates")
    elif isinstance(data, list):
        items = data
    else:
        items = None
    if items is None and isinstance(data, dict):
        items = []
    if not isinstance(items, list):
        raise MeetdataResponseError("Fluvius mandate response has no mandates list")
    mandates: list[Mandate] = []
    for item in items:
        if not isinstance(item, dict):
            raise MeetdataResponseError("Fluvius mandate entry is not an object")
        mandates.append(mandate_from_json(item))
    return mandates


def mandate_to_json(mandate: Mandate) -> dict[str, str]:
    """Return the request body of POST Create Mock Mandate for ``mandate``."""
    body: dict[str, str] = {}
    if mandate.reference_number:
        body["referenceNumber"] = mandate.reference_number
    if mandate.status is not None:
        body["status"] = mandate.status.value
    if mandate.ean:
        body["ean"] = mandate.ean
    if mandate.energy_type is not None:
        body["energyType"] = mandate.energy_type.value
    if mandate.data_service_type is not None:
        body["dataServiceType"] = mandate.data_service_type.value
    if mandate.data_period_from is not None:
        body["dataPeriodFrom"] = format_utc(mandate.data_period_from)
    if mandate.data_period_to is not None:
        body["dataPeriodTo"] = format_utc(mandate.data_period_to)
    if mandate.expiration is not None:
        body["mandateExpirationDate"] = format_utc(mandate.expiration)
    if mandate.renewal_status is not None:
        body["renewalStatus"] = mandate.renewal_status.value
    return body
