"""The config entry a service call names: checked, with translated errors."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from .api.models import Provider
from .const import CONF_PROVIDER, DOMAIN
from .providers.base import MeetdataEntry


def service_error(key: str, **placeholders: str) -> ServiceValidationError:
    """Return a translated validation error."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


def loaded_entry(
    hass: HomeAssistant,
    entry_id: str,
    provider: Provider | None = None,
    *,
    wrong_provider: str = "",
) -> MeetdataEntry:
    """Return the loaded Meetdata entry ``entry_id`` (of ``provider``, if given).

    ``wrong_provider`` is the error key for an entry of another provider.
    """
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise service_error("unknown_entry", entry_id=entry_id)
    if provider is not None and entry.data.get(CONF_PROVIDER) != provider:
        raise service_error(wrong_provider, entry=entry.title)
    if entry.state is not ConfigEntryState.LOADED:
        raise service_error("entry_not_loaded", entry=entry.title)
    return entry
