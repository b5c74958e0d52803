"""CEMM Open API: the config-flow form and client of one API key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from homeassistant.const import CONF_API_KEY
import voluptuous as vol

from ...api.base import MeterDataClient
from ...api.models import Meter, MeterKind
from ...const import CONF_BASE_URL
from ..base import PASSWORD_SELECTOR, URL_SELECTOR, ProviderSpec, advanced_section
from .client import DEFAULT_BASE_URL, CemmClient
from .client.provider import PROVIDER

#: A promise expires after 10 s (the document); retry once a second until then.
PROMISE_TIMEOUT = 10.0
PROMISE_RETRY_DELAY = 1.0


class CemmSpec(ProviderSpec):
    """CEMM: one API key gives access to one or more CEMM devices."""

    provider = PROVIDER
    manufacturer = "CEMM"
    secret_keys = (CONF_API_KEY,)
    default_base_url = DEFAULT_BASE_URL
    default_update_interval = timedelta(minutes=1)
    default_history_days = 31
    history_overlap = timedelta(days=1)
    history_window = timedelta(days=7)

    def schema(self) -> vol.Schema:
        """Ask for the API key (and, in the advanced section, the base URL)."""
        return vol.Schema(
            {
                vol.Required(CONF_API_KEY): PASSWORD_SELECTOR,
                **advanced_section({vol.Optional(CONF_BASE_URL): URL_SELECTOR}),
            }
        )

    def build_client(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any]
    ) -> MeterDataClient:
        """Return a client for this API key."""
        return CemmClient(
            session,
            data[CONF_API_KEY],
            base_url=data.get(CONF_BASE_URL) or DEFAULT_BASE_URL,
            promise_timeout=PROMISE_TIMEOUT,
            promise_retry_delay=PROMISE_RETRY_DELAY,
        )

    def account(self, meters: list[Meter], data: Mapping[str, Any]) -> tuple[str, str]:
        """Identify the account by the CEMM devices the key reaches."""
        gateways = sorted(m.key for m in meters if m.kind is MeterKind.GATEWAY)
        title = "CEMM " + ", ".join(
            m.attributes.get("uid", m.key)
            for m in meters
            if m.kind is MeterKind.GATEWAY
        )
        return f"cemm_{'_'.join(gateways)}", title
