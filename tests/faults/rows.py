"""One row of the fault matrix per provider: how to build, reach and break it.

A row knows how to create its simulator (clock near the real now: the
statistics importer uses the real clock), how to build a client or a config
entry that talks to an origin (the fault proxy), which fields hold values and
which elements repeat (for the body transforms), how its API says "no access"
(401/403) and which history window has data. Provider-specific expectations
live here too, each with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import importlib.util
from typing import Any, Literal

import aiohttp
from aiohttp import web

from custom_components.meetdata.api.base import MeterDataClient
from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataPermissionError,
)
from custom_components.meetdata.providers.cemm.client.client import CemmClient
from custom_components.meetdata.providers.dtl.client.client import DtlClient
from custom_components.meetdata.providers.fluvius.client import FluviusClient
from custom_components.meetdata.providers.kenter.client import (
    KenterClient,
    KenterConnection,
)
from custom_components.meetdata.providers.wattworx.client import WattworxClient

from ..simulators import cemm, dtl, fluvius, kenter, wattworx

type Fmt = Literal["json", "xml"]

#: The Kenter connections of the rows: an electricity and a gas meter.
KENTER_EANS = ("876600504607071300", "871687120000096366")


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Row:
    """A provider in the fault matrix."""

    provider: str
    fmt: Fmt
    #: JSON keys / XML tags that hold the numbers.
    values: tuple[str, ...]
    #: XML tags of repeated records (JSON records are found by shape).
    records: tuple[str, ...]
    #: The error classes a 403 mid-session becomes (latest, history), and why.
    forbidden: tuple[type[MeetdataError], type[MeetdataError]]
    #: A body the API sends with 401 (its own error format).
    unauthorized_body: bytes
    #: History window (days back from now) that holds data in the simulator.
    history_days: tuple[float, float] = (1.0, 0.0)
    #: Cells this API cannot produce, with the reason.
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: HA options of the entry (small history depth keeps tests fast).
    options: dict[str, Any] = field(default_factory=dict)

    # -- simulator and client ------------------------------------------------

    def make_sim(self, *, keep_days: int = 60) -> Any:
        """Return a simulator whose clock is this minute, keeping ``keep_days``."""
        now = _now()
        if self.provider == "cemm":
            return cemm.CemmSimulator(
                now=now, history_start=(now - timedelta(days=keep_days)).date()
            )
        if self.provider == "kenter":
            return kenter.KenterSimulator(now=now)
        if self.provider == "wattworx":
            return wattworx.WattworxSimulator(now=now)
        if self.provider == "dtl":
            return dtl.DtlSimulator(now=now, retention=timedelta(days=keep_days))
        return fluvius.FluviusSimulator(now=now)

    def app(self, sim: Any) -> web.Application:
        """Return the simulator's aiohttp app."""
        result: web.Application = sim.build_app()
        return result

    def client(
        self, session: aiohttp.ClientSession, origin: str, sim: Any
    ) -> MeterDataClient:
        """Return a client of the demo account at ``origin`` (the proxy)."""
        if self.provider == "cemm":
            return CemmClient(
                session,
                cemm.DEMO_API_KEY,
                base_url=f"{origin}/v1/",
                promise_retry_delay=0.02,
                promise_timeout=0.2,
                clock=lambda: sim.now,
            )
        if self.provider == "kenter":
            passcodes = {c.ean: c.passcode for c in kenter.demo_connections()}
            return KenterClient(
                session,
                [KenterConnection(ean, passcodes[ean]) for ean in KENTER_EANS],
                base_url=origin + kenter.PATH,
            )
        if self.provider == "wattworx":
            return WattworxClient(
                session, wattworx.DEMO_KEY, base_url=f"{origin}/api/v1/"
            )
        if self.provider == "dtl":
            return DtlClient(
                session,
                origin,
                dtl.DEMO_USERNAME,
                dtl.DEMO_PASSWORD,
                [dtl.CUSTOMER_EAN],
            )
        client = FluviusClient(
            session,
            tenant_id=fluvius.DEMO_TENANT,
            client_id=fluvius.DEMO_CLIENT_ID,
            client_secret=fluvius.DEMO_CLIENT_SECRET,
            scope=fluvius.DEMO_SCOPE,
            subscription_key=fluvius.DEMO_SUBSCRIPTION_KEY,
            environment="sandbox",
            base_url=sim.base_url(origin),
            token_url=sim.token_url(origin),
        )
        client.utcnow = lambda: sim.now
        return client

    @staticmethod
    def tune(client: MeterDataClient, *, timeout: float | None = None) -> None:
        """Make a client quick to give up: short timeout, no real back-off."""
        if timeout is not None:
            if isinstance(client, CemmClient):
                client.request_timeout = timeout
            elif isinstance(client, FluviusClient):
                client.timeout = timeout
            else:
                client._timeout = timeout  # type: ignore[attr-defined]
        if isinstance(client, FluviusClient):
            client.retry_backoff = 0.01
            client.rate_limit_retries = 1
            client.cache_ttl = 0.0

    async def prime(self, client: MeterDataClient) -> None:
        """Bring a fresh client to its mid-session state (token, device list)."""
        if isinstance(client, FluviusClient):
            await client.async_authenticate()
        elif isinstance(client, WattworxClient):
            await client.async_get_meters()

    def set_promise_timeout(self, client: MeterDataClient, seconds: float) -> None:
        """Let CEMM promises expire quickly."""
        if isinstance(client, CemmClient):
            client._promise_timeout = seconds
            client._promise_retry_delay = seconds / 5

    # -- Home Assistant ------------------------------------------------------

    def glue_ready(self) -> bool:
        """Return whether the provider's Home Assistant glue exists."""
        if self.provider == "cemm":
            return True
        name = f"custom_components.meetdata.providers.{self.provider}"
        if importlib.util.find_spec(name) is None:
            return False
        from custom_components.meetdata.providers import PROVIDERS

        return any(str(p) == self.provider for p in PROVIDERS)

    def entry_data(self, origin: str, sim: Any) -> dict[str, Any]:
        """Return config entry data of the demo account at ``origin``."""
        if self.provider == "cemm":
            return {"api_key": cemm.DEMO_API_KEY, "base_url": f"{origin}/v1/"}
        if self.provider == "kenter":
            passcodes = {c.ean: c.passcode for c in kenter.demo_connections()}
            return {
                "connections": [
                    {"ean": ean, "passcode": passcodes[ean]} for ean in KENTER_EANS
                ],
                "base_url": origin + kenter.PATH,
            }
        if self.provider == "wattworx":
            return {"api_key": wattworx.DEMO_KEY, "base_url": f"{origin}/api/v1/"}
        if self.provider == "dtl":
            return {
                "base_url": origin,
                "username": dtl.DEMO_USERNAME,
                "password": dtl.DEMO_PASSWORD,
                "customer_eans": dtl.CUSTOMER_EAN,
            }
        return {
            "environment": "sandbox",
            "tenant_id": fluvius.DEMO_TENANT,
            "client_id": fluvius.DEMO_CLIENT_ID,
            "client_secret": fluvius.DEMO_CLIENT_SECRET,
            "scope": fluvius.DEMO_SCOPE,
            "subscription_key": fluvius.DEMO_SUBSCRIPTION_KEY,
            "base_url": sim.base_url(origin),
            "token_url": sim.token_url(origin),
        }

    def history_window(self, now: datetime) -> tuple[datetime, datetime]:
        """Return a history window with data, whole hours."""
        hour = now.replace(minute=0)
        back, until = self.history_days
        return hour - timedelta(days=back), hour - timedelta(days=until)

    def __str__(self) -> str:
        """Name the row after its provider (pytest ids)."""
        return self.provider


