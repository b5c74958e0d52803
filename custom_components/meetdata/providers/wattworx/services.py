"""Wattworx services: day data requests and the account's EANs and clients.

Every service names a loaded Wattworx entry. Arguments are checked before
anything is sent (ServiceValidationError); refusals of the API become
HomeAssistantError. Changes to EANs or clients reload the entry so that its
devices follow; changes to the clients also update the entry's unique id,
which is derived from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
import re
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
from ...const import DOMAIN, LOGGER
from ...errors import service_call_error
from ...service_entry import loaded_entry, service_error
from ..base import MeetdataEntry, client_of
from .account import account_unique_id
from .client import ClientInfo, DayValue, EanChange, Registers, WattworxClient
from .client.models import kind_for_type
from .client.params import MAX_DAY_REQUEST_PAST_DAYS, TIME_ZONE
from .client.provider import PROVIDER

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_EAN = "ean"
ATTR_DATE = "date"
ATTR_CLIENT_ID = "client_id"
ATTR_EANTYPE = "eantype"
ATTR_NAME = "name"
ATTR_ADDRESS = "address"
ATTR_ZIP = "zip"
ATTR_CITY = "city"

SERVICE_REQUEST_DAY_VALUES = "wattworx_request_day_values"
SERVICE_ADD_EAN = "wattworx_add_ean"
SERVICE_DELETE_EAN = "wattworx_delete_ean"
SERVICE_LIST_CLIENTS = "wattworx_list_clients"
SERVICE_ADD_CLIENT = "wattworx_add_client"
SERVICE_DELETE_CLIENT = "wattworx_delete_client"

#: Day data requests are possible for small-consumer EANs only (the document).
DAY_REQUEST_TYPES = ("KVBE", "KVBG")

_EAN_RE = re.compile(r"^\d{18}$")
_ID_RE = re.compile(r"^\d{1,18}$")

_ENTRY = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}

REQUEST_DAY_VALUES_SCHEMA = vol.Schema(
    {**_ENTRY, vol.Required(ATTR_EAN): cv.string, vol.Required(ATTR_DATE): cv.date}
)
ADD_EAN_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_CLIENT_ID): cv.string,
        vol.Required(ATTR_EAN): cv.string,
        vol.Required(ATTR_EANTYPE): cv.string,
    }
)
DELETE_EAN_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_CLIENT_ID): cv.string,
        vol.Required(ATTR_EAN): cv.string,
    }
)
LIST_CLIENTS_SCHEMA = vol.Schema(_ENTRY)
ADD_CLIENT_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_NAME): cv.string,
        vol.Required(ATTR_ADDRESS): cv.string,
        vol.Required(ATTR_ZIP): cv.string,
        vol.Required(ATTR_CITY): cv.string,
    }
)
DELETE_CLIENT_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_CLIENT_ID): cv.string})


def _wattworx_entry(hass: HomeAssistant, entry_id: str) -> MeetdataEntry:
    """Return the loaded Wattworx entry with this id."""
    return loaded_entry(
        hass, entry_id, PROVIDER, wrong_provider="wattworx_not_wattworx"
    )


def _client(entry: MeetdataEntry) -> WattworxClient:
    return client_of(entry, WattworxClient)


def _ean(call: ServiceCall) -> str:
    ean = str(call.data[ATTR_EAN]).strip()
    if not _EAN_RE.match(ean):
        raise service_error("wattworx_invalid_ean", ean=ean)
    return ean


def _client_id(call: ServiceCall) -> str:
    client_id = str(call.data[ATTR_CLIENT_ID]).strip()
    if not _ID_RE.match(client_id):
        raise service_error("wattworx_invalid_client_id", client_id=client_id)
    return client_id


def _text(call: ServiceCall, field: str) -> str:
    value = str(call.data[field]).strip()
    if not value:
        raise service_error("wattworx_empty_field", field=field)
    return value


async def _api[T](
    hass: HomeAssistant,
    entry: MeetdataEntry,
    call: Callable[..., Awaitable[T]],
    *args: Any,
) -> T:
    """Run a client call; refusals become translated HomeAssistantErrors."""
    try:
        return await call(*args)
    except MeetdataError as err:
        raise service_call_error(hass, entry, err) from err


def _readings(readings: Registers) -> dict[str, float]:
    """Return the given registers by descriptive name (kWh, gas in m³)."""
    names = {
        "consumption_normal_kwh": readings.cons,
        "consumption_low_kwh": readings.cons_low,
        "production_normal_kwh": readings.prod,
        "production_low_kwh": readings.prod_low,
        "gas_m3": readings.gas,
    }
    return {name: value for name, value in names.items() if value is not None}


def _day(day: DayValue) -> dict[str, Any]:
    return {"date": day.date.isoformat(), **_readings(day.readings)}


def _ean_change(change: EanChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "ean": change.code,
        "authorisation_status": change.authorisation_status,
        "status": change.status,
    }


def _client_info(client: ClientInfo) -> dict[str, Any]:
    info = asdict(client)
    info["authorisations"] = [
        {"number": auth.number, "status": auth.status, "eans": list(auth.eans)}
        for auth in client.authorisations
    ]
    return info


async def _async_request_day_values(call: ServiceCall) -> ServiceResponse:
    """Ask Wattworx for the data of one day of one EAN."""
    hass = call.hass
    entry = _wattworx_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    ean = _ean(call)
    day: date = call.data[ATTR_DATE]
    today = datetime.now(TIME_ZONE).date()
    if day > today:
        raise service_error("wattworx_date_in_future", date=day.isoformat())
    if day < today - timedelta(days=MAX_DAY_REQUEST_PAST_DAYS):
        raise service_error(
            "wattworx_date_too_old",
            date=day.isoformat(),
            days=str(MAX_DAY_REQUEST_PAST_DAYS),
        )
    client = _client(entry)
    device = client.known_devices.get(ean)
    if device is None:
        raise service_error("wattworx_unknown_ean", ean=ean, entry=entry.title)
    if device.eantype not in DAY_REQUEST_TYPES:
        raise service_error(
            "wattworx_day_request_type", ean=ean, eantype=device.eantype or "?"
        )
    result = await _api(hass, entry, client.async_request_day_values, ean, day)
    return {
        "ean": ean,
        "date": day.isoformat(),
        "queued": result.queued,
        "status": result.status,
        "days": [_day(row) for row in result.days],
    }


async def _async_add_ean(call: ServiceCall) -> ServiceResponse:
    """Add an EAN to a client; its authorisation starts out pending."""
    hass = call.hass
    entry = _wattworx_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    client_id, ean = _client_id(call), _ean(call)
    eantype = call.data[ATTR_EANTYPE].strip().upper()
    if kind_for_type(eantype) is None:
        raise service_error("wattworx_invalid_eantype", eantype=eantype)
    client = _client(entry)
    change = await _api(hass, entry, client.async_add_ean, client_id, ean, eantype)
    hass.config_entries.async_schedule_reload(entry.entry_id)
    return _ean_change(change)


async def _async_delete_ean(call: ServiceCall) -> ServiceResponse:
    """Delete an EAN from a client."""
    hass = call.hass
    entry = _wattworx_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    client_id, ean = _client_id(call), _ean(call)
    client = _client(entry)
    change = await _api(hass, entry, client.async_delete_ean, client_id, ean)
    hass.config_entries.async_schedule_reload(entry.entry_id)
    return _ean_change(change)


async def _async_list_clients(call: ServiceCall) -> ServiceResponse:
    """Return the clients of the account with their authorisations."""
    hass = call.hass
    entry = _wattworx_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    clients = await _api(hass, entry, _client(entry).async_get_clients)
    return {"clients": [_client_info(client) for client in clients]}


async def _async_update_unique_id(hass: HomeAssistant, entry: MeetdataEntry) -> None:
    """Derive the unique id from the clients again, then reload the entry."""
    try:
        unique_id = account_unique_id(await _client(entry).async_account_id())
    except MeetdataError as err:
        LOGGER.debug("Keeping the unique id of %s: %s", entry.title, err)
    else:
        taken = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
        if taken is None:
            hass.config_entries.async_update_entry(entry, unique_id=unique_id)
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def _async_add_client(call: ServiceCall) -> ServiceResponse:
    """Add a client to the account."""
    hass = call.hass
    entry = _wattworx_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    fields = [
        _text(call, name) for name in (ATTR_NAME, ATTR_ADDRESS, ATTR_ZIP, ATTR_CITY)
    ]
    added = await _api(hass, entry, _client(entry).async_add_client, *fields)
    await _async_update_unique_id(hass, entry)
    return _client_info(added)


async def _async_delete_client(call: ServiceCall) -> ServiceResponse:
    """Delete a client (and with it its EANs) from the account."""
    hass = call.hass
    entry = _wattworx_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    client_id = _client_id(call)
    deleted = await _api(hass, entry, _client(entry).async_delete_client, client_id)
    await _async_update_unique_id(hass, entry)
    return _client_info(deleted)


@callback
def async_setup_wattworx_services(hass: HomeAssistant) -> None:
    """Register the Wattworx services."""
    for name, handler, schema, response in (
        (
            SERVICE_REQUEST_DAY_VALUES,
            _async_request_day_values,
            REQUEST_DAY_VALUES_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
        (SERVICE_ADD_EAN, _async_add_ean, ADD_EAN_SCHEMA, SupportsResponse.OPTIONAL),
        (
            SERVICE_DELETE_EAN,
            _async_delete_ean,
            DELETE_EAN_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
        (
            SERVICE_LIST_CLIENTS,
            _async_list_clients,
            LIST_CLIENTS_SCHEMA,
            SupportsResponse.ONLY,
        ),
        (
            SERVICE_ADD_CLIENT,
            _async_add_client,
            ADD_CLIENT_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
        (
            SERVICE_DELETE_CLIENT,
            _async_delete_client,
            DELETE_CLIENT_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=response
        )
