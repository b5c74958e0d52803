"""The shared HTTP status → MeetdataError ladder of the provider clients."""

from __future__ import annotations

import pytest

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataTooLargeError,
    MeetdataUnsupportedError,
)
from custom_components.meetdata.api.http import status_error


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, MeetdataInvalidRequestError),
        (401, MeetdataAuthError),
        (403, MeetdataPermissionError),
        (404, MeetdataNotFoundError),
        (408, MeetdataTimeoutError),
        (409, MeetdataResponseError),
        (413, MeetdataTooLargeError),
        (422, MeetdataInvalidRequestError),
        (429, MeetdataRateLimitError),
        (500, MeetdataConnectionError),
        (503, MeetdataConnectionError),
        (302, MeetdataResponseError),
    ],
)
def test_common_ladder(status: int, cls: type[MeetdataError]) -> None:
    """Each status maps to its class, keeping the message and the meter."""
    error = status_error(status, "boom", meter="871")
    assert type(error) is cls
    assert str(error) == "boom"
    assert error.meter == "871"


def test_retry_after_only_on_rate_limit() -> None:
    """Retry-After reaches a rate-limit error and no other."""
    error = status_error(429, "slow down", retry_after=12.5)
    assert isinstance(error, MeetdataRateLimitError)
    assert error.retry_after == 12.5
    assert error.meter is None
    assert not hasattr(status_error(503, "down", retry_after=3.0), "retry_after")


def test_overrides_and_default() -> None:
    """A provider's table beats the common ladder; ``default`` catches the rest."""
    overrides = {403: MeetdataAuthError, 412: MeetdataUnsupportedError}
    assert type(status_error(403, "x", overrides=overrides)) is MeetdataAuthError
    assert type(status_error(412, "x", overrides=overrides)) is MeetdataUnsupportedError
    assert type(status_error(401, "x", overrides=overrides)) is MeetdataAuthError
    refused = status_error(418, "x", default=MeetdataInvalidRequestError)
    assert type(refused) is MeetdataInvalidRequestError
    assert type(status_error(418, "x")) is MeetdataResponseError
    # A rate limit overridden to another class loses its Retry-After.
    plain = status_error(
        429, "x", retry_after=1.0, overrides={429: MeetdataResponseError}
    )
    assert type(plain) is MeetdataResponseError
