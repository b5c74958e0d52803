"""Fluvius API for professional grid users (BE): the config-flow form and client.

One API registration per environment (sandbox or live) gives a tenant id,
client id, client secret, scope and subscription key. They are verified with
a token request plus GET Mandate; the account is the tenant and client id.
Mandate tracking, the capacity-peak sensors and the sandbox service live in
the ``fluvius_*`` modules next to this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import re
from typing import Any

import aiohttp
from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol
from yarl import URL

from ...api.base import MeterDataClient
from ...api.errors import MeetdataAuthError, MeetdataError
from ...api.models import Meter, Quantity
from ...const import CONF_BASE_URL
from ..base import (
    PASSWORD_SELECTOR,
    URL_SELECTOR,
    FormError,
    MeetdataEntry,
    ProviderSpec,
    advanced_section,
)
from .client import FluviusClient, FluviusTokenError
from .client.paths import BASE_URLS, LIVE, SANDBOX
from .client.provider import PROVIDER
from .const import (
    CONF_ENVIRONMENT,
    CONF_SCOPE,
    CONF_SUBSCRIPTION_KEY,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
)
from .runtime import async_follow_meters, async_setup_fluvius
from .sensors import fluvius_sensors
from .services import async_setup_fluvius_services

ENVIRONMENTS = (LIVE, SANDBOX)
#: Translation key of the environment options (selector.<key>.options).
ENVIRONMENT_SELECTOR = "fluvius_environment"
#: A tenant id is a GUID or a domain name: it becomes part of the token URL.
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")

#: Azure AD's OAuth error code → (form field, error key).
_TOKEN_ERRORS: dict[str, tuple[str, str]] = {
    "invalid_request": (CONF_TENANT_ID, "fluvius_unknown_tenant"),
    "unauthorized_client": (CONF_CLIENT_ID, "fluvius_unknown_client"),
    "invalid_client": (CONF_CLIENT_SECRET, "fluvius_invalid_secret"),
    "invalid_scope": (CONF_SCOPE, "fluvius_invalid_scope"),
}


def _url_error(value: str) -> str | None:
    """Return the form error of an advanced URL (None: usable)."""
    try:
        url = URL(value)
    except (TypeError, ValueError):
        return "fluvius_invalid_url"
    if url.scheme not in ("http", "https") or not url.host or url.user:
        return "fluvius_invalid_url"
    return None


class FluviusSpec(ProviderSpec):
    """Fluvius: OAuth client credentials plus an APIM subscription key."""

    provider = PROVIDER
    manufacturer = "Fluvius"
    secret_keys = (CONF_CLIENT_SECRET, CONF_SUBSCRIPTION_KEY)
    private_keys = (CONF_TENANT_ID, CONF_CLIENT_ID)
    default_base_url = BASE_URLS[LIVE]
    # Fluvius publishes a day's values the next day; an hourly look is plenty.
    default_update_interval = timedelta(hours=1)
    # The API serves three years back; import all of it on first setup.
    default_history_days = 3 * 365
    # This and last month's peak come from the quarter hours the insights
    # keep (sensors.py); the rolling average from the peak statistic.
    capacity_sensors = (Quantity.CAPACITY_PEAK_AVERAGE,)
    # Estimated values are corrected within days; insertTime finds older ones.
    history_overlap = timedelta(days=3)
    # One GET Energy per window (the API allows 185 days; DST-safe margin).
    history_window = timedelta(days=180)
    advanced_keys = (CONF_BASE_URL, CONF_TOKEN_URL)
    # A new sandbox account has no mandates yet: create them with the service.
    requires_meters = False
    # The hourly mandate poll reads the meters again when new EANs are approved.
    discovery_interval = None

    def schema(self) -> vol.Schema:
        """Ask for the environment and credentials (URLs in the advanced section)."""
        fields: dict[vol.Marker, Any] = {
            vol.Required(CONF_ENVIRONMENT, default=LIVE): SelectSelector(
                SelectSelectorConfig(
                    options=list(ENVIRONMENTS),
                    translation_key=ENVIRONMENT_SELECTOR,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            vol.Required(CONF_TENANT_ID): TextSelector(),
            vol.Required(CONF_CLIENT_ID): TextSelector(),
            vol.Required(CONF_CLIENT_SECRET): PASSWORD_SELECTOR,
            vol.Required(CONF_SCOPE): TextSelector(),
            vol.Required(CONF_SUBSCRIPTION_KEY): PASSWORD_SELECTOR,
        }
        fields |= advanced_section(
            {
                vol.Optional(CONF_BASE_URL): URL_SELECTOR,
                vol.Optional(CONF_TOKEN_URL): URL_SELECTOR,
            }
        )
        return vol.Schema(fields)

    def check_input(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Refuse empty fields, a malformed tenant id and unusable URLs."""
        errors = super().check_input(data)
        for key in (CONF_TENANT_ID, CONF_CLIENT_ID, CONF_SCOPE):
            if key in data and not data[key]:
                errors[key] = "empty"
        tenant = data.get(CONF_TENANT_ID)
        if tenant and not _TENANT_RE.match(tenant):
            errors[CONF_TENANT_ID] = "fluvius_tenant_format"
        for key in (CONF_BASE_URL, CONF_TOKEN_URL):
            if data.get(key) and (error := _url_error(data[key])):
                errors[key] = error
        return errors

    def flow_error(
        self, err: MeetdataError, data: Mapping[str, Any]
    ) -> FormError | None:
        """Put token refusals on the field Azure AD named; 401 on the key."""
        if isinstance(err, FluviusTokenError):
            if found := _TOKEN_ERRORS.get(err.code):
                return FormError(found[1], found[0])
            return None
        if isinstance(err, MeetdataAuthError):
            # The token was fine, so the API refused the subscription key.
            return FormError("fluvius_invalid_subscription_key", CONF_SUBSCRIPTION_KEY)
        return None

    def build_client(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any]
    ) -> MeterDataClient:
        """Return a client for these credentials."""
        return FluviusClient(
            session,
            tenant_id=data[CONF_TENANT_ID],
            client_id=data[CONF_CLIENT_ID],
            client_secret=data[CONF_CLIENT_SECRET],
            scope=data[CONF_SCOPE],
            subscription_key=data[CONF_SUBSCRIPTION_KEY],
            environment=data.get(CONF_ENVIRONMENT, LIVE),
            base_url=data.get(CONF_BASE_URL) or None,
            token_url=data.get(CONF_TOKEN_URL) or None,
        )

    def account(self, meters: list[Meter], data: Mapping[str, Any]) -> tuple[str, str]:
        """Identify the account by tenant and client id (never the secret)."""
        tenant, client_id = data[CONF_TENANT_ID], data[CONF_CLIENT_ID]
        environment = data.get(CONF_ENVIRONMENT, LIVE)
        unique_id = f"fluvius_{tenant}_{client_id}".lower()
        return unique_id, f"Fluvius {client_id} ({environment})"

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: MeetdataEntry
    ) -> None:
        """Track mandates (repair issues) and compute the peak sensors' data."""
        await async_setup_fluvius(hass, entry)

    async def async_meters_changed(
        self, hass: HomeAssistant, entry: MeetdataEntry
    ) -> None:
        """Compute the peak sensors' data of the EANs as they are now."""
        await async_follow_meters(entry)

    def async_setup_services(self, hass: HomeAssistant) -> None:
        """Register the sandbox's mock-mandate service."""
        async_setup_fluvius_services(hass)

    def sensors(
        self,
        entry: MeetdataEntry,
        descriptions: Mapping[Quantity, SensorEntityDescription],
    ) -> list[SensorEntity]:
        """Return the day-amount and capacity-peak sensors of the EANs."""
        return fluvius_sensors(entry, descriptions)
