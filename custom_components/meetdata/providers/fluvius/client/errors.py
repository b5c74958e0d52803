"""Errors specific to the Fluvius client (all inside the Meetdata hierarchy)."""

from __future__ import annotations

from ....api.errors import MeetdataAuthError, MeetdataPermissionError


class FluviusTokenError(MeetdataAuthError):
    """Azure AD refused the client credentials; ``code`` is its OAuth error code.

    ``invalid_request`` (e.g. an unknown tenant), ``unauthorized_client`` (an
    unknown client id), ``invalid_client`` (a wrong or expired secret),
    ``invalid_scope``, ... or ``unauthorized`` when the body named none.
    """

    def __init__(self, message: str, *, code: str) -> None:
        """Store the message and the OAuth error code."""
        super().__init__(message)
        self.code = code


class FluviusNoMandateError(MeetdataPermissionError):
    """Fluvius answered 404: no valid mandate for this EAN, period or detail level.

    Not a crash: the mandate may not cover the period asked, may lack the
    requested granularity, or may have been removed or expired.
    """
