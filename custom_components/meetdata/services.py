"""Services of the integration (registered once, in async_setup)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import DOMAIN, MAX_HISTORY_DAYS
from .providers import PROVIDERS
from .service_entry import loaded_entry

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_START = "start"
SERVICE_IMPORT_HISTORY = "import_history"

IMPORT_HISTORY_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_START): cv.date,
    }
)


async def _async_import_history(call: ServiceCall) -> ServiceResponse:
    """Re-import history of one entry from a date on."""
    entry = loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    start_date: date = call.data[ATTR_START]
    today = dt_util.now().date()
    if start_date > today:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="start_in_future",
            translation_placeholders={"start": start_date.isoformat()},
        )
    if start_date < today - timedelta(days=MAX_HISTORY_DAYS):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="start_too_old",
            translation_placeholders={
                "start": start_date.isoformat(),
                "days": str(MAX_HISTORY_DAYS),
            },
        )
    start = datetime.combine(start_date, time(), dt_util.get_default_time_zone())
    newest = await entry.runtime_data.history.async_import_from(start)
    return {
        "statistics": {
            stat_id: hour.isoformat() for stat_id, hour in sorted(newest.items())
        }
    }


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_IMPORT_HISTORY,
        _async_import_history,
        schema=IMPORT_HISTORY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    for spec in PROVIDERS.values():
        spec.async_setup_services(hass)
