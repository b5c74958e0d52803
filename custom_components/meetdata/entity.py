"""Base entity: one device per meter."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api.models import Meter
from .const import DOMAIN
from .coordinator import LatestCoordinator
from .ids import meter_id


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


class MeetdataEntity(CoordinatorEntity[LatestCoordinator]):
    """An entity of one meter."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: LatestCoordinator, meter: Meter) -> None:
        """Attach the entity to its meter's device."""
        super().__init__(coordinator)
        self.meter = meter
        self._attr_device_info = device_link(coordinator.config_entry.entry_id, meter)
