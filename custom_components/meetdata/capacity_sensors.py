"""Sensors of the capacity tariff: this month's peak and the 12-month average."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription

from .api.models import Quantity
from .capacity import MINIMUM_PEAK_KW, Capacity
from .coordinator import HistoryCoordinator
from .entity import MeterDescribedEntity


def capacity_sensors(
    coordinator: HistoryCoordinator,
    quantities: Iterable[Quantity],
    descriptions: Mapping[Quantity, SensorEntityDescription],
) -> list[SensorEntity]:
    """Return the capacity sensors of the meters that have a peak statistic."""
    return [
        CapacitySensor(coordinator, meter, descriptions[quantity])
        for meter in coordinator.meters
        if meter.key in coordinator.capacity
        for quantity in quantities
    ]


class CapacitySensor(MeterDescribedEntity[HistoryCoordinator], SensorEntity):
    """A meter's monthly peak or rolling average, read from its statistic."""

    entity_description: SensorEntityDescription

    async def async_added_to_hass(self) -> None:
        """Also follow the latest readings: a failing meter is unavailable."""
        await super().async_added_to_hass()
        latest = self.coordinator.config_entry.runtime_data.latest
        self.async_on_remove(latest.async_add_listener(self._handle_coordinator_update))

    @property
    def _capacity(self) -> Capacity | None:
        return self.coordinator.capacity.get(self.meter.key)

    @property
    def available(self) -> bool:
        """Available while the meter answers and its statistic is read.

        Like the meter's other sensors, unavailable while its latest readings
        fail (the statistic stays valid while only its history lags).
        """
        latest = self.coordinator.config_entry.runtime_data.latest
        return (
            super().available
            and self._capacity is not None
            and self.meter.key not in latest.outages.current
        )

    @property
    def native_value(self) -> float | None:
        """Return the peak or the average in kW (None: no read quarter yet)."""
        capacity = self._capacity
        if capacity is None:
            return None
        if self.entity_description.key == Quantity.CAPACITY_PEAK_AVERAGE:
            return None if capacity.average is None else round(capacity.average, 6)
        return None if capacity.peak is None else round(capacity.peak, 6)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say which quarter, how many months, and whether estimates were left out."""
        capacity = self._capacity
        if capacity is None:
            return None
        if self.entity_description.key == Quantity.CAPACITY_PEAK_AVERAGE:
            return {
                "months": capacity.months,
                "minimum_peak": MINIMUM_PEAK_KW,
                "estimates_left_out": capacity.estimates_involved,
            }
        return {
            "peak_start": capacity.quarter,
            "estimates_left_out": capacity.estimate_above,
        }
