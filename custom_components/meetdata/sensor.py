"""Sensors of the latest readings, one description per quantity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfVolume,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api.models import Meter, Quantity
from .capacity_sensors import capacity_sensors
from .coordinator import LatestCoordinator
from .entity import MeterDescribedEntity
from .ids import entity_unique_id
from .runtime import MeetdataConfigEntry
from .units import REACTIVE_ENERGY, REACTIVE_POWER

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MeetdataSensorEntityDescription(SensorEntityDescription):
    """A sensor of one quantity of the shared vocabulary."""

    key: Quantity
    #: The value is the amount of one interval: last_reset is its start.
    interval_amount: bool = False


def _energy(
    quantity: Quantity, *, increasing: bool = True
) -> MeetdataSensorEntityDescription:
    return MeetdataSensorEntityDescription(
        key=quantity,
        translation_key=str(quantity),
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING
        if increasing
        else SensorStateClass.TOTAL,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
    )


def _reactive_energy(quantity: Quantity) -> MeetdataSensorEntityDescription:
    return MeetdataSensorEntityDescription(
        key=quantity,
        translation_key=str(quantity),
        device_class=REACTIVE_ENERGY.device_class,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=REACTIVE_ENERGY.unit,
        suggested_display_precision=3,
    )


def _interval_amount(
    quantity: Quantity, device_class: SensorDeviceClass | None, unit: str
) -> MeetdataSensorEntityDescription:
    """Describe the amount of the latest interval (not a register).

    ``total`` with last_reset at the interval start is how Home Assistant
    models an amount over a period (energy allows no ``measurement``).
    """
    return MeetdataSensorEntityDescription(
        key=quantity,
        translation_key=str(quantity),
        device_class=device_class,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=unit,
        suggested_display_precision=3,
        interval_amount=True,
    )


def _voltage(quantity: Quantity) -> MeetdataSensorEntityDescription:
    return MeetdataSensorEntityDescription(
        key=quantity,
        translation_key=str(quantity),
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
    )


SENSORS: dict[Quantity, MeetdataSensorEntityDescription] = {
    description.key: description
    for description in (
        _energy(Quantity.ENERGY_IMPORT),
        _energy(Quantity.ENERGY_IMPORT_LOW),
        _energy(Quantity.ENERGY_IMPORT_NORMAL),
        _energy(Quantity.ENERGY_EXPORT),
        _energy(Quantity.ENERGY_EXPORT_LOW),
        _energy(Quantity.ENERGY_EXPORT_NORMAL),
        _energy(Quantity.ENERGY_NET_LOW, increasing=False),
        _energy(Quantity.ENERGY_NET_NORMAL, increasing=False),
        _energy(Quantity.PRODUCTION),
        _energy(Quantity.AUXILIARY),
        _reactive_energy(Quantity.REACTIVE_ENERGY_IMPORT),
        _reactive_energy(Quantity.REACTIVE_ENERGY_EXPORT),
        _reactive_energy(Quantity.REACTIVE_ENERGY_INDUCTIVE),
        _reactive_energy(Quantity.REACTIVE_ENERGY_CAPACITIVE),
        MeetdataSensorEntityDescription(
            key=Quantity.GAS_VOLUME,
            translation_key=str(Quantity.GAS_VOLUME),
            device_class=SensorDeviceClass.GAS,
            state_class=SensorStateClass.TOTAL_INCREASING,
            native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
            suggested_display_precision=3,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.GAS_ENERGY,
            translation_key=str(Quantity.GAS_ENERGY),
            device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL_INCREASING,
            native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            suggested_display_precision=3,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.POWER,
            translation_key=str(Quantity.POWER),
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.KILO_WATT,
            suggested_display_precision=3,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.CAPACITY_PEAK,
            translation_key=str(Quantity.CAPACITY_PEAK),
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.KILO_WATT,
            suggested_display_precision=3,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.REACTIVE_POWER,
            translation_key=str(Quantity.REACTIVE_POWER),
            device_class=REACTIVE_POWER.device_class,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=REACTIVE_POWER.unit,
            suggested_display_precision=3,
        ),
        _voltage(Quantity.VOLTAGE_L1),
        _voltage(Quantity.VOLTAGE_L2),
        _voltage(Quantity.VOLTAGE_L3),
        MeetdataSensorEntityDescription(
            key=Quantity.TARIFF,
            translation_key=str(Quantity.TARIFF),
            device_class=SensorDeviceClass.ENUM,
            options=["low", "normal"],
        ),
        _interval_amount(
            Quantity.ENERGY_IMPORT_INTERVAL,
            SensorDeviceClass.ENERGY,
            UnitOfEnergy.KILO_WATT_HOUR,
        ),
        _interval_amount(
            Quantity.ENERGY_EXPORT_INTERVAL,
            SensorDeviceClass.ENERGY,
            UnitOfEnergy.KILO_WATT_HOUR,
        ),
        _interval_amount(
            Quantity.REACTIVE_ENERGY_IMPORT_INTERVAL,
            REACTIVE_ENERGY.device_class,
            REACTIVE_ENERGY.unit,
        ),
        _interval_amount(
            Quantity.REACTIVE_ENERGY_EXPORT_INTERVAL,
            REACTIVE_ENERGY.device_class,
            REACTIVE_ENERGY.unit,
        ),
        _interval_amount(
            Quantity.GAS_VOLUME_INTERVAL,
            SensorDeviceClass.GAS,
            UnitOfVolume.CUBIC_METERS,
        ),
        _interval_amount(
            Quantity.ENERGY_IMPORT_YESTERDAY,
            SensorDeviceClass.ENERGY,
            UnitOfEnergy.KILO_WATT_HOUR,
        ),
        _interval_amount(
            Quantity.ENERGY_EXPORT_YESTERDAY,
            SensorDeviceClass.ENERGY,
            UnitOfEnergy.KILO_WATT_HOUR,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.CAPACITY_PEAK_LAST_MONTH,
            translation_key=str(Quantity.CAPACITY_PEAK_LAST_MONTH),
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.KILO_WATT,
            suggested_display_precision=3,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.CAPACITY_PEAK_AVERAGE,
            translation_key=str(Quantity.CAPACITY_PEAK_AVERAGE),
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.KILO_WATT,
            suggested_display_precision=3,
        ),
        MeetdataSensorEntityDescription(
            key=Quantity.LAST_MEASUREMENT,
            translation_key=str(Quantity.LAST_MEASUREMENT),
            device_class=SensorDeviceClass.TIMESTAMP,
            entity_category=EntityCategory.DIAGNOSTIC,
        ),
    )
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeetdataConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add a sensor for every quantity each meter reports, now and later.

    After every poll and every reading of the meter list, the sensors of
    meters and quantities that have none yet are added; a meter that is gone
    took its sensors with its device, so it gets new ones should it return.
    """
    runtime = entry.runtime_data
    coordinator = runtime.latest
    #: Unique ids of the sensors added, by the key of their meter.
    added: dict[str, set[str]] = {}

    def _candidates() -> Iterable[SensorEntity]:
        for meter in coordinator.meters:
            for quantity in (coordinator.data or {}).get(meter.key, {}):
                unique_id = entity_unique_id(entry.entry_id, meter, quantity)
                if quantity in SENSORS and unique_id not in added.get(meter.key, ()):
                    yield MeetdataSensor(coordinator, meter, SENSORS[quantity])
        yield from runtime.spec.sensors(entry, SENSORS)
        yield from capacity_sensors(
            runtime.history, runtime.spec.capacity_sensors, SENSORS
        )

    @callback
    def _async_add_new() -> None:
        present = {meter.key for meter in runtime.meters}
        for key in set(added) - present - {""}:
            del added[key]
        new: list[SensorEntity] = []
        for entity in _candidates():
            meter = getattr(entity, "meter", None)
            key = meter.key if isinstance(meter, Meter) else ""
            unique_id = entity.unique_id or ""
            if unique_id not in added.setdefault(key, set()):
                added[key].add(unique_id)
                new.append(entity)
        if new:
            async_add_entities(new)

    _async_add_new()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_new))
    entry.async_on_unload(runtime.discovery.async_add_listener(_async_add_new))
    entry.async_on_unload(runtime.history.async_add_listener(_async_add_new))


class MeetdataSensor(MeterDescribedEntity[LatestCoordinator], SensorEntity):
    """The latest value of one quantity of one meter."""

    entity_description: MeetdataSensorEntityDescription

    @property
    def available(self) -> bool:
        """Available while the last poll succeeded and carried this quantity."""
        return super().available and self.entity_description.key in (
            self.coordinator.data.get(self.meter.key, {})
        )

    @property
    def native_value(self) -> float | str | datetime | None:
        """Return the latest value."""
        reading = self.coordinator.data.get(self.meter.key, {}).get(
            self.entity_description.key
        )
        return None if reading is None else reading.value

    @property
    def last_reset(self) -> datetime | None:
        """Return the start of the interval an interval amount belongs to."""
        if not self.entity_description.interval_amount:
            return None
        reading = self.coordinator.data.get(self.meter.key, {}).get(
            self.entity_description.key
        )
        return None if reading is None else reading.timestamp
