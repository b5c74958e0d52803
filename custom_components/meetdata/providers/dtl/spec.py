"""Metering company (Liander "Dynamisch Terugleveren"): form and client.

The user enters the metering company's base URL, the username and password it
issued, and the customer EAN codes they expect. Everything that can be judged
without a request (URL safety, EAN format, a colon in the username) is a field
error; call 1 then verifies the account, and customer EANs the API did not return
are named in the form (a wrong GS1 check digit as a likely typo).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import re
from typing import Any

import aiohttp
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import TextSelector, TextSelectorConfig
import voluptuous as vol
from yarl import URL

from ...api.base import MeterDataClient
from ...api.errors import MeetdataError, MeetdataNotFoundError
from ...api.models import Meter
from ...const import CONF_BASE_URL
from ..base import (
    PASSWORD_SELECTOR,
    URL_SELECTOR,
    FormError,
    MeetdataEntry,
    ProviderSpec,
)
from .client.client import MAX_WINDOW, DtlClient, is_ean_format, is_valid_ean
from .client.model import LOCAL_HOSTS
from .client.provider import PROVIDER
from .issues import async_track_consent

CONF_CUSTOMER_EANS = "customer_eans"
EAN_SEPARATORS = re.compile(r"[\s,;]+")
EAN_JOINER = ", "


def split_eans(text: str) -> list[str]:
    """Return the codes in a comma/semicolon/whitespace separated text, deduplicated."""
    result: list[str] = []
    for code in EAN_SEPARATORS.split(text):
        if code and code not in result:
            result.append(code)
    return result


def base_url_error(value: str) -> str | None:
    """Return the form error of a base URL (None: usable)."""
    try:
        url = URL(value)
    except (TypeError, ValueError):
        return "invalid_url"
    if url.user is not None or url.password is not None:
        return "url_credentials"
    if not url.is_absolute() or not url.host or url.query_string or url.fragment:
        return "invalid_url"
    scheme = url.scheme.lower()
    if scheme == "https" or (scheme == "http" and url.host.lower() in LOCAL_HOSTS):
        return None
    return "https_required"


class DtlSpec(ProviderSpec):
    """A metering company's DTL pull API: Basic auth, expected customer EANs."""

    provider = PROVIDER
    manufacturer = "Liander (metering company)"
    secret_keys = (CONF_PASSWORD,)
    private_keys = (CONF_USERNAME,)
    default_update_interval = timedelta(minutes=5)
    #: The metering company keeps a month.
    default_history_days = 31
    history_overlap = timedelta(days=2)
    history_window = MAX_WINDOW
    #: The base URL is the metering company's own: always asked, never advanced.
    advanced_keys = ()

    def schema(self) -> vol.Schema:
        """Ask for URL, credentials and customer EANs (the URL is always asked)."""
        return vol.Schema(
            {
                vol.Required(CONF_BASE_URL): URL_SELECTOR,
                vol.Required(CONF_USERNAME): TextSelector(),
                vol.Required(CONF_PASSWORD): PASSWORD_SELECTOR,
                vol.Required(CONF_CUSTOMER_EANS): TextSelector(
                    TextSelectorConfig(multiline=True)
                ),
            }
        )

    def normalize(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """Strip the fields; store the customer EANs as one ", "-joined text."""
        data = super().normalize(user_input)
        if CONF_CUSTOMER_EANS in data:
            data[CONF_CUSTOMER_EANS] = EAN_JOINER.join(
                split_eans(str(data[CONF_CUSTOMER_EANS]))
            )
        return data

    def check_input(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Check URL, username and EAN format before any request."""
        errors = super().check_input(data)
        base_url = data.get(CONF_BASE_URL)
        if not base_url:
            errors[CONF_BASE_URL] = "empty"
        elif error := base_url_error(base_url):
            errors[CONF_BASE_URL] = error
        username = data.get(CONF_USERNAME, "")
        if not username:
            errors[CONF_USERNAME] = "empty"
        elif ":" in username:
            errors[CONF_USERNAME] = "username_colon"
        eans = split_eans(data.get(CONF_CUSTOMER_EANS, ""))
        if not eans:
            errors[CONF_CUSTOMER_EANS] = "empty"
        elif any(not is_ean_format(ean) for ean in eans):
            errors[CONF_CUSTOMER_EANS] = "invalid_ean"
        return errors

    def input_placeholders(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Name the codes that are not 18 digits."""
        eans = split_eans(data.get(CONF_CUSTOMER_EANS, ""))
        return {
            "invalid_eans": EAN_JOINER.join(
                ean for ean in eans if not is_ean_format(ean)
            )
        }

    def flow_error(
        self, err: MeetdataError, data: Mapping[str, Any]
    ) -> FormError | None:
        """Report a 404 on call 1 at the base URL: it does not point at the API."""
        if isinstance(err, MeetdataNotFoundError):
            return FormError("url_not_found", CONF_BASE_URL)
        return None

    def check_meters(
        self, meters: list[Meter], data: Mapping[str, Any]
    ) -> FormError | None:
        """Name the expected customers call 1 returned no meter for.

        A base error, so that it shows in the reauthentication form too.
        """
        present = {meter.attributes.get("klant_ean") for meter in meters}
        missing = [
            ean for ean in split_eans(data[CONF_CUSTOMER_EANS]) if ean not in present
        ]
        if not missing:
            return None
        placeholders = {"missing_eans": EAN_JOINER.join(missing)}
        if typos := [ean for ean in missing if not is_valid_ean(ean)]:
            placeholders["typo_eans"] = EAN_JOINER.join(typos)
            return FormError("customers_missing_typo", placeholders=placeholders)
        return FormError("customers_missing", placeholders=placeholders)

    def build_client(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any]
    ) -> MeterDataClient:
        """Return a client for these credentials and customers."""
        return DtlClient(
            session,
            data[CONF_BASE_URL],
            data[CONF_USERNAME],
            data[CONF_PASSWORD],
            split_eans(data[CONF_CUSTOMER_EANS]),
        )

    def account(self, meters: list[Meter], data: Mapping[str, Any]) -> tuple[str, str]:
        """Identify the account by the API's host and the sorted customer EANs."""
        host = URL(data[CONF_BASE_URL]).host or ""
        eans = sorted(split_eans(data[CONF_CUSTOMER_EANS]))
        unique_id = f"dtl_{host.lower()}_{'_'.join(eans)}"
        return unique_id, f"DTL {host.lower()} ({EAN_JOINER.join(eans)})"

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: MeetdataEntry
    ) -> None:
        """Raise a repair issue for each meter whose customer withdrew consent."""
        async_track_consent(hass, entry)
