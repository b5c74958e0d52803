"""Fluvius sensors: yesterday's offtake and injection, this and last month's peak."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription

from ...api.models import Quantity
from ...entity import MeterDescribedEntity
from ..base import MeetdataEntry
from .client import CapacityPeak
from .insights import DayAmount, FluviusInsightsCoordinator, MeterInsights
from .runtime import get_runtime


def fluvius_sensors(
    entry: MeetdataEntry,
    descriptions: Mapping[Quantity, SensorEntityDescription],
) -> list[SensorEntity]:
    """Return the sensors of a Fluvius entry's EANs (none for other entries)."""
    runtime = get_runtime(entry)
    if runtime is None:
        return []
    coordinator = runtime.insights
    return [
        FluviusInsightSensor(coordinator, meter, descriptions[quantity])
        for meter in coordinator.meters
        for quantity in coordinator.quantities(meter)
    ]


class FluviusInsightSensor(
    MeterDescribedEntity[FluviusInsightsCoordinator], SensorEntity
):
    """A value computed from an EAN's quarter-hours: a day amount or a peak."""

    entity_description: SensorEntityDescription

    @property
    def _insights(self) -> MeterInsights | None:
        return (self.coordinator.data or {}).get(self.meter.key)

    @property
    def _amount(self) -> DayAmount | None:
        insights = self._insights
        return (
            insights.amounts.get(Quantity(self.entity_description.key))
            if insights
            else None
        )

    @property
    def _peak(self) -> CapacityPeak | None:
        insights = self._insights
        return (
            insights.peaks.get(Quantity(self.entity_description.key))
            if insights
            else None
        )

    @property
    def available(self) -> bool:
        """Available while the last poll succeeded and this EAN was read."""
        return super().available and self._insights is not None

    @property
    def native_value(self) -> float | None:
        """Return the day's amount or the peak in kW (None: no data yet)."""
        if (amount := self._amount) is not None:
            return amount.value
        peak = self._peak
        return None if peak is None or peak.value is None else round(peak.value, 6)

    @property
    def last_reset(self) -> datetime | None:
        """Return the start of the day a day amount belongs to."""
        amount = self._amount
        return None if amount is None else amount.start

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say which day or month and quarter, and whether the value is final."""
        if (amount := self._amount) is not None:
            return {
                "start": amount.start,
                "end": amount.end,
                "complete": amount.complete,
                "intervals": amount.intervals,
                "estimated_intervals": amount.estimated,
            }
        if (peak := self._peak) is not None:
            return {
                "peak_start": peak.timestamp,
                "complete": peak.complete,
                "quarters_expected": peak.expected,
                "quarters_read": peak.counted,
                "quarters_estimated": peak.estimated,
                "quarters_missing": peak.missing,
            }
        return None
