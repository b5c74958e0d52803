"""One failure domain per meter: a meter that fails never blanks the others.

While every meter answers, a poll is one combined request (one SOAP call for
all Kenter connections). When the combined request fails, the unit it names
(a Kenter fault names its EAN-code) is set aside, or else each unit is asked
on its own (a bounded number at a time), so the failing ones are found.
Failing units are then asked on their own on every poll until they answer,
while the healthy ones stay batched (clients that ask per meter anyway and
report each meter's error keep asking all in one call). Only when every unit fails is the
account down; then one unit a poll (in turn) probes whether it is back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import functools

from .base import MeterDataClient, UnitFailures
from .errors import MeetdataAuthError, MeetdataError, MeetdataRateLimitError
from .http import gather_each
from .models import LatestReadings, Meter

#: Units asked at the same time when a combined request is split.
PARALLEL_UNITS = 4


def entry_wide(err: MeetdataError) -> bool:
    """Return whether ``err`` concerns the account rather than one meter.

    A rate limit, or refused credentials that name no meter (a Kenter
    passcode names its connection).
    """
    return isinstance(err, MeetdataRateLimitError) or (
        isinstance(err, MeetdataAuthError) and err.meter is None
    )


class FailureDomains:
    """Poll the latest readings of many meters, isolating the ones that fail."""

    def __init__(self, client: MeterDataClient) -> None:
        """Poll through ``client``."""
        self.client = client
        #: The units that failed on the last poll, with their errors.
        self.failing: UnitFailures = {}
        #: Whether every unit failed on the last poll.
        self.down = False
        self._units: dict[str, list[Meter]] = {}
        self._probe = 0

    def units_of(self, meters: Sequence[Meter]) -> dict[str, list[Meter]]:
        """Return the meters grouped by failure unit, in order."""
        units: dict[str, list[Meter]] = {}
        for meter in meters:
            units.setdefault(self.client.failure_unit(meter), []).append(meter)
        return units

    async def async_latest(
        self, meters: Sequence[Meter]
    ) -> tuple[LatestReadings, dict[str, MeetdataError]]:
        """Return the readings and, by meter key, the error of each failing meter.

        Raises when the error concerns the whole account (refused credentials,
        rate limit) or every unit failed (a refused credential first, if any).
        """
        self._units = self.units_of(meters)
        readings: LatestReadings = {}
        errors: UnitFailures = {}
        units = list(self._units)
        if not units:
            return readings, {}
        if self.down and len(units) > 1:
            probe = units[self._probe % len(units)]
            self._probe += 1
            await self._async_batch([probe], readings, errors)
            if errors:
                raise errors[probe]
            units.remove(probe)
            self.failing = {}
        if self.client.reports_meter_failures:
            healthy, failing = units, []  # one call reports every unit's error
        else:
            healthy = [unit for unit in units if unit not in self.failing]
            failing = [unit for unit in units if unit in self.failing]
        if healthy:
            await self._async_batch(healthy, readings, errors)
        if failing:
            await self._async_alone(failing, readings, errors)
        self.failing = errors
        self.down = len(errors) == len(self._units)
        if self.down:
            raise most_telling(errors.values())
        return readings, {
            meter.key: err
            for unit, err in errors.items()
            for meter in self._units[unit]
        }

    async def _async_batch(
        self, units: list[str], readings: LatestReadings, errors: UnitFailures
    ) -> None:
        """Ask ``units`` in one request; split it when it fails."""
        pending = list(units)
        while pending:
            meters = [meter for unit in pending for meter in self._units[unit]]
            try:
                found, failed = await self.client.async_get_latest_partial(meters)
            except MeetdataError as err:
                if entry_wide(err):
                    raise
                if len(pending) == 1:
                    errors[pending[0]] = err
                    return
                if (named := self._unit_named(err, pending)) is not None:
                    errors[named] = err
                    pending.remove(named)
                    continue
                await self._async_alone(pending, readings, errors)
                return
            readings |= found
            errors |= failed
            return

    async def _async_alone(
        self, units: list[str], readings: LatestReadings, errors: UnitFailures
    ) -> None:
        """Ask each unit on its own, a few at a time."""
        results = await gather_each(
            (
                functools.partial(
                    self.client.async_get_latest_partial, self._units[unit]
                )
                for unit in units
            ),
            PARALLEL_UNITS,
        )
        for unit, result in zip(units, results, strict=True):
            if isinstance(result, MeetdataError):
                if entry_wide(result):
                    raise result
                errors[unit] = result
                continue
            found, failed = result
            readings |= found
            errors |= failed

    def _unit_named(self, err: MeetdataError, units: list[str]) -> str | None:
        """Return the unit among ``units`` that ``err`` names, if any."""
        if err.meter is None:
            return None
        for unit in units:
            if unit == err.meter or any(
                err.meter in (meter.key, meter.attributes.get("ean"))
                for meter in self._units[unit]
            ):
                return unit
        return None


def most_telling(errors: Iterable[MeetdataError]) -> MeetdataError:
    """Return a refused credential if any, else the first error."""
    errors = list(errors)
    return next((e for e in errors if isinstance(e, MeetdataAuthError)), errors[0])
