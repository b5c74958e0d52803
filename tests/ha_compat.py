"""Test-side helpers that read the same on every Home Assistant leg."""

from __future__ import annotations

from collections.abc import Iterable
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers import device_registry as dr

from custom_components.meetdata.const import DOMAIN

#: The collapsed config-flow section with the base URL fields.
SECTION = "advanced"


def advanced(**fields: Any) -> dict[str, dict[str, Any]]:
    """Return form input for the collapsed advanced section."""
    return {SECTION: fields}


def find_device(hass: HomeAssistant, key: str) -> dr.DeviceEntry | None:
    """Return the device of a Meetdata identifier (``kenter_<ean>``, ...).

    ``async_get_device`` is deprecated on 2026.x (identifiers are unique per
    config entry only); scanning our entries' devices works on every leg.
    """
    registry = dr.async_get(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
            if (DOMAIN, key) in device.identifiers:
                return device
    return None


def visible_tracebacks(records: Iterable[logging.LogRecord]) -> list[str]:
    """Return the tracebacks a user sees in the log: WARNING and above.

    Home Assistant 2026.x logs a failed update's full error at DEBUG; only
    what reaches the default log level counts as a traceback shown to users.
    """
    return [
        record.getMessage()[:100]
        for record in records
        if record.levelno >= logging.WARNING
        and (record.exc_info is not None or "Traceback" in record.getMessage())
    ]


#: The fields the config flow asks in its collapsed advanced section.
ADVANCED_FIELDS = ("base_url", "token_url")


def flow_input(data: dict[str, Any], *, sectioned: bool = True) -> dict[str, Any]:
    """Return flat form data as the form takes it: URLs in the advanced section.

    ``sectioned=False`` (the metering company, whose URL is a plain field)
    returns the data unchanged.
    """
    if not sectioned:
        return data
    plain = {k: v for k, v in data.items() if k not in ADVANCED_FIELDS}
    section = {k: v for k, v in data.items() if k in ADVANCED_FIELDS}
    return plain | {SECTION: section} if section else plain


def form_fields(schema: Any) -> list[str]:
    """Return a form's fields; a collapsed section as ``advanced(collapsed)[…]``."""
    fields: list[str] = []
    for key, value in schema.schema.items():
        if isinstance(value, section):
            state = "collapsed" if value.options.get("collapsed") else "open"
            inner = ", ".join(str(k) for k in value.schema.schema)
            fields.append(f"{key}({state})[{inner}]")
        else:
            fields.append(str(key))
    return fields
