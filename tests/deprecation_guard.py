"""Deprecation reports that come from our code, on any Home Assistant leg.

Used by the autouse ``no_deprecated_use`` fixture in tests/conftest.py: a test
fails when, while it ran, Home Assistant reported a deprecated use by Meetdata
(its ``frame`` helper: "Detected that custom integration 'meetdata' …"; its
``deprecated_*`` helpers: "The deprecated … was used from meetdata") or Python
raised a ``DeprecationWarning`` attributed to a module of the integration.
"""

from __future__ import annotations

from collections.abc import Iterable
import logging
from pathlib import Path
import warnings

DOMAIN = "meetdata"
#: A module of the integration lives under this path part (wherever installed).
INTEGRATION_PART = f"/custom_components/{DOMAIN}/"


def is_report(record: logging.LogRecord) -> bool:
    """Return whether a log record is Home Assistant reporting a use of ours."""
    if record.levelno < logging.INFO:
        return False
    text = record.getMessage()
    if f"custom integration '{DOMAIN}'" in text:
        return True
    return "deprecated" in text.lower() and (
        f"from {DOMAIN}" in text or f"custom_components.{DOMAIN}" in text
    )


def is_ours(warning: warnings.WarningMessage) -> bool:
    """Return whether a warning is a deprecation raised from our modules."""
    return (
        issubclass(warning.category, DeprecationWarning | PendingDeprecationWarning)
        and INTEGRATION_PART in Path(warning.filename).as_posix()
    )


def deprecation_reports(
    records: Iterable[logging.LogRecord],
    caught: Iterable[warnings.WarningMessage] = (),
) -> list[str]:
    """Return one line per deprecation report among log records and warnings."""
    lines = [
        f"{record.name}: {record.getMessage()[:300]}"
        for record in records
        if is_report(record)
    ]
    lines.extend(
        f"{warning.category.__name__} at {warning.filename}:{warning.lineno}: "
        f"{warning.message}"
        for warning in caught
        if is_ours(warning)
    )
    return lines
