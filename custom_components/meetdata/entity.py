"""Base entity: one device per meter."""

from __future__ import annotations

from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .api.models import Meter
from .const import DOMAIN
from .ids import entity_unique_id, meter_id


def device_link(entry_id: str, meter: Meter) -> DeviceInfo:
    """Return what an entity names of its meter's device (registered at setup)."""
    return DeviceInfo(identifiers={(DOMAIN, meter_id(entry_id, meter))})


def device_info(entry_id: str, meter: Meter, manufacturer: str) -> DeviceInfo:
    """Return the device of a meter (its parent is linked at registration)."""
    return DeviceInfo(
        identifiers={(DOMAIN, meter_id(entry_id, meter))},
        manufacturer=manufacturer,
        name=meter.name or meter.key,
        model=meter.model or meter.kind.replace("_", " ").capitalize(),
        serial_number=meter.serial,
    )


class MeterDescribedEntity[C: DataUpdateCoordinator[Any]](CoordinatorEntity[C]):
    """An entity of one meter, described by its quantity, on any coordinator."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: C, meter: Meter, description: EntityDescription
    ) -> None:
        """Describe the entity of ``description.key`` on ``meter``."""
        super().__init__(coordinator)
        self.meter = meter
        self.entity_description = description
        # Every coordinator of ours is created for its config entry.
        entry_id = cast("ConfigEntry", coordinator.config_entry).entry_id
        self._attr_unique_id = entity_unique_id(entry_id, meter, description.key)
        self._attr_device_info = device_link(entry_id, meter)