_JSON_UNAUTHORIZED = b'{"error": "Unauthorized", "status": 401}'

ROWS: tuple[Row, ...] = (
    Row(
        "cemm",
        "json",
        values=(),
        records=(),
        # CEMM answers 403 to a key that is not (or no longer) valid.
        forbidden=(MeetdataAuthError, MeetdataAuthError),
        unauthorized_body=_JSON_UNAUTHORIZED,
        options={"history_days": 1},
    ),
    Row(
        "kenter",
        "xml",
        values=("value",),
        records=("measureValue", "return"),
        # HTTP 403 without a SOAP fault: the account may not read the meter.
        forbidden=(MeetdataPermissionError, MeetdataPermissionError),
        unauthorized_body=b"<html><body>401 Authorization Required</body></html>",
        not_applicable={},
        options={"history_days": 1},
    ),
    Row(
        "wattworx",
        "xml",
        values=(
            "kwhCons",
            "kwhProd",
            "kwhConsReading",
            "kwhConsLowReading",
            "kwhProdReading",
            "kwhProdLowReading",
            "m3ConsReading",
        ),
        records=("device", "daydetail", "day", "month", "client"),
        # A 403 on the device list: the key itself lost its rights; on an
        # EAN's values: that EAN's authorisation is not signed (a repair issue).
        forbidden=(MeetdataAuthError, MeetdataPermissionError),
        unauthorized_body=(
            b"<?xml version='1.0' encoding='utf-8'?>"
            b"<error><code>401</code><message>Invalid or missing API key</message></error>"
        ),
        history_days=(3.0, 1.0),
        options={"history_days": 2},
    ),
    Row(
        "dtl",
        "json",
        values=("waarde",),
        records=(),
        forbidden=(MeetdataPermissionError, MeetdataPermissionError),
        unauthorized_body=b'{"error": "ongeldige inloggegevens"}',
        options={"history_days": 1},
    ),
    Row(
        "fluvius",
        "json",
        values=("value",),
        records=(),
        forbidden=(MeetdataPermissionError, MeetdataPermissionError),
        unauthorized_body=(
            b'{"statusCode": 401, "message": "Access denied due to missing or '
            b'invalid subscription key."}'
        ),
        history_days=(3.0, 2.0),
        options={"history_days": 3},
    ),
)

ROW_BY_NAME: dict[str, Row] = {row.provider: row for row in ROWS}


def row_ids(row: Row) -> str:
    """Return the pytest id of a row."""
    return row.provider


Matcher = Callable[[web.Request], bool]
