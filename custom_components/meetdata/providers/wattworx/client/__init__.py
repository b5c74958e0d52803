"""Wattworx API v1 (NL): client, typed records and the default endpoint."""

from __future__ import annotations

from .client import WattworxClient
from .models import (
    Authorisation,
    AuthorisationStatus,
    ClientInfo,
    DayDetailValue,
    DayRequestResult,
    DayValue,
    Device,
    DeviceClient,
    DeviceType,
    EanChange,
    MonthValue,
    Registers,
)
from .params import DEFAULT_BASE_URL

__all__ = [
    "DEFAULT_BASE_URL",
    "Authorisation",
    "AuthorisationStatus",
    "ClientInfo",
    "DayDetailValue",
    "DayRequestResult",
    "DayValue",
    "Device",
    "DeviceClient",
    "DeviceType",
    "EanChange",
    "MonthValue",
    "Registers",
    "WattworxClient",
]
