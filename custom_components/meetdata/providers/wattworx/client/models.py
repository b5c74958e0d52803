"""Typed records of the Wattworx API v1 (one per documented body shape)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
import re

from ....api.models import MeterKind
from .params import AUTHORISATION_SIGNED

# Device type code → meter kind: KVBE/GVBE (klein-/grootverbruik
# elektriciteit) and KVBG/GVBG (gas); codes of the same ..VB[EG] pattern follow.
_TYPE_RE = re.compile(r"^[A-Z]VB([EG])$")
_KIND_BY_LETTER = {"E": MeterKind.ELECTRICITY, "G": MeterKind.GAS}


def kind_for_type(eantype: str | None) -> MeterKind | None:
    """Return the meter kind of a device type code (None when unknown)."""
    match = _TYPE_RE.match((eantype or "").strip().upper())
    return _KIND_BY_LETTER[match.group(1)] if match else None


@dataclass(frozen=True, slots=True)
class DeviceClient:
    """The client block of a device: owner, authorisation and data dates."""

    id: str
    name: str | None = None
    kvk: str | None = None
    authorisation: str | None = None
    authorisation_status: str | None = None
    first_data_date: date | None = None
    last_data_date: date | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """One connection (EAN) from the device list."""

    id: str
    ean: str
    eantype: str | None = None
    meter_id: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    rnb: str | None = None
    last_status: str | None = None
    client: DeviceClient | None = None

    @property
    def kind(self) -> MeterKind | None:
        """Return what the device measures, from its type."""
        return kind_for_type(self.eantype)

    @property
    def signed(self) -> bool:
        """Return whether the authorisation of this device is signed."""
        return (
            self.client is not None
            and self.client.authorisation_status == AUTHORISATION_SIGNED
        )


@dataclass(frozen=True, slots=True)
class DeviceType:
    """One device type code (KVBE, KVBG, ...)."""

    code: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorisationStatus:
    """One possible authorisation status ("Getekend", ...)."""

    name: str
    id: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Registers:
    """Meter readings: electricity in kWh, gas in m³ (None: not given)."""

    cons: float | None = None
    cons_low: float | None = None
    prod: float | None = None
    prod_low: float | None = None
    gas: float | None = None


@dataclass(frozen=True, slots=True)
class MonthValue:
    """Readings of one month."""

    year: int
    month: int
    readings: Registers


@dataclass(frozen=True, slots=True)
class DayValue:
    """Readings of one day."""

    date: date
    readings: Registers


@dataclass(frozen=True, slots=True)
class DayDetailValue:
    """One row of day detail values.

    ``time`` is timezone-aware UTC: the start of a 15-minute electricity
    interval (``datetime``) or the moment of a gas reading (``timestamp``).
    ``cons``/``prod`` are the kWh amounts of the interval (values=KWH only);
    readings are scaled to kWh whichever ``values`` mode was asked.
    """

    time: datetime
    readings: Registers
    cons: float | None = None
    prod: float | None = None


@dataclass(frozen=True, slots=True)
class EanChange:
    """The answer to adding or deleting an EAN."""

    id: str | None
    code: str
    authorisation_status: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Authorisation:
    """One authorisation of a client and the EANs it covers."""

    number: str | None
    status: str | None
    eans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """One client of the account (client overview, add/delete client)."""

    id: str
    name: str | None = None
    kvk: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    status: str | None = None
    authorisations: tuple[Authorisation, ...] = ()


@dataclass(frozen=True, slots=True)
class DayRequestResult:
    """The answer to a day data request: queued, or the data right away."""

    queued: bool
    status: str | None = None
    days: tuple[DayValue, ...] = ()
