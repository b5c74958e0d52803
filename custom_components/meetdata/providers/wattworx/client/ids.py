"""Wattworx ids in a request: EAN-codes, numeric ids, the EAN-or-device selector."""

from __future__ import annotations

import re

from ....api.errors import MeetdataInvalidRequestError

_EAN_RE = re.compile(r"^\d{18}$")


_ID_RE = re.compile(r"^\d{1,18}$")


def _selector(ean: str | None, device_id: str | None) -> tuple[tuple[str, str], str]:
    """Return the path segments naming a device, and its label for errors."""
    if ean is not None and device_id is None:
        _check_ean(ean)
        return ("code", ean), ean
    if device_id is not None and ean is None:
        _check_id(device_id)
        return ("id", device_id), device_id
    raise MeetdataInvalidRequestError("Give either an EAN or a device id")


def _check_ean(ean: str) -> None:
    """Refuse anything but an 18-digit EAN before it goes into a path."""
    if not _EAN_RE.match(ean):
        raise MeetdataInvalidRequestError("An EAN code has 18 digits", meter=ean[:40])


def _check_id(value: str) -> None:
    """Refuse anything but a numeric id before it goes into a path."""
    if not _ID_RE.match(value):
        raise MeetdataInvalidRequestError(f"Invalid Wattworx id {value[:40]!r}")
