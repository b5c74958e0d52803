"""Kenter Near-RealTime Data: client, SOAP codec and EAN-code helpers."""

from __future__ import annotations

from .client import KenterClient, KenterConnection, meter_key, meter_kind, meter_name
from .const import DEFAULT_BASE_URL, NAMESPACE, WSDL_PATH
from .ean import gs1_check_digit_ok, is_valid_ean_format
from .errors import (
    KenterAuthError,
    KenterFaultError,
    KenterInvalidRequestError,
    KenterNotFoundError,
    KenterPermissionError,
    KenterUnknownFaultError,
)
from .readings import latest_readings
from .windows import format_timestamp, history_windows

__all__ = [
    "DEFAULT_BASE_URL",
    "NAMESPACE",
    "WSDL_PATH",
    "KenterAuthError",
    "KenterClient",
    "KenterConnection",
    "KenterFaultError",
    "KenterInvalidRequestError",
    "KenterNotFoundError",
    "KenterPermissionError",
    "KenterUnknownFaultError",
    "format_timestamp",
    "gs1_check_digit_ok",
    "history_windows",
    "is_valid_ean_format",
    "latest_readings",
    "meter_key",
    "meter_kind",
    "meter_name",
]
