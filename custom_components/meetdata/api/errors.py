"""The one error hierarchy of every provider client.

Messages never contain secrets: clients build them from status codes, error
codes and redacted URLs only.
"""

from __future__ import annotations


class MeetdataError(Exception):
    """Base of every error a Meetdata client raises."""

    def __init__(self, message: str, *, meter: str | None = None) -> None:
        """Store the message and, where known, the meter (EAN, uid) it concerns."""
        super().__init__(message)
        self.meter = meter


class MeetdataConnectionError(MeetdataError):
    """The server could not be reached or answered with a temporary failure."""


class MeetdataTimeoutError(MeetdataConnectionError):
    """The server did not answer in time (or a promise never resolved)."""


class MeetdataRateLimitError(MeetdataConnectionError):
    """The server asked us to slow down."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        meter: str | None = None,
    ) -> None:
        """Store how long the server asked us to wait, in seconds."""
        super().__init__(message, meter=meter)
        self.retry_after = retry_after


class MeetdataAuthError(MeetdataError):
    """The credentials were refused (wrong key, passcode, secret or password)."""


class MeetdataPermissionError(MeetdataError):
    """The credentials are valid but may not read this meter or period."""


class MeetdataNotFoundError(MeetdataError):
    """The meter (EAN, meter code, alias) is unknown to the provider."""


class MeetdataUnsupportedError(MeetdataError):
    """The provider does not support this request for this meter (CEMM 412)."""


class MeetdataInvalidRequestError(MeetdataError):
    """The provider refused the request itself (bad parameters)."""


class MeetdataResponseError(MeetdataError):
    """The answer was malformed, too large, or not what the API documents."""


class MeetdataTooLargeError(MeetdataResponseError):
    """The answer is (or would be) larger than we accept: ask for a shorter period."""
