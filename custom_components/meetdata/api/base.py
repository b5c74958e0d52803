"""The interface every provider client offers to the Home Assistant layer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta

from .errors import MeetdataError
from .models import IntervalSeries, LatestReadings, Meter, Provider, Quantity

#: Errors of the meters (by failure unit) that failed on their own in a poll.
type UnitFailures = dict[str, MeetdataError]


class MeterDataClient(ABC):
    """A pure-async client of one provider account.

    Implementations take an injected ``aiohttp.ClientSession``, raise only
    ``MeetdataError`` subclasses and return the shared models.
    """

    provider: Provider
    #: How far back the provider keeps data (None: no documented limit).
    max_history: timedelta | None = None
    #: Whether ``async_get_latest_partial`` reports each meter's error beside
    #: the others' readings (it asks per meter anyway): then a meter that
    #: fails needs no request of its own.
    reports_meter_failures: bool = False
    #: Quantities that ``async_get_history`` can return, per meter kind.
    history_quantities: tuple[Quantity, ...] = ()

    @abstractmethod
    async def async_get_meters(self) -> list[Meter]:
        """Return every meter the credentials give access to."""

    async def async_discover_meters(self) -> list[Meter]:
        """Return the meters to follow now (setup, hourly discovery).

        Clients whose account lists its meters per part (Kenter: per
        connection) return those of every part that answers; the default is
        ``async_get_meters``: all of them, or an error.
        """
        return await self.async_get_meters()

    @abstractmethod
    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return the latest readings of these meters (missing meter: no data)."""

    @abstractmethod
    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return the intervals of ``meter`` that start in [start, end).

        ``start`` and ``end`` are timezone-aware; the client splits the period
        into whatever windows its API allows.
        """

    def failure_unit(self, meter: Meter) -> str:
        """Return the id of what fails together with ``meter`` (default: itself).

        Meters of one unit are asked in one request when a combined request
        has to be split (Kenter: every meter code of one EAN-code).
        """
        return meter.key

    async def async_get_latest_partial(
        self, meters: Sequence[Meter]
    ) -> tuple[LatestReadings, UnitFailures]:
        """Return the latest readings, and the error of each unit that failed.

        Clients that ask per meter anyway override this to report a meter's
        error beside the others' readings; the default is one combined
        ``async_get_latest``, raising whatever it raises.
        """
        return await self.async_get_latest(meters), {}

    async def async_earliest_change(
        self, meter: Meter, since: datetime, now: datetime
    ) -> datetime | None:
        """Return the earliest interval start of data added or changed since ``since``.

        Providers that can list what arrived after a moment (Fluvius'
        insertTime) let the importer re-read from there, so that late and
        corrected values older than the overlap replace stored ones. None:
        nothing changed, or the provider cannot tell.
        """
        return None

    def earliest_history(self, meter: Meter) -> datetime | None:
        """Return the first moment the provider has data for, when known."""
        return None
