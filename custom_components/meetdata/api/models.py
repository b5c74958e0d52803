"""Typed models shared by every provider client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

#: A provider's id ("kenter", "cemm", ...): each client package names its own
#: (``providers/<p>/client/provider.py``); the registry maps ids to specs.
type Provider = str


class MeterKind(StrEnum):
    """What a meter measures."""

    ELECTRICITY = "electricity"
    GAS = "gas"
    PRODUCTION = "production"
    AUXILIARY = "auxiliary"
    TRANSFER_POINT = "transfer_point"
    GATEWAY = "gateway"


class Quantity(StrEnum):
    """One shared vocabulary for entity keys, translation keys and statistic ids."""

    ENERGY_IMPORT = "energy_import"
    ENERGY_IMPORT_LOW = "energy_import_low"
    ENERGY_IMPORT_NORMAL = "energy_import_normal"
    ENERGY_EXPORT = "energy_export"
    ENERGY_EXPORT_LOW = "energy_export_low"
    ENERGY_EXPORT_NORMAL = "energy_export_normal"
    # Belgian tariffs (Fluvius): day ("dag") and night ("nacht").
    ENERGY_IMPORT_DAY = "energy_import_day"
    ENERGY_IMPORT_NIGHT = "energy_import_night"
    ENERGY_EXPORT_DAY = "energy_export_day"
    ENERGY_EXPORT_NIGHT = "energy_export_night"
    ENERGY_NET_LOW = "energy_net_low"
    ENERGY_NET_NORMAL = "energy_net_normal"
    REACTIVE_ENERGY_IMPORT = "reactive_energy_import"
    REACTIVE_ENERGY_EXPORT = "reactive_energy_export"
    REACTIVE_ENERGY_INDUCTIVE = "reactive_energy_inductive"
    REACTIVE_ENERGY_CAPACITIVE = "reactive_energy_capacitive"
    GAS_VOLUME = "gas_volume"
    GAS_ENERGY = "gas_energy"
    POWER = "power"
    REACTIVE_POWER = "reactive_power"
    VOLTAGE_L1 = "voltage_l1"
    VOLTAGE_L2 = "voltage_l2"
    VOLTAGE_L3 = "voltage_l3"
    PRODUCTION = "production"
    AUXILIARY = "auxiliary"
    CAPACITY_PEAK = "capacity_peak"
    # Average import power of each quarter hour (kW): hourly mean/min/max
    # statistics whose max is the hour's highest quarter (the capacity tariff).
    QUARTER_HOUR_POWER = "quarter_hour_power"
    # Fluvius: the average of the last 12 monthly peaks, each at least 2.5 kW.
    CAPACITY_PEAK_AVERAGE = "capacity_peak_average"
    TARIFF = "tariff"
    LAST_MEASUREMENT = "last_measurement"
    # The amount of the latest interval only (not a register): Kenter's
    # interval counters, exposed with the interval start as last_reset.
    ENERGY_IMPORT_INTERVAL = "energy_import_interval"
    ENERGY_EXPORT_INTERVAL = "energy_export_interval"
    REACTIVE_ENERGY_IMPORT_INTERVAL = "reactive_energy_import_interval"
    REACTIVE_ENERGY_EXPORT_INTERVAL = "reactive_energy_export_interval"
    GAS_VOLUME_INTERVAL = "gas_volume_interval"
    # Amounts of yesterday (local calendar day) and last month's capacity
    # peak: Fluvius sensors computed from the quarter-hour data.
    ENERGY_IMPORT_YESTERDAY = "energy_import_yesterday"
    ENERGY_EXPORT_YESTERDAY = "energy_export_yesterday"
    CAPACITY_PEAK_LAST_MONTH = "capacity_peak_last_month"
    # What the energy of each hour cost (or earned), in the configured
    # currency: the amounts times the price the user set for them.
    ENERGY_IMPORT_COST = "energy_import_cost"
    ENERGY_EXPORT_COMPENSATION = "energy_export_compensation"
    GAS_COST = "gas_cost"
    # The same per tariff: each tariff statistic's amounts at its own price,
    # so that each can be a grid source of its own with its own costs.
    ENERGY_IMPORT_LOW_COST = "energy_import_low_cost"
    ENERGY_IMPORT_NORMAL_COST = "energy_import_normal_cost"
    ENERGY_IMPORT_NIGHT_COST = "energy_import_night_cost"
    ENERGY_IMPORT_DAY_COST = "energy_import_day_cost"
    ENERGY_EXPORT_LOW_COMPENSATION = "energy_export_low_compensation"
    ENERGY_EXPORT_NORMAL_COMPENSATION = "energy_export_normal_compensation"
    ENERGY_EXPORT_NIGHT_COMPENSATION = "energy_export_night_compensation"
    ENERGY_EXPORT_DAY_COMPENSATION = "energy_export_day_compensation"


class Unit(StrEnum):
    """The fixed unit of each quantity (strings as Home Assistant spells them)."""

    KWH = "kWh"
    KVARH = "kvarh"
    CUBIC_METERS = "m³"
    KW = "kW"
    KVAR = "kvar"
    VOLT = "V"
    #: Home Assistant's configured currency (filled in by the statistics).
    CURRENCY = "currency"
    NONE = ""


QUANTITY_UNITS: dict[Quantity, Unit] = {
    Quantity.ENERGY_IMPORT: Unit.KWH,
    Quantity.ENERGY_IMPORT_LOW: Unit.KWH,
    Quantity.ENERGY_IMPORT_NORMAL: Unit.KWH,
    Quantity.ENERGY_EXPORT: Unit.KWH,
    Quantity.ENERGY_EXPORT_LOW: Unit.KWH,
    Quantity.ENERGY_EXPORT_NORMAL: Unit.KWH,
    Quantity.ENERGY_IMPORT_DAY: Unit.KWH,
    Quantity.ENERGY_IMPORT_NIGHT: Unit.KWH,
    Quantity.ENERGY_EXPORT_DAY: Unit.KWH,
    Quantity.ENERGY_EXPORT_NIGHT: Unit.KWH,
    Quantity.ENERGY_NET_LOW: Unit.KWH,
    Quantity.ENERGY_NET_NORMAL: Unit.KWH,
    Quantity.REACTIVE_ENERGY_IMPORT: Unit.KVARH,
    Quantity.REACTIVE_ENERGY_EXPORT: Unit.KVARH,
    Quantity.REACTIVE_ENERGY_INDUCTIVE: Unit.KVARH,
    Quantity.REACTIVE_ENERGY_CAPACITIVE: Unit.KVARH,
    Quantity.GAS_VOLUME: Unit.CUBIC_METERS,
    Quantity.GAS_ENERGY: Unit.KWH,
    Quantity.POWER: Unit.KW,
    Quantity.REACTIVE_POWER: Unit.KVAR,
    Quantity.VOLTAGE_L1: Unit.VOLT,
    Quantity.VOLTAGE_L2: Unit.VOLT,
    Quantity.VOLTAGE_L3: Unit.VOLT,
    Quantity.PRODUCTION: Unit.KWH,
    Quantity.AUXILIARY: Unit.KWH,
    Quantity.CAPACITY_PEAK: Unit.KW,
    Quantity.QUARTER_HOUR_POWER: Unit.KW,
    Quantity.CAPACITY_PEAK_AVERAGE: Unit.KW,
    Quantity.TARIFF: Unit.NONE,
    Quantity.LAST_MEASUREMENT: Unit.NONE,
    Quantity.ENERGY_IMPORT_INTERVAL: Unit.KWH,
    Quantity.ENERGY_EXPORT_INTERVAL: Unit.KWH,
    Quantity.REACTIVE_ENERGY_IMPORT_INTERVAL: Unit.KVARH,
    Quantity.REACTIVE_ENERGY_EXPORT_INTERVAL: Unit.KVARH,
    Quantity.GAS_VOLUME_INTERVAL: Unit.CUBIC_METERS,
    Quantity.ENERGY_IMPORT_YESTERDAY: Unit.KWH,
    Quantity.ENERGY_EXPORT_YESTERDAY: Unit.KWH,
    Quantity.CAPACITY_PEAK_LAST_MONTH: Unit.KW,
    Quantity.ENERGY_IMPORT_COST: Unit.CURRENCY,
    Quantity.ENERGY_EXPORT_COMPENSATION: Unit.CURRENCY,
    Quantity.GAS_COST: Unit.CURRENCY,
    Quantity.ENERGY_IMPORT_LOW_COST: Unit.CURRENCY,
    Quantity.ENERGY_IMPORT_NORMAL_COST: Unit.CURRENCY,
    Quantity.ENERGY_IMPORT_NIGHT_COST: Unit.CURRENCY,
    Quantity.ENERGY_IMPORT_DAY_COST: Unit.CURRENCY,
    Quantity.ENERGY_EXPORT_LOW_COMPENSATION: Unit.CURRENCY,
    Quantity.ENERGY_EXPORT_NORMAL_COMPENSATION: Unit.CURRENCY,
    Quantity.ENERGY_EXPORT_NIGHT_COMPENSATION: Unit.CURRENCY,
    Quantity.ENERGY_EXPORT_DAY_COMPENSATION: Unit.CURRENCY,
}

# Quantities whose interval values are averages (hourly mean/min/max), not amounts.
MEAN_QUANTITIES: frozenset[Quantity] = frozenset(
    {
        Quantity.POWER,
        Quantity.QUARTER_HOUR_POWER,
        Quantity.REACTIVE_POWER,
        Quantity.VOLTAGE_L1,
        Quantity.VOLTAGE_L2,
        Quantity.VOLTAGE_L3,
    }
)


class Quality(StrEnum):
    """How trustworthy an interval value is."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    VALIDATED = "validated"


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter: one device in Home Assistant."""

    provider: Provider
    key: str
    kind: MeterKind
    name: str | None = None
    address: str | None = None
    model: str | None = None
    serial: str | None = None
    via: str | None = None
    attributes: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Reading:
    """The latest value of one quantity of one meter.

    ``value`` is a float for numeric quantities, a string for enum-like ones
    (tariff) and a timezone-aware datetime for timestamps.
    """

    quantity: Quantity
    value: float | str | datetime
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class Interval:
    """An amount (or, for mean quantities, an average) over [start, end)."""

    start: datetime
    end: datetime
    value: float
    quality: Quality = Quality.MEASURED


@dataclass(slots=True)
class IntervalSeries:
    """Intervals of one quantity of one meter, in chronological order."""

    meter_key: str
    quantity: Quantity
    intervals: list[Interval]


type LatestReadings = dict[str, dict[Quantity, Reading]]
"""Latest readings by meter key, then by quantity."""
