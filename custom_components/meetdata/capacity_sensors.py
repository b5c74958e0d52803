"""Sensors of the capacity tariff: this month's peak and the 12-month average."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api.models import Meter, Quantity
from .capacity import MINIMUM_PEAK_KW, Capacity
from .coordinator import HistoryCoordinator
from .entity import device_link
from .ids import entity_unique_id


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


class CapacitySensor(CoordinatorEntity[HistoryCoordinator], SensorEntity):
    """A meter's monthly peak or rolling average, read from its statistic."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: HistoryCoordinator,
        meter: Meter,
        description: SensorEntityDescription,
    ) -> None:
        """Describe the sensor of ``description.key`` on ``meter``."""
        super().__init__(coordinator)
        self.meter = meter
        self.entity_description = description
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = entity_unique_id(entry_id, meter, description.key)
        self._attr_device_info = device_link(entry_id, meter)

    @property
    def _capacity(self) -> Capacity | None:
        return self.coordinator.capacity.get(self.meter.key)

    @property
    def available(self) -> bool:
        """Available while the meter's peak statistic can be read."""
        return super().available and self._capacity is not None

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
