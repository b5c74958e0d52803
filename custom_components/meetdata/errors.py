"""Client errors as Home Assistant sees them: translation keys and HA errors."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.update_coordinator import UpdateFailed

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
from .const import DOMAIN

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


def ha_error(
    err: MeetdataError,
    *,
    auth: type[HomeAssistantError] = ConfigEntryAuthFailed,
    other: type[HomeAssistantError] = UpdateFailed,
) -> HomeAssistantError:
    """Return the translated Home Assistant error for a client error.

    A refused credential becomes ``auth`` (invalid_auth), anything else
    ``other`` with the key of ``error_key`` and the message as placeholder.
    The defaults are what a coordinator raises.
    """
    if isinstance(err, MeetdataAuthError):
        return auth(translation_domain=DOMAIN, translation_key="invalid_auth")
    return other(
        translation_domain=DOMAIN,
        translation_key=error_key(err),
        translation_placeholders={"error": str(err)},
    )


def service_call_error(
    hass: HomeAssistant, entry: ConfigEntry, err: MeetdataError
) -> HomeAssistantError:
    """Return the error a service call raises; a refused credential starts reauth."""
    if isinstance(err, MeetdataAuthError):
        entry.async_start_reauth(hass)
    return ha_error(err, auth=HomeAssistantError, other=HomeAssistantError)
