"""Errors specific to the Fluvius client (all inside the Meetdata hierarchy)."""

from __future__ import annotations

from ..errors import MeetdataPermissionError


class FluviusNoMandateError(MeetdataPermissionError):
    """Fluvius answered 404: no valid mandate for this EAN, period or detail level.

    Not a crash: the mandate may not cover the period asked, may lack the
    requested granularity, or may have been removed or expired.
    """
