"""Build each provider's client against its simulated account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from .sims import (
    FLUVIUS_BACKFILL_EAN,
    dtl_meters,
    fluvius_eans,
    kenter_connections,
    kenter_import_connections,
)

PROVIDERS = ("kenter", "cemm", "wattworx", "dtl", "fluvius")

#: History defaults when a provider's spec is not registered (yet).
_FALLBACK_DEFAULTS: dict[str, tuple[int, timedelta, timedelta]] = {
    "kenter": (31, timedelta(days=31), timedelta(days=2)),
    "cemm": (31, timedelta(days=7), timedelta(days=1)),
    "wattworx": (31, timedelta(days=31), timedelta(days=2)),
    "dtl": (31, timedelta(days=7), timedelta(days=2)),
    "fluvius": (31, timedelta(days=185), timedelta(days=2)),
}


@dataclass(frozen=True, slots=True)
class HistoryDefaults:
    """What the provider's spec asks the importer for."""

    days: int
    window: timedelta
    overlap: timedelta
    from_spec: bool


def history_defaults(provider: str) -> HistoryDefaults:
    """Return the spec's history depth, window and overlap (or our fallback)."""
    try:
        from custom_components.meetdata.providers import PROVIDERS as SPECS

        spec = SPECS[provider]
    except (ImportError, KeyError):
        days, window, overlap = _FALLBACK_DEFAULTS[provider]
        return HistoryDefaults(days, window, overlap, False)
    return HistoryDefaults(
        spec.default_history_days, spec.history_window, spec.history_overlap, True
    )


def build_client(
    provider: str,
    account: str,
    session: aiohttp.ClientSession,
    url: str,
    now: datetime,
    size_meters: int,
) -> Any:
    """Return a client of ``provider`` for the simulated ``account`` at ``url``."""
    if provider == "kenter":
        from custom_components.meetdata.providers.kenter.client import (
            KenterClient,
            KenterConnection,
        )

        sims = {
            "kenter_poll": kenter_connections(size_meters),
            "kenter_refresh": kenter_connections(1, prefix="87169600000"),
            "kenter_import": kenter_import_connections(),
        }[account]
        return KenterClient(
            session,
            [KenterConnection(conn.ean, conn.passcode) for conn in sims],
            base_url=url,
        )
    if provider == "cemm":
        from custom_components.meetdata.providers.cemm.client.client import CemmClient
        from tests.simulators.cemm import DEMO_API_KEY

        return CemmClient(
            session,
            DEMO_API_KEY,
            base_url=f"{url}/v1/",
            promise_retry_delay=0.05,
            promise_timeout=5.0,
            clock=lambda: now,
        )
    if provider == "wattworx":
        from custom_components.meetdata.providers.wattworx.client import WattworxClient
        from tests.simulators.wattworx import DEMO_KEY

        return WattworxClient(session, DEMO_KEY, base_url=f"{url}/api/v1/")
    if provider == "dtl":
        from custom_components.meetdata.providers.dtl.client.client import DtlClient
        from tests.simulators import dtl

        customers = (
            [customer for customer, _ in dtl_meters(size_meters)]
            if account == "dtl_poll"
            else [dtl.CUSTOMER_EAN, dtl.SECOND_CUSTOMER_EAN]
        )
        return DtlClient(session, url, dtl.DEMO_USERNAME, dtl.DEMO_PASSWORD, customers)
    if provider == "fluvius":
        from custom_components.meetdata.providers.fluvius.client import FluviusClient
        from tests.simulators import fluvius as fl

        client = FluviusClient(
            session,
            tenant_id=fl.DEMO_TENANT,
            client_id=fl.DEMO_CLIENT_ID,
            client_secret=fl.DEMO_CLIENT_SECRET,
            scope=fl.DEMO_SCOPE,
            subscription_key=fl.DEMO_SUBSCRIPTION_KEY,
            environment="sandbox",
            base_url=f"{url}{fl.SANDBOX_PREFIX}/",
            token_url=f"{url}/{fl.DEMO_TENANT}/oauth2/v2.0/token",
        )
        client.utcnow = lambda: now
        # A poll comes minutes after the last one: never from the 120 s cache.
        client.cache_ttl = 0.0
        return client
    raise ValueError(provider)


def poll_eans(provider: str, size_meters: int) -> list[str]:
    """Return the EANs of the Fluvius poll account (other providers: none)."""
    if provider == "fluvius":
        return fluvius_eans(size_meters)
    return []


BACKFILL_EAN = FLUVIUS_BACKFILL_EAN
