"""Wattworx API v1: the config-flow form and client of one API key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import re
from typing import Any, cast

import aiohttp
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
import voluptuous as vol

from ...api.base import MeterDataClient
from ...api.models import Meter, MeterKind
from ...const import CONF_BASE_URL
from ..base import (
    PASSWORD_SELECTOR,
    URL_SELECTOR,
    MeetdataEntry,
    ProviderSpec,
    advanced_section,
)
from .account import account_unique_id
from .client import DEFAULT_BASE_URL, WattworxClient
from .client.provider import PROVIDER
from .issues import async_track_authorisations
from .services import async_setup_wattworx_services

#: What the client accepts as a key: printable ASCII without spaces.
_KEY_RE = re.compile(r"^[\x21-\x7e]+$")


class WattworxSpec(ProviderSpec):
    """Wattworx: one API key reaches the EANs of one or more clients."""

    provider = PROVIDER
    manufacturer = "Wattworx"
    secret_keys = (CONF_API_KEY,)
    default_base_url = DEFAULT_BASE_URL
    # Wattworx publishes the readings of a day once, the day after.
    default_update_interval = timedelta(hours=1)
    default_history_days = 365
    # Re-read three days: late or corrected interval data replaces what is stored.
    history_overlap = timedelta(days=3)
    # Day detail values allow 60 days per request; 30 keeps answers small.
    history_window = timedelta(days=30)

    def schema(self) -> vol.Schema:
        """Ask for the API key (and, in the advanced section, the base URL)."""
        return vol.Schema(
            {
                vol.Required(CONF_API_KEY): PASSWORD_SELECTOR,
                **advanced_section({vol.Optional(CONF_BASE_URL): URL_SELECTOR}),
            }
        )

    def check_input(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Refuse empty keys and keys with spaces or other odd characters."""
        errors = super().check_input(data)
        key = data.get(CONF_API_KEY)
        if key and CONF_API_KEY not in errors and not _KEY_RE.match(key):
            errors[CONF_API_KEY] = "wattworx_invalid_key_format"
        return errors

    def build_client(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any]
    ) -> MeterDataClient:
        """Return a client for this API key."""
        return WattworxClient(
            session,
            data[CONF_API_KEY],
            base_url=data.get(CONF_BASE_URL) or DEFAULT_BASE_URL,
        )

    def account(self, meters: list[Meter], data: Mapping[str, Any]) -> tuple[str, str]:
        """Identify the account by the clients that own its EANs."""
        clients = [m for m in meters if m.kind is MeterKind.GATEWAY]
        ids = ",".join(m.attributes.get("client_id", m.key) for m in clients)
        title = "Wattworx " + ", ".join(m.name or m.key for m in clients)
        return account_unique_id(ids), title

    async def async_account(
        self, client: MeterDataClient, meters: list[Meter], data: Mapping[str, Any]
    ) -> tuple[str, str]:
        """Identify the account by every client of the key (client overview)."""
        _, title = self.account(meters, data)
        account_id = await cast("WattworxClient", client).async_account_id()
        return account_unique_id(account_id), title

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: MeetdataEntry
    ) -> None:
        """Raise repair issues about unsigned EANs and keep them current."""
        async_track_authorisations(hass, entry)

    def async_setup_services(self, hass: HomeAssistant) -> None:
        """Register the services that manage clients and EANs of an account."""
        async_setup_wattworx_services(hass)
