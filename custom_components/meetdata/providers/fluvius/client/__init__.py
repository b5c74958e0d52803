"""Fluvius API for professional grid users (BE): client, parsing and helpers."""

from __future__ import annotations

from .client import FluviusClient
from .energy import parse_energy
from .errors import FluviusNoMandateError, FluviusTokenError
from .mandates import (
    ComplexEnergyType,
    DataServiceType,
    EnergyType,
    Granularity,
    Mandate,
    MandateStatus,
    PeriodType,
    RenewalStatus,
)
from .parse import EnergyData, EnergyMeter
from .peak import CapacityPeak, capacity_peak, month_bounds
from .sandbox import SandboxEan, decode_sandbox_ean
from .windows import split_windows

__all__ = [
    "CapacityPeak",
    "ComplexEnergyType",
    "DataServiceType",
    "EnergyData",
    "EnergyMeter",
    "EnergyType",
    "FluviusClient",
    "FluviusNoMandateError",
    "FluviusTokenError",
    "Granularity",
    "Mandate",
    "MandateStatus",
    "PeriodType",
    "RenewalStatus",
    "SandboxEan",
    "capacity_peak",
    "decode_sandbox_ean",
    "month_bounds",
    "parse_energy",
    "split_windows",
]
