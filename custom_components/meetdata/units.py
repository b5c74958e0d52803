"""Reactive units and device classes, as far as the running Home Assistant has them.

``kvar``/``kvarh`` and the REACTIVE_ENERGY device class arrived during the range
of Home Assistant versions we support; detect them instead of assuming.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant import const
from homeassistant.components.sensor import SensorDeviceClass


@dataclass(frozen=True, slots=True)
class UnitSupport:
    """A unit string and the device class that accepts it (None: no class)."""

    unit: str
    device_class: SensorDeviceClass | None


def _reactive_power() -> UnitSupport:
    units = getattr(const, "UnitOfReactivePower", None)
    kvar = getattr(units, "KILO_VOLT_AMPERE_REACTIVE", None)
    if kvar is not None:
        return UnitSupport(str(kvar), SensorDeviceClass.REACTIVE_POWER)
    return UnitSupport("kvar", None)


def _reactive_energy() -> UnitSupport:
    units = getattr(const, "UnitOfReactiveEnergy", None)
    kvarh = getattr(units, "KILO_VOLT_AMPERE_REACTIVE_HOUR", None)
    device_class = getattr(SensorDeviceClass, "REACTIVE_ENERGY", None)
    if kvarh is not None and device_class is not None:
        return UnitSupport(str(kvarh), device_class)
    return UnitSupport("kvarh", None)


REACTIVE_POWER = _reactive_power()
REACTIVE_ENERGY = _reactive_energy()
