"""Fluvius service: create a mock mandate in the sandbox (the document's addendum).

The sandbox has no real grid users; POST Create Mock Mandate makes a
fictitious mandate for an EAN of the addendum's scheme (meter type, energy
type, direction, detail level and submeters are encoded in its digits). The
service refuses live entries and EANs outside the scheme before sending
anything, then reads the mandates again: an approved mandate for a new EAN
brings its device, sensors and statistics (without a reload).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from ...api.errors import MeetdataError
from ...const import DOMAIN
from ...errors import service_call_error
from ...service_entry import loaded_entry, service_error
from .client import Mandate, MandateStatus, RenewalStatus, decode_sandbox_ean
from .client.parse import BRUSSELS
from .client.paths import LIVE
from .client.provider import PROVIDER
from .const import CONF_ENVIRONMENT
from .runtime import FluviusRuntime, get_runtime

SERVICE_CREATE_MOCK_MANDATE = "fluvius_create_mock_mandate"

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_EAN = "ean"
ATTR_STATUS = "status"
ATTR_DATA_PERIOD_FROM = "data_period_from"
ATTR_DATA_PERIOD_TO = "data_period_to"
ATTR_EXPIRATION = "expiration"
ATTR_RENEWAL_STATUS = "renewal_status"
ATTR_REFERENCE_NUMBER = "reference_number"

#: Statuses a mock mandate may get (Removed ones are invisible).
MOCK_STATUSES = [
    status.value for status in MandateStatus if status is not MandateStatus.REMOVED
]

CREATE_MOCK_MANDATE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_EAN): cv.string,
        vol.Optional(ATTR_STATUS, default=MandateStatus.APPROVED.value): vol.In(
            MOCK_STATUSES
        ),
        vol.Optional(ATTR_DATA_PERIOD_FROM): cv.date,
        vol.Optional(ATTR_DATA_PERIOD_TO): cv.date,
        vol.Optional(ATTR_EXPIRATION): cv.date,
        vol.Optional(ATTR_RENEWAL_STATUS): vol.In([s.value for s in RenewalStatus]),
        vol.Optional(ATTR_REFERENCE_NUMBER): cv.string,
    }
)


def _sandbox_runtime(hass: HomeAssistant, entry_id: str) -> FluviusRuntime:
    """Return the Fluvius parts of a loaded sandbox entry."""
    entry = loaded_entry(hass, entry_id, PROVIDER, wrong_provider="fluvius_not_fluvius")
    runtime = get_runtime(entry)
    if runtime is None:
        raise service_error("entry_not_loaded", entry=entry.title)
    if entry.data.get(CONF_ENVIRONMENT) == LIVE:
        raise service_error("fluvius_mock_live", entry=entry.title)
    return runtime


def _midnight(day: date | None) -> datetime | None:
    """Return the Brussels midnight starting ``day``."""
    return None if day is None else datetime.combine(day, time(), BRUSSELS)


def _date(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _mandate(mandate: Mandate) -> dict[str, Any]:
    """Return a mandate as the service's answer."""
    return {
        "status": mandate.status.value if mandate.status else mandate.raw_status,
        "ean": mandate.ean,
        "energy_type": mandate.energy_type.value if mandate.energy_type else None,
        "data_service_type": mandate.data_service_type.value
        if mandate.data_service_type
        else None,
        "data_period_from": _date(mandate.data_period_from),
        "data_period_to": _date(mandate.data_period_to),
        "expiration": _date(mandate.expiration),
        "renewal_status": mandate.renewal_status.value
        if mandate.renewal_status
        else None,
        "reference_number": mandate.reference_number,
    }


async def _async_create_mock_mandate(call: ServiceCall) -> ServiceResponse:
    """Create a fictitious mandate in the sandbox; answer with it."""
    hass = call.hass
    runtime = _sandbox_runtime(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    ean = str(call.data[ATTR_EAN]).strip()
    if decode_sandbox_ean(ean) is None:
        raise service_error("fluvius_mock_invalid_ean", ean=ean)
    start = _midnight(call.data.get(ATTR_DATA_PERIOD_FROM))
    end = _midnight(call.data.get(ATTR_DATA_PERIOD_TO))
    if start is not None and end is not None and end <= start:
        raise service_error(
            "fluvius_mock_invalid_period",
            start=start.date().isoformat(),
            end=end.date().isoformat(),
        )
    renewal = call.data.get(ATTR_RENEWAL_STATUS)
    entry = runtime.mandates.config_entry
    try:
        mandate = await runtime.client.async_create_mock_mandate(
            ean,
            status=MandateStatus(call.data[ATTR_STATUS]),
            data_period_from=start,
            data_period_to=end,
            expiration=_midnight(call.data.get(ATTR_EXPIRATION)),
            renewal_status=RenewalStatus(renewal) if renewal else None,
            reference_number=call.data.get(ATTR_REFERENCE_NUMBER),
        )
    except MeetdataError as err:
        raise service_call_error(hass, entry, err) from err
    # Read the mandates again: issues follow, a new approved EAN joins.
    await runtime.mandates.async_refresh()
    return {"mandate": _mandate(mandate)}


@callback
def async_setup_fluvius_services(hass: HomeAssistant) -> None:
    """Register the Fluvius services."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_MOCK_MANDATE,
        _async_create_mock_mandate,
        schema=CREATE_MOCK_MANDATE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
