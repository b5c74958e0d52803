"""Translation keys for the client errors, shared by config flow and coordinators."""

from __future__ import annotations

from .api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataUnsupportedError,
)

# Most specific first: the first matching class wins.
_KEYS: tuple[tuple[type[MeetdataError], str], ...] = (
    (MeetdataAuthError, "invalid_auth"),
    (MeetdataTimeoutError, "timeout"),
    (MeetdataRateLimitError, "rate_limited"),
    (MeetdataConnectionError, "cannot_connect"),
    (MeetdataPermissionError, "no_permission"),
    (MeetdataNotFoundError, "unknown_meter"),
    (MeetdataUnsupportedError, "unsupported"),
    (MeetdataInvalidRequestError, "invalid_request"),
    (MeetdataResponseError, "invalid_response"),
)


def error_key(err: MeetdataError) -> str:
    """Return the translation key that explains ``err`` to the user."""
    for cls, key in _KEYS:
        if isinstance(err, cls):
            return key
    return "unknown"
